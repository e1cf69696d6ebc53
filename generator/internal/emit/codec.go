package emit

//lint:file-ignore ST1001 jennifer's API is written to be dot-imported, so that emit reads as the Go it writes; every name it declares comes from names.go

import (
	"fmt"
	"strings"

	. "github.com/dave/jennifer/jen"
	"github.com/picocache/picocache/generator/internal/model"
)

// Key encoding: statements appending a value to a key variable.
// Basic kinds are written inline; composite types get one helper function
// each (shared by every function of the package), which keeps recursive
// types finite and each helper's body shallow.

// keyVars names the key being written and its helpers: k the key, ok
// whether a fallible part succeeded, mark a key method's span start.
type keyVars struct{ k, ok, mark string }

// keyStmt appends the statements writing v (an addressable expression of
// type t) into the key kv.k; fail emits what to do when a dynamic value
// cannot be encoded, or a recursive value nests too deep. depth is the
// nesting so far, passed to the helpers of recursive types.
func (e *emitter) keyStmt(g *Group, kv keyVars, t *model.Type, v *Statement, fail func(*Group), typed bool, depth Code) {
	k := func() *Statement { return Id(kv.k) }
	switch t.Kind {
	case model.Basic:
		g.Add(k().Op("=").Add(keyBasic(t.ID, v, k(), false)))
		return
	case model.Bytes:
		g.Add(k().Op("=").Add(cd("AppendBytes")).Call(k(), v))
		return
	case model.Time:
		g.Add(k().Op("=").Add(cd("AppendTimeKey")).Call(k(), v))
		return
	case model.Interface:
		g.If(List(k(), Id(kv.ok)).Op("=").Add(cd("AppendAny")).Call(k(), v, Lit(typed)), Op("!").Id(kv.ok)).BlockFunc(fail)
		return
	case model.Named:
		switch {
		case t.KeyMethod || t.PtrKeyMethod:
			g.Block(
				Id(kv.mark).Op(":=").Len(k()),
				k().Op("=").Add(v.Clone()).Dot("AppendCacheKey").Call(cd("BeginSpan").Call(k())),
				k().Op("=").Add(cd("EndSpan")).Call(k(), Id(kv.mark)),
			)
			return
		case t.Underlying.Kind == model.Basic:
			g.Add(k().Op("=").Add(keyBasic(t.Underlying.ID, v, k(), true)))
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
	if t.KeyRecursive {
		args = append(args, depth)
	}
	if t.KeyFallible {
		g.If(List(k(), Id(kv.ok)).Op("=").Id(name).Call(args...), Op("!").Id(kv.ok)).BlockFunc(fail)
		return
	}
	g.Add(k().Op("=").Id(name).Call(k(), v))
}

// keyBasic writes a basic value (of a type whose underlying type is the
// basic type with the canonical name id: uint8 for byte, int32 for rune).
func keyBasic(id string, v, k *Statement, named bool) *Statement {
	conv := func(s *Statement) *Statement {
		if named {
			return s.Parens(v)
		}
		return v
	}
	switch id {
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
	return Op("/* unsupported basic " + id + " */")
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
	want := base
	if base == prefix {
		want = base + "1" // a bare prefix names no type
	}
	return e.file.declare(want, numbered(base))
}

// keyHelper returns the name of the helper writing t into a key, declaring
// it on first use.
func (e *emitter) keyHelper(t *model.Type, typed bool) string {
	fallible := t.KeyFallible
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

	// The body renders no type of its own: its names avoid only the file's.
	l := e.helperScope()
	k, v, depth, ok, i := l.fresh("k"), l.fresh("v"), l.fresh("depth"), l.fresh("ok"), l.fresh("i")
	kv := keyVars{k: k, ok: ok, mark: l.fresh("mark")}
	fail := func(g *Group) { g.Return(Id(k), False()) }
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
			return Return(Id(k), True())
		}
		return Return(Id(k))
	}
	recursive := t.KeyRecursive
	part := func(g *Group, pt *model.Type, pv *Statement) {
		e.keyStmt(g, kv, pt, pv, fail, typed, Id(depth))
	}
	body := BlockFunc(func(g *Group) {
		if fallible {
			g.Var().Id(ok).Bool()
		}
		if recursive && t.Kind == model.Named {
			g.If(Id(depth).Op(">=").Add(cd("MaxDepth"))).BlockFunc(func(g *Group) {
				g.Comment("Nested too deep, cyclic most likely: no key.")
				fail(g)
			})
			g.Id(depth).Op("++")
		}
		switch u.Kind {
		case model.Slice:
			g.Id(k).Op("=").Add(cd("AppendLen")).Call(Id(k), Len(Id(v)), Id(v).Op("==").Nil())
			g.For(Id(i).Op(":=").Range().Id(v)).BlockFunc(func(g *Group) {
				part(g, u.Elem, Id(v).Index(Id(i)))
			})
		case model.Array:
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Id(k).Op("=").Append(Id(k), Id(v).Index(Empty(), Empty()).Op("..."))
				break
			}
			g.For(Id(i).Op(":=").Range().Id(v)).BlockFunc(func(g *Group) {
				part(g, u.Elem, Id(v).Index(Id(i)))
			})
		case model.Map:
			sb, spans, mk, mv, start := l.fresh("sb"), l.fresh("spans"), l.fresh("mk"), l.fresh("mv"), l.fresh("s")
			g.Id(k).Op("=").Add(cd("AppendLen")).Call(Id(k), Len(Id(v)), Id(v).Op("==").Nil())
			g.Comment("Entries are sorted by their encoding: iteration order never matters.")
			g.Var().Id(sb).Index(Lit(32)).Int()
			g.Id(spans).Op(":=").Id(sb).Index(Empty(), Lit(0))
			g.For(List(Id(mk), Id(mv)).Op(":=").Range().Id(v)).BlockFunc(func(g *Group) {
				g.Id(start).Op(":=").Len(Id(k))
				part(g, u.Key, Id(mk))
				part(g, u.Elem, Id(mv))
				g.Id(spans).Op("=").Append(Id(spans), Id(start), Len(Id(k)))
			})
			g.Id(k).Op("=").Add(cd("SortEntries")).Call(Id(k), Id(spans))
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				part(g, f.Type, Id(v).Dot(f.Name))
			}
		case model.Pointer:
			g.If(Id(v).Op("==").Nil()).Block(
				Id(k).Op("=").Append(Id(k), Lit(0)),
				ret(),
			)
			g.Id(k).Op("=").Append(Id(k), Lit(1))
			part(g, u.Elem, Parens(Op("*").Id(v)))
		default:
			// A named type whose underlying type is written inline.
			part(g, u, Id(v))
		}
		g.Add(ret())
	})
	comment := fmt.Sprintf("%s writes a %s into a cache key.", name, e.describe(t))
	params := []Code{Id(k).Index().Byte(), Id(v).Add(e.typ(t))}
	if recursive {
		comment += " It reports false beyond " + e.codecName + ".MaxDepth levels of recursion."
		params = append(params, Id(depth).Int())
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
// reads it back from a decoder (a *codec.Decoder).

// valAppend returns an expression appending v (an addressable expression
// of type t) to dst.
func (e *emitter) valAppend(t *model.Type, v, dst *Statement) *Statement {
	switch t.Kind {
	case model.Basic:
		return valBasic(t.ID, v, dst, false)
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
				return valBasic(t.Underlying.ID, v, dst, true)
			case model.Bytes:
				return cd("AppendBytes").Call(dst, Index().Byte().Parens(v))
			case model.Time:
				return cd("AppendTime").Call(dst, Qual("time", "Time").Parens(v))
			}
		}
	}
	return Id(e.valHelper(t)).Call(dst, v)
}

func valBasic(id string, v, dst *Statement, named bool) *Statement {
	conv := func(s *Statement) *Statement {
		if named {
			return s.Parens(v)
		}
		return v
	}
	switch id {
	case "float32":
		return cd("AppendFloat32").Call(dst, conv(Float32()))
	case "float64":
		return cd("AppendFloat64").Call(dst, conv(Float64()))
	case "complex64":
		return cd("AppendFloat32").Call(cd("AppendFloat32").Call(dst, Real(v.Clone())), Imag(v.Clone()))
	case "complex128":
		return cd("AppendFloat64").Call(cd("AppendFloat64").Call(dst, Real(v.Clone())), Imag(v.Clone()))
	}
	return keyBasic(id, v, dst, named)
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
	// The body renders no type of its own: its names avoid only the file's.
	l := e.helperScope()
	dstName, v, i := l.fresh("dst"), l.fresh("v"), l.fresh("i")
	dst := func() *Statement { return Id(dstName) }
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named && t.BinaryValue {
			v := Id(v)
			if t.PtrMarshaller {
				v = Op("&").Add(v)
			}
			g.Return(cd("AppendMarshaler").Call(dst(), v))
			return
		}
		switch u.Kind {
		case model.Slice:
			g.Add(dst().Op("=").Add(cd("AppendLen")).Call(dst(), Len(Id(v)), Id(v).Op("==").Nil()))
			g.For(Id(i).Op(":=").Range().Id(v)).Block(
				dst().Op("=").Add(e.valAppend(u.Elem, Id(v).Index(Id(i)), dst())),
			)
		case model.Array:
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Return(Append(dst(), Id(v).Index(Empty(), Empty()).Op("...")))
				return
			}
			g.For(Id(i).Op(":=").Range().Id(v)).Block(
				dst().Op("=").Add(e.valAppend(u.Elem, Id(v).Index(Id(i)), dst())),
			)
		case model.Map:
			mk, mv := l.fresh("mk"), l.fresh("mv")
			g.Add(dst().Op("=").Add(cd("AppendLen")).Call(dst(), Len(Id(v)), Id(v).Op("==").Nil()))
			g.For(List(Id(mk), Id(mv)).Op(":=").Range().Id(v)).Block(
				dst().Op("=").Add(e.valAppend(u.Key, Id(mk), dst())),
				dst().Op("=").Add(e.valAppend(u.Elem, Id(mv), dst())),
			)
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				g.Add(dst().Op("=").Add(e.valAppend(f.Type, Id(v).Dot(f.Name), dst())))
			}
		case model.Pointer:
			g.If(Id(v).Op("==").Nil()).Block(Return(Append(dst(), Lit(0))))
			g.Add(dst().Op("=").Append(dst(), Lit(1)))
			g.Add(dst().Op("=").Add(e.valAppend(u.Elem, Parens(Op("*").Id(v)), dst())))
		default:
			g.Add(dst().Op("=").Add(e.valAppend(u, Id(v), dst())))
		}
		g.Return(dst())
	})
	comment := fmt.Sprintf("%s writes a %s result.", name, e.describe(t))
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id(dstName).Index().Byte(), Id(v).Add(e.typ(t))).Index().Byte().Add(body)
	return name
}

// valDecode returns an expression reading a t from the decoder named d.
func (e *emitter) valDecode(t *model.Type, d string) *Statement {
	switch t.Kind {
	case model.Basic:
		return decBasic(t.ID, d)
	case model.Bytes:
		return Id(d).Dot("Bytes").Call()
	case model.Time:
		return Id(d).Dot("Time").Call()
	case model.Interface:
		return Id(d).Dot("AnyValue").Call()
	case model.Named:
		if !t.BinaryValue {
			switch t.Underlying.Kind {
			case model.Basic:
				return e.typ(t).Parens(decBasic(t.Underlying.ID, d))
			case model.Bytes:
				return e.typ(t).Parens(Id(d).Dot("Bytes").Call())
			case model.Time:
				return e.typ(t).Parens(Id(d).Dot("Time").Call())
			}
		}
	}
	return Id(e.decHelper(t)).Call(Id(d))
}

// decBasic reads a basic value of the type with canonical name id.
func decBasic(id, d string) *Statement {
	read := func(m string) *Statement { return Id(d).Dot(m).Call() }
	switch id {
	case "bool":
		return read("Bool")
	case "uint8":
		return read("Uint8")
	case "uint16":
		return read("Uint16")
	case "uint32":
		return read("Uint32")
	case "uint64":
		return read("Uint64")
	case "int8":
		return Int8().Parens(read("Uint8"))
	case "int16":
		return Int16().Parens(read("Uint16"))
	case "int32":
		return Int32().Parens(read("Uint32"))
	case "int64":
		return Int64().Parens(read("Uint64"))
	case "int":
		return read("Int")
	case "uint":
		return read("Uint")
	case "uintptr":
		return read("Uintptr")
	case "float32":
		return read("Float32")
	case "float64":
		return read("Float64")
	case "complex64":
		return Complex(read("Float32"), read("Float32"))
	case "complex128":
		return Complex(read("Float64"), read("Float64"))
	case "string":
		return read("Str")
	}
	return Op("/* unsupported basic " + id + " */")
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
	// The body renders t and some of its parts: its names must not hide them.
	l := e.helperScope(decodeRefs(t)...)
	d, v, i := l.fresh("d"), l.fresh("v"), l.fresh("i")
	T := func() *Statement { return e.typ(t) }
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named && t.BinaryValue {
			g.Var().Id(v).Add(T())
			g.Add(Id(d).Dot("Unmarshal").Call(Op("&").Id(v)))
			g.Return(Id(v))
			return
		}
		switch u.Kind {
		case model.Slice:
			n, isNil := l.fresh("n"), l.fresh("isNil")
			g.List(Id(n), Id(isNil)).Op(":=").Add(Id(d)).Dot("Len").Call(Lit(u.Elem.MinSize))
			g.If(Id(isNil)).Block(Return(Nil()))
			g.Id(v).Op(":=").Make(T(), Id(n))
			g.For(Id(i).Op(":=").Range().Id(v)).Block(
				Id(v).Index(Id(i)).Op("=").Add(e.valDecode(u.Elem, d)),
			)
			g.Return(Id(v))
		case model.Array:
			g.Var().Id(v).Add(T())
			if u.Elem.Kind == model.Basic && u.Elem.ID == "uint8" {
				g.Add(Id(d).Dot("Read").Call(Id(v).Index(Empty(), Empty())))
				g.Return(Id(v))
				return
			}
			g.For(Id(i).Op(":=").Range().Id(v)).Block(
				Id(v).Index(Id(i)).Op("=").Add(e.valDecode(u.Elem, d)),
			)
			g.Return(Id(v))
		case model.Map:
			n, isNil, mk := l.fresh("n"), l.fresh("isNil"), l.fresh("mk")
			g.List(Id(n), Id(isNil)).Op(":=").Add(Id(d)).Dot("Len").Call(Lit(u.Key.MinSize + u.Elem.MinSize))
			g.If(Id(isNil)).Block(Return(Nil()))
			g.Id(v).Op(":=").Make(T(), Id(n))
			g.For(Id(i).Op(":=").Lit(0), Id(i).Op("<").Id(n).Op("&&").Add(Id(d)).Dot("Ok").Call(), Id(i).Op("++")).Block(
				Id(mk).Op(":=").Add(e.valDecode(u.Key, d)),
				Id(v).Index(Id(mk)).Op("=").Add(e.valDecode(u.Elem, d)),
			)
			g.Return(Id(v))
		case model.Struct:
			g.Var().Id(v).Add(T())
			for _, f := range u.Fields {
				if f.Name == "_" {
					continue
				}
				g.Id(v).Dot(f.Name).Op("=").Add(e.valDecode(f.Type, d))
			}
			g.Return(Id(v))
		case model.Pointer:
			x := l.fresh("x")
			g.If(Op("!").Add(Id(d)).Dot("Bool").Call()).Block(Return(Nil()))
			g.Id(x).Op(":=").Add(e.valDecode(u.Elem, d))
			g.Return(Op("&").Id(x))
		default:
			g.Return(e.typ(t).Parens(e.valDecode(u, d)))
		}
	})
	comment := fmt.Sprintf("%s reads a %s result.", name, e.describe(t))
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id(d).Op("*").Add(cd("Decoder"))).Add(T()).Add(body)
	return name
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
	// The body renders no type of its own: its names avoid only the file's.
	l := e.helperScope()
	v, depthName, i := l.fresh("v"), l.fresh("depth"), l.fresh("i")
	depth := Id(depthName)
	body := BlockFunc(func(g *Group) {
		if t.Kind == model.Named {
			g.If(Id(depthName).Op(">=").Add(cd("MaxDepth"))).Block(Return(False()))
			g.Id(depthName).Op("++")
		}
		switch u.Kind {
		case model.Slice, model.Array:
			g.For(Id(i).Op(":=").Range().Id(v)).BlockFunc(func(g *Group) {
				e.fitsStmt(g, u.Elem, Id(v).Index(Id(i)), depth)
			})
		case model.Map:
			mkName, mvName := l.fresh("mk"), l.fresh("mv")
			mk, mv := Id("_"), Id(mvName)
			if u.Key.ValueRecursive {
				mk = Id(mkName)
			}
			loop := List(mk, mv)
			if !u.Elem.ValueRecursive {
				loop = Id(mkName)
			}
			g.For(loop.Op(":=").Range().Id(v)).BlockFunc(func(g *Group) {
				if u.Key.ValueRecursive {
					e.fitsStmt(g, u.Key, Id(mkName), depth)
				}
				if u.Elem.ValueRecursive {
					e.fitsStmt(g, u.Elem, Id(mvName), depth)
				}
			})
		case model.Struct:
			for _, f := range u.Fields {
				if f.Name != "_" && f.Type.ValueRecursive {
					e.fitsStmt(g, f.Type, Id(v).Dot(f.Name), depth)
				}
			}
		case model.Pointer:
			g.If(Id(v).Op("==").Nil()).Block(Return(True()))
			e.fitsStmt(g, u.Elem, Parens(Op("*").Id(v)), depth)
		}
		g.Return(True())
	})
	comment := fmt.Sprintf("%s reports whether a %s result nests at most %s.MaxDepth levels deep, so that it can be stored.", name, e.describe(t), e.codecName)
	e.out[slot] = Comment(comment).Line().Func().Id(name).Params(Id(v).Add(e.typ(t)), Id(depthName).Int()).Bool().Add(body)
	return name
}
