package keytest

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/picocache/picocache/runtime/codec"
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
		d := codec.NewDecoder(b)
		v := picocacheDecodeTuple(&d)
		if d.Finish() != nil {
			return
		}
		b2 := picocacheAppendTuple(nil, v)
		d2 := codec.NewDecoder(b2)
		v2 := picocacheDecodeTuple(&d2)
		if err := d2.Finish(); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		// Keys are canonical (maps sorted, one NaN, -0 as +0), so the round
		// trip must keep the key, NaNs included; value bytes need not be
		// stable, since values write maps in iteration order.
		k1, ok1 := picocacheKeyTuple(nil, v, 0)
		k2, ok2 := picocacheKeyTuple(nil, v2, 0)
		if ok1 != ok2 || !bytes.Equal(k1, k2) { // !ok: deeper than MaxDepth
			t.Fatalf("decode(encode(v)) has another key than v:\n%#v\n%#v", v, v2)
		}
		// DeepEqual holds NaN unequal to itself; the key check covers those.
		if !reflect.DeepEqual(normTimes(v), normTimes(v2)) && !hasNaN(v) {
			t.Fatalf("decode(encode(v)) != v:\n%#v\n%#v", v, v2)
		}
	})
}

// hasNaN reports whether a float anywhere in t, dynamic values included,
// is a NaN.
func hasNaN(t Tuple) bool {
	return isNaN(t.F) || isNaN(t.F32) || isNaN(t.Temp) || isNaN(real(t.C)) || isNaN(imag(t.C)) ||
		anyNaN(reflect.ValueOf(t.Any)) || anyNaN(reflect.ValueOf(t.Anys))
}

func isNaN[F float32 | float64 | Celsius](f F) bool { return f != f }

// anyNaN walks a dynamic value for NaN floats.
func anyNaN(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float() != v.Float()
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return real(c) != real(c) || imag(c) != imag(c)
	case reflect.Interface, reflect.Pointer:
		return !v.IsNil() && anyNaN(v.Elem())
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if anyNaN(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if anyNaN(it.Key()) || anyNaN(it.Value()) {
				return true
			}
		}
	}
	return false
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
