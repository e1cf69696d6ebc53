package emit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestWrapperBuiltins guards bodyRefs: every predeclared identifier a
// wrapper's body uses (in every golden output) is in wrapperBuiltins or
// in the wrapper's result types, so that a parameter of that name is
// renamed rather than hiding it.
func TestWrapperBuiltins(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no goldens")
	}
	wrappers := 0
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name != FileName {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f.Name, f.Data, 0)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, d := range af.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || !strings.HasSuffix(fd.Name.Name, "Cached") {
					continue
				}
				wrappers++
				allowed := slices.Clone(wrapperBuiltins)
				if fd.Type.Results != nil {
					ast.Inspect(fd.Type.Results, func(n ast.Node) bool {
						if id, ok := n.(*ast.Ident); ok {
							allowed = append(allowed, id.Name)
						}
						return true
					})
				}
				for _, name := range freeIdents(fd) {
					if types.Universe.Lookup(name) != nil && !slices.Contains(allowed, name) {
						t.Errorf("%s: %s uses the predeclared %s, which bodyRefs does not list", filepath.Base(file), fd.Name.Name, name)
					}
				}
			}
		}
	}
	if wrappers == 0 {
		t.Fatal("no wrappers in the goldens")
	}
}

// freeIdents returns the identifiers fd's body uses that nothing in fd
// declares (roughly: any name declared anywhere in fd counts as declared).
func freeIdents(fd *ast.FuncDecl) []string {
	declared := map[string]bool{}
	declare := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				declared[n.Name] = true
			}
		}
	}
	declare(fd.Recv)
	ast.Inspect(fd, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncType:
			declare(n.Params)
			declare(n.Results)
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						declared[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				declared[id.Name] = true
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok {
					declared[id.Name] = true
				}
			}
		}
		return true
	})
	var free []string
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			ast.Inspect(sel.X, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && !declared[id.Name] {
					free = append(free, id.Name)
				}
				return true
			})
			return false // sel.Sel is a field or method, not a use
		}
		if id, ok := n.(*ast.Ident); ok && !declared[id.Name] {
			free = append(free, id.Name)
		}
		return true
	})
	return free
}
