package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// MaxDepth bounds how deep generated code follows a recursive type (a
// type that contains itself through pointers, slices or maps, such as
// type Node struct{ Next *Node }): one level per value of such a named
// type on the way down, each node of a linked list for instance. A value
// nested deeper, a cyclic one most often, would otherwise recurse without
// end: an argument that deep runs its call uncached, and a result that
// deep is returned but neither stored nor shared (see [ErrTooDeep]).
// Dynamic values of interface arguments have their own, lower, limit of
// 64 levels ([AppendAny]).
const MaxDepth = 1000

// ErrTooDeep is what a generated wrapper's computation returns to
// [github.com/picocache/picocache/runtime.Func.Do], with its result, when
// that result nests deeper than [MaxDepth]: Do then neither stores it nor
// hands it to waiting callers, which compute their own, and the wrapper
// returns the result to its caller. Users of generated wrappers never see
// it.
var ErrTooDeep = errors.New("picocache: result nested deeper than codec.MaxDepth (a cyclic value?): not stored")

// AppendBool appends v as one byte, 0 or 1.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendUint8 appends v as one byte.
func AppendUint8(dst []byte, v uint8) []byte { return append(dst, v) }

// AppendUint16 appends v as 2 big-endian bytes.
func AppendUint16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

// AppendUint32 appends v as 4 big-endian bytes.
func AppendUint32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// AppendUint64 appends v as 8 big-endian bytes. Generated code writes int,
// uint, uintptr and int64 through it, so every platform gives the same
// bytes.
func AppendUint64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// canonicalNaN64 is the one NaN that keys use for every NaN.
const canonicalNaN64 = 0x7ff8000000000001

// canonicalNaN32 is the float32 counterpart of canonicalNaN64.
const canonicalNaN32 = 0x7fc00001

// AppendFloat64Key appends v for a key: -0 is written as +0 and every NaN
// as one canonical NaN, so that values comparing equal (and all NaNs) share
// a key.
func AppendFloat64Key(dst []byte, v float64) []byte {
	switch {
	case v == 0:
		return AppendUint64(dst, 0)
	case v != v:
		return AppendUint64(dst, canonicalNaN64)
	}
	return AppendUint64(dst, math.Float64bits(v))
}

// AppendFloat32Key is AppendFloat64Key for float32: 4 bytes.
func AppendFloat32Key(dst []byte, v float32) []byte {
	switch {
	case v == 0:
		return AppendUint32(dst, 0)
	case v != v:
		return AppendUint32(dst, canonicalNaN32)
	}
	return AppendUint32(dst, math.Float32bits(v))
}

// AppendFloat64 appends the exact bits of v (8 bytes), for values that must
// round-trip unchanged, -0 and NaN payloads included.
func AppendFloat64(dst []byte, v float64) []byte { return AppendUint64(dst, math.Float64bits(v)) }

// AppendFloat32 appends the exact bits of v (4 bytes).
func AppendFloat32(dst []byte, v float32) []byte { return AppendUint32(dst, math.Float32bits(v)) }

// AppendString appends the uvarint length of s, then s.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends b: uvarint 0 when b is nil, else uvarint len(b)+1,
// then the bytes.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = AppendLen(dst, len(b), b == nil)
	return append(dst, b...)
}

// AppendLen appends the length prefix of a slice or map: uvarint 0 when it
// is nil, else uvarint n+1.
func AppendLen(dst []byte, n int, isNil bool) []byte {
	if isNil {
		return append(dst, 0)
	}
	return binary.AppendUvarint(dst, uint64(n)+1)
}

// AppendTimeKey appends t for a key: its instant (Unix seconds, 8 bytes,
// and nanoseconds, 4 bytes) and its UTC offset in seconds (4 bytes). Two
// times share a key when they denote the same instant in the same UTC
// offset, which is when they print the same with a numeric zone; the
// monotonic clock reading and the location's name are ignored. So t and
// t.UTC() are distinct keys unless t is in UTC, and t and t.Round(0) are
// the same key.
func AppendTimeKey(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	dst = AppendUint64(dst, uint64(t.Unix()))
	dst = AppendUint32(dst, uint32(t.Nanosecond()))
	return AppendUint32(dst, uint32(int32(off)))
}

// BeginSpan reserves a 4-byte length in dst for a type's own key encoding
// (its AppendCacheKey method); [EndSpan] fills it in. The length prefix
// keeps the whole key self-delimiting whatever the method writes:
//
//	m := len(k)
//	k = v.AppendCacheKey(codec.BeginSpan(k))
//	k = codec.EndSpan(k, m)
func BeginSpan(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// EndSpan completes the span that [BeginSpan] started at mark, the length
// of the key before BeginSpan.
func EndSpan(dst []byte, mark int) []byte {
	binary.BigEndian.PutUint32(dst[mark:], uint32(len(dst)-mark-4))
	return dst
}

// SortEntries makes a map's key encoding independent of iteration order.
// spans holds, for each entry, the offsets in dst where its encoding starts
// and ends (pairs, in the order written); the entries must be contiguous
// and end at len(dst). SortEntries rewrites them in ascending byte order.
// Entries are self-delimiting, so the sorted concatenation is still
// injective. It does not allocate when dst has room for a second copy of
// the entries.
func SortEntries(dst []byte, spans []int) []byte {
	n := len(spans) / 2
	if n < 2 {
		return dst
	}
	sortSpans(dst, spans)
	start := len(dst)
	for i := 0; i < n; i++ {
		dst = append(dst, dst[spans[2*i]:spans[2*i+1]]...)
	}
	mark := spans[0]
	for i := 1; i < n; i++ {
		mark = min(mark, spans[2*i])
	}
	m := copy(dst[mark:], dst[start:])
	return dst[:mark+m]
}

// sortSpans sorts the (start, end) pairs in spans by the bytes they cover:
// insertion sort for small maps, heapsort otherwise; it never allocates.
func sortSpans(b []byte, spans []int) {
	n := len(spans) / 2
	less := func(i, j int) bool {
		return string(b[spans[2*i]:spans[2*i+1]]) < string(b[spans[2*j]:spans[2*j+1]])
	}
	swap := func(i, j int) {
		spans[2*i], spans[2*j] = spans[2*j], spans[2*i]
		spans[2*i+1], spans[2*j+1] = spans[2*j+1], spans[2*i+1]
	}
	if n <= 12 {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && less(j, j-1); j-- {
				swap(j, j-1)
			}
		}
		return
	}
	siftDown := func(root, hi int) {
		for {
			child := 2*root + 1
			if child >= hi {
				return
			}
			if child+1 < hi && less(child, child+1) {
				child++
			}
			if !less(root, child) {
				return
			}
			swap(root, child)
			root = child
		}
	}
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(i, n)
	}
	for i := n - 1; i > 0; i-- {
		swap(0, i)
		siftDown(0, i)
	}
}

// ErrDecode is wrapped by every error a [Decoder] reports: the bytes are not
// a value written by the same generated codec.
var ErrDecode = errors.New("picocache: malformed value")

// A Decoder is not safe for concurrent use. It reads what the Append
// functions wrote, for generated Decode functions, and never panics: after
// the first malformed read every read returns a zero value and
// [Decoder.Finish] reports the error, so generated code checks once, at
// the end.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder reading src.
func NewDecoder(src []byte) Decoder { return Decoder{b: src} }

// Fail records err (if none is recorded yet) and stops further reads.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *Decoder) short() {
	d.Fail(errors.Join(ErrDecode, errors.New("unexpected end of value")))
}

func (d *Decoder) next(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.short()
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// Err reports the first error, if any.
func (d *Decoder) Err() error { return d.err }

// Finish reports the first error, or an error if bytes remain unread.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.Fail(errors.Join(ErrDecode, errors.New("trailing bytes")))
	}
	return d.err
}

// Bool reads what AppendBool wrote; a byte other than 0 or 1 is an error.
func (d *Decoder) Bool() bool {
	p := d.next(1)
	if p == nil {
		return false
	}
	if p[0] > 1 {
		d.Fail(errors.Join(ErrDecode, errors.New("bad bool")))
		return false
	}
	return p[0] == 1
}

// Uint8 reads one byte.
func (d *Decoder) Uint8() uint8 {
	if p := d.next(1); p != nil {
		return p[0]
	}
	return 0
}

// Uint16 reads what AppendUint16 wrote.
func (d *Decoder) Uint16() uint16 {
	if p := d.next(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

// Uint32 reads what AppendUint32 wrote.
func (d *Decoder) Uint32() uint32 {
	if p := d.next(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// Uint64 reads what AppendUint64 wrote.
func (d *Decoder) Uint64() uint64 {
	if p := d.next(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// Int reads an int written as 8 bytes; a value this platform's int cannot
// hold is an error.
func (d *Decoder) Int() int {
	v := int64(d.Uint64())
	if int64(int(v)) != v {
		d.Fail(errors.Join(ErrDecode, errors.New("int out of range")))
		return 0
	}
	return int(v)
}

// Uint reads a uint written as 8 bytes; a value this platform's uint
// cannot hold is an error.
func (d *Decoder) Uint() uint {
	v := d.Uint64()
	if uint64(uint(v)) != v {
		d.Fail(errors.Join(ErrDecode, errors.New("uint out of range")))
		return 0
	}
	return uint(v)
}

// Uintptr reads a uintptr written as 8 bytes; a value this platform's
// uintptr cannot hold is an error.
func (d *Decoder) Uintptr() uintptr {
	v := d.Uint64()
	if uint64(uintptr(v)) != v {
		d.Fail(errors.Join(ErrDecode, errors.New("uintptr out of range")))
		return 0
	}
	return uintptr(v)
}

// Float64 reads what AppendFloat64 wrote.
func (d *Decoder) Float64() float64 { return math.Float64frombits(d.Uint64()) }

// Float32 reads what AppendFloat32 wrote.
func (d *Decoder) Float32() float32 { return math.Float32frombits(d.Uint32()) }

func (d *Decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail(errors.Join(ErrDecode, errors.New("bad length")))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Str reads what AppendString wrote. (It is not named String, so that a
// Decoder is no fmt.Stringer.)
func (d *Decoder) Str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.short()
		return ""
	}
	return string(d.next(int(n)))
}

// Bytes reads what AppendBytes wrote, as a new slice (nil stays nil).
func (d *Decoder) Bytes() []byte {
	n, isNil := d.Len(1)
	if isNil {
		return nil
	}
	if n == 0 {
		return []byte{}
	}
	p := d.next(n)
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, n), p...)
}

// Len reads what AppendLen wrote. minSize is the fewest bytes one element
// takes (at least 1 is assumed): a length the remaining bytes cannot hold
// is an error, so a corrupt length never makes generated code allocate a
// huge slice.
func (d *Decoder) Len(minSize int) (n int, isNil bool) {
	v := d.uvarint()
	if d.err != nil {
		return 0, true
	}
	if v == 0 {
		return 0, true
	}
	v--
	if minSize < 1 {
		minSize = 1
	}
	if v > uint64(len(d.b))/uint64(minSize) {
		d.short()
		return 0, true
	}
	return int(v), false
}

// Span reads what BeginSpan and EndSpan wrote around a type's own
// encoding, and returns those bytes (aliasing the source).
func (d *Decoder) Span() []byte {
	n := d.Uint32()
	if uint64(n) > uint64(len(d.b)) {
		d.short()
		return nil
	}
	return d.next(int(n))
}

// Ok reports whether no error has been recorded; generated loops stop
// early on a malformed value.
func (d *Decoder) Ok() bool { return d.err == nil }
