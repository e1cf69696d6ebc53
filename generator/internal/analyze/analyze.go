// Package analyze turns a loaded package's annotated functions into the
// plain model that emission needs, and collects every problem in the
// user's code as a positioned diagnostic. It never panics on user input.
package analyze

import (
	"crypto/sha256"
	"encoding/hex"
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

// CodecFormat names the key and value encodings picogen writes. It is part
// of every function's version and of every value's type description:
// change it when an encoding changes.
const CodecFormat = "picogen1"

// Package analyzes one loaded package. It returns nil for a package without
// annotations. srcs holds the source of each parsed file.
func Package(pkg *packages.Package, fset *token.FileSet, srcs map[string][]byte) (*model.Package, []model.Diagnostic) {
	a := &analyzer{pkg: pkg, fset: fset, srcs: srcs, named: map[types.Type]*model.Type{}}
	return a.run()
}

type analyzer struct {
	pkg   *packages.Package
	fset  *token.FileSet
	srcs  map[string][]byte
	diags []model.Diagnostic
	named map[types.Type]*model.Type // memo for named types (cycles)
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
				switch {
				case directive.IsDirective(c.Text):
					lines = append(lines, c)
					inDoc[c] = true
				case directive.IsNearMiss(c.Text):
					inDoc[c] = true
					a.errorf(c.Slash, "%q is not a picocache directive: write %s with no space after // (gofmt keeps that form)", firstLine(c.Text), directive.Prefix)
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

func (a *analyzer) rel(p token.Pos) string {
	pos := a.fset.Position(p)
	return fmt.Sprintf("%s:%d:%d", filepath.Base(pos.Filename), pos.Line, pos.Column)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
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

// function analyzes one annotated function.
func (a *analyzer) function(af annotated) (model.Func, bool) {
	fd := af.decl
	ndiags := len(a.diags)
	var texts []string
	for _, c := range af.lines {
		texts = append(texts, c.Text)
	}
	opts, errs := directive.Parse(texts)
	for _, e := range errs {
		a.errorf(af.lines[e.Line].Slash+token.Pos(e.Offset), "%s", e.Msg)
	}
	ignorePos := func(ig directive.Ignore) token.Pos { return af.lines[ig.Line].Slash + token.Pos(ig.Offset) }

	fn := model.Func{Name: fd.Name.Name, MaxSize: opts.MaxSize, TTL: opts.TTL, Typed: opts.Typed}
	obj, _ := a.pkg.TypesInfo.Defs[fd.Name].(*types.Func)
	if obj == nil {
		a.errorf(fd.Name.Pos(), "cannot analyze %s: it has type errors", fd.Name.Name)
		return fn, false
	}
	sig := obj.Type().(*types.Signature)
	if fd.Type.TypeParams != nil || sig.TypeParams().Len() > 0 || sig.RecvTypeParams().Len() > 0 {
		a.errorf(fd.Name.Pos(), "%s is generic: picogen cannot memoize generic functions or methods of generic types; wrap an instantiation in a plain function", fd.Name.Name)
		return fn, false
	}
	if sig.Results().Len() == 0 {
		a.errorf(fd.Name.Pos(), "%s has no results: there is nothing to cache", fd.Name.Name)
		return fn, false
	}

	ignored := map[string]directive.Ignore{}
	for _, ig := range opts.Ignore {
		ignored[ig.Name] = ig
	}
	used := map[string]bool{}
	keyParts := []string{}
	// The wrapper uses the user's parameter names unless they are blank
	// or collide with the wrapper's own identifiers.
	taken := map[string]bool{}
	for _, n := range reservedLocals {
		taken[n] = true
	}
	var paramPos []token.Pos
	for _, field := range fd.Type.Params.List {
		if len(field.Names) == 0 {
			paramPos = append(paramPos, field.Type.Pos())
		}
		for _, n := range field.Names {
			paramPos = append(paramPos, n.Pos())
		}
	}
	wrapperName := func(name string, i int) string {
		if name == "" || name == "_" {
			name = fmt.Sprintf("p%d", i)
		}
		for taken[name] {
			name += "_"
		}
		taken[name] = true
		return name
	}

	// Receiver.
	if recv := sig.Recv(); recv != nil {
		rt := recv.Type()
		base := rt
		if p, ok := rt.(*types.Pointer); ok {
			base = p.Elem()
		}
		named, _ := types.Unalias(base).(*types.Named)
		if named == nil {
			a.errorf(fd.Name.Pos(), "cannot analyze the receiver of %s", fd.Name.Name)
			return fn, false
		}
		fn.RecvName = named.Obj().Name()
		name := recv.Name()
		p := &model.Param{Name: wrapperName(name, 0), Type: a.conv(rt)}
		if name == "" || name == "_" {
			p.Name = "recv"
			taken["recv"] = true
		}
		recvPos := fd.Recv.List[0].Type.Pos()
		if len(fd.Recv.List[0].Names) > 0 {
			recvPos = fd.Recv.List[0].Names[0].Pos()
		}
		if ig, ok := ignored[name]; ok && name != "" && name != "_" {
			p.Ignored = true
			used[ig.Name] = true
			keyParts = append(keyParts, "recv:ignored")
		} else if problem := keyProblem(p.Type, a.pkg.PkgPath); problem != "" {
			hint := fmt.Sprintf("or add ignore=%s to leave it out of the key", name)
			if name == "" || name == "_" {
				hint = "or name the receiver and add ignore=NAME to leave it out of the key"
			}
			a.errorf(recvPos, "receiver %s cannot be part of the key: %s; %s", types.TypeString(rt, a.qual), problem, orHint(problem, hint))
		} else {
			keyParts = append(keyParts, "recv:"+layout(p.Type))
		}
		fn.Recv = p
		ptr := ""
		if _, ok := rt.(*types.Pointer); ok {
			ptr = "*"
		}
		if ptr != "" {
			fn.CacheName = fmt.Sprintf("%s.(*%s).%s", a.pkg.PkgPath, fn.RecvName, fn.Name)
		} else {
			fn.CacheName = fmt.Sprintf("%s.%s.%s", a.pkg.PkgPath, fn.RecvName, fn.Name)
		}
		fn.Handle = fn.RecvName + fn.Name + "Cache"
		fn.Wrapper = fn.Name + "Cached"
		if o, _, _ := types.LookupFieldOrMethod(rt, true, a.pkg.Types, fn.Wrapper); o != nil && !a.inGenerated(o.Pos()) {
			a.errorf(fd.Name.Pos(), "cannot generate method %s: %s already has a field or method of that name", fn.Wrapper, fn.RecvName)
		}
	} else {
		fn.CacheName = a.pkg.PkgPath + "." + fn.Name
		fn.Handle = fn.Name + "Cache"
		fn.Wrapper = fn.Name + "Cached"
		if o := a.pkg.Types.Scope().Lookup(fn.Wrapper); o != nil && !a.inGenerated(o.Pos()) {
			a.errorf(fd.Name.Pos(), "cannot generate %s: the package already declares it at %s", fn.Wrapper, a.rel(o.Pos()))
		}
	}
	if o := a.pkg.Types.Scope().Lookup(fn.Handle); o != nil && !a.inGenerated(o.Pos()) {
		a.errorf(fd.Name.Pos(), "cannot generate %s: the package already declares it at %s", fn.Handle, a.rel(o.Pos()))
	}
	if opts.Name != "" {
		fn.CacheName = opts.Name
	}

	// Parameters.
	params := sig.Params()
	fn.Variadic = sig.Variadic()
	for i := 0; i < params.Len(); i++ {
		v := params.At(i)
		pos := fd.Name.Pos()
		if i < len(paramPos) {
			pos = paramPos[i]
		}
		if i == 0 && isContext(v.Type()) {
			// The context keeps (or gets) the name ctx: the compute closure's
			// own ctx parameter shadows it.
			name := v.Name()
			p := &model.Param{Name: "ctx", Type: &model.Type{Kind: model.Context, ID: "context.Context"}}
			fn.Ctx = p
			if ig, ok := ignored[name]; ok {
				used[name] = true
				a.errorf(ignorePos(ig), "parameter %s is a context.Context, which is never part of the key: remove ignore=%s", name, name)
			}
			continue
		}
		p := model.Param{Name: wrapperName(v.Name(), i), Type: a.conv(v.Type())}
		display := v.Name()
		if display == "" || display == "_" {
			display = fmt.Sprintf("#%d", i+1)
		}
		if ig, ok := ignored[v.Name()]; ok && v.Name() != "" {
			p.Ignored = true
			used[ig.Name] = true
			keyParts = append(keyParts, "ignored")
		} else if problem := keyProblem(p.Type, a.pkg.PkgPath); problem != "" {
			hint := ""
			if v.Name() != "" && v.Name() != "_" {
				hint = fmt.Sprintf("; or add ignore=%s to leave it out of the key", v.Name())
			}
			a.errorf(pos, "parameter %s cannot be part of the key: %s%s", display, problem, orHint(problem, hint))
		} else {
			keyParts = append(keyParts, layout(p.Type))
		}
		fn.Params = append(fn.Params, p)
	}
	for _, ig := range opts.Ignore {
		if !used[ig.Name] {
			a.errorf(ignorePos(ig), "ignore=%s names no parameter of %s", ig.Name, fd.Name.Name)
		}
	}

	// Results.
	results := sig.Results()
	n := results.Len()
	if isError(results.At(n - 1).Type()) {
		fn.HasError = true
		n--
		if n == 0 {
			a.errorf(fd.Name.Pos(), "%s returns only an error: there is no value to cache", fd.Name.Name)
		}
	}
	var resParts []string
	var resPos []token.Pos
	for _, field := range fd.Type.Results.List {
		if len(field.Names) == 0 {
			resPos = append(resPos, field.Type.Pos())
		}
		for _, n := range field.Names {
			resPos = append(resPos, n.Pos())
		}
	}
	for i := 0; i < n; i++ {
		t := a.conv(results.At(i).Type())
		if problem := valueProblem(t, a.pkg.PkgPath); problem != "" {
			pos := fd.Type.Results.Pos()
			if i < len(resPos) {
				pos = resPos[i]
			}
			a.errorf(pos, "result %d of %s cannot be stored: %s", i+1, fd.Name.Name, problem)
		}
		fn.Results = append(fn.Results, t)
		resParts = append(resParts, layout(t))
	}
	fn.ValueType = CodecFormat + " " + strings.Join(resParts, ", ")
	if len(fn.Results) > 1 {
		fn.Result = "picocache" + strings.TrimSuffix(fn.Handle, "Cache") + "Result"
	}
	if len(a.diags) > ndiags {
		return fn, false
	}

	// The automatic version: the normalised source, the signature and the
	// key and value layouts, with the codec format.
	h := sha256.New()
	fmt.Fprintf(h, "%s\nsig %s\n", CodecFormat, types.TypeString(sig, func(p *types.Package) string { return p.Path() }))
	fmt.Fprintf(h, "key typed=%t %s\n", opts.Typed, strings.Join(keyParts, "; "))
	fmt.Fprintf(h, "value %s\n", strings.Join(resParts, "; "))
	h.Write(a.normalisedSource(fd))
	fn.Version = hex.EncodeToString(h.Sum(nil))[:16]
	if opts.Version != "" {
		fn.Version += "+" + opts.Version
	}
	return fn, true
}

// orHint drops the "or " of an ignore= hint when the problem offers no
// other remedy.
func orHint(problem, hint string) string {
	if strings.Contains(problem, "; give ") {
		return hint
	}
	return strings.Replace(hint, "or ", "", 1)
}

// reservedLocals are the identifiers a wrapper declares or refers to
// unqualified; a parameter with one of these names is renamed in the
// wrapper.
var reservedLocals = []string{"keyBuf", "key", "keyOK", "mark", "res", "err", "runtime", "context", "time", "recv", "ctx"}

func (a *analyzer) inGenerated(p token.Pos) bool {
	return filepath.Base(a.fset.Position(p).Filename) == load.GeneratedFile
}

func (a *analyzer) qual(p *types.Package) string {
	if p == a.pkg.Types {
		return ""
	}
	return p.Name()
}

// normalisedSource returns the function's tokens without comments, doc or
// positions, so that editing a comment or reformatting keeps the version
// while any change to the code changes it.
func (a *analyzer) normalisedSource(fd *ast.FuncDecl) []byte {
	tf := a.fset.File(fd.Pos())
	if tf == nil {
		return nil
	}
	src := a.srcs[tf.Name()]
	start, end := tf.Offset(fd.Pos()), tf.Offset(fd.End())
	if src == nil || start < 0 || end > len(src) || start > end {
		return nil
	}
	body := src[start:end]
	var s scanner.Scanner
	fs := token.NewFileSet()
	f := fs.AddFile("", -1, len(body))
	s.Init(f, body, nil, 0) // comments skipped
	var out []byte
	type tok struct {
		t   token.Token
		lit string
	}
	var toks []tok
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

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

var errorType = types.Universe.Lookup("error").Type()

func isError(t types.Type) bool { return types.Identical(t, errorType) }
