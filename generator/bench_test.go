package generator_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picocache/picocache/generator"
	"golang.org/x/tools/go/packages"
)

// manyFuncs writes a module with one package of n annotated functions of
// assorted signatures, with their generated file in place (a re-run).
func manyFuncs(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	var src strings.Builder
	src.WriteString("package many\n\nimport (\n\t\"context\"\n\t\"time\"\n)\n\n")
	src.WriteString("type Point struct {\n\tX, Y int\n\tTags []string\n\tMeta map[string]float64\n}\n\n")
	sigs := []string{
		"(n int) int { return n }",
		"(ctx context.Context, s string, b []byte) (string, error) { return s, nil }",
		"(p Point, at time.Time) ([]Point, error) { return []Point{p}, nil }",
		"(m map[string]int, xs ...float64) (int, bool) { return len(m), len(xs) > 0 }",
		"(v any, p *Point) string { return \"\" }",
	}
	opts := []string{"maxsize=none", "maxsize=128,typed", "ttl=1h", "maxsize=10,version=2", "typed,ignore=p"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "//picocache:%s\nfunc F%d%s\n\n", opts[i%len(opts)], i, sigs[i%len(sigs)])
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/many\n\ngo 1.26\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "many.go"), []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	res, err := generator.Generate(generator.Config{Dir: dir})
	if err != nil || len(res.Diagnostics) > 0 {
		b.Fatalf("generate: %v %v", err, res.Diagnostics)
	}
	for name, data := range res.Files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkGenerate compares picogen on a package of 200 annotated
// functions with loading the same package with go/packages alone (the
// same mode): the target is at most 1.5x. load-only loads the stale
// generated file too; load-needed reads it as empty, as picogen does, so
// it is exactly the loading picogen needs.
func BenchmarkGenerate(b *testing.B) {
	dir := manyFuncs(b, 200)
	b.Run("load-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pkgs, err := packages.Load(&packages.Config{Dir: dir, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}, ".")
			if err != nil || len(pkgs) != 1 {
				b.Fatal(err)
			}
		}
	})
	// What picogen needs: the same load with the stale generated file
	// read as empty, as picogen reads it.
	b.Run("load-needed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pkgs, err := packages.Load(&packages.Config{
				Dir:  dir,
				Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
				ParseFile: func(fset *token.FileSet, name string, src []byte) (*ast.File, error) {
					if filepath.Base(name) == generator.FileName {
						return parser.ParseFile(fset, name, src, parser.PackageClauseOnly)
					}
					return parser.ParseFile(fset, name, src, parser.AllErrors|parser.ParseComments)
				},
			}, ".")
			if err != nil || len(pkgs) != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("picogen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := generator.Generate(generator.Config{Dir: dir})
			if err != nil || len(res.Files) != 1 {
				b.Fatal(err)
			}
		}
	})
}
