package runtime_test

import (
	"fmt"

	"github.com/picocache/picocache/runtime"
)

// Generated wrappers write arguments into a key with the Append functions,
// in a stack buffer, so a hit allocates nothing.
func ExampleAppendString() {
	var buf [64]byte
	k := buf[:0]
	k = runtime.AppendString(k, "user")
	k = runtime.AppendUint64(k, 42)
	fmt.Printf("%x\n", k)
	// Output: 0475736572000000000000002a
}

// Generated Decode functions read a value back with a Decoder and check
// it once, at the end.
func ExampleDecoder() {
	v := runtime.AppendString(nil, "hello")
	v = runtime.AppendUint16(v, 7)

	d := runtime.NewDecoder(v)
	s, n := d.Str(), d.Uint16()
	fmt.Println(s, n, d.Finish())

	d = runtime.NewDecoder(v[:3])
	d.Str()
	fmt.Println(d.Finish() != nil)
	// Output:
	// hello 7 <nil>
	// true
}

// AppendAny writes an interface argument: with typed false, numerically
// equal values share a key.
func ExampleAppendAny() {
	a, _ := runtime.AppendAny(nil, 3, false)
	b, _ := runtime.AppendAny(nil, 3.0, false)
	c, _ := runtime.AppendAny(nil, 3.0, true)
	fmt.Println(string(a) == string(b), string(a) == string(c))
	// Output: true false
}
