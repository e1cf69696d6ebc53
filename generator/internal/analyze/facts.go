package analyze

import "github.com/picocache/picocache/generator/internal/model"

// derive sets the facts of t and of every type reachable from it that
// has none yet. It runs once the graph of t is complete (conv calls it on
// the types it returns), because a fact may depend on every type a cycle
// passes through.
func (a *analyzer) derive(t *model.Type) {
	var visit func(*model.Type)
	visit = func(t *model.Type) {
		if t == nil || a.derived[t] {
			return
		}
		a.derived[t] = true
		for _, c := range children(t) {
			visit(c)
		}
		t.KeyRecursive = recursive(t, true)
		t.ValueRecursive = recursive(t, false)
		t.KeyFallible = holdsInterface(t, map[*model.Type]bool{}) || t.KeyRecursive
		t.KeySize = fixedSize(t, 0)
		t.MinSize = minSize(t, map[*model.Type]bool{})
	}
	visit(t)
}

// children returns every type t refers to.
func children(t *model.Type) []*model.Type {
	cs := []*model.Type{t.Elem, t.Key, t.Underlying}
	for _, f := range t.Fields {
		cs = append(cs, f.Type)
	}
	cs = append(cs, t.TypeArgs...)
	cs = append(cs, t.Params...)
	return append(cs, t.Results...)
}

// recursive reports whether encoding t (into a key, or as a value) can
// follow a cycle of types: a named type that contains itself through
// pointers, slices or maps. Helpers of such types take a depth and give
// up beyond codec.MaxDepth, so that a cyclic value cannot recurse
// without end; helpers of other types stay as they are. A type that
// encodes itself (a key method, MarshalBinary) ends the walk, and so does
// an interface, whose dynamic value codec.AppendAny bounds itself.
func recursive(t *model.Type, key bool) bool {
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
	return visit(t)
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

// holdsInterface reports whether t's key encoding writes an interface
// value, whose dynamic type may have no encoding.
func holdsInterface(t *model.Type, seen map[*model.Type]bool) bool {
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
		return holdsInterface(t.Underlying, seen)
	case model.Slice, model.Array, model.Pointer:
		return holdsInterface(t.Elem, seen)
	case model.Map:
		return holdsInterface(t.Key, seen) || holdsInterface(t.Elem, seen)
	case model.Struct:
		for _, f := range t.Fields {
			if f.Name != "_" && holdsInterface(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// The sizes below are those of the key and value encodings that generated
// code writes with runtime/codec: fixed-width big-endian integers and
// floats (int, uint and uintptr as 64 bits), a length before strings,
// slices and maps, 16 bytes for a time.Time key.

// fixedSize is the key size of t when every value of t takes the same
// number of bytes, else -1.
func fixedSize(t *model.Type, depth int) int {
	if depth > 8 {
		return -1
	}
	switch t.Kind {
	case model.Basic:
		if t.ID == "string" {
			return -1
		}
		return minSize(t, map[*model.Type]bool{})
	case model.Time:
		return 16
	case model.Named:
		if t.KeyMethod || t.PtrKeyMethod {
			return -1
		}
		return fixedSize(t.Underlying, depth+1)
	case model.Array:
		e := fixedSize(t.Elem, depth+1)
		if e < 0 || t.Len > 64 {
			return -1
		}
		return e * int(t.Len)
	case model.Struct:
		n := 0
		for _, f := range t.Fields {
			if f.Name == "_" {
				continue
			}
			s := fixedSize(f.Type, depth+1)
			if s < 0 {
				return -1
			}
			n += s
		}
		return n
	}
	return -1
}

// minSize is the fewest bytes an encoded value of t takes.
func minSize(t *model.Type, seen map[*model.Type]bool) int {
	if seen[t] {
		return 1
	}
	seen[t] = true
	defer delete(seen, t)
	switch t.Kind {
	case model.Basic:
		switch t.ID { // canonical: byte is uint8, rune int32
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
		return minSize(t.Underlying, seen)
	case model.Array:
		n := int64(minSize(t.Elem, seen)) * t.Len
		if n > 1<<20 {
			n = 1 << 20
		}
		return int(n)
	case model.Struct:
		n := 0
		for _, f := range t.Fields {
			if f.Name != "_" {
				n += minSize(f.Type, seen)
			}
			if n > 1<<20 {
				return 1 << 20
			}
		}
		return n
	}
	return 1
}
