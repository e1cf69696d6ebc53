package analyze

import (
	"fmt"
	"go/types"
	"strings"

	"github.com/picocache/picocache/generator/internal/model"
)

// conv converts a go/types type into the model. Named types are memoized,
// so recursive types give a cyclic graph rather than endless recursion.
// Types no codec handles become model.Unsupported; keyProblem and
// valueProblem decide whether that matters where the type is used. The
// facts emission needs are derived once the whole graph is built (see
// facts.go).
func (a *analyzer) conv(t types.Type) *model.Type {
	t = types.Unalias(t)
	if m := a.named[t]; m != nil {
		return m
	}
	m := a.convType(t)
	a.derive(m)
	return m
}

func (a *analyzer) convType(t types.Type) *model.Type {
	switch t := t.(type) {
	case *types.Basic:
		return convBasic(t)
	case *types.Named:
		return a.convNamed(t)
	case *types.Pointer:
		e := a.convElem(t.Elem())
		return &model.Type{Kind: model.Pointer, Elem: e, ID: "*" + e.ID}
	case *types.Slice:
		e := a.convElem(t.Elem())
		if e.Kind == model.Basic && e.ID == "uint8" {
			return &model.Type{Kind: model.Bytes, Elem: e, ID: "[]uint8"}
		}
		return &model.Type{Kind: model.Slice, Elem: e, ID: "[]" + e.ID}
	case *types.Array:
		e := a.convElem(t.Elem())
		return &model.Type{Kind: model.Array, Elem: e, Len: t.Len(), ID: fmt.Sprintf("[%d]%s", t.Len(), e.ID)}
	case *types.Map:
		k, e := a.convElem(t.Key()), a.convElem(t.Elem())
		return &model.Type{Kind: model.Map, Key: k, Elem: e, ID: "map[" + k.ID + "]" + e.ID}
	case *types.Struct:
		return a.convStruct(t)
	case *types.Interface:
		return a.convInterface(t)
	case *types.Chan:
		return a.convChan(t)
	case *types.Signature:
		return a.convSignature(t)
	case *types.TypeParam:
		return &model.Type{Kind: model.Unsupported, Name: "a type parameter", ID: "typeparam"}
	}
	return &model.Type{Kind: model.Unsupported, Name: types.TypeString(t, a.qual), ID: "unsupported"}
}

// convElem converts a part of a composite type, through the memo of
// named types.
func (a *analyzer) convElem(t types.Type) *model.Type {
	t = types.Unalias(t)
	if m := a.named[t]; m != nil {
		return m
	}
	return a.convType(t)
}

func convBasic(t *types.Basic) *model.Type {
	switch {
	case t.Kind() == types.UnsafePointer:
		return &model.Type{Kind: model.UnsafePointer, Name: "unsafe.Pointer", ID: "unsafe.Pointer"}
	case t.Kind() == types.Invalid:
		return &model.Type{Kind: model.Unsupported, Name: "an invalid type (see the type errors)", ID: "invalid"}
	case t.Info()&types.IsUntyped != 0:
		return &model.Type{Kind: model.Unsupported, Name: "untyped " + t.Name(), ID: "untyped"}
	}
	id := t.Name()
	switch id {
	case "byte":
		id = "uint8"
	case "rune":
		id = "int32"
	}
	return &model.Type{Kind: model.Basic, Name: t.Name(), ID: id}
}

// convNamed converts a named type: the predeclared error, time.Time and
// context.Context are families of their own; other named types keep
// their name and package and convert their underlying type, which for a
// type defined as time.Time is time.Time.
func (a *analyzer) convNamed(t *types.Named) *model.Type {
	obj := t.Obj()
	if obj.Pkg() == nil {
		if obj.Name() == "error" {
			return &model.Type{Kind: model.Error, Name: "error", ID: "error"}
		}
		return &model.Type{Kind: model.Unsupported, Name: obj.Name(), ID: obj.Name()}
	}
	path := obj.Pkg().Path()
	if isTime(t) {
		return &model.Type{Kind: model.Time, ID: "time.Time"}
	}
	if path == "context" && obj.Name() == "Context" {
		return &model.Type{Kind: model.Context, ID: "context.Context"}
	}
	m := &model.Type{Kind: model.Named, Name: obj.Name(), Pkg: path, PkgName: obj.Pkg().Name()}
	a.named[t] = m
	var args []string
	for i := 0; i < t.TypeArgs().Len(); i++ {
		at := a.convElem(t.TypeArgs().At(i))
		m.TypeArgs = append(m.TypeArgs, at)
		args = append(args, at.ID)
	}
	m.ID = path + "." + obj.Name()
	if len(args) > 0 {
		m.ID += "[" + strings.Join(args, ",") + "]"
	}
	if !obj.Exported() && path != a.pkg.PkgPath {
		m.Underlying = &model.Type{Kind: model.Unsupported, Name: fmt.Sprintf("type %s is not exported from %s", obj.Name(), path), ID: "unexported"}
		return m
	}
	m.KeyMethod, m.PtrKeyMethod = keyMethod(t)
	m.BinaryValue, m.PtrMarshaller = binaryValue(t)
	if a.definedAsTime(t) {
		// type Day time.Time: encoded as a time.Time, by conversion.
		m.Underlying = &model.Type{Kind: model.Time, ID: "time.Time"}
		return m
	}
	m.Underlying = a.convElem(t.Underlying())
	return m
}

func (a *analyzer) convStruct(t *types.Struct) *model.Type {
	m := &model.Type{Kind: model.Struct}
	var ids []string
	for i := 0; i < t.NumFields(); i++ {
		f := t.Field(i)
		ft := a.convElem(f.Type())
		fld := model.Field{Name: f.Name(), Type: ft, Embedded: f.Embedded(), Tag: t.Tag(i)}
		if !f.Exported() && f.Pkg() != nil && f.Pkg().Path() != a.pkg.PkgPath {
			fld.Unreadable = true
		}
		m.Fields = append(m.Fields, fld)
		id := f.Name() + " " + ft.ID
		if f.Pkg() != nil && !f.Exported() {
			id = f.Pkg().Path() + "." + id
		}
		if f.Embedded() {
			id = "embed " + id
		}
		if t.Tag(i) != "" {
			id += fmt.Sprintf(" %q", t.Tag(i))
		}
		ids = append(ids, id)
	}
	m.ID = "struct{" + strings.Join(ids, "; ") + "}"
	return m
}

func (a *analyzer) convInterface(t *types.Interface) *model.Type {
	if t.Empty() {
		return &model.Type{Kind: model.Interface, Name: "any", Empty: true, ID: "any"}
	}
	name := types.TypeString(t, a.qual)
	if strings.Contains(name, ".") {
		// Its methods mention other packages' types, which the
		// generated file would have to import by name.
		return &model.Type{Kind: model.Unsupported, Name: "an unnamed interface type that mentions other packages' types (declare a named interface type)", ID: "interface"}
	}
	return &model.Type{Kind: model.Interface, Name: name, ID: types.TypeString(t, func(p *types.Package) string { return p.Path() })}
}

func (a *analyzer) convChan(t *types.Chan) *model.Type {
	e := a.convElem(t.Elem())
	m := &model.Type{Kind: model.ChanType, Elem: e, Name: "a channel type (" + types.TypeString(t, a.qual) + ")"}
	switch t.Dir() {
	case types.SendOnly:
		m.Dir = 1
	case types.RecvOnly:
		m.Dir = 2
	}
	m.ID = fmt.Sprintf("chan%d %s", m.Dir, e.ID)
	return m
}

func (a *analyzer) convSignature(t *types.Signature) *model.Type {
	m := &model.Type{Kind: model.FuncType, Name: "a func type (" + types.TypeString(t, a.qual) + ")", Variadic: t.Variadic()}
	var ids []string
	for i := 0; i < t.Params().Len(); i++ {
		p := a.convElem(t.Params().At(i).Type())
		m.Params = append(m.Params, p)
		ids = append(ids, p.ID)
	}
	ids = append(ids, "->")
	for i := 0; i < t.Results().Len(); i++ {
		r := a.convElem(t.Results().At(i).Type())
		m.Results = append(m.Results, r)
		ids = append(ids, r.ID)
	}
	m.ID = fmt.Sprintf("func(%s variadic=%t)", strings.Join(ids, ","), t.Variadic())
	return m
}

// isTime reports whether t is time.Time, by its identity: the type Time of
// the package with import path "time".
func isTime(t *types.Named) bool {
	obj := t.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == "time" && obj.Name() == "Time"
}

// definedAsTime reports whether the named type t is defined as time.Time
// (type Day time.Time, or a type defined as such a type): its underlying
// type is identical to that of time.Time, as the loader found it.
func (a *analyzer) definedAsTime(t *types.Named) bool {
	s, ok := t.Underlying().(*types.Struct)
	if !ok || !fromPackage(s, "time") {
		return false // cheap: only a struct of package time's fields can be
	}
	tt := a.time()
	if tt == nil {
		return false
	}
	return types.Identical(s, tt.Underlying()) || sameStruct(s, tt.Underlying())
}

// fromPackage reports whether s has a field that only package path can
// declare: an unexported one of that package.
func fromPackage(s *types.Struct, path string) bool {
	for i := 0; i < s.NumFields(); i++ {
		if f := s.Field(i); !f.Exported() && f.Pkg() != nil && f.Pkg().Path() == path {
			return true
		}
	}
	return false
}

// sameStruct reports whether the structs s and u, which may come from
// different loads (so types.Identical cannot compare their named field
// types), have the same fields: names, packages, types by import path,
// and tags.
func sameStruct(s types.Type, u types.Type) bool {
	x, ok1 := s.(*types.Struct)
	y, ok2 := u.(*types.Struct)
	if !ok1 || !ok2 || x.NumFields() != y.NumFields() {
		return false
	}
	byPath := func(p *types.Package) string { return p.Path() }
	for i := 0; i < x.NumFields(); i++ {
		f, g := x.Field(i), y.Field(i)
		if f.Name() != g.Name() || f.Embedded() != g.Embedded() || x.Tag(i) != y.Tag(i) ||
			pkgPath(f.Pkg()) != pkgPath(g.Pkg()) ||
			types.TypeString(f.Type(), byPath) != types.TypeString(g.Type(), byPath) {
			return false
		}
	}
	return true
}

func pkgPath(p *types.Package) string {
	if p == nil {
		return ""
	}
	return p.Path()
}

// keyMethod reports whether t, or only *t, has the method
// AppendCacheKey(dst []byte) []byte that takes over its key encoding.
func keyMethod(t *types.Named) (value, ptrOnly bool) {
	check := func(typ types.Type) bool {
		ms := types.NewMethodSet(typ)
		sel := ms.Lookup(t.Obj().Pkg(), "AppendCacheKey")
		if sel == nil {
			return false
		}
		sig, ok := sel.Type().(*types.Signature)
		return ok && sig.Params().Len() == 1 && sig.Results().Len() == 1 && isByteSlice(sig.Params().At(0).Type()) && isByteSlice(sig.Results().At(0).Type())
	}
	if check(t) {
		return true, false
	}
	if _, isPtr := t.Underlying().(*types.Pointer); !isPtr && check(types.NewPointer(t)) {
		return false, true
	}
	return false, false
}

// binaryValue reports whether values of t can be stored with their own
// MarshalBinary (on t or *t) and restored with (*t).UnmarshalBinary.
func binaryValue(t *types.Named) (ok, ptrMarshal bool) {
	if _, isPtr := t.Underlying().(*types.Pointer); isPtr {
		return false, false
	}
	if _, isIface := t.Underlying().(*types.Interface); isIface {
		return false, false
	}
	has := func(typ types.Type, name string, params, results func(*types.Tuple) bool) bool {
		sel := types.NewMethodSet(typ).Lookup(t.Obj().Pkg(), name)
		if sel == nil {
			return false
		}
		sig, ok := sel.Type().(*types.Signature)
		return ok && params(sig.Params()) && results(sig.Results())
	}
	noParams := func(p *types.Tuple) bool { return p.Len() == 0 }
	bytesErr := func(r *types.Tuple) bool {
		return r.Len() == 2 && isByteSlice(r.At(0).Type()) && isError(r.At(1).Type())
	}
	oneBytes := func(p *types.Tuple) bool { return p.Len() == 1 && isByteSlice(p.At(0).Type()) }
	onlyErr := func(r *types.Tuple) bool { return r.Len() == 1 && isError(r.At(0).Type()) }
	ptr := types.NewPointer(t)
	if !has(ptr, "UnmarshalBinary", oneBytes, onlyErr) {
		return false, false
	}
	if has(t, "MarshalBinary", noParams, bytesErr) {
		return true, false
	}
	if has(ptr, "MarshalBinary", noParams, bytesErr) {
		return true, true
	}
	return false, false
}

func isByteSlice(t types.Type) bool {
	s, ok := types.Unalias(t).(*types.Slice)
	if !ok {
		return false
	}
	b, ok := types.Unalias(s.Elem()).(*types.Basic)
	return ok && b.Kind() == types.Byte
}

// keyProblem says why t cannot be written into a key, or "".
func keyProblem(t *model.Type, pkg string) string {
	return problem(t, pkg, true, map[*model.Type]bool{})
}

// valueProblem says why a t result cannot be stored, or "".
func valueProblem(t *model.Type, pkg string) string {
	return problem(t, pkg, false, map[*model.Type]bool{})
}

func problem(t *model.Type, pkg string, key bool, seen map[*model.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	switch t.Kind {
	case model.Basic, model.Bytes, model.Time:
		return ""
	case model.FuncType, model.ChanType, model.UnsafePointer:
		return "it is " + t.Name
	case model.Unsupported:
		if t.ID == "invalid" {
			return "" // the type error itself is reported
		}
		return "it is " + t.Name
	case model.Context:
		return "a context.Context is only supported as the first parameter"
	case model.Error:
		if key {
			return "an error value has no stable encoding"
		}
		return "only a last error result is supported, and it is never stored"
	case model.Interface:
		if !key && !t.Empty {
			return "only the empty interface (any) can be stored: its dynamic values of predeclared types, []byte, time.Time, []any and map[string]any are restored"
		}
		return ""
	case model.Named:
		if key && (t.KeyMethod || t.PtrKeyMethod) {
			return ""
		}
		if !key && t.BinaryValue {
			return ""
		}
		if t.Underlying.Kind == model.Interface && !t.Underlying.Empty && !key {
			return fmt.Sprintf("%s is an interface: only dynamic values of basic types could be restored; return a concrete type", t.Name)
		}
		if p := problem(t.Underlying, pkg, key, seen); p != "" {
			hint := ""
			if key && t.Pkg == pkg {
				hint = "; give " + t.Name + " a method AppendCacheKey(dst []byte) []byte"
			}
			if !key && t.Pkg == pkg {
				hint = "; give " + t.Name + " MarshalBinary and UnmarshalBinary methods"
			}
			return fmt.Sprintf("in %s: %s%s", t.Name, p, hint)
		}
		return ""
	case model.Pointer, model.Slice, model.Array:
		return problem(t.Elem, pkg, key, seen)
	case model.Map:
		if p := problem(t.Key, pkg, key, seen); p != "" {
			return p
		}
		return problem(t.Elem, pkg, key, seen)
	case model.Struct:
		for _, f := range t.Fields {
			if f.Name == "_" {
				continue
			}
			if f.Unreadable {
				return fmt.Sprintf("field %s is unexported and belongs to another package", f.Name)
			}
			if p := problem(f.Type, pkg, key, seen); p != "" {
				return fmt.Sprintf("field %s: %s", f.Name, p)
			}
		}
		return ""
	}
	return "unsupported type"
}
