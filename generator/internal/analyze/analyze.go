// Package analyze turns a loaded package's annotated functions into the
// plain model that emission needs: their options, the generated API's
// names, type shapes with the facts derived from them (facts.go), and
// what their versions are derived from: their own normalised source, and
// what of their module they reach (deep.go). It collects every problem
// in the user's code as a positioned diagnostic, and never panics on
// user input. The names of everything else the generated file introduces
// are the emitter's to choose.
package analyze

import (
	"fmt"
	"go/ast"
	"go/scanner"
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

// Analyzer analyzes the packages of one load. The packages share what
// their functions' versions cover (deep.go), so that a helper that
// several functions reach is read and hashed once.
type Analyzer struct {
	lr   *load.Result
	deps *deps
}

// New returns an Analyzer of the packages lr loaded.
func New(lr *load.Result) *Analyzer {
	return &Analyzer{lr: lr, deps: newDeps(lr)}
}

// Package analyzes one loaded package of lr. It returns nil for a package
// without annotations.
func (an *Analyzer) Package(pkg *packages.Package) (*model.Package, []model.Diagnostic) {
	a := &analyzer{pkg: pkg, fset: an.lr.Fset, source: an.lr.Source, time: an.lr.TimeType, deps: an.deps,
		named: map[types.Type]*model.Type{}, derived: map[*model.Type]bool{}}
	return a.run()
}

type analyzer struct {
	pkg     *packages.Package
	fset    *token.FileSet
	source  func(filename string) []byte
	time    func() types.Type // time.Time, as the loader found it
	deps    *deps             // what versions cover, shared by the packages of a load
	diags   []model.Diagnostic
	named   map[types.Type]*model.Type // memo for named types (cycles)
	derived map[*model.Type]bool       // types whose facts are set
}

func (a *analyzer) errorf(pos token.Pos, format string, args ...any) {
	p := a.fset.Position(pos)
	a.diags = append(a.diags, model.Diagnostic{File: p.Filename, Line: p.Line, Col: p.Column, Msg: fmt.Sprintf(format, args...)})
}

// annotated is an annotated function's declaration and directive lines.
type annotated struct {
	file  *ast.File
	decl  *ast.FuncDecl
	lines []*ast.Comment
}

func (a *analyzer) run() (*model.Package, []model.Diagnostic) {
	funcs := a.annotatedFuncs()
	if len(funcs) == 0 {
		return nil, a.diags
	}
	a.packageErrors(funcs)

	mp := &model.Package{Path: a.pkg.PkgPath, Name: a.pkg.Name}
	if len(a.pkg.GoFiles) > 0 {
		mp.Dir = filepath.Dir(a.pkg.GoFiles[0])
	}
	if a.pkg.Types != nil {
		mp.Taken = a.pkg.Types.Scope().Names()
	}
	sources := map[string]bool{}
	handles := map[string]token.Pos{}
	names := map[string]token.Pos{}
	for _, af := range funcs {
		fn, ok := a.function(af)
		if !ok {
			continue
		}
		if p, dup := handles[fn.Handle]; dup {
			a.errorf(af.decl.Name.Pos(), "handle %s is also generated for the function at %s; rename one", fn.Handle, a.rel(p))
			continue
		}
		handles[fn.Handle] = af.decl.Name.Pos()
		if p, dup := names[fn.CacheName]; dup {
			a.errorf(af.decl.Name.Pos(), "cache name %q is also used by the function at %s; give one a different name=", fn.CacheName, a.rel(p))
			continue
		}
		names[fn.CacheName] = af.decl.Name.Pos()
		mp.Funcs = append(mp.Funcs, fn)
		sources[filepath.Base(a.fset.Position(af.file.Package).Filename)] = true
	}
	for s := range sources {
		mp.Sources = append(mp.Sources, s)
	}
	sort.Strings(mp.Sources)
	return mp, a.diags
}

// annotatedFuncs returns the functions with directives in their doc
// comments, and reports near misses and directives elsewhere.
func (a *analyzer) annotatedFuncs() []annotated {
	var funcs []annotated
	for _, f := range a.pkg.Syntax {
		name := a.fset.Position(f.Package).Filename
		if filepath.Base(name) == load.GeneratedFile && len(f.Decls) == 0 {
			continue // a previous run's output, read as empty
		}
		inDoc := map[*ast.Comment]bool{}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			var lines []*ast.Comment
			for _, c := range fd.Doc.List {
				if directive.IsDirective(c.Text) {
					lines = append(lines, c)
					inDoc[c] = true
				} else if msg := directive.NearMiss(c.Text); msg != "" {
					inDoc[c] = true
					a.errorf(c.Slash, "%s", msg)
				}
			}
			if len(lines) > 0 {
				funcs = append(funcs, annotated{file: f, decl: fd, lines: lines})
			}
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if directive.IsDirective(c.Text) && !inDoc[c] {
					a.errorf(c.Slash, "%s directive must be in the doc comment of a function, directly above it", directive.Prefix)
				}
			}
		}
	}
	return funcs
}

func (a *analyzer) rel(p token.Pos) string {
	pos := a.fset.Position(p)
	return fmt.Sprintf("%s:%d:%d", filepath.Base(pos.Filename), pos.Line, pos.Column)
}

// packageErrors reports the load and type errors that touch an annotated
// function's signature or directive. Other errors, such as calls to
// wrappers not generated yet, must not block a run.
func (a *analyzer) packageErrors(funcs []annotated) {
	type span struct {
		file       string
		start, end token.Position
	}
	var spans []span
	for _, af := range funcs {
		start := af.decl.Pos()
		if af.decl.Doc != nil {
			start = af.decl.Doc.Pos()
		}
		end := af.decl.Type.End()
		spans = append(spans, span{a.fset.Position(start).Filename, a.fset.Position(start), a.fset.Position(end)})
	}
	touches := func(file string, line, col int) bool {
		for _, s := range spans {
			if s.file != file {
				continue
			}
			after := line > s.start.Line || line == s.start.Line && col >= s.start.Column
			before := line < s.end.Line || line == s.end.Line && col <= s.end.Column
			if after && before {
				return true
			}
		}
		return false
	}
	for _, e := range a.pkg.Errors {
		if e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# ") {
			// The go command's compiler output (go list -export): the
			// type checker reports the same errors with positions.
			continue
		}
		file, line, col, ok := splitPos(e.Pos)
		if e.Kind == packages.ParseError || !ok {
			// Syntax errors and errors without a position (no Go files,
			// a missing module) always matter.
			if ok && e.Kind != packages.ParseError {
				continue
			}
			a.diags = append(a.diags, model.Diagnostic{File: file, Line: line, Col: col, Msg: e.Msg})
			continue
		}
		if touches(file, line, col) {
			a.diags = append(a.diags, model.Diagnostic{File: file, Line: line, Col: col, Msg: e.Msg})
		}
	}
}

// splitPos splits "file:line:col" (or "file:line") as go/packages writes it.
func splitPos(pos string) (file string, line, col int, ok bool) {
	if pos == "" || pos == "-" {
		return "", 0, 0, false
	}
	parts := strings.Split(pos, ":")
	nums := []int{}
	for len(parts) > 1 && len(nums) < 2 {
		var n int
		if _, err := fmt.Sscanf(parts[len(parts)-1], "%d", &n); err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		parts = parts[:len(parts)-1]
	}
	if len(nums) == 0 {
		return pos, 0, 0, false
	}
	file = strings.Join(parts, ":")
	line = nums[0]
	if len(nums) > 1 {
		col = nums[1]
	}
	return file, line, col, true
}

// function analyzes one annotated function: its directive, then its
// signature, receiver, parameters and results, then what its version is
// derived from. Every problem is reported; the function is kept only
// without any.
func (a *analyzer) function(af annotated) (model.Func, bool) {
	fd := af.decl
	ndiags := len(a.diags)
	opts := a.options(af)
	fn := model.Func{Name: fd.Name.Name, MaxSize: opts.MaxSize, TTL: opts.TTL, Typed: opts.Typed, ManualVersion: opts.Version}
	sig, ok := a.signature(fd)
	if !ok {
		return fn, false
	}
	ig := newIgnores(af, opts.Ignore)
	if !a.receiver(&fn, fd, sig, ig) {
		return fn, false
	}
	a.names(&fn, fd, sig, opts.Name)
	a.params(&fn, fd, sig, ig)
	ig.reportUnused(a, fd.Name.Name)
	a.results(&fn, fd, sig)
	if len(a.diags) > ndiags {
		return fn, false
	}
	fn.Signature = types.TypeString(sig, func(p *types.Package) string { return p.Path() })
	fn.Source = normalisedSource(a.fset, a.source, fd)
	inModule := func(path string) bool { return a.deps.sameModule(a.deps.pkg(a.pkg.PkgPath), path) }
	fn.Covers, fn.Unresolved = a.deps.cover(a.pkg.PkgPath, fd, codecMethods(&fn, sig, inModule))
	return fn, true
}

// options parses the function's directive lines, reporting each problem
// at its offset in its line.
func (a *analyzer) options(af annotated) directive.Options {
	var texts []string
	for _, c := range af.lines {
		texts = append(texts, c.Text)
	}
	opts, errs := directive.Parse(texts)
	for _, e := range errs {
		a.errorf(af.lines[e.Line].Slash+token.Pos(e.Offset), "%s", e.Msg)
	}
	return opts
}

// signature returns the function's signature, if picogen can memoize a
// function of that shape.
func (a *analyzer) signature(fd *ast.FuncDecl) (*types.Signature, bool) {
	obj, _ := a.pkg.TypesInfo.Defs[fd.Name].(*types.Func)
	if obj == nil {
		a.errorf(fd.Name.Pos(), "cannot analyze %s: it has type errors", fd.Name.Name)
		return nil, false
	}
	sig := obj.Type().(*types.Signature)
	if fd.Type.TypeParams != nil || sig.TypeParams().Len() > 0 || sig.RecvTypeParams().Len() > 0 {
		a.errorf(fd.Name.Pos(), "%s is generic: picogen cannot memoize generic functions or methods of generic types; wrap an instantiation in a plain function", fd.Name.Name)
		return nil, false
	}
	if sig.Results().Len() == 0 {
		a.errorf(fd.Name.Pos(), "%s has no results: there is nothing to cache", fd.Name.Name)
		return nil, false
	}
	return sig, true
}

// ignores tracks the ignore= options of one function: which parameter
// each names, and which of them named one.
type ignores struct {
	af     annotated
	byName map[string]directive.Ignore
	order  []directive.Ignore
	used   map[string]bool
}

func newIgnores(af annotated, list []directive.Ignore) *ignores {
	ig := &ignores{af: af, byName: map[string]directive.Ignore{}, order: list, used: map[string]bool{}}
	for _, i := range list {
		ig.byName[i.Name] = i
	}
	return ig
}

// take reports whether name (a parameter's or the receiver's) is
// ignored, and marks its option used.
func (ig *ignores) take(name string) bool {
	if name == "" || name == "_" {
		return false
	}
	if _, ok := ig.byName[name]; !ok {
		return false
	}
	ig.used[name] = true
	return true
}

// pos is where the option ignoring name is written.
func (ig *ignores) pos(name string) token.Pos {
	i := ig.byName[name]
	return ig.af.lines[i.Line].Slash + token.Pos(i.Offset)
}

func (ig *ignores) reportUnused(a *analyzer, fname string) {
	for _, i := range ig.order {
		if !ig.used[i.Name] {
			a.errorf(ig.pos(i.Name), "ignore=%s names no parameter of %s", i.Name, fname)
		}
	}
}

// receiver converts a method's receiver and checks that it can be part of
// the key, unless ignored.
func (a *analyzer) receiver(fn *model.Func, fd *ast.FuncDecl, sig *types.Signature, ig *ignores) bool {
	recv := sig.Recv()
	if recv == nil {
		return true
	}
	rt := recv.Type()
	base := rt
	if p, ok := rt.(*types.Pointer); ok {
		base = p.Elem()
	}
	named, _ := types.Unalias(base).(*types.Named)
	if named == nil {
		a.errorf(fd.Name.Pos(), "cannot analyze the receiver of %s", fd.Name.Name)
		return false
	}
	fn.RecvName = named.Obj().Name()
	name := recv.Name()
	p := &model.Param{Name: name, Type: a.conv(rt)}
	recvPos := fd.Recv.List[0].Type.Pos()
	if len(fd.Recv.List[0].Names) > 0 {
		recvPos = fd.Recv.List[0].Names[0].Pos()
	}
	if ig.take(name) {
		p.Ignored = true
	} else if problem := keyProblem(p.Type, a.pkg.PkgPath); problem != "" {
		hint := fmt.Sprintf("or add ignore=%s to leave it out of the key", name)
		if name == "" || name == "_" {
			hint = "or name the receiver and add ignore=NAME to leave it out of the key"
		}
		a.errorf(recvPos, "receiver %s cannot be part of the key: %s; %s", types.TypeString(rt, a.qual), problem, orHint(problem, hint))
	}
	fn.Recv = p
	return true
}

// names settles the function's cache name and the generated API's names
// (the handle and the wrapper), and reports where the package already
// declares them.
func (a *analyzer) names(fn *model.Func, fd *ast.FuncDecl, sig *types.Signature, name string) {
	fn.Wrapper = wrapperName(fn.Name)
	if fn.Recv != nil {
		rt := sig.Recv().Type()
		if _, ok := rt.(*types.Pointer); ok {
			fn.CacheName = fmt.Sprintf("%s.(*%s).%s", a.pkg.PkgPath, fn.RecvName, fn.Name)
		} else {
			fn.CacheName = fmt.Sprintf("%s.%s.%s", a.pkg.PkgPath, fn.RecvName, fn.Name)
		}
		fn.Handle = fn.RecvName + fn.Name + "Cache"
		if o, _, _ := types.LookupFieldOrMethod(rt, true, a.pkg.Types, fn.Wrapper); o != nil && !a.inGenerated(o.Pos()) {
			a.errorf(fd.Name.Pos(), "cannot generate method %s: %s already has a field or method of that name", fn.Wrapper, fn.RecvName)
		}
	} else {
		fn.CacheName = a.pkg.PkgPath + "." + fn.Name
		fn.Handle = fn.Name + "Cache"
		if o := a.pkg.Types.Scope().Lookup(fn.Wrapper); o != nil && !a.inGenerated(o.Pos()) {
			a.errorf(fd.Name.Pos(), "cannot generate %s: the package already declares it at %s", fn.Wrapper, a.rel(o.Pos()))
		}
	}
	if o := a.pkg.Types.Scope().Lookup(fn.Handle); o != nil && !a.inGenerated(o.Pos()) {
		a.errorf(fd.Name.Pos(), "cannot generate %s: the package already declares it at %s", fn.Handle, a.rel(o.Pos()))
	}
	if name != "" {
		fn.CacheName = name
	}
}

// params converts the parameters: a first context.Context is set apart,
// the others are checked to be encodable into the key, unless ignored.
func (a *analyzer) params(fn *model.Func, fd *ast.FuncDecl, sig *types.Signature, ig *ignores) {
	positions := fieldPositions(fd.Type.Params)
	params := sig.Params()
	fn.Variadic = sig.Variadic()
	for i := 0; i < params.Len(); i++ {
		v := params.At(i)
		pos := fd.Name.Pos()
		if i < len(positions) {
			pos = positions[i]
		}
		if i == 0 && isContext(v.Type()) {
			fn.Ctx = &model.Param{Name: v.Name(), Type: &model.Type{Kind: model.Context, ID: "context.Context"}}
			if ig.take(v.Name()) {
				a.errorf(ig.pos(v.Name()), "parameter %s is a context.Context, which is never part of the key: remove ignore=%s", v.Name(), v.Name())
			}
			continue
		}
		p := model.Param{Name: v.Name(), Type: a.conv(v.Type())}
		if ig.take(v.Name()) {
			p.Ignored = true
		} else if problem := keyProblem(p.Type, a.pkg.PkgPath); problem != "" {
			display, hint := v.Name(), ""
			if display == "" || display == "_" {
				display = fmt.Sprintf("#%d", i+1)
			} else {
				hint = fmt.Sprintf("; or add ignore=%s to leave it out of the key", v.Name())
			}
			a.errorf(pos, "parameter %s cannot be part of the key: %s%s", display, problem, orHint(problem, hint))
		}
		fn.Params = append(fn.Params, p)
	}
}

// results converts the results, setting a trailing error apart, and
// checks that each can be stored.
func (a *analyzer) results(fn *model.Func, fd *ast.FuncDecl, sig *types.Signature) {
	results := sig.Results()
	n := results.Len()
	if isError(results.At(n - 1).Type()) {
		fn.HasError = true
		n--
		if n == 0 {
			a.errorf(fd.Name.Pos(), "%s returns only an error: there is no value to cache", fd.Name.Name)
		}
	}
	positions := fieldPositions(fd.Type.Results)
	for i := 0; i < n; i++ {
		t := a.conv(results.At(i).Type())
		if problem := valueProblem(t, a.pkg.PkgPath); problem != "" {
			pos := fd.Type.Results.Pos()
			if i < len(positions) {
				pos = positions[i]
			}
			a.errorf(pos, "result %d of %s cannot be stored: %s", i+1, fd.Name.Name, problem)
		}
		fn.Results = append(fn.Results, t)
	}
}

// fieldPositions returns the position of each parameter or result of a
// field list: its name, or its type when unnamed.
func fieldPositions(fl *ast.FieldList) []token.Pos {
	var ps []token.Pos
	if fl == nil {
		return nil
	}
	for _, field := range fl.List {
		if len(field.Names) == 0 {
			ps = append(ps, field.Type.Pos())
		}
		for _, n := range field.Names {
			ps = append(ps, n.Pos())
		}
	}
	return ps
}

// orHint drops the "or " of an ignore= hint when the problem offers no
// other remedy.
func orHint(problem, hint string) string {
	if strings.Contains(problem, "; give ") {
		return hint
	}
	return strings.Replace(hint, "or ", "", 1)
}

func (a *analyzer) inGenerated(p token.Pos) bool {
	return filepath.Base(a.fset.Position(p).Filename) == load.GeneratedFile
}

func (a *analyzer) qual(p *types.Package) string {
	if p == a.pkg.Types {
		return ""
	}
	return p.Name()
}

// normalisedSource returns a declaration's tokens (a function's, from
// func to its closing brace; a type's or a variable's spec) without
// comments, doc or positions, so that editing a comment or reformatting
// keeps the version while any change to the code changes it.
func normalisedSource(fset *token.FileSet, source func(string) []byte, n ast.Node) []byte {
	tf := fset.File(n.Pos())
	if tf == nil {
		return nil
	}
	src := source(tf.Name())
	start, end := tf.Offset(n.Pos()), tf.Offset(n.End())
	if src == nil || start < 0 || end > len(src) || start > end {
		return nil
	}
	body := src[start:end]
	var s scanner.Scanner
	fs := token.NewFileSet()
	f := fs.AddFile("", -1, len(body))
	s.Init(f, body, nil, 0) // comments skipped
	type tok struct {
		t   token.Token
		lit string
	}
	toks := make([]tok, 0, len(body)/4)
	for {
		_, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		if t == token.SEMICOLON {
			lit = ";" // explicit or inserted at a newline: the same
		}
		toks = append(toks, tok{t, lit})
	}
	out := make([]byte, 0, 2*len(body))
	for i, t := range toks {
		// A trailing comma before a closing bracket is formatting.
		if t.t == token.COMMA && i+1 < len(toks) {
			switch toks[i+1].t {
			case token.RPAREN, token.RBRACE, token.RBRACK:
				continue
			case token.SEMICOLON:
				if i+2 < len(toks) && (toks[i+2].t == token.RPAREN || toks[i+2].t == token.RBRACE || toks[i+2].t == token.RBRACK) {
					continue
				}
			}
		}
		// A semicolon inserted before a closing bracket on its own line is
		// formatting too.
		if t.t == token.SEMICOLON && i+1 < len(toks) && (toks[i+1].t == token.RPAREN || toks[i+1].t == token.RBRACE) {
			continue
		}
		out = append(out, t.t.String()...)
		if t.lit != "" && t.t != token.SEMICOLON {
			out = append(out, ' ')
			out = append(out, t.lit...)
		}
		out = append(out, '\n')
	}
	return out
}

// wrapperName is the generated wrapper of a function or method.
func wrapperName(name string) string { return name + "Cached" }

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

var errorType = types.Universe.Lookup("error").Type()

func isError(t types.Type) bool { return types.Identical(t, errorType) }
