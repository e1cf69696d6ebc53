package emit

import (
	"fmt"
	"strings"

	. "github.com/dave/jennifer/jen"
	"github.com/picocache/picocache/generator/internal/model"
)

// Key encoding: statements appending a value to the key variable k.
// Basic kinds are written inline; composite types get one helper function
// each (shared by every function of the package), which keeps recursive
// types finite and each helper's body shallow.

// fallible reports whether encoding t into a key can fail: it holds an
// interface whose dynamic value may be of an unsupported type, or it is
// recursive and a value may nest deeper than codec.MaxDepth.
func (e *emitter) fallible(t *model.Type) bool {
	return fallibleSeen(t, map[*model.Type]bool{}) || e.recursive(t, true)
}

// recursive reports whether encoding t (into a key, or as a value) can
// follow a cycle of types: a named type that contains itself through
// pointers, slices or maps. Helpers of such types take a depth and give
// up beyond codec.MaxDepth, so that a cyclic value cannot recurse
// without end; helpers of other types stay as they are. A type that
// encodes itself (a key method, MarshalBinary) ends the walk, and so does
// an interface, whose dynamic value codec.AppendAny bounds itself.
func (e *emitter) recursive(t *model.Type, key bool) bool {
	memo := e.recValue
	if key {
		memo = e.recKey
	}
	if r, ok := memo[t]; ok {
		return r
	}
	// Depth-first search for a cycle among the types reachable from t.
	const (
		active = 1
		done   = 2
	)
	state := map[*model.Type]int{}
	var visit func(*model.Type) bool
	visit = func(n *model.Type) bool {
		switch state[n] {
		case active:
			return true
		case done:
			return false
		}
		state[n] = active
		for _, c := range encodedParts(n, key) {
			if visit(c) {
				return true
			}
		}
		state[n] = done
		return false
	}
	r := visit(t)
	memo[t] = r
	return r
}

// encodedParts returns the types whose encodings make up t's.
func encodedParts(t *model.Type, key bool) []*model.Type {
	switch t.Kind {
	case model.Named:
		if key && (t.KeyMethod || t.PtrKeyMethod) || !key && t.BinaryValue {
			return nil
		}
		return []*model.Type{t.Underlying}
	case model.Pointer, model.Slice, model.Array:
		return []*model.Type{t.Elem}
	case model.Map:
		return []*model.Type{t.Key, t.Elem}
	case model.Struct:
		var ps []*model.Type
		for _, f := range t.Fields {
			if f.Name != "_" {
				ps = append(ps, f.Type)
			}
		}
		return ps
	}
	return nil
}

func fallibleSeen(t *model.Type, seen map[*model.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind {
	case model.Interface:
		return true
	case model.Named:
		if t.KeyMethod || t.PtrKeyMethod {
			return false
		}
		return fallibleSeen(t.Underlying, seen)
	case model.Slice, model.Array, model.Pointer:
		return fallibleSeen(t.Elem, seen)
	case model.Map:
		return fallibleSeen(t.Key, seen) || fallibleSeen(t.Elem, seen)
	case model.Struct:
		for _, f := range t.Fields {
			if f.Name != "_" && fallibleSeen(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// keyStmt appends the statements writing v (an addressable expression of
// type t) into k; fail emits what to do when a dynamic value cannot be
// encoded, or a recursive value nests too deep. depth is the nesting so
// far, passed to the helpers of recursive types.
func (e *emitter) keyStmt(g *Group, kName, okName string, t *model.Type, v *Statement, fail func(*Group), typed bool, depth Code) {
	k := func() *Statement { return Id(kName) }
	switch t.Kind {
	case model.Basic:
		g.Add(k().Op("=").Add(keyBasic(t.Name, v, k(), false)))
		return
	case model.Bytes:
		g.Add(k().Op("=").Add(cd("AppendBytes")).Call(k(), v))
		return
	case model.Time:
		g.Add(k().Op("=").Add(cd("AppendTimeKey")).Call(k(), v))
		return
	case model.Interface:
		g.If(List(k(), Id(okName)).Op("=").Add(cd("AppendAny")).Call(k(), v, Lit(typed)), Op("!").Id(okName)).BlockFunc(fail)
		return
	case model.Named:
		switch {
		case t.KeyMethod || t.PtrKeyMethod:
			g.Block(
				Id("mark").Op(":=").Len(k()),
				k().Op("=").Add(v.Clone()).Dot("AppendCacheKey").Call(cd("BeginSpan").Call(k())),
				k().Op("=").Add(cd("EndSpan")).Call(k(), Id("mark")),
			)
			return
		case t.Underlying.Kind == model.Basic:
			g.Add(k().Op("=").Add(keyBasic(t.Underlying.Name, v, k(), true)))
			return
		case t.Underlying.Kind == model.Bytes:
			g.Add(k().Op("=").Add(cd("AppendBytes")).Call(k(), Index().Byte().Parens(v)))
			return
		case t.Underlying.Kind == model.Time:
			g.Add(k().Op("=").Add(cd("AppendTimeKey")).Call(k(), Qual("time", "Time").Parens(v)))
			return
		}
	}
	name := e.keyHelper(t, typed)
	args := []Code{k(), v}
	if e.recursive(t, true) {
		args = append(args, depth)
	}
	if e.fallible(t) {
		g.If(List(k(), Id(okName)).Op("=").Id(name).Call(args...), Op("!").Id(okName)).BlockFunc(fail)
		return
	}
	g.Add(k().Op("=").Id(name).Call(k(), v))
}

// keyBasic writes a basic value (of a type whose underlying type is the
// basic type name).
func keyBasic(name string, v, k *Statement, named bool) *Statement {
	name = basicName(name)
	conv := func(s *Statement) *Statement {
		if named {
			return s.Parens(v)
		}
		return v
	}
	switch name {
	case "bool":
		return cd("AppendBool").Call(k, conv(Bool()))
	case "uint8":
		return cd("AppendUint8").Call(k, conv(Uint8()))
	case "uint16":
		return cd("AppendUint16").Call(k, conv(Uint16()))
	case "uint32":
		return cd("AppendUint32").Call(k, conv(Uint32()))
	case "uint64":
		return cd("AppendUint64").Call(k, conv(Uint64()))
	case "int8":
		return cd("AppendUint8").Call(k, Uint8().Parens(v))
	case "int16":
		return cd("AppendUint16").Call(k, Uint16().Parens(v))
	case "int32":
		return cd("AppendUint32").Call(k, Uint32().Parens(v))
	case "int", "int64", "uint", "uintptr":
		return cd("AppendUint64").Call(k, Uint64().Parens(v))
	case "float32":
		return cd("AppendFloat32Key").Call(k, conv(Float32()))
	case "float64":
		return cd("AppendFloat64Key").Call(k, conv(Float64()))
	case "complex64":
		return cd("AppendFloat32Key").Call(cd("AppendFloat32Key").Call(k, Real(v.Clone())), Imag(v.Clone()))
	case "complex128":
		return cd("AppendFloat64Key").Call(cd("AppendFloat64Key").Call(k, Real(v.Clone())), Imag(v.Clone()))
	case "string":
		return cd("AppendString").Call(k, conv(String()))
	}
	return Op("/* unsupported basic " + name + " */")
}

// helperName returns a fresh helper name for t: the prefix and the name
// of a named, basic, []byte, time.Time or any type, else a number.
func (e *emitter) helperName(prefix string, t *model.Type) string {
	base := prefix
	switch {
	case t.Kind == model.Named:
		base += t.Name
	case t.Kind == model.Basic:
		base += strings.ToUpper(t.Name[:1]) + t.Name[1:]
	case t.Kind == model.Bytes:
		base += "Bytes"
	case t.Kind == model.Time:
		base += "Time"
	case t.Kind == model.Interface && t.Empty:
		base += "Any"
	}
	name := base
	for i := 1; e.helperTaken[name] || name == prefix; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	e.helperTaken[name] = true
	return name
}

// keyHelper returns the name of the helper writing t into a key, declaring
// it on first use.
func (e *emitter) keyHelper(t *model.Type, typed bool) string {
	fallible := e.fallible(t)
	id := "key " + t.ID
	if fallible {
		id = fmt.Sprintf("key typed=%t %s", typed, t.ID)
	}
	if name, ok := e.helpers[id]; ok {
		return name
	}
	name := e.helperName("picocacheKey", t)
	e.helpers[id] = name
	slot := len(e.out)
	e.out = append(e.out, nil) // reserve the place: declared before what it calls

	fail := func(g *Group) { g.Return(Id("k"), False()) }
	u := t
	if t.Kind == model.Named {
		u = t.Underlying
	}
	results := Index().Byte()
	if fallible {
		results = Params(Index().Byte(), Bool())
	}
	ret := func() Code {
		if fallible {
			return Return(Id("k"), True())
		}
		return Return(Id("k"))
	}
	recursive := e.recursive(t, true)
	body := BlockFunc(func(g *Group) {
		if fallible {
			g.Var().Id("ok").Bool()
		}
		if recursive && t.Kind == model.Named {
			g.If(Id("depth").Op(">=").Add(cd("MaxDepth"))).BlockFunc(func(g *Group) {
				g.Comment("Nested too deep, cyclic most likely: no key.")
				fail(g)
			})
			g.Id("depth").Op("++")
		}
		switch u.Kind {
		case model.Slice:
			g.Id("k").Op("=").Add(cd("AppendLen")).Call(Id("k"), Len(Id("v")), Id("v").Op("==").Nil())
			g.For(Id("i").Op(":=").Range().Id("v")).BlockFunc(func(g *Group) {
				e.keyStmt(g, "k", "ok", u.Elem, Id("v").Index(Id("i")), fail, typed, Id("depth"))
			})
		case model.Array:
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Id("k").Op("=").Append(Id("k"), Id("v").Index(Empty(), Empty()).Op("..."))
				break
			}
			g.For(Id("i").Op(":=").Range().Id("v")).BlockFunc(func(g *Group) {
				e.keyStmt(g, "k", "ok", u.Elem, Id("v").Index(Id("i")), fail, typed, Id("depth"))
			})
		case model.Map:
			g.Id("k").Op("=").Add(cd("AppendLen")).Call(Id("k"), Len(Id("v")), Id("v").Op("==").Nil())
			g.Comment("Entries are sorted by their encoding: iteration order never matters.")
			g.Var().Id("sb").Index(Lit(32)).Int()
			g.Id("spans").Op(":=").Id("sb").Index(Empty(), Lit(0))
			g.For(List(Id("mk"), Id("mv")).Op(":=").Range().Id("v")).BlockFunc(func(g *Group) {
				g.Id("s").Op(":=").Len(Id("k"))
				e.keyStmt(g, "k", "ok", u.Key, Id("mk"), fail, typed, Id("depth"))
				e.keyStmt(g, "k", "ok", u.Elem, Id("mv"), fail, typed, Id("depth"))
				g.Id("spans").Op("=").Append(Id("spans"), Id("s"), Len(Id("k")))
			})
			g.Id("k").Op("=").Add(cd("SortEntries")).Call(Id("k"), Id("spans"))
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				e.keyStmt(g, "k", "ok", f.Type, Id("v").Dot(f.Name), fail, typed, Id("depth"))
			}
		case model.Pointer:
			g.If(Id("v").Op("==").Nil()).Block(
				Id("k").Op("=").Append(Id("k"), Lit(0)),
				ret(),
			)
			g.Id("k").Op("=").Append(Id("k"), Lit(1))
			e.keyStmt(g, "k", "ok", u.Elem, Parens(Op("*").Id("v")), fail, typed, Id("depth"))
		default:
			// A named type whose underlying type is written inline.
			e.keyStmt(g, "k", "ok", u, Id("v"), fail, typed, Id("depth"))
		}
		g.Add(ret())
	})
	comment := fmt.Sprintf("%s writes a %s into a cache key.", name, e.describe(t))
	params := []Code{Id("k").Index().Byte(), Id("v").Add(e.typ(t))}
	if recursive {
		comment += " It reports false beyond " + e.codecName + ".MaxDepth levels of recursion."
		params = append(params, Id("depth").Int())
	}
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(params...).Add(results).Add(body)
	return name
}

// describe writes t as Go source for comments, naming other packages'
// types by the last element of their import path.
func (e *emitter) describe(t *model.Type) string {
	switch t.Kind {
	case model.Basic:
		return t.Name
	case model.Bytes:
		return "[]byte"
	case model.Slice:
		return "[]" + e.describe(t.Elem)
	case model.Array:
		return fmt.Sprintf("[%d]%s", t.Len, e.describe(t.Elem))
	case model.Map:
		return "map[" + e.describe(t.Key) + "]" + e.describe(t.Elem)
	case model.Pointer:
		return "*" + e.describe(t.Elem)
	case model.Struct:
		var fs []string
		for _, f := range t.Fields {
			if f.Embedded {
				fs = append(fs, e.describe(f.Type))
			} else {
				fs = append(fs, f.Name+" "+e.describe(f.Type))
			}
		}
		return "struct{" + strings.Join(fs, "; ") + "}"
	case model.Named:
		name := t.Name
		if t.Pkg != e.p.Path {
			name = t.Pkg[strings.LastIndex(t.Pkg, "/")+1:] + "." + name
		}
		if len(t.TypeArgs) > 0 {
			var as []string
			for _, a := range t.TypeArgs {
				as = append(as, e.describe(a))
			}
			name += "[" + strings.Join(as, ", ") + "]"
		}
		return name
	case model.Time:
		return "time.Time"
	case model.Interface:
		return t.Name
	}
	return t.ID
}

// Values: Append writes a result exactly (floats keep their bits), Decode
// reads it back from the decoder d (a *codec.Decoder).

// valAppend returns an expression appending v (an addressable expression
// of type t) to dst.
func (e *emitter) valAppend(t *model.Type, v, dst *Statement) *Statement {
	switch t.Kind {
	case model.Basic:
		return valBasic(t.Name, v, dst, false)
	case model.Bytes:
		return cd("AppendBytes").Call(dst, v)
	case model.Time:
		return cd("AppendTime").Call(dst, v)
	case model.Interface:
		return cd("AppendAnyValue").Call(dst, v)
	case model.Named:
		if !t.BinaryValue {
			switch t.Underlying.Kind {
			case model.Basic:
				return valBasic(t.Underlying.Name, v, dst, true)
			case model.Bytes:
				return cd("AppendBytes").Call(dst, Index().Byte().Parens(v))
			case model.Time:
				return cd("AppendTime").Call(dst, Qual("time", "Time").Parens(v))
			}
		}
	}
	return Id(e.valHelper(t)).Call(dst, v)
}

func valBasic(name string, v, dst *Statement, named bool) *Statement {
	name = basicName(name)
	conv := func(s *Statement) *Statement {
		if named {
			return s.Parens(v)
		}
		return v
	}
	switch name {
	case "float32":
		return cd("AppendFloat32").Call(dst, conv(Float32()))
	case "float64":
		return cd("AppendFloat64").Call(dst, conv(Float64()))
	case "complex64":
		return cd("AppendFloat32").Call(cd("AppendFloat32").Call(dst, Real(v.Clone())), Imag(v.Clone()))
	case "complex128":
		return cd("AppendFloat64").Call(cd("AppendFloat64").Call(dst, Real(v.Clone())), Imag(v.Clone()))
	}
	return keyBasic(name, v, dst, named)
}

func (e *emitter) valHelper(t *model.Type) string {
	id := "val " + t.ID
	if name, ok := e.helpers[id]; ok {
		return name
	}
	name := e.helperName("picocacheAppend", t)
	e.helpers[id] = name
	slot := len(e.out)
	e.out = append(e.out, nil)
	u := t
	if t.Kind == model.Named {
		u = t.Underlying
	}
	dst := func() *Statement { return Id("dst") }
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named && t.BinaryValue {
			v := Id("v")
			if t.PtrMarshaller {
				v = Op("&").Id("v")
			}
			g.Return(cd("AppendMarshaler").Call(dst(), v))
			return
		}
		switch u.Kind {
		case model.Slice:
			g.Add(dst().Op("=").Add(cd("AppendLen")).Call(dst(), Len(Id("v")), Id("v").Op("==").Nil()))
			g.For(Id("i").Op(":=").Range().Id("v")).Block(
				dst().Op("=").Add(e.valAppend(u.Elem, Id("v").Index(Id("i")), dst())),
			)
		case model.Array:
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Return(Append(dst(), Id("v").Index(Empty(), Empty()).Op("...")))
				return
			}
			g.For(Id("i").Op(":=").Range().Id("v")).Block(
				dst().Op("=").Add(e.valAppend(u.Elem, Id("v").Index(Id("i")), dst())),
			)
		case model.Map:
			g.Add(dst().Op("=").Add(cd("AppendLen")).Call(dst(), Len(Id("v")), Id("v").Op("==").Nil()))
			g.For(List(Id("mk"), Id("mv")).Op(":=").Range().Id("v")).Block(
				dst().Op("=").Add(e.valAppend(u.Key, Id("mk"), dst())),
				dst().Op("=").Add(e.valAppend(u.Elem, Id("mv"), dst())),
			)
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				g.Add(dst().Op("=").Add(e.valAppend(f.Type, Id("v").Dot(f.Name), dst())))
			}
		case model.Pointer:
			g.If(Id("v").Op("==").Nil()).Block(Return(Append(dst(), Lit(0))))
			g.Add(dst().Op("=").Append(dst(), Lit(1)))
			g.Add(dst().Op("=").Add(e.valAppend(u.Elem, Parens(Op("*").Id("v")), dst())))
		default:
			g.Add(dst().Op("=").Add(e.valAppend(u, Id("v"), dst())))
		}
		g.Return(dst())
	})
	comment := fmt.Sprintf("%s writes a %s result.", name, e.describe(t))
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id("dst").Index().Byte(), Id("v").Add(e.typ(t))).Index().Byte().Add(body)
	return name
}

// valDecode returns an expression reading a t from d.
func (e *emitter) valDecode(t *model.Type) *Statement {
	d := func() *Statement { return Id("d") }
	switch t.Kind {
	case model.Basic:
		return decBasic(t.Name)
	case model.Bytes:
		return d().Dot("Bytes").Call()
	case model.Time:
		return d().Dot("Time").Call()
	case model.Interface:
		return d().Dot("AnyValue").Call()
	case model.Named:
		if !t.BinaryValue {
			switch t.Underlying.Kind {
			case model.Basic:
				return e.typ(t).Parens(decBasic(t.Underlying.Name))
			case model.Bytes:
				return e.typ(t).Parens(d().Dot("Bytes").Call())
			case model.Time:
				return e.typ(t).Parens(d().Dot("Time").Call())
			}
		}
	}
	return Id(e.decHelper(t)).Call(d())
}

// basicName maps the aliases byte and rune to uint8 and int32.
func basicName(name string) string {
	switch name {
	case "byte":
		return "uint8"
	case "rune":
		return "int32"
	}
	return name
}

func decBasic(name string) *Statement {
	name = basicName(name)
	d := func() *Statement { return Id("d") }
	switch name {
	case "bool":
		return d().Dot("Bool").Call()
	case "uint8":
		return d().Dot("Uint8").Call()
	case "uint16":
		return d().Dot("Uint16").Call()
	case "uint32":
		return d().Dot("Uint32").Call()
	case "uint64":
		return d().Dot("Uint64").Call()
	case "int8":
		return Int8().Parens(d().Dot("Uint8").Call())
	case "int16":
		return Int16().Parens(d().Dot("Uint16").Call())
	case "int32":
		return Int32().Parens(d().Dot("Uint32").Call())
	case "int64":
		return Int64().Parens(d().Dot("Uint64").Call())
	case "int":
		return d().Dot("Int").Call()
	case "uint":
		return d().Dot("Uint").Call()
	case "uintptr":
		return d().Dot("Uintptr").Call()
	case "float32":
		return d().Dot("Float32").Call()
	case "float64":
		return d().Dot("Float64").Call()
	case "complex64":
		return Complex(d().Dot("Float32").Call(), d().Dot("Float32").Call())
	case "complex128":
		return Complex(d().Dot("Float64").Call(), d().Dot("Float64").Call())
	case "string":
		return d().Dot("Str").Call()
	}
	return Op("/* unsupported basic " + name + " */")
}

func (e *emitter) decHelper(t *model.Type) string {
	id := "dec " + t.ID
	if name, ok := e.helpers[id]; ok {
		return name
	}
	name := e.helperName("picocacheDecode", t)
	e.helpers[id] = name
	slot := len(e.out)
	e.out = append(e.out, nil)
	u := t
	if t.Kind == model.Named {
		u = t.Underlying
	}
	T := func() *Statement { return e.typ(t) }
	d := func() *Statement { return Id("d") }
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named && t.BinaryValue {
			g.Var().Id("v").Add(T())
			g.Add(d().Dot("Unmarshal").Call(Op("&").Id("v")))
			g.Return(Id("v"))
			return
		}
		switch u.Kind {
		case model.Slice:
			g.List(Id("n"), Id("isNil")).Op(":=").Add(d()).Dot("Len").Call(Lit(minSize(u.Elem)))
			g.If(Id("isNil")).Block(Return(Nil()))
			g.Id("v").Op(":=").Make(T(), Id("n"))
			g.For(Id("i").Op(":=").Range().Id("v")).Block(
				Id("v").Index(Id("i")).Op("=").Add(e.valDecode(u.Elem)),
			)
			g.Return(Id("v"))
		case model.Array:
			g.Var().Id("v").Add(T())
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Add(d().Dot("Read").Call(Id("v").Index(Empty(), Empty())))
				g.Return(Id("v"))
				return
			}
			g.For(Id("i").Op(":=").Range().Id("v")).Block(
				Id("v").Index(Id("i")).Op("=").Add(e.valDecode(u.Elem)),
			)
			g.Return(Id("v"))
		case model.Map:
			g.List(Id("n"), Id("isNil")).Op(":=").Add(d()).Dot("Len").Call(Lit(minSize(u.Key) + minSize(u.Elem)))
			g.If(Id("isNil")).Block(Return(Nil()))
			g.Id("v").Op(":=").Make(T(), Id("n"))
			g.For(Id("i").Op(":=").Lit(0), Id("i").Op("<").Id("n").Op("&&").Add(d()).Dot("Ok").Call(), Id("i").Op("++")).Block(
				Id("mk").Op(":=").Add(e.valDecode(u.Key)),
				Id("v").Index(Id("mk")).Op("=").Add(e.valDecode(u.Elem)),
			)
			g.Return(Id("v"))
		case model.Struct:
			g.Var().Id("v").Add(T())
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				g.Id("v").Dot(f.Name).Op("=").Add(e.valDecode(f.Type))
			}
			g.Return(Id("v"))
		case model.Pointer:
			g.If(Op("!").Add(d()).Dot("Bool").Call()).Block(Return(Nil()))
			g.Id("x").Op(":=").Add(e.valDecode(u.Elem))
			g.Return(Op("&").Id("x"))
		default:
			g.Return(e.typ(t).Parens(e.valDecode(u)))
		}
	})
	comment := fmt.Sprintf("%s reads a %s result.", name, e.describe(t))
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id("d").Op("*").Add(cd("Decoder"))).Add(T()).Add(body)
	return name
}

// minSize is the fewest bytes an encoded t takes, so that decoders can
// reject lengths the remaining bytes cannot hold.
func minSize(t *model.Type) int {
	return minSizeSeen(t, map[*model.Type]bool{})
}

func minSizeSeen(t *model.Type, seen map[*model.Type]bool) int {
	if seen[t] {
		return 1
	}
	seen[t] = true
	defer delete(seen, t)
	switch t.Kind {
	case model.Basic:
		switch basicName(t.Name) {
		case "bool", "int8", "uint8", "string":
			return 1
		case "int16", "uint16":
			return 2
		case "int32", "uint32", "float32":
			return 4
		case "complex128":
			return 16
		default:
			return 8
		}
	case model.Named:
		if t.BinaryValue {
			return 5
		}
		return minSizeSeen(t.Underlying, seen)
	case model.Array:
		n := int64(minSizeSeen(t.Elem, seen)) * t.Len
		if n > 1<<20 {
			n = 1 << 20
		}
		return int(n)
	case model.Struct:
		n := 0
		for _, f := range t.Fields {
			if f.Name != "_" {
				n += minSizeSeen(f.Type, seen)
			}
			if n > 1<<20 {
				return 1 << 20
			}
		}
		return n
	}
	return 1
}

// fitsStmt appends a statement returning false from the enclosing helper
// when v, of a recursive type t, nests deeper than codec.MaxDepth.
func (e *emitter) fitsStmt(g *Group, t *model.Type, v *Statement, depth Code) {
	g.If(Op("!").Id(e.fitsHelper(t)).Call(v, depth)).Block(Return(False()))
}

// fitsHelper returns the name of the helper reporting whether a value of
// the recursive type t nests at most codec.MaxDepth levels deep, so that
// its encoding is finite and it may be stored: the generated wrapper runs
// it on a fresh result before handing it to the runtime. It visits only
// the parts of t that can recurse.
func (e *emitter) fitsHelper(t *model.Type) string {
	id := "fits " + t.ID
	if name, ok := e.helpers[id]; ok {
		return name
	}
	name := e.helperName("picocacheFits", t)
	e.helpers[id] = name
	slot := len(e.out)
	e.out = append(e.out, nil)
	u := t
	if t.Kind == model.Named {
		u = t.Underlying
	}
	rec := func(t *model.Type) bool { return e.recursive(t, false) }
	depth := Id("depth")
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named {
			g.If(Id("depth").Op(">=").Add(cd("MaxDepth"))).Block(Return(False()))
			g.Id("depth").Op("++")
		}
		switch u.Kind {
		case model.Slice, model.Array:
			g.For(Id("i").Op(":=").Range().Id("v")).BlockFunc(func(g *Group) {
				e.fitsStmt(g, u.Elem, Id("v").Index(Id("i")), depth)
			})
		case model.Map:
			mk, mv := Id("_"), Id("mv")
			if rec(u.Key) {
				mk = Id("mk")
			}
			loop := List(mk, mv)
			if !rec(u.Elem) {
				loop = Id("mk")
			}
			g.For(loop.Op(":=").Range().Id("v")).BlockFunc(func(g *Group) {
				if rec(u.Key) {
					e.fitsStmt(g, u.Key, Id("mk"), depth)
				}
				if rec(u.Elem) {
					e.fitsStmt(g, u.Elem, Id("mv"), depth)
				}
			})
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name != "_" && rec(f.Type) {
					e.fitsStmt(g, f.Type, Id("v").Dot(f.Name), depth)
				}
			}
		case model.Pointer:
			g.If(Id("v").Op("==").Nil()).Block(Return(True()))
			e.fitsStmt(g, u.Elem, Parens(Op("*").Id("v")), depth)
		}
		g.Return(True())
	})
	comment := fmt.Sprintf("%s reports whether a %s result nests at most %s.MaxDepth levels deep, so that it can be stored.", name, e.describe(t), e.codecName)
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id("v").Add(e.typ(t)), Id("depth").Int()).Bool().Add(body)
	return name
}
