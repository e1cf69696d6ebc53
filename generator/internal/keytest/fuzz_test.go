package keytest

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/picocache/picocache/runtime"
)

// FuzzDecodeTuple feeds arbitrary bytes to the generated decoders of
// every family: they must never panic, and what they accept must encode
// back to a value that decodes to the same thing.
func FuzzDecodeTuple(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for i := 0; i < 8; i++ {
		f.Add(picocacheAppendTuple(nil, g.tuple()))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := runtime.NewDecoder(b)
		v := picocacheDecodeTuple(&d)
		if d.Finish() != nil {
			return
		}
		b2 := picocacheAppendTuple(nil, v)
		d2 := runtime.NewDecoder(b2)
		v2 := picocacheDecodeTuple(&d2)
		if err := d2.Finish(); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !reflect.DeepEqual(normTimes(v), normTimes(v2)) && !hasNaN(v) {
			t.Fatalf("decode(encode(v)) != v:\n%#v\n%#v", v, v2)
		}
	})
}

func hasNaN(t Tuple) bool {
	return t.F != t.F || t.F32 != t.F32 || t.Temp != t.Temp || real(t.C) != real(t.C) || imag(t.C) != imag(t.C)
}

// FuzzKeyInjective builds two random tuples from the fuzzer's seeds:
// equal keys must mean equal tuples.
func FuzzKeyInjective(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(3), uint64(4))
	f.Add(uint64(0), uint64(0), uint64(0), uint64(1))
	f.Fuzz(func(t *testing.T, a, b, c, d uint64) {
		t1 := gen{rand.New(rand.NewPCG(a, b))}.sparse()
		t2 := gen{rand.New(rand.NewPCG(c, d))}.sparse()
		if bytes.Equal(key(t1), key(t2)) && canonical(t1) != canonical(t2) {
			t.Fatalf("different tuples share a key:\n%s\n%s", canonical(t1), canonical(t2))
		}
		if !bytes.Equal(key(t1), key(t1)) {
			t.Fatalf("key not deterministic")
		}
	})
}
