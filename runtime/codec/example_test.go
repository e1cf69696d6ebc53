package codec_test

import (
	"fmt"

	"github.com/picocache/picocache/runtime/codec"
)

// Generated wrappers write arguments into a key with the Append functions,
// in a stack buffer, so a hit allocates nothing.
func ExampleAppendString() {
	var buf [64]byte
	k := buf[:0]
	k = codec.AppendString(k, "user")
	k = codec.AppendUint64(k, 42)
	fmt.Printf("%x\n", k)
	// Output: 0475736572000000000000002a
}

// Generated Decode functions read a value back with a Decoder and check
// it once, at the end.
func ExampleDecoder() {
	v := codec.AppendString(nil, "hello")
	v = codec.AppendUint16(v, 7)

	d := codec.NewDecoder(v)
	s, n := d.Str(), d.Uint16()
	fmt.Println(s, n, d.Finish())

	d = codec.NewDecoder(v[:3])
	d.Str()
	fmt.Println(d.Finish() != nil)
	// Output:
	// hello 7 <nil>
	// true
}

// AppendAny writes an interface argument: with typed false, numerically
// equal values share a key.
func ExampleAppendAny() {
	a, _ := codec.AppendAny(nil, 3, false)
	b, _ := codec.AppendAny(nil, 3.0, false)
	c, _ := codec.AppendAny(nil, 3.0, true)
	fmt.Println(string(a) == string(b), string(a) == string(c))
	// Output: true false
}
