// Package keytest is a fixture of picogen's generated code: annotated
// functions over every type family, whose generated file is committed, so
// that tests can check the generated key and value encodings themselves
// (injectivity over random tuples, determinism across processes, value
// round trips, decoders never panicking). It is the only package under
// generator/ that imports the runtime (runtime and runtime/codec), through
// its generated file and its tests.
package keytest

import (
	"context"
	"sync/atomic"
	"time"
)

//go:generate go run github.com/picocache/picocache/cmd/picogen -nosqlite

// Point is a small struct with an unexported field.
type Point struct {
	X, Y  int16
	label string
}

// Node is recursive through a pointer and a slice.
type Node struct {
	Val  uint8
	Next *Node
	Kids []Node
}

// Celsius is a named float.
type Celsius float64

// Tuple holds one of every key family.
type Tuple struct {
	B     bool
	I     int
	I8    int8
	U32   uint32
	F     float64
	F32   float32
	C     complex128
	S     string
	Bytes []byte
	Temp  Celsius
	Arr   [2]int8
	Sl    []string
	M     map[string]int
	MM    map[int8][]string
	P     *Point
	Pt    Point
	At    time.Time
	Any   any
	Anys  []any
	Tree  *Node
	Ver   Version
	_     int
}

// Version brings its own key encoding and binary value encoding.
type Version struct{ Major, Minor uint8 }

// AppendCacheKey writes v's key.
func (v Version) AppendCacheKey(dst []byte) []byte { return append(dst, v.Major, v.Minor) }

// MarshalBinary writes v.
func (v Version) MarshalBinary() ([]byte, error) { return []byte{v.Major, v.Minor}, nil }

// UnmarshalBinary reads v.
func (v *Version) UnmarshalBinary(b []byte) error {
	if len(b) != 2 {
		return errBadVersion
	}
	v.Major, v.Minor = b[0], b[1]
	return nil
}

// Echo returns its argument: its wrapper's helpers encode every family.
//
//picocache:maxsize=none
func Echo(t Tuple) Tuple { return t }

// Query is the benchmark's struct argument: a string, a slice and a map.
type Query struct {
	Name   string
	Tags   []string
	Limits map[string]int
}

// Lookup is memoized on a Query.
//
//picocache:maxsize=none
func Lookup(ctx context.Context, q Query) (int, error) {
	return len(q.Name) + len(q.Tags) + len(q.Limits), nil
}

// Loose keys an interface argument by value (typed=false).
//
//picocache:maxsize=none
func Loose(v any) string { return "" }

// Strict keys an interface argument by value and dynamic type.
//
//picocache:typed
func Strict(v any) string { return "" }

// Walk counts the nodes of a list, stopping at the first one seen again:
// a cyclic argument has no key, so its wrapper calls Walk uncached.
//
//picocache:maxsize=none
func Walk(n *Node) int {
	seen := map[*Node]bool{}
	c := 0
	for ; n != nil && !seen[n]; n = n.Next {
		seen[n] = true
		c++
	}
	return c
}

// Chain builds a list of n nodes valued 0..n-1 whose last node links back
// to the first when cyclic: a cyclic result is returned but not stored.
//
//picocache:maxsize=none
func Chain(n int, cyclic bool) (*Node, error) {
	chainCalls.Add(1)
	var head, tail *Node
	for i := range n {
		nd := &Node{Val: uint8(i)}
		if head == nil {
			head = nd
		} else {
			tail.Next = nd
		}
		tail = nd
	}
	if cyclic && tail != nil {
		tail.Next = head
	}
	return head, nil
}

// chainCalls counts Chain's runs.
var chainCalls atomic.Int64
