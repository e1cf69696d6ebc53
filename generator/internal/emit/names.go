package emit

import (
	"fmt"
	"go/scanner"
	"go/token"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/picocache/picocache/generator/internal/model"
)

// Every name the generated file introduces is chosen here, by scopes that
// know the user's names (the pattern of moq's registry.MethodScope).
//
// The file scope is the package level. It holds the package's own
// declarations and the generated API (handles and wrappers), both fixed,
// and every wrapper's parameters, which would hide a package-level name
// inside their wrapper. The names the file declares (imports, result
// structs, codecs, helpers) avoid all of them.
//
// A local scope is one generated function body: its parameters and
// locals. A wrapper keeps the user's parameter names, except one that
// would hide a name its body refers to (the function, its handle, a type
// or predeclared identifier): that parameter is renamed. Locals avoid the
// parameters, every name the file declares, and the package-level and
// predeclared names the body refers to; hiding any other name is
// harmless. The file's helpers all start with helperPrefix, which no
// local does, so a helper declared after a local was chosen cannot
// collide with it.
//
// Renaming follows one rule per kind of name, so that a file changes only
// where a collision forces it: a parameter or local gets a trailing '_'
// (key_, then key__); one of picocache's imports gets the prefix pico
// (picoruntime, then picoruntime_), another import a number as jennifer
// gives it (other1); a helper, result struct or codec a number
// (picocacheKeyPoint1).

// helperPrefix starts the name of every helper, codec and result struct
// the file declares.
const helperPrefix = "picocache"

// fileScope is the package level of the generated file.
type fileScope struct {
	user     map[string]bool // the package's own package-level names
	declared map[string]bool // handles, wrappers, and what the file declares or imports
	params   map[string]bool // the parameters of every wrapper
}

func newFileScope(p *model.Package) *fileScope {
	s := &fileScope{user: map[string]bool{}, declared: map[string]bool{}, params: map[string]bool{}}
	for _, n := range p.Taken {
		s.user[n] = true
	}
	for i := range p.Funcs {
		s.declared[p.Funcs[i].Handle] = true
		s.declared[p.Funcs[i].Wrapper] = true
	}
	return s
}

// free reports whether a new package-level name may be name: it is no
// name of the package or the file, no parameter of a wrapper, and none
// of jennifer's reserved words (Go's keywords and predeclared
// identifiers, which generated code uses, and err), which jennifer would
// not take as an import name.
func (s *fileScope) free(name string) bool {
	return !s.user[name] && !s.declared[name] && !s.params[name] && !jen.IsReservedWord(name) && !predeclared(name)
}

// declare returns want if it is free, else the first free next(i) for
// i = 1, 2, ..., and records it.
func (s *fileScope) declare(want string, next func(i int) string) string {
	name := want
	for i := 1; !s.free(name); i++ {
		name = next(i)
	}
	s.declared[name] = true
	return name
}

// numbered is the renaming rule of helpers and of other packages'
// imports: base1, base2, ...
func numbered(base string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s%d", base, i) }
}

// picoImport is the renaming rule of picocache's own imports: runtime,
// then picoruntime, then picoruntime_, ...
func picoImport(want string) func(int) string {
	return func(i int) string {
		base := want
		if !strings.HasPrefix(want, "pico") {
			base = "pico" + want
			i--
		}
		return base + strings.Repeat("_", i)
	}
}

// localScope is the parameters and locals of one generated function.
type localScope struct {
	file  *fileScope
	names map[string]bool // parameters, locals, and the names the body refers to
}

// local returns a scope for a body that refers to refs (names of the
// package, or predeclared ones) besides its own and the file's names.
func (s *fileScope) local(refs ...string) *localScope {
	l := &localScope{file: s, names: map[string]bool{}}
	for _, r := range refs {
		l.names[r] = true
	}
	return l
}

// free reports whether a new parameter or local may be name.
func (l *localScope) free(name string) bool {
	return !l.names[name] && !l.file.declared[name] && !strings.HasPrefix(name, helperPrefix) && !predeclared(name)
}

// fresh returns want, or want with as many trailing '_' as make it free,
// and records it.
func (l *localScope) fresh(want string) string {
	name := want
	for !l.free(name) {
		name += "_"
	}
	l.names[name] = true
	return name
}

// keep records a name chosen elsewhere (a user's parameter).
func (l *localScope) keep(name string) { l.names[name] = true }

// predeclared reports whether name is a Go keyword or a predeclared
// identifier (jennifer's reserved words, and any and comparable).
func predeclared(name string) bool {
	return jen.IsReservedWord(name) && name != "err" || name == "any" || name == "comparable"
}

// wrapperNames are the names in one function's wrapper.
type wrapperNames struct {
	recv   string   // the receiver, "" for a function
	ctx    string   // the context parameter, "" without one
	params []string // the other parameters, as model.Func.Params
	// Locals.
	keyBuf, key, keyOK, mark, res, err, tooDeep, r string
	rs                                             []string // r0, r1, ...: one per result, when several
}

// wrapperBuiltins are the predeclared identifiers a wrapper's body may
// refer to besides those of its result types: a parameter of such a name
// is renamed in the wrapper.
var wrapperBuiltins = []string{
	"bool", "byte", "error", "false", "true", "nil", "len", "real", "imag", "string",
	"uint8", "uint16", "uint32", "uint64", "float32", "float64",
}

// bodyRefs returns the names of the package and the predeclared ones
// that fn's wrapper body refers to unqualified: its parameters must not
// hide them.
func (e *emitter) bodyRefs(fn *model.Func) []string {
	refs := append([]string{fn.Handle}, wrapperBuiltins...)
	if fn.Recv == nil {
		refs = append(refs, fn.Name)
	}
	if len(fn.Results) == 1 {
		// The compute closure returns it.
		refs = append(refs, e.typeIdents(fn.Results[0])...)
	}
	return refs
}

// paramNames settles the names of fn's parameters in its wrapper: the
// user's, unless one would hide a name the body refers to; p0, p1, ...
// (by position) for blank ones, recv for a blank receiver, and ctx for
// the context, which the compute closure's own parameter hides on
// purpose.
func (e *emitter) paramNames(fn *model.Func) wrapperNames {
	var n wrapperNames
	l := e.file.local(e.bodyRefs(fn)...)
	named := func(name string) bool { return name != "" && name != "_" }
	// The user's names come first: generated ones yield to them.
	user := map[string]bool{}
	if fn.Recv != nil && named(fn.Recv.Name) {
		user[fn.Recv.Name] = true
	}
	for _, p := range fn.Params {
		if named(p.Name) {
			user[p.Name] = true
		}
	}
	userName := func(name string) string {
		if l.names[name] {
			// It would hide what the body refers to.
			for l.names[name] || user[name] {
				name += "_"
			}
		}
		l.keep(name)
		return name
	}
	if fn.Recv != nil && named(fn.Recv.Name) {
		n.recv = userName(fn.Recv.Name)
	}
	n.params = make([]string, len(fn.Params))
	for i, p := range fn.Params {
		if named(p.Name) {
			n.params[i] = userName(p.Name)
		}
	}
	for name := range user {
		l.keep(name)
	}
	if fn.Recv != nil && n.recv == "" {
		n.recv = l.fresh("recv")
	}
	if fn.Ctx != nil {
		n.ctx = l.fresh("ctx")
	}
	first := 0
	if fn.Ctx != nil {
		first = 1 // the position counts the context
	}
	for i := range fn.Params {
		if n.params[i] == "" {
			n.params[i] = l.fresh(fmt.Sprintf("p%d", first+i))
		}
	}
	return n
}

// localNames chooses the locals of fn's wrapper, which avoid its
// parameters (names, settled first), the names its body refers to and
// the file's.
func (e *emitter) localNames(fn *model.Func, n *wrapperNames) {
	l := e.file.local(e.bodyRefs(fn)...)
	for _, p := range n.allParams() {
		l.keep(p)
	}
	n.keyBuf = l.fresh("keyBuf")
	n.key = l.fresh("key")
	n.keyOK = l.fresh("keyOK")
	n.mark = l.fresh("mark")
	n.res = l.fresh("res")
	n.err = l.fresh("err")
	n.tooDeep = l.fresh("tooDeep")
	n.r = l.fresh("r")
	n.rs = nil
	if len(fn.Results) > 1 {
		for i := range fn.Results {
			n.rs = append(n.rs, l.fresh(fmt.Sprintf("r%d", i)))
		}
	}
}

// allParams returns the wrapper's parameter names: receiver, context,
// the others.
func (n *wrapperNames) allParams() []string {
	var ps []string
	if n.recv != "" {
		ps = append(ps, n.recv)
	}
	if n.ctx != "" {
		ps = append(ps, n.ctx)
	}
	return append(ps, n.params...)
}

// typeIdents returns the identifiers e.typ(t) writes unqualified: the
// generated package's own type names, the predeclared types, and what an
// unnamed interface's source text mentions. Other packages' types are
// qualified by an import, which the file scope settles.
func (e *emitter) typeIdents(t *model.Type) []string {
	var ids []string
	seen := map[*model.Type]bool{}
	var walk func(*model.Type)
	walk = func(t *model.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind {
		case model.Basic:
			ids = append(ids, t.Name)
		case model.Bytes:
			ids = append(ids, "byte")
		case model.Error:
			ids = append(ids, "error")
		case model.Interface:
			if t.Empty {
				ids = append(ids, "any")
			} else {
				ids = append(ids, sourceIdents(t.Name)...)
			}
		case model.Named:
			if t.Pkg == e.p.Path {
				ids = append(ids, t.Name)
			}
			for _, a := range t.TypeArgs {
				walk(a)
			}
		case model.Struct:
			for _, f := range t.Fields {
				walk(f.Type)
			}
		}
		walk(t.Elem)
		walk(t.Key)
		for _, p := range t.Params {
			walk(p)
		}
		for _, r := range t.Results {
			walk(r)
		}
	}
	walk(t)
	return ids
}

// sourceIdents returns the identifiers in Go source text.
func sourceIdents(src string) []string {
	var s scanner.Scanner
	fs := token.NewFileSet()
	s.Init(fs.AddFile("", -1, len(src)), []byte(src), nil, 0)
	var ids []string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return ids
		}
		if tok == token.IDENT {
			ids = append(ids, lit)
		}
	}
}

// helperScope returns the scope of a helper's body (or a codec's
// closures) that renders the types ts, whose names its locals must not
// hide.
func (e *emitter) helperScope(ts ...*model.Type) *localScope {
	var refs []string
	for _, t := range ts {
		refs = append(refs, e.typeIdents(t)...)
	}
	return e.file.local(refs...)
}

// decodeRefs returns the types a decoder of t renders: t itself, and the
// parts of t that are decoded inline, by a conversion (the others are
// decoded by their own helpers).
func decodeRefs(t *model.Type) []*model.Type {
	u := t
	if t.Kind == model.Named {
		u = t.Underlying
	}
	refs := []*model.Type{t}
	var ps []*model.Type
	ps = append(ps, u.Elem, u.Key)
	for _, f := range u.Fields {
		ps = append(ps, f.Type)
	}
	for _, p := range ps {
		if p != nil && decodedInline(p) {
			refs = append(refs, p)
		}
	}
	return refs
}

// decodedInline reports whether valDecode reads t by a conversion of its
// own name, T(d.Int()), rather than by a helper or a predeclared type.
func decodedInline(t *model.Type) bool {
	if t.Kind != model.Named || t.BinaryValue {
		return false
	}
	switch t.Underlying.Kind {
	case model.Basic, model.Bytes, model.Time:
		return true
	}
	return false
}

// importNames settles the name of every package the file may import:
// picocache's own, then every other package a type of the model names,
// in order of first mention. A name the package, a wrapper parameter or
// an earlier import takes is renamed, by the rule of its kind; jennifer
// is told every name, so it never chooses one. The names are settled on
// the first call; every piece of the file (format.go) is told the same.
func (e *emitter) importNames(f *jen.File) {
	if e.imports == nil {
		e.imports = e.chooseImports()
	}
	for _, imp := range e.imports {
		if imp.alias {
			f.ImportAlias(imp.path, imp.name)
		} else {
			f.ImportName(imp.path, imp.name)
		}
	}
}

// importName is the name the generated file gives an import, as an
// alias or as the package's own name.
type importName struct {
	path, name string
	alias      bool
}

// chooseImports settles the import names, once per file.
func (e *emitter) chooseImports() []importName {
	var out []importName
	for _, imp := range []struct{ path, name string }{
		{runtimePath, "runtime"},
		{codecPath, codecImport},
		{"context", "context"},
		{"time", "time"},
	} {
		name := e.file.declare(imp.name, picoImport(imp.name))
		if imp.path == codecPath {
			e.codecName = name
		}
		out = append(out, importName{imp.path, name, name != imp.name || imp.path == codecPath})
	}
	done := map[string]bool{runtimePath: true, codecPath: true, "context": true, "time": true}
	for _, pkg := range e.otherPackages() {
		if done[pkg.path] {
			continue
		}
		done[pkg.path] = true
		// The name jennifer would choose: a standard package's own
		// name, unaliased; for any other package, one guessed from its
		// path, as an alias.
		std := isStd(pkg.path)
		want := guessAlias(pkg.path)
		if std && pkg.name != "" {
			want = pkg.name
		}
		name := e.file.declare(want, numbered(want))
		out = append(out, importName{pkg.path, name, !(std && name == pkg.name)})
	}
	return out
}

type pkgRef struct{ path, name string }

// otherPackages returns the packages the model's types mention, other
// than the generated one, in order of first mention.
func (e *emitter) otherPackages() []pkgRef {
	var refs []pkgRef
	seen := map[*model.Type]bool{}
	var walk func(*model.Type)
	walk = func(t *model.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind {
		case model.Named:
			if t.Pkg != e.p.Path {
				refs = append(refs, pkgRef{t.Pkg, t.PkgName})
			}
		case model.UnsafePointer:
			refs = append(refs, pkgRef{"unsafe", "unsafe"})
		}
		for _, c := range []*model.Type{t.Elem, t.Key, t.Underlying} {
			walk(c)
		}
		for _, fl := range t.Fields {
			walk(fl.Type)
		}
		for _, ts := range [][]*model.Type{t.TypeArgs, t.Params, t.Results} {
			for _, c := range ts {
				walk(c)
			}
		}
	}
	for i := range e.p.Funcs {
		fn := &e.p.Funcs[i]
		if fn.Recv != nil {
			walk(fn.Recv.Type)
		}
		for _, p := range fn.Params {
			walk(p.Type)
		}
		for _, r := range fn.Results {
			walk(r)
		}
	}
	return refs
}

// isStd reports whether path is a standard library package's: its first
// element has no dot, as the go command decides.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// guessAlias is the name jennifer gives a package it has no name for:
// the last element of its path, lower case, without what an identifier
// cannot hold and without leading digits.
func guessAlias(path string) string {
	alias := strings.TrimSuffix(path, "/")
	alias = alias[strings.LastIndex(alias, "/")+1:]
	alias = strings.ToLower(alias)
	alias = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, alias)
	alias = strings.TrimLeft(alias, "0123456789")
	if alias == "" {
		alias = "pkg"
	}
	return alias
}
