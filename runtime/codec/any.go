package codec

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
)

// keyAppender is implemented by types that write their own cache key:
// [github.com/picocache/picocache/runtime.KeyAppender], which documents
// the method for users.
type keyAppender interface {
	AppendCacheKey(dst []byte) []byte
}

// AppendTime appends t as a value: its standard binary form
// (time.Time.AppendBinary: instant, and zone offset; the location's name
// and the monotonic reading are not kept). A time whose offset has no
// binary form is written so that it never decodes: its call is always a
// miss.
func AppendTime(dst []byte, t time.Time) []byte {
	mark := len(dst)
	dst = append(dst, 0)
	b, err := t.AppendBinary(dst)
	if err != nil || len(b)-mark-1 > 127 {
		return dst[:mark+1]
	}
	b[mark] = byte(len(b) - mark - 1)
	return b
}

// Time reads what AppendTime wrote.
func (d *Decoder) Time() time.Time {
	n := d.Uint8()
	if d.err != nil {
		return time.Time{}
	}
	if n == 0 || n > 127 {
		d.Fail(errors.Join(ErrDecode, errors.New("bad time")))
		return time.Time{}
	}
	raw := d.next(int(n))
	if d.err != nil {
		return time.Time{}
	}
	// time.Time.UnmarshalBinary (Go 1.26) does not check that the
	// nanoseconds field is in [0, 1e9): it builds a malformed Time that
	// re-encodes differently, so bytes that AppendTime never writes would
	// decode as a value. Found by FuzzDecodeTuple; no upstream issue found
	// (hashicorp/boundary#3496 fixed the same trap in its own decoder).
	// Layout: version, seconds (8 bytes), nanoseconds (4), zone offset.
	if len(raw) >= 13 {
		if ns := int32(binary.BigEndian.Uint32(raw[9:13])); ns < 0 || ns >= 1e9 {
			d.Fail(errors.Join(ErrDecode, errors.New("bad time: nanoseconds out of range")))
			return time.Time{}
		}
	}
	var t time.Time
	if err := t.UnmarshalBinary(raw); err != nil {
		d.Fail(errors.Join(ErrDecode, err))
	}
	return t
}

// AppendMarshaler appends a value that brings its own binary encoding
// (encoding.BinaryMarshaler): a status byte, then the bytes, length
// prefixed. If MarshalBinary fails the value is written so that it never
// decodes: its call is always a miss.
func AppendMarshaler(dst []byte, m encoding.BinaryMarshaler) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	return AppendString(dst, string(b))
}

// Unmarshal reads what AppendMarshaler wrote into u. A panic in
// UnmarshalBinary is turned into a decoding error.
func (d *Decoder) Unmarshal(u encoding.BinaryUnmarshaler) {
	switch d.Uint8() {
	case 1:
	default:
		if d.err == nil {
			d.Fail(errors.Join(ErrDecode, errors.New("value was not marshaled")))
		}
		return
	}
	b := []byte(d.Str())
	if d.err != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			d.Fail(errors.Join(ErrDecode, fmt.Errorf("UnmarshalBinary panicked: %v", r)))
		}
	}()
	if err := u.UnmarshalBinary(b); err != nil {
		d.Fail(errors.Join(ErrDecode, err))
	}
}

// Read fills p with the next len(p) bytes (a byte array).
func (d *Decoder) Read(p []byte) {
	if b := d.next(len(p)); b != nil {
		copy(p, b)
	}
}

// Tags of the interface key encoding.
const (
	tagNil byte = iota
	tagBool
	tagInt // integer-valued number: sign byte, then magnitude (8 bytes)
	tagFloat
	tagComplex
	tagString
	tagBytes
	tagTime
	tagKeyMethod
	tagSlice
	tagArray
	tagMap
	tagStruct
	tagPointer
)

// maxAnyDepth bounds the nesting of a dynamic value, so a cyclic value
// (a pointer to itself) is uncacheable rather than endless.
const maxAnyDepth = 64

// AppendAny appends the dynamic value of an interface argument to a key.
// It reports false when the value (or a value inside it) is of a type no
// key can hold (chan, func, unsafe.Pointer, or nesting deeper than 64):
// the generated wrapper then calls the function uncached.
//
// With typed false, values are compared as Python compares them:
// numerically equal numbers of any kind share a key (3, int64(3), 3.0,
// uint8(3), complex(3, 0)); composite values compare element by element
// whatever their types ([]int{1} and []any{1.0} share a key); bool, string
// and []byte are distinct from numbers and from each other. With typed
// true, the dynamic type (package path and name, or its structure) of each
// interface value is part of the key too. In both cases every NaN is one
// key and -0 equals +0.
//
// Common types are written without reflection; others (named types,
// composites) through package reflect.
func AppendAny(dst []byte, v any, typed bool) ([]byte, bool) {
	return appendAny(dst, v, typed, 0)
}

func appendAny(dst []byte, v any, typed bool, depth int) ([]byte, bool) {
	if typed {
		if v == nil {
			return append(dst, tagNil), true
		}
		dst = AppendString(dst, typeID(v))
	}
	switch x := v.(type) {
	case nil:
		return append(dst, tagNil), true
	case bool:
		return AppendBool(append(dst, tagBool), x), true
	case int:
		return appendInt(dst, int64(x)), true
	case int8:
		return appendInt(dst, int64(x)), true
	case int16:
		return appendInt(dst, int64(x)), true
	case int32:
		return appendInt(dst, int64(x)), true
	case int64:
		return appendInt(dst, x), true
	case uint:
		return appendUint(dst, uint64(x)), true
	case uint8:
		return appendUint(dst, uint64(x)), true
	case uint16:
		return appendUint(dst, uint64(x)), true
	case uint32:
		return appendUint(dst, uint64(x)), true
	case uint64:
		return appendUint(dst, x), true
	case uintptr:
		return appendUint(dst, uint64(x)), true
	case float32:
		return appendNumber(dst, float64(x)), true
	case float64:
		return appendNumber(dst, x), true
	case complex64:
		return appendComplex(dst, complex128(x)), true
	case complex128:
		return appendComplex(dst, x), true
	case string:
		return AppendString(append(dst, tagString), x), true
	case []byte:
		return AppendBytes(append(dst, tagBytes), x), true
	case time.Time:
		return AppendTimeKey(append(dst, tagTime), x), true
	case keyAppender:
		dst = append(dst, tagKeyMethod)
		m := len(dst)
		return EndSpan(x.AppendCacheKey(BeginSpan(dst)), m), true
	}
	return appendValue(dst, reflect.ValueOf(v), typed, depth)
}

func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return AppendUint64(append(dst, tagInt, 0), uint64(-v))
	}
	return AppendUint64(append(dst, tagInt, 1), uint64(v))
}

func appendUint(dst []byte, v uint64) []byte {
	return AppendUint64(append(dst, tagInt, 1), v)
}

// appendNumber writes a float as an integer when it has an integral value
// an integer kind can hold, so that 3.0 and 3 share a key.
func appendNumber(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if f >= 0 && f < 1<<64 {
			return appendUint(dst, uint64(f))
		}
		if f < 0 && f >= -(1<<63) {
			// -2^63 <= f < 0: the magnitude fits in a uint64.
			return AppendUint64(append(dst, tagInt, 0), uint64(-f))
		}
	}
	return AppendFloat64Key(append(dst, tagFloat), f)
}

func appendComplex(dst []byte, c complex128) []byte {
	if imag(c) == 0 {
		return appendNumber(dst, real(c))
	}
	return AppendFloat64Key(AppendFloat64Key(append(dst, tagComplex), real(c)), imag(c))
}

// appendValue is the reflection path of AppendAny.
func appendValue(dst []byte, v reflect.Value, typed bool, depth int) ([]byte, bool) {
	if depth > maxAnyDepth {
		return dst, false
	}
	depth++
	if v.CanInterface() {
		if ka, ok := v.Interface().(keyAppender); ok && (v.Kind() != reflect.Pointer || !v.IsNil()) {
			dst = append(dst, tagKeyMethod)
			m := len(dst)
			return EndSpan(ka.AppendCacheKey(BeginSpan(dst)), m), true
		}
		if t, ok := v.Interface().(time.Time); ok {
			return AppendTimeKey(append(dst, tagTime), t), true
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		return AppendBool(append(dst, tagBool), v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(dst, v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendUint(dst, v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return appendNumber(dst, v.Float()), true
	case reflect.Complex64, reflect.Complex128:
		return appendComplex(dst, v.Complex()), true
	case reflect.String:
		return AppendString(append(dst, tagString), v.String()), true
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return AppendBytes(append(dst, tagBytes), v.Bytes()), true
		}
		dst = AppendLen(append(dst, tagSlice), v.Len(), v.IsNil())
		return appendElems(dst, v, typed, depth)
	case reflect.Array:
		dst = AppendLen(append(dst, tagArray), v.Len(), false)
		return appendElems(dst, v, typed, depth)
	case reflect.Map:
		dst = AppendLen(append(dst, tagMap), v.Len(), v.IsNil())
		var sb [32]int
		spans := sb[:0]
		it := v.MapRange()
		ok := true
		for it.Next() {
			s := len(dst)
			if dst, ok = appendValue(dst, it.Key(), typed, depth); !ok {
				return dst, false
			}
			if dst, ok = appendValue(dst, it.Value(), typed, depth); !ok {
				return dst, false
			}
			spans = append(spans, s, len(dst))
		}
		return SortEntries(dst, spans), true
	case reflect.Struct:
		dst = AppendLen(append(dst, tagStruct), v.NumField(), false)
		ok := true
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if t.Field(i).Name == "_" {
				continue
			}
			if dst, ok = appendValue(dst, v.Field(i), typed, depth); !ok {
				return dst, false
			}
		}
		return dst, true
	case reflect.Pointer:
		if v.IsNil() {
			return append(dst, tagPointer, 0), true
		}
		return appendValue(append(dst, tagPointer, 1), v.Elem(), typed, depth)
	case reflect.Interface:
		if v.IsNil() {
			if typed {
				return append(dst, tagNil), true
			}
			return append(dst, tagNil), true
		}
		e := v.Elem()
		if typed {
			dst = AppendString(dst, typeIDOf(e.Type()))
		}
		return appendValue(dst, e, typed, depth)
	}
	return dst, false // chan, func, unsafe.Pointer
}

func appendElems(dst []byte, v reflect.Value, typed bool, depth int) ([]byte, bool) {
	ok := true
	for i := 0; i < v.Len(); i++ {
		if dst, ok = appendValue(dst, v.Index(i), typed, depth); !ok {
			return dst, false
		}
	}
	return dst, true
}

// typeID names v's dynamic type for typed keys: constant strings for the
// predeclared types, else the package path and name, or the structure of
// an unnamed type.
func typeID(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int:
		return "int"
	case int8:
		return "int8"
	case int16:
		return "int16"
	case int32:
		return "int32"
	case int64:
		return "int64"
	case uint:
		return "uint"
	case uint8:
		return "uint8"
	case uint16:
		return "uint16"
	case uint32:
		return "uint32"
	case uint64:
		return "uint64"
	case uintptr:
		return "uintptr"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case complex64:
		return "complex64"
	case complex128:
		return "complex128"
	case string:
		return "string"
	case []byte:
		return "[]uint8"
	case time.Time:
		return "time.Time"
	}
	return typeIDOf(reflect.TypeOf(v))
}

var typeIDs sync.Map // reflect.Type -> string

func typeIDOf(t reflect.Type) string {
	if s, ok := typeIDs.Load(t); ok {
		return s.(string)
	}
	s := buildTypeID(t, 0)
	typeIDs.Store(t, s)
	return s
}

func buildTypeID(t reflect.Type, depth int) string {
	if t.Name() != "" {
		if t.PkgPath() == "" {
			return t.Name()
		}
		return t.PkgPath() + "." + t.Name()
	}
	if depth > maxAnyDepth {
		return "?"
	}
	depth++
	switch t.Kind() {
	case reflect.Slice:
		return "[]" + buildTypeID(t.Elem(), depth)
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), buildTypeID(t.Elem(), depth))
	case reflect.Map:
		return "map[" + buildTypeID(t.Key(), depth) + "]" + buildTypeID(t.Elem(), depth)
	case reflect.Pointer:
		return "*" + buildTypeID(t.Elem(), depth)
	case reflect.Struct:
		s := "struct{"
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if i > 0 {
				s += "; "
			}
			if f.PkgPath != "" {
				s += f.PkgPath + "."
			}
			s += f.Name + " " + buildTypeID(f.Type, depth)
			if f.Tag != "" {
				s += fmt.Sprintf(" %q", f.Tag)
			}
		}
		return s + "}"
	}
	return t.String()
}

// Tags of the interface value encoding: the exact dynamic type.
const (
	valNil byte = iota
	valBool
	valInt
	valInt8
	valInt16
	valInt32
	valInt64
	valUint
	valUint8
	valUint16
	valUint32
	valUint64
	valUintptr
	valFloat32
	valFloat64
	valComplex64
	valComplex128
	valString
	valBytes
	valTime
	valList        // []any
	valDict        // map[string]any
	valUnsupported = 0xff
)

// AppendAnyValue appends an interface result: its dynamic type, then its
// value. Only nil, the predeclared types, []byte, time.Time, and []any and
// map[string]any holding these (nested at most 64 deep) can be restored;
// any other dynamic type is written so that it never decodes: such a call
// is always a miss.
func AppendAnyValue(dst []byte, v any) []byte { return appendAnyValue(dst, v, 0) }

func appendAnyValue(dst []byte, v any, depth int) []byte {
	switch x := v.(type) {
	case []any:
		if depth >= maxAnyDepth {
			return append(dst, valUnsupported)
		}
		dst = AppendLen(append(dst, valList), len(x), x == nil)
		for _, e := range x {
			dst = appendAnyValue(dst, e, depth+1)
		}
		return dst
	case map[string]any:
		if depth >= maxAnyDepth {
			return append(dst, valUnsupported)
		}
		dst = AppendLen(append(dst, valDict), len(x), x == nil)
		for k, e := range x {
			dst = appendAnyValue(AppendString(dst, k), e, depth+1)
		}
		return dst
	case nil:
		return append(dst, valNil)
	case bool:
		return AppendBool(append(dst, valBool), x)
	case int:
		return AppendUint64(append(dst, valInt), uint64(x))
	case int8:
		return AppendUint8(append(dst, valInt8), uint8(x))
	case int16:
		return AppendUint16(append(dst, valInt16), uint16(x))
	case int32:
		return AppendUint32(append(dst, valInt32), uint32(x))
	case int64:
		return AppendUint64(append(dst, valInt64), uint64(x))
	case uint:
		return AppendUint64(append(dst, valUint), uint64(x))
	case uint8:
		return AppendUint8(append(dst, valUint8), x)
	case uint16:
		return AppendUint16(append(dst, valUint16), x)
	case uint32:
		return AppendUint32(append(dst, valUint32), x)
	case uint64:
		return AppendUint64(append(dst, valUint64), x)
	case uintptr:
		return AppendUint64(append(dst, valUintptr), uint64(x))
	case float32:
		return AppendFloat32(append(dst, valFloat32), x)
	case float64:
		return AppendFloat64(append(dst, valFloat64), x)
	case complex64:
		return AppendFloat32(AppendFloat32(append(dst, valComplex64), real(x)), imag(x))
	case complex128:
		return AppendFloat64(AppendFloat64(append(dst, valComplex128), real(x)), imag(x))
	case string:
		return AppendString(append(dst, valString), x)
	case []byte:
		return AppendBytes(append(dst, valBytes), x)
	case time.Time:
		return AppendTime(append(dst, valTime), x)
	}
	return append(dst, valUnsupported)
}

// AnyValue reads what AppendAnyValue wrote.
func (d *Decoder) AnyValue() any { return d.anyValue(0) }

func (d *Decoder) anyValue(depth int) any {
	tag := d.Uint8()
	if d.err != nil {
		return nil
	}
	switch tag {
	case valNil:
		return nil
	case valBool:
		return d.Bool()
	case valInt:
		return d.Int()
	case valInt8:
		return int8(d.Uint8())
	case valInt16:
		return int16(d.Uint16())
	case valInt32:
		return int32(d.Uint32())
	case valInt64:
		return int64(d.Uint64())
	case valUint:
		return d.Uint()
	case valUint8:
		return d.Uint8()
	case valUint16:
		return d.Uint16()
	case valUint32:
		return d.Uint32()
	case valUint64:
		return d.Uint64()
	case valUintptr:
		return d.Uintptr()
	case valFloat32:
		return d.Float32()
	case valFloat64:
		return d.Float64()
	case valComplex64:
		return complex(d.Float32(), d.Float32())
	case valComplex128:
		return complex(d.Float64(), d.Float64())
	case valString:
		return d.Str()
	case valBytes:
		return d.Bytes()
	case valTime:
		return d.Time()
	case valList:
		n, isNil := d.Len(1)
		if isNil || depth >= maxAnyDepth {
			if depth >= maxAnyDepth {
				d.Fail(errors.Join(ErrDecode, errors.New("value nested too deep")))
			}
			return []any(nil)
		}
		l := make([]any, n)
		for i := 0; i < n && d.err == nil; i++ {
			l[i] = d.anyValue(depth + 1)
		}
		return l
	case valDict:
		n, isNil := d.Len(2)
		if isNil || depth >= maxAnyDepth {
			if depth >= maxAnyDepth {
				d.Fail(errors.Join(ErrDecode, errors.New("value nested too deep")))
			}
			return map[string]any(nil)
		}
		m := make(map[string]any, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.Str()
			m[k] = d.anyValue(depth + 1)
		}
		return m
	}
	d.Fail(errors.Join(ErrDecode, fmt.Errorf("interface value of a type that cannot be restored (tag %d)", tag)))
	return nil
}
