package keytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/codec"
)

// gen builds random tuples from a small domain, so that near-collisions
// (same values in neighbouring fields, empty versus nil, reordered maps)
// are frequent.
type gen struct{ r *rand.Rand }

func (g gen) n(k int) int { return g.r.IntN(k) }

func (g gen) str() string {
	return []string{"", "a", "b", "ab", "\x00", "a\x00", "ba", "\x01a"}[g.n(8)]
}

func (g gen) strs() []string {
	switch g.n(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	s := make([]string, g.n(3)+1)
	for i := range s {
		s[i] = g.str()
	}
	return s
}

func (g gen) float() float64 {
	return []float64{0, 1, -1, 0.5, 3, math.Inf(1), 1e300, -2.5}[g.n(8)]
}

func (g gen) anyv(depth int) any {
	switch g.n(9) {
	case 0:
		return nil
	case 1:
		return g.n(4)
	case 2:
		return int64(g.n(4))
	case 3:
		return float64(g.n(4)) / 2
	case 4:
		return g.str()
	case 5:
		return []byte(g.str())
	case 6:
		return g.n(2) == 0
	case 7:
		if depth > 1 {
			return nil
		}
		return []any{g.anyv(depth + 1), g.anyv(depth + 1)}
	default:
		return uint8(g.n(4))
	}
}

func (g gen) node(depth int) *Node {
	if depth > 2 || g.n(3) == 0 {
		return nil
	}
	n := &Node{Val: uint8(g.n(3)), Next: g.node(depth + 1)}
	if g.n(2) == 0 {
		n.Kids = []Node{{Val: uint8(g.n(2))}}
	}
	return n
}

func (g gen) tuple() Tuple {
	t := Tuple{
		B:    g.n(2) == 0,
		I:    g.n(3) - 1,
		I8:   int8(g.n(3) - 1),
		U32:  uint32(g.n(3)),
		F:    g.float(),
		F32:  float32(g.float()),
		C:    complex(g.float(), g.float()),
		S:    g.str(),
		Temp: Celsius(g.float()),
		Arr:  [2]int8{int8(g.n(2)), int8(g.n(2))},
		Sl:   g.strs(),
		Pt:   Point{int16(g.n(2)), int16(g.n(2)), g.str()},
		At:   time.Date(2024, 1, 1, 0, 0, g.n(2), g.n(2), time.FixedZone("", 3600*g.n(2))),
		Any:  g.anyv(0),
		Tree: g.node(0),
		Ver:  Version{uint8(g.n(2)), uint8(g.n(2))},
	}
	if g.n(3) > 0 {
		t.Bytes = []byte(g.str())
	}
	if g.n(3) > 0 {
		t.M = map[string]int{}
		for i := g.n(4); i > 0; i-- {
			t.M[g.str()] = g.n(3)
		}
	}
	if g.n(2) > 0 {
		t.MM = map[int8][]string{int8(g.n(3)): g.strs(), int8(g.n(3)): g.strs()}
	}
	if g.n(2) > 0 {
		t.P = &Point{int16(g.n(2)), int16(g.n(2)), g.str()}
	}
	if g.n(2) > 0 {
		t.Anys = []any{g.anyv(0), g.anyv(0)}
	}
	return t
}

// canonical describes a tuple so that two tuples get the same description
// exactly when the key encoding promises them the same key: JSON sorts
// maps, follows pointers, tells nil from empty slices and maps, writes 3,
// int64(3) and 3.0 alike (typed=false), and writes times with their
// offset. Unexported fields and types JSON cannot tell apart are added.
func canonical(t Tuple) string {
	type extra struct {
		Tuple
		PtLabel  string
		PLabel   *string
		C        [2]string
		F, F32   string
		Temp     string
		Bytes    *string
		AnyKind  string
		AnysKind []string
		Ver      Version
	}
	x := extra{Tuple: t, PtLabel: t.Pt.label, C: [2]string{fmt.Sprint(real(t.C)), fmt.Sprint(imag(t.C))}}
	x.Tuple.C = 0
	f := func(v float64) string { return fmt.Sprint(v) }
	x.F, x.F32, x.Temp = f(t.F), f(float64(t.F32)), f(float64(t.Temp))
	x.Tuple.F, x.Tuple.F32, x.Tuple.Temp = 0, 0, 0
	if t.P != nil {
		x.PLabel = &t.P.label
	}
	if t.Bytes != nil {
		s := string(t.Bytes)
		x.Bytes = &s
	}
	x.Tuple.Bytes = nil
	kind := func(v any) string {
		switch v.(type) {
		case []byte:
			return "bytes"
		case string:
			return "string"
		case bool:
			return "bool"
		case nil:
			return "nil"
		case []any:
			return "list"
		}
		return "number"
	}
	x.AnyKind = kind(t.Any)
	for _, a := range t.Anys {
		x.AnysKind = append(x.AnysKind, kind(a))
		if l, ok := a.([]any); ok {
			for _, e := range l {
				x.AnysKind = append(x.AnysKind, kind(e))
			}
		}
	}
	if l, ok := t.Any.([]any); ok {
		for _, e := range l {
			x.AnysKind = append(x.AnysKind, "in:"+kind(e))
		}
	}
	x.Ver = t.Ver
	b, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sparse is a tuple with most fields left zero, so that many tuples are
// equal or differ in one field only: the cases where a sloppy encoding
// collides (a string's end against the next field, nil against empty).
func (g gen) sparse() Tuple {
	full := g.tuple()
	var t Tuple
	src, dst := reflect.ValueOf(full), reflect.ValueOf(&t).Elem()
	for i := 0; i < src.NumField(); i++ {
		if g.n(5) == 0 && dst.Field(i).CanSet() {
			dst.Field(i).Set(src.Field(i))
		}
	}
	t.Pt.label = full.Pt.label
	if g.n(2) == 0 {
		t.Pt.label = ""
	}
	return t
}

func key(t Tuple) []byte {
	k, ok := picocacheKeyTuple(nil, t, 0)
	if !ok {
		panic("tuple not encodable")
	}
	return k
}

// TestKeyInjective writes 10^6 random tuples (10^5 with -short or -race,
// which make it slow without checking anything more) and checks that
// tuples with the same key are the same tuple.
func TestKeyInjective(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	g := gen{rand.New(rand.NewPCG(1, 2))}
	seen := make(map[[16]byte][16]byte, n/4)
	distinct := 0
	for i := 0; i < n; i++ {
		tu := g.tuple()
		if i%2 == 0 {
			tu = g.sparse()
		}
		kh := sha256.Sum256(key(tu))
		ch := sha256.Sum256([]byte(canonical(tu)))
		var k16, c16 [16]byte
		copy(k16[:], kh[:])
		copy(c16[:], ch[:])
		if prev, ok := seen[k16]; ok {
			if prev != c16 {
				t.Fatalf("two different tuples share a key; the second is %s", canonical(tu))
			}
			continue
		}
		seen[k16] = c16
		distinct++
	}
	t.Logf("%d tuples, %d distinct keys", n, distinct)
}

// TestKeyEqualities checks the promised equalities: map order, -0 and +0,
// NaNs, a time's location name, typed=false numbers.
func TestKeyEqualities(t *testing.T) {
	a := Tuple{M: map[string]int{}, F: 0, At: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := a
	b.F = math.Copysign(0, -1)
	b.M = map[string]int{}
	for i := 0; i < 100; i++ {
		a.M[fmt.Sprint(i)] = i
	}
	for i := 99; i >= 0; i-- {
		b.M[fmt.Sprint(i)] = i
	}
	b.At = a.At.In(time.FixedZone("Z", 0))
	if !bytes.Equal(key(a), key(b)) {
		t.Errorf("equal tuples have different keys")
	}
	a.F, b.F = math.NaN(), -math.NaN()
	if !bytes.Equal(key(a), key(b)) {
		t.Errorf("NaNs have different keys")
	}
	for _, p := range [][2]any{{3, int64(3)}, {3, 3.0}, {uint8(3), complex(3, 0)}, {[]any{1}, []int{1}}} {
		ka, _ := codec.AppendAny(nil, p[0], false)
		kb, _ := codec.AppendAny(nil, p[1], false)
		if !bytes.Equal(ka, kb) {
			t.Errorf("typed=false: %#v and %#v have different keys", p[0], p[1])
		}
		ka, _ = codec.AppendAny(nil, p[0], true)
		kb, _ = codec.AppendAny(nil, p[1], true)
		if bytes.Equal(ka, kb) {
			t.Errorf("typed=true: %#v and %#v share a key", p[0], p[1])
		}
	}
	for _, p := range [][2]any{{1, true}, {"a", []byte("a")}, {3, 3.5}, {nil, 0}, {[]any(nil), []any{}}} {
		ka, _ := codec.AppendAny(nil, p[0], false)
		kb, _ := codec.AppendAny(nil, p[1], false)
		if bytes.Equal(ka, kb) {
			t.Errorf("typed=false: %#v and %#v share a key", p[0], p[1])
		}
	}
	if _, ok := codec.AppendAny(nil, make(chan int), false); ok {
		t.Errorf("a channel in an interface was encoded")
	}
}

// TestTypedWrappers calls the generated wrappers: F(3), F(int64(3)),
// F(3.0) is one miss and two hits with typed=false, three misses typed.
func TestTypedWrappers(t *testing.T) {
	mem := runtime.NewMemory()
	defer mem.Close()
	LooseCache.Bind(mem)
	StrictCache.Bind(mem)
	defer LooseCache.Bind(nil)
	defer StrictCache.Bind(nil)
	for _, v := range []any{3, int64(3), 3.0} {
		LooseCached(v)
		StrictCached(v)
	}
	ctx := context.Background()
	li, _ := LooseCache.Info(ctx)
	si, _ := StrictCache.Info(ctx)
	if li.Misses != 1 || li.Hits != 2 {
		t.Errorf("typed=false: %+v, want 1 miss, 2 hits", li)
	}
	if si.Misses != 3 || si.Hits != 0 {
		t.Errorf("typed: %+v, want 3 misses", si)
	}
	// A value no key can hold: the call runs uncached, correctly.
	if got := LooseCached(func() {}); got != "" {
		t.Errorf("uncached call returned %q", got)
	}
}

// keysDigest hashes the keys of n seeded tuples.
func keysDigest(n int) string {
	g := gen{rand.New(rand.NewPCG(7, 8))}
	h := sha256.New()
	for i := 0; i < n; i++ {
		k := key(g.tuple())
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(k)))
		h.Write(l[:])
		h.Write(k)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestKeyDeterminismAcrossProcesses compares the keys of the same tuples
// computed in this process and in a child process (another map seed, other
// addresses), and with a digest pinned in the source: the bytes must not
// depend on the process, the machine or the Go version.
func TestKeyDeterminismAcrossProcesses(t *testing.T) {
	const n = 20000
	if os.Getenv("KEYTEST_CHILD") == "1" {
		fmt.Print("digest=" + keysDigest(n))
		return
	}
	here := keysDigest(n)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestKeyDeterminismAcrossProcesses$")
	cmd.Env = append(os.Environ(), "KEYTEST_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("digest="+here)) {
		t.Errorf("child process computed other keys: %s, here %s", out, here)
	}
	t.Logf("digest %s", here)
}

// TestKeyKnownAnswer pins the key bytes of one tuple: they must not change
// across Go versions or machines. A deliberate change of the encoding must
// change analyze.CodecFormat too, so old entries are not misread.
func TestKeyKnownAnswer(t *testing.T) {
	tu := Tuple{
		B: true, I: -2, I8: 3, U32: 4, F: 0.5, F32: -1, C: complex(1, math.Copysign(0, -1)), S: "s", Bytes: []byte{},
		Temp: 36.6, Arr: [2]int8{-1, 1}, Sl: []string{"a", ""}, M: map[string]int{"y": 2, "x": 1},
		MM: map[int8][]string{1: nil}, P: &Point{1, 2, "p"}, Pt: Point{label: "q"},
		At: time.Date(2024, 2, 3, 4, 5, 6, 7, time.FixedZone("CET", 3600)), Any: 3.0, Anys: []any{"a", nil},
		Tree: &Node{Val: 1, Kids: []Node{{Val: 2}}}, Ver: Version{1, 2},
	}
	const want = "01fffffffffffffffe03000000043fe0000000000000bf8000003ff0000000000000000000000000000001730140424ccccccccccdff0103016100030178000000000000000101790000000000000002020100010001000201700000000001710000000065bdad620000000700000e1002010000000000000003030501610001010002020000000000020102"
	if got := hex.EncodeToString(key(tu)); got != want {
		t.Errorf("key bytes changed:\n got %s\nwant %s", got, want)
	}
}

// TestValueRoundTrip encodes and decodes random tuples with the generated
// value codec.
func TestValueRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i := 0; i < 20000; i++ {
		tu := g.tuple()
		tu.F = 1 // NaN-free already; keep exact bits
		b := picocacheAppendTuple(nil, tu)
		dec := codec.NewDecoder(b)
		got := picocacheDecodeTuple(&dec)
		if err := dec.Finish(); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(normTimes(got), normTimes(tu)) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, tu)
		}
		// Truncations never decode.
		for cut := 0; cut < len(b); cut += 1 + len(b)/7 {
			d := codec.NewDecoder(b[:cut])
			picocacheDecodeTuple(&d)
			if d.Finish() == nil {
				t.Fatalf("a value cut at %d of %d bytes decoded", cut, len(b))
			}
		}
		if d := codec.NewDecoder(append(b, 0)); func() error { picocacheDecodeTuple(&d); return d.Finish() }() == nil {
			t.Fatalf("trailing bytes accepted")
		}
	}
}

// normTimes makes times comparable with DeepEqual: decoded times carry an
// equal location, not the same pointer.
func normTimes(t Tuple) Tuple {
	_, off := t.At.Zone()
	t.At = t.At.In(time.FixedZone("", off))
	return t
}
