package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime/codec"
)

// TestKeyBytes pins the encodings: they must never depend on the machine
// or the Go version.
func TestKeyBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"bool", codec.AppendBool(nil, true), "01"},
		{"uint16", codec.AppendUint16(nil, 0x0102), "0102"},
		{"int64 -1", codec.AppendUint64(nil, math.MaxUint64), "ffffffffffffffff"},
		{"float -0", codec.AppendFloat64Key(nil, math.Copysign(0, -1)), "0000000000000000"},
		{"float NaN", codec.AppendFloat64Key(nil, math.NaN()), "7ff8000000000001"},
		{"float -NaN", codec.AppendFloat64Key(nil, -math.NaN()), "7ff8000000000001"},
		{"float32 -0", codec.AppendFloat32Key(nil, float32(math.Copysign(0, -1))), "00000000"},
		{"float32 NaN", codec.AppendFloat32Key(nil, float32(math.NaN())), "7fc00001"},
		{"value float -0 keeps its bits", codec.AppendFloat64(nil, math.Copysign(0, -1)), "8000000000000000"},
		{"string", codec.AppendString(nil, "ab"), "026162"},
		{"nil bytes", codec.AppendBytes(nil, nil), "00"},
		{"empty bytes", codec.AppendBytes(nil, []byte{}), "01"},
		{"bytes", codec.AppendBytes(nil, []byte{9}), "0209"},
		{"len 200", codec.AppendLen(nil, 200, false), "c901"},
		{"time", codec.AppendTimeKey(nil, time.Date(1970, 1, 1, 0, 0, 1, 2, time.FixedZone("X", -3600))), "0000000000000e11" + "00000002" + "fffff1f0"},
	} {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTimeKeyEquality(t *testing.T) {
	base := time.Date(2024, 3, 4, 5, 6, 7, 8, time.UTC)
	same := []time.Time{base.In(time.FixedZone("GMT", 0)), base.Round(0), time.Unix(base.Unix(), 8).UTC()}
	for _, s := range same {
		if !bytes.Equal(codec.AppendTimeKey(nil, base), codec.AppendTimeKey(nil, s)) {
			t.Errorf("%v and %v have different keys", base, s)
		}
	}
	if bytes.Equal(codec.AppendTimeKey(nil, base), codec.AppendTimeKey(nil, base.In(time.FixedZone("", 3600)))) {
		t.Errorf("the same instant in another offset shares a key")
	}
}

func TestSortEntries(t *testing.T) {
	entries := [][]byte{{3, 'c'}, {1, 'a', 'a'}, {2}, {1, 'a'}, {0}}
	var ref []byte
	perm := [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}}
	for _, p := range perm {
		dst := []byte{0xee}
		var spans []int
		for _, i := range p {
			s := len(dst)
			dst = append(dst, entries[i]...)
			spans = append(spans, s, len(dst))
		}
		got := codec.SortEntries(dst, spans)
		if ref == nil {
			ref = got
			if want := "ee" + "00" + "0161" + "016161" + "02" + "0363"; hex.EncodeToString(got) != want {
				t.Fatalf("sorted: %x, want %s", got, want)
			}
		} else if !bytes.Equal(got, ref) {
			t.Errorf("order %v: %x, want %x", p, got, ref)
		}
	}
	// Many entries take the heapsort path.
	var a, b []byte
	var sa, sb []int
	for i := 0; i < 100; i++ {
		s := len(a)
		a = codec.AppendUint16(a, uint16(i*7919%100))
		sa = append(sa, s, len(a))
		s = len(b)
		b = codec.AppendUint16(b, uint16((99-i)*7919%100))
		sb = append(sb, s, len(b))
	}
	a, b = codec.SortEntries(a, sa), codec.SortEntries(b, sb)
	if !bytes.Equal(a, b) {
		t.Errorf("heapsort depends on order")
	}
	for i := 0; i+3 < len(a); i += 2 {
		if bytes.Compare(a[i:i+2], a[i+2:i+4]) > 0 {
			t.Fatalf("not sorted at %d: %x", i, a)
		}
	}
}

func TestDecoderRoundTrip(t *testing.T) {
	at := time.Date(2024, 3, 4, 5, 6, 7, 8, time.FixedZone("", 5400))
	var b []byte
	b = codec.AppendBool(b, true)
	b = codec.AppendUint8(b, 0xfe)
	b = codec.AppendUint16(b, 0xfffe)
	b = codec.AppendUint32(b, 1<<31)
	neg := int64(-5)
	b = codec.AppendUint64(b, uint64(neg))
	b = codec.AppendFloat32(b, -1.5)
	b = codec.AppendFloat64(b, math.Copysign(0, -1))
	b = codec.AppendString(b, "héllo")
	b = codec.AppendBytes(b, nil)
	b = codec.AppendBytes(b, []byte{})
	b = codec.AppendBytes(b, []byte{1, 2})
	b = codec.AppendTime(b, at)
	b = codec.AppendAnyValue(b, []any{1, "x", map[string]any{"k": 2.5}, nil, []byte(nil), int8(-1)})
	b = codec.AppendMarshaler(b, at)
	b = codec.AppendUint64(b, 7)

	d := codec.NewDecoder(b)
	if !d.Bool() || d.Uint8() != 0xfe || d.Uint16() != 0xfffe || d.Uint32() != 1<<31 || d.Int() != -5 || d.Float32() != -1.5 {
		t.Fatalf("fixed-width values differ")
	}
	if f := d.Float64(); f != 0 || !math.Signbit(f) {
		t.Errorf("-0 lost its sign: %v", f)
	}
	if s := d.Str(); s != "héllo" {
		t.Errorf("string %q", s)
	}
	if x, y, z := d.Bytes(), d.Bytes(), d.Bytes(); x != nil || y == nil || len(y) != 0 || !bytes.Equal(z, []byte{1, 2}) {
		t.Errorf("bytes %#v %#v %#v", x, y, z)
	}
	if got := d.Time(); !got.Equal(at) || got.Format(time.RFC3339Nano) != at.Format(time.RFC3339Nano) {
		t.Errorf("time %v, want %v", got, at)
	}
	want := []any{1, "x", map[string]any{"k": 2.5}, nil, []byte(nil), int8(-1)}
	if got := d.AnyValue(); !reflect.DeepEqual(got, want) {
		t.Errorf("any %#v, want %#v", got, want)
	}
	var at2 time.Time
	d.Unmarshal(&at2)
	if !at2.Equal(at) {
		t.Errorf("marshaler %v", at2)
	}
	if d.Uint64() != 7 {
		t.Errorf("last value")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	// Every truncation is an error; so are trailing bytes.
	for n := 0; n < len(b); n++ {
		d := codec.NewDecoder(b[:n])
		readAll(&d)
		if d.Finish() == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	d = codec.NewDecoder(append(b[:len(b):len(b)], 0))
	readAll(&d)
	if err := d.Finish(); !errors.Is(err, codec.ErrDecode) {
		t.Errorf("trailing byte: %v", err)
	}
}

func readAll(d *codec.Decoder) {
	d.Bool()
	d.Uint8()
	d.Uint16()
	d.Uint32()
	d.Int()
	d.Float32()
	d.Float64()
	d.Str()
	d.Bytes()
	d.Bytes()
	d.Bytes()
	d.Time()
	d.AnyValue()
	var t time.Time
	d.Unmarshal(&t)
	d.Uint64()
}

func TestUnrestorable(t *testing.T) {
	type custom struct{}
	d := codec.NewDecoder(codec.AppendAnyValue(nil, custom{}))
	d.AnyValue()
	if d.Finish() == nil {
		t.Errorf("an interface value of a custom type decoded")
	}
	d = codec.NewDecoder(codec.AppendMarshaler(nil, failingMarshaler{}))
	var f failingMarshaler
	d.Unmarshal(&f)
	if d.Finish() == nil {
		t.Errorf("a value whose MarshalBinary failed decoded")
	}
	d = codec.NewDecoder(codec.AppendTime(nil, time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 40000*60))))
	d.Time()
	if d.Finish() == nil {
		t.Errorf("a time without a binary form decoded")
	}
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalBinary() ([]byte, error) { return nil, errors.New("no") }
func (*failingMarshaler) UnmarshalBinary([]byte) error  { panic("never called") }

// FuzzDecoder reads arbitrary bytes with a sequence of reads chosen by the
// input itself: the decoder must never panic, and a read after an error
// must return zero values.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, []byte{1, 0, 0x80, 0x80, 0x80})
	f.Add([]byte{9, 10, 11}, codec.AppendAnyValue(nil, []any{1, map[string]any{"a": nil}}))
	f.Add([]byte{5, 6}, codec.AppendTime(nil, time.Unix(1, 2)))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		d := codec.NewDecoder(data)
		for _, op := range ops {
			switch op % 14 {
			case 0:
				d.Bool()
			case 1:
				d.Uint8()
			case 2:
				d.Uint16()
			case 3:
				d.Uint32()
			case 4:
				d.Int()
			case 5:
				d.Time()
			case 6:
				d.Str()
			case 7:
				d.Bytes()
			case 8:
				d.Len(int(op) / 14)
			case 9:
				d.AnyValue()
			case 10:
				var tm time.Time
				d.Unmarshal(&tm)
			case 11:
				d.Span()
			case 12:
				var p [3]byte
				d.Read(p[:])
			case 13:
				d.Uintptr()
			}
		}
		if d.Err() != nil {
			if v := d.Uint64(); v != 0 {
				t.Fatalf("read after an error returned %d", v)
			}
		}
		d.Finish()
	})
}

// FuzzAnyKey checks that AppendAny never panics and that a key read back
// as bytes is deterministic.
func FuzzAnyKey(f *testing.F) {
	f.Add(int64(3), 3.0, "a", true)
	f.Add(int64(-1), math.Inf(-1), "", false)
	f.Fuzz(func(t *testing.T, i int64, x float64, s string, typed bool) {
		v := []any{i, x, s, map[string]any{s: x}, []byte(s), complex(x, 0)}
		a, ok1 := codec.AppendAny(nil, v, typed)
		b, ok2 := codec.AppendAny(nil, v, typed)
		if !ok1 || !ok2 || !bytes.Equal(a, b) {
			t.Fatalf("not deterministic")
		}
		if !typed && x == math.Trunc(x) && x == float64(i) && x >= -(1<<62) && x <= 1<<62 {
			ki, _ := codec.AppendAny(nil, i, false)
			kx, _ := codec.AppendAny(nil, x, false)
			if !bytes.Equal(ki, kx) {
				t.Fatalf("%d and %v: different untyped keys", i, x)
			}
		}
	})
}
