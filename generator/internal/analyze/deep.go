package analyze

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"

	"github.com/picocache/picocache/generator/internal/directive"
	"github.com/picocache/picocache/generator/internal/load"
	"github.com/picocache/picocache/generator/internal/model"
	"golang.org/x/tools/go/packages"
)

// Deep versions: what a memoized function's version covers beyond its
// own source and signature.
//
// From the function's declaration, every identifier that go/types
// resolves to a package-level object of the function's module is
// followed to its declaration: functions and concrete methods (called
// or used as values), named types, package-level variables (their
// specs, initialisers included) and constants (their type and value).
// Each declaration reached is covered by the digest of its normalised
// source, and walked in turn, across the module's packages. A call to a
// generated wrapper (FCached) stands for the annotated function (F).
// Objects of other modules are covered by their module's version in
// go.mod; the standard library, and the language itself, by go.mod's go
// version. Calls that go/types cannot resolve to one function
// (interface methods, func values of parameters, variables and fields)
// are listed, not followed.

// deps holds the declarations of the module packages that a load's
// annotated functions reach, and what each one references.
type deps struct {
	lr    *load.Result
	pkgs  map[string]*declPackage // by import path
	nodes map[string]*node        // by key(kind, name); nil: no such declaration
}

func newDeps(lr *load.Result) *deps {
	return &deps{lr: lr, pkgs: map[string]*declPackage{}, nodes: map[string]*node{}}
}

// declPackage indexes a module package's declarations.
type declPackage struct {
	path   string
	syn    *load.Syntax
	err    error                // why its source could not be read
	decls  map[string]*declared // by Covered.Name
	wraps  map[string]string    // wrapper name (as Covered.Name) -> annotated function's
	module *packages.Module
}

type declared struct {
	kind model.CoverKind
	node ast.Node // *ast.FuncDecl, *ast.TypeSpec or *ast.ValueSpec
}

// node is one covered declaration and what its source references.
type node struct {
	item       model.Covered
	refs       []ref           // declarations of the module
	uses       []model.Covered // other modules
	unresolved []model.Unresolved
}

// ref is a reference to a declaration of the module.
type ref struct {
	path, name string // the package's import path; Covered.Name
	kind       model.CoverKind
}

func key(kind model.CoverKind, name string) string { return kind.String() + " " + name }

// pkg returns the declarations of the package with the import path,
// loading its syntax on first use.
func (d *deps) pkg(path string) *declPackage {
	if dp, ok := d.pkgs[path]; ok {
		return dp
	}
	dp := &declPackage{path: path, decls: map[string]*declared{}, wraps: map[string]string{}}
	d.pkgs[path] = dp
	if p := d.lr.Package(path); p != nil {
		dp.module = p.Module
	}
	syn, err := d.lr.Syntax(path)
	if err != nil {
		dp.err = err
		return dp
	}
	dp.syn = syn
	if syn.Module != nil {
		dp.module = syn.Module
	}
	for _, f := range syn.Files {
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				kind, name, ok := dp.funcDeclName(decl)
				if !ok {
					continue
				}
				dp.decls[name] = &declared{kind: kind, node: decl}
				if decl.Doc != nil {
					for _, c := range decl.Doc.List {
						if directive.IsDirective(c.Text) {
							dp.wraps[wrapperName(name)] = name
							break
						}
					}
				}
			case *ast.GenDecl:
				for _, spec := range decl.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						if spec.Name.Name != "_" {
							dp.decls[path+"."+spec.Name.Name] = &declared{kind: model.CoverType, node: spec}
						}
					case *ast.ValueSpec:
						if decl.Tok != token.VAR {
							continue // constants are covered by their values
						}
						for _, n := range spec.Names {
							if n.Name != "_" {
								dp.decls[path+"."+n.Name] = &declared{kind: model.CoverVar, node: spec}
							}
						}
					}
				}
			}
		}
	}
	return dp
}

// funcDeclName names a declared function or method as Covered.Name does,
// from its object (so that it matches references to it), else from its
// syntax. init and blank functions cannot be referenced.
func (dp *declPackage) funcDeclName(fd *ast.FuncDecl) (model.CoverKind, string, bool) {
	if fd.Name.Name == "_" || fd.Recv == nil && fd.Name.Name == "init" {
		return 0, "", false
	}
	if f, ok := dp.syn.Info.Defs[fd.Name].(*types.Func); ok {
		if kind, name, ok := funcName(f); ok {
			return kind, name, true
		}
	}
	if fd.Recv == nil {
		return model.CoverFunc, dp.path + "." + fd.Name.Name, true
	}
	if len(fd.Recv.List) != 1 {
		return 0, "", false
	}
	t := fd.Recv.List[0].Type
	ptr := false
	if s, ok := t.(*ast.StarExpr); ok {
		t, ptr = s.X, true
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	id, ok := t.(*ast.Ident)
	if !ok {
		return 0, "", false
	}
	return model.CoverMethod, methodName(dp.path, id.Name, ptr, fd.Name.Name), true
}

// funcName names a function or concrete method as Covered.Name does:
// path.F, path.T.M or path.(*T).M, for generic ones their declaration.
func funcName(f *types.Func) (model.CoverKind, string, bool) {
	f = f.Origin()
	if f.Pkg() == nil {
		return 0, "", false
	}
	sig, _ := f.Type().(*types.Signature)
	if sig == nil {
		return 0, "", false
	}
	recv := sig.Recv()
	if recv == nil {
		return model.CoverFunc, f.Pkg().Path() + "." + f.Name(), true
	}
	t, ptr := recv.Type(), false
	if p, ok := t.(*types.Pointer); ok {
		t, ptr = p.Elem(), true
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || types.IsInterface(n) {
		return 0, "", false
	}
	return model.CoverMethod, methodName(f.Pkg().Path(), n.Obj().Name(), ptr, f.Name()), true
}

func methodName(path, recv string, ptr bool, name string) string {
	if ptr {
		return path + ".(*" + recv + ")." + name
	}
	return path + "." + recv + "." + name
}

// dynamic reports whether f is a method that a call cannot resolve: one
// of an interface (or of a type parameter's constraint).
func dynamic(f *types.Func) bool {
	sig, _ := f.Type().(*types.Signature)
	if sig == nil || sig.Recv() == nil {
		return false
	}
	t := sig.Recv().Type()
	if _, ok := t.(*types.TypeParam); ok {
		return true
	}
	return types.IsInterface(t)
}

// node returns the node of a declaration, computing it on first use; nil
// when the package or the declaration cannot be found.
func (d *deps) node(path, name string, kind model.CoverKind) *node {
	k := key(kind, name)
	if n, ok := d.nodes[k]; ok {
		return n
	}
	dp := d.pkg(path)
	decl := dp.decls[name]
	if decl == nil || decl.kind != kind {
		d.nodes[k] = nil
		return nil
	}
	n := &node{item: model.Covered{Kind: kind, Name: name}}
	d.nodes[k] = n // before walking: declarations may refer to each other
	n.item.Hash = digest(normalisedSource(d.lr.Fset, d.lr.Source, decl.node))
	w := &walker{d: d, dp: dp, n: n, seen: map[string]bool{}}
	w.walk(decl.node)
	return n
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// walker collects what one declaration references.
type walker struct {
	d    *deps
	dp   *declPackage
	n    *node
	seen map[string]bool // refs and uses already recorded
}

func (w *walker) info() *types.Info { return w.dp.syn.Info }

func (w *walker) walk(root ast.Node) {
	ast.Inspect(root, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.Ident:
			if obj := w.info().Uses[x]; obj != nil {
				w.object(obj, x.Pos())
			}
		case *ast.SelectorExpr:
			if sel := w.info().Selections[x]; sel != nil && sel.Kind() == types.FieldVal {
				// The struct that declares the field, however the
				// value's type was spelled (or inferred).
				w.typeOf(sel.Recv(), x.Sel.Pos())
			}
		case *ast.CallExpr:
			w.call(x)
		case *ast.RangeStmt:
			w.rangeFunc(x)
		}
		return true
	})
}

// object records a reference, at pos, to a package-level object.
func (w *walker) object(obj types.Object, pos token.Pos) {
	pkg := obj.Pkg()
	if pkg == nil {
		return // predeclared
	}
	path := pkg.Path()
	if !w.d.sameModule(w.dp, path) {
		w.external(path)
		return
	}
	switch o := obj.(type) {
	case *types.Func:
		if dynamic(o) {
			return // listed at the call
		}
		kind, name, ok := funcName(o)
		if !ok {
			return
		}
		if dp := w.d.pkg(path); dp.err == nil && dp.decls[name] == nil {
			// Not in the source as read: a wrapper in a generated file,
			// seen through another package's export data, or another
			// declaration of that file (which nothing covers).
			if base, ok := dp.wraps[name]; ok {
				w.ref(path, base, kind, pos)
			}
			return
		}
		w.ref(path, name, kind, pos)
	case *types.TypeName:
		if o.Parent() == pkg.Scope() {
			w.ref(path, path+"."+o.Name(), model.CoverType, pos)
		}
	case *types.Var:
		if !o.IsField() && o.Parent() == pkg.Scope() {
			w.ref(path, path+"."+o.Name(), model.CoverVar, pos)
		}
	case *types.Const:
		if o.Parent() == pkg.Scope() {
			w.constant(o, pos)
		}
	}
}

// typeOf records the named type behind t (through one pointer).
func (w *walker) typeOf(t types.Type, pos token.Pos) {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		w.object(n.Origin().Obj(), pos)
	}
}

func (w *walker) ref(path, name string, kind model.CoverKind, pos token.Pos) {
	k := key(kind, name)
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	if err := w.d.pkg(path).err; err != nil {
		w.unresolved(pos, fmt.Sprintf("%s: cannot read its source: %v", name, err))
		return
	}
	w.n.refs = append(w.n.refs, ref{path: path, name: name, kind: kind})
}

// constant records a constant of the module, covered by its type and
// value (a constant in an iota group has no source of its own).
func (w *walker) constant(c *types.Const, pos token.Pos) {
	name := c.Pkg().Path() + "." + c.Name()
	k := key(model.CoverConst, name)
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.n.refs = append(w.n.refs, ref{path: c.Pkg().Path(), name: name, kind: model.CoverConst})
	if _, ok := w.d.nodes[k]; ok {
		return
	}
	n := &node{item: model.Covered{Kind: model.CoverConst, Name: name}}
	n.item.Hash = digest([]byte(types.TypeString(c.Type(), pathQualifier) + " = " + c.Val().ExactString()))
	w.d.nodes[k] = n
	cw := &walker{d: w.d, dp: w.d.pkg(c.Pkg().Path()), n: n, seen: map[string]bool{}}
	cw.typeOf(c.Type(), pos)
}

func pathQualifier(p *types.Package) string { return p.Path() }

// external records a package of another module, or of the standard
// library (which the go version always covers).
func (w *walker) external(path string) {
	p := w.d.lr.Package(path)
	if p == nil || p.Module == nil {
		return // the standard library (or unsafe, or C)
	}
	m := p.Module
	k := key(model.CoverModule, m.Path)
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.n.uses = append(w.n.uses, model.Covered{Kind: model.CoverModule, Name: m.Path, Hash: moduleVersion(m)})
}

// moduleVersion is a module's version as go.mod selects it, with its
// replacement: another module's version, or a directory (named when
// relative, so that versions do not depend on where a machine keeps it).
func moduleVersion(m *packages.Module) string {
	v := m.Version
	if v == "" && m.Main {
		v = "(workspace module)"
	}
	if r := m.Replace; r != nil {
		switch {
		case r.Version != "":
			v += " => " + r.Path + " " + r.Version
		case filepath.IsAbs(r.Path):
			v += " => (a directory)"
		default:
			v += " => " + filepath.ToSlash(r.Path)
		}
	}
	return v
}

// sameModule reports whether the package with the import path belongs to
// dp's module, whose source versions cover.
func (d *deps) sameModule(dp *declPackage, path string) bool {
	if path == dp.path {
		return true
	}
	p := d.lr.Package(path)
	if p == nil || p.Module == nil || dp.module == nil {
		return false
	}
	return p.Module.Path == dp.module.Path
}

// call lists a call that cannot be resolved statically; static calls are
// covered through their identifiers.
func (w *walker) call(call *ast.CallExpr) {
	info := w.info()
	fun := ast.Unparen(call.Fun)
	if tv, ok := info.Types[fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
		return // a conversion, or len, append, ...
	}
	callee := fun
	switch x := fun.(type) {
	case *ast.IndexExpr: // F[T](...), or a func in a map or slice
		callee = ast.Unparen(x.X)
	case *ast.IndexListExpr:
		callee = ast.Unparen(x.X)
	}
	what := types.ExprString(fun)
	switch x := callee.(type) {
	case *ast.FuncLit:
		return // its body is in the source
	case *ast.Ident:
		switch o := info.Uses[x].(type) {
		case *types.Func:
			return // F(...), or F[T](...)
		case *types.Var:
			if callee == fun {
				w.unresolved(call.Pos(), fmt.Sprintf("%s: call of a func value (%s)", what, varKind(o)))
			} else {
				w.unresolved(call.Pos(), fmt.Sprintf("%s: call of a func value", what))
			}
			return
		case nil:
			if w.wrapperIdent(x) {
				return
			}
			w.unresolved(call.Pos(), fmt.Sprintf("%s: call of an undefined name", what))
			return
		default:
			return
		}
	case *ast.SelectorExpr:
		switch o := info.Uses[x.Sel].(type) {
		case *types.Func:
			if dynamic(o) {
				w.unresolved(call.Pos(), fmt.Sprintf("%s: call of interface method %s", what, ifaceMethod(info, x, o)))
			}
			return
		case *types.Var:
			if callee == fun {
				w.unresolved(call.Pos(), fmt.Sprintf("%s: call of a func value (%s)", what, varKind(o)))
			} else {
				w.unresolved(call.Pos(), fmt.Sprintf("%s: call of a func value", what))
			}
			return
		case nil:
			if w.wrapperSelector(x) {
				return
			}
			w.unresolved(call.Pos(), fmt.Sprintf("%s: call of an undefined name", what))
			return
		default:
			return
		}
	}
	w.unresolved(call.Pos(), fmt.Sprintf("%s: call of a func value", what))
}

// rangeFunc lists a range over a function that is not a declared one.
func (w *walker) rangeFunc(r *ast.RangeStmt) {
	info := w.info()
	tv, ok := info.Types[r.X]
	if !ok || tv.Type == nil {
		return
	}
	if _, ok := tv.Type.Underlying().(*types.Signature); !ok {
		return
	}
	x := ast.Unparen(r.X)
	var id *ast.Ident
	switch e := x.(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		id = e.Sel
	}
	if id != nil {
		if f, ok := info.Uses[id].(*types.Func); ok && !dynamic(f) {
			return
		}
	}
	if _, ok := x.(*ast.FuncLit); ok {
		return
	}
	w.unresolved(r.X.Pos(), fmt.Sprintf("%s: range over a func value", types.ExprString(r.X)))
}

func varKind(v *types.Var) string {
	switch v.Kind() {
	case types.FieldVar:
		return "a field"
	case types.ParamVar, types.RecvVar, types.ResultVar:
		return "a parameter"
	case types.PackageVar:
		return "a package variable"
	}
	return "a variable"
}

// ifaceMethod names an interface method as the call sees it: the static
// type of the receiver, then the method.
func ifaceMethod(info *types.Info, sel *ast.SelectorExpr, f *types.Func) string {
	t := info.TypeOf(sel.X)
	if t == nil {
		return f.Name()
	}
	qual := func(p *types.Package) string { return p.Name() }
	return "(" + types.TypeString(t, qual) + ")." + f.Name()
}

// wrapperIdent resolves FCached, undefined while the generated file is
// read as empty, to the annotated F of the package.
func (w *walker) wrapperIdent(id *ast.Ident) bool {
	if base, ok := w.dp.wraps[w.dp.path+"."+id.Name]; ok {
		w.ref(w.dp.path, base, model.CoverFunc, id.Pos())
		return true
	}
	return false
}

// wrapperSelector resolves pkg.FCached and x.MCached, undefined while the
// generated file is read as empty, to the annotated function or method;
// the generated handles (FCache.Clear) are the runtime's.
func (w *walker) wrapperSelector(sel *ast.SelectorExpr) bool {
	info := w.info()
	if id, ok := sel.X.(*ast.Ident); ok {
		if pn, ok := info.Uses[id].(*types.PkgName); ok {
			path := pn.Imported().Path()
			if !w.d.sameModule(w.dp, path) {
				return false
			}
			if base, ok := w.d.pkg(path).wraps[path+"."+sel.Sel.Name]; ok {
				w.ref(path, base, model.CoverFunc, sel.Sel.Pos())
				return true
			}
			return false
		}
		if info.Uses[id] == nil {
			if fname, ok := strings.CutSuffix(id.Name, "Cache"); ok {
				if _, ok := w.dp.wraps[w.dp.path+"."+wrapperName(fname)]; ok {
					return true // a generated handle
				}
			}
		}
	}
	t := info.TypeOf(sel.X)
	if t == nil {
		return false
	}
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return false
	}
	path := n.Obj().Pkg().Path()
	if !w.d.sameModule(w.dp, path) {
		return false
	}
	dp := w.d.pkg(path)
	for _, ptr := range []bool{false, true} {
		if base, ok := dp.wraps[methodName(path, n.Obj().Name(), ptr, sel.Sel.Name)]; ok {
			w.ref(path, base, model.CoverMethod, sel.Sel.Pos())
			return true
		}
	}
	return false
}

func (w *walker) unresolved(pos token.Pos, what string) {
	p := w.d.lr.Fset.Position(pos)
	w.n.unresolved = append(w.n.unresolved, model.Unresolved{File: p.Filename, Line: p.Line, Col: p.Column, What: what})
}

// cover returns what the version of the annotated function fd of the
// package covers: every declaration of its module it reaches, and the
// methods the generated code calls on its arguments and results (their
// own key and value encodings); the other modules all of those use; and
// the go version. It lists the calls on the way it cannot resolve.
func (d *deps) cover(path string, fd *ast.FuncDecl, codec []*types.Func) ([]model.Covered, []model.Unresolved) {
	dp := d.pkg(path)
	if dp.syn == nil {
		return nil, nil
	}
	self := &node{}
	w := &walker{d: d, dp: dp, n: self, seen: map[string]bool{}}
	visited := map[ref]bool{}
	if kind, name, ok := dp.funcDeclName(fd); ok {
		w.seen[key(kind, name)] = true
		visited[ref{path: path, name: name, kind: kind}] = true
	}
	w.walk(fd)
	for _, f := range codec {
		w.object(f, fd.Name.Pos())
	}
	var covers []model.Covered
	var unresolved []model.Unresolved
	seen := map[string]bool{} // the other modules
	add := func(n *node) {
		for _, u := range n.uses {
			if k := key(u.Kind, u.Name); !seen[k] {
				seen[k] = true
				covers = append(covers, u)
			}
		}
		unresolved = append(unresolved, n.unresolved...)
	}
	add(self)
	queue := append([]ref(nil), self.refs...)
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if visited[r] {
			continue
		}
		visited[r] = true
		n := d.node(r.path, r.name, r.kind)
		if n == nil {
			continue
		}
		covers = append(covers, n.item)
		add(n)
		queue = append(queue, n.refs...)
	}
	if m := dp.module; m != nil && m.GoVersion != "" {
		covers = append(covers, model.Covered{Kind: model.CoverGo, Name: "go", Hash: m.GoVersion})
	}
	sort.Slice(covers, func(i, j int) bool {
		if covers[i].Kind != covers[j].Kind {
			return covers[i].Kind < covers[j].Kind
		}
		return covers[i].Name < covers[j].Name
	})
	sort.Slice(unresolved, func(i, j int) bool {
		a, b := unresolved[i], unresolved[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.What < b.What
	})
	return covers, dedupe(unresolved)
}

// codecMethods returns the methods by which the generated code encodes
// fn's key and stores its results (AppendCacheKey, MarshalBinary,
// UnmarshalBinary) on the named types of the module (inModule) that its
// parameters and results are made of: the version covers them as if the
// function called them. (Types of other modules are covered by their
// module's version, through the signature.)
func codecMethods(fn *model.Func, sig *types.Signature, inModule func(path string) bool) []*types.Func {
	var ts []types.Type
	if fn.Recv != nil && !fn.Recv.Ignored {
		ts = append(ts, sig.Recv().Type())
	}
	params := sig.Params()
	for i, j := 0, 0; i < params.Len(); i++ {
		if i == 0 && fn.Ctx != nil {
			continue
		}
		if j < len(fn.Params) && !fn.Params[j].Ignored {
			ts = append(ts, params.At(i).Type())
		}
		j++
	}
	results := sig.Results()
	for i := 0; i < results.Len(); i++ {
		ts = append(ts, results.At(i).Type())
	}
	var out []*types.Func
	seen := map[types.Type]bool{}
	var visit func(types.Type)
	visit = func(t types.Type) {
		t = types.Unalias(t)
		if seen[t] {
			return
		}
		seen[t] = true
		switch t := t.(type) {
		case *types.Named:
			if t.Obj().Pkg() == nil || !inModule(t.Obj().Pkg().Path()) {
				return
			}
			if !types.IsInterface(t) {
				for _, name := range []string{"AppendCacheKey", "MarshalBinary", "UnmarshalBinary"} {
					if f, ok := lookupMethod(t, name); ok {
						out = append(out, f)
					}
				}
			}
			visit(t.Underlying())
		case *types.Pointer:
			visit(t.Elem())
		case *types.Slice:
			visit(t.Elem())
		case *types.Array:
			visit(t.Elem())
		case *types.Map:
			visit(t.Key())
			visit(t.Elem())
		case *types.Struct:
			for i := 0; i < t.NumFields(); i++ {
				visit(t.Field(i).Type())
			}
		}
	}
	for _, t := range ts {
		visit(t)
	}
	return out
}

func lookupMethod(t *types.Named, name string) (*types.Func, bool) {
	obj, _, _ := types.LookupFieldOrMethod(t, true, t.Obj().Pkg(), name)
	f, ok := obj.(*types.Func)
	return f, ok
}

func dedupe(us []model.Unresolved) []model.Unresolved {
	var out []model.Unresolved
	for i, u := range us {
		if i > 0 && u == us[i-1] {
			continue
		}
		out = append(out, u)
	}
	return out
}
