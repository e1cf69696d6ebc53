package kv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
	"github.com/picocache/picocache/runtime/storetest"
)

var ctx = context.Background()

// TestConformance runs the suites on an in-process map: a unit test of
// the adapter's own logic (keys, envelopes, generations, the LRU of the
// process). runtime/memcache runs them on a real server.
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name   string
		client func(*mapClient) kv.Client
	}{
		{"Incrementer", func(m *mapClient) kv.Client { return m }},
		{"Plain", func(m *mapClient) kv.Client { return plainClient{m} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMapClient()
			m.maxItem = 1 << 20 // memcached's default item size
			open := func(t *testing.T) runtime.Store {
				return kv.New(c.client(m), kv.WithMaxValueLen(m.maxItem), kv.WithRefresh(200*time.Millisecond))
			}
			t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
			t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
			t.Run("Shared", func(t *testing.T) { storetest.RunShared(t, open) })
		})
	}
}

// TestConformanceUnlimited runs the byte suite with no item size limit.
func TestConformanceUnlimited(t *testing.T) {
	m := newMapClient()
	storetest.Run(t, func(t *testing.T) runtime.Store { return kv.New(m) })
}

func spaceOf(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q): %v", fn, err)
	}
	return sp
}

var unbounded = runtime.Limits{MaxSize: runtime.Unbounded}

func mustSet(t testing.TB, sp runtime.Space, k, v string) {
	t.Helper()
	if err := sp.Set(ctx, []byte(k), []byte(v)); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func get(t testing.TB, sp runtime.Space, k string) string {
	t.Helper()
	v, ok, err := sp.Get(ctx, []byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	if !ok {
		return "<absent>"
	}
	return string(v)
}

func wantLen(t testing.TB, sp runtime.Space, want int64) {
	t.Helper()
	if n, err := sp.Len(ctx); err != nil || n != want {
		t.Errorf("Len = %d, %v; want %d", n, err, want)
	}
}

// TestKeyLayout: every key fits the max key length and the memcached key
// rules, whatever the namespace and key bytes; long keys and namespaces
// work; the prefix begins every key.
func TestKeyLayout(t *testing.T) {
	m := newMapClient()
	s := kv.New(m, kv.WithPrefix("app1:"), kv.WithMaxKeyLen(40))
	defer s.Close()
	fn := "pkg.F@v1 \x00\n{}" + strings.Repeat("é", 300)
	sp := spaceOf(t, s, fn, unbounded)
	long := strings.Repeat("k\x00 ", 400)
	mustSet(t, sp, long, "long")
	mustSet(t, sp, "", "empty")
	if got := get(t, sp, long); got != "long" {
		t.Errorf("Get(1200-byte key) = %q", got)
	}
	if got := get(t, sp, long[:len(long)-1]); got != "<absent>" {
		t.Errorf("Get(a prefix of the long key) = %q, want absent", got)
	}
	for _, k := range m.keys() {
		if len(k) > 40 || !strings.HasPrefix(k, "app1:") || checkKey(k) != nil {
			t.Errorf("cache key %q: want at most 40 bytes, the prefix, no spaces", k)
		}
	}
	if n := m.len(); n != 3 { // two entries and the generation
		t.Errorf("the cache holds %d keys, want 3: %q", n, m.keys())
	}
}

// TestHashCollision cuts the hash of entry keys to one character, so that
// many keys share a cache key: the full key in the stored value makes
// each of them read its own value or a miss, never another's.
func TestHashCollision(t *testing.T) {
	m := newMapClient()
	s := kv.New(m)
	kv.SetHashLen(s, 1)
	defer s.Close()
	sp := spaceOf(t, s, "pkg.F@v1", unbounded)
	const n = 300 // over 64 cache keys
	for i := range n {
		mustSet(t, sp, fmt.Sprint(i), fmt.Sprint("value ", i))
	}
	hits := 0
	for i := range n {
		switch got := get(t, sp, fmt.Sprint(i)); got {
		case "<absent>":
		case fmt.Sprint("value ", i):
			hits++
		default:
			t.Fatalf("Get(%d) = %q: another key's value", i, got)
		}
	}
	if hits == 0 || hits > 64 {
		t.Errorf("%d keys of %d read their value back; want 1 to 64 (one per cache key)", hits, n)
	}
	// Two keys with one cache key: the second Set replaces the first,
	// which then misses.
	sp2 := spaceOf(t, s, "pkg.G@v1", runtime.Limits{MaxSize: 100})
	mustSet(t, sp2, "a", "A")
	b := ""
	for i := 0; i < 1000 && b == ""; i++ {
		mustSet(t, sp2, fmt.Sprint("b", i), "B")
		if get(t, sp2, "a") == "<absent>" {
			b = fmt.Sprint("b", i)
		}
	}
	if b == "" {
		t.Fatal("no key took the cache key of \"a\"")
	}
	if got := get(t, sp2, b); got != "B" {
		t.Errorf("Get(%q) = %q, want B", b, got)
	}
}

// TestClearSeenByOtherStore: a Clear in one store is seen at once by that
// store and within the refresh interval by another (process) on the same
// cache, its reads and its count alike.
func TestClearSeenByOtherStore(t *testing.T) {
	for _, c := range []struct {
		name   string
		client func(*mapClient) kv.Client
	}{
		{"Incrementer", func(m *mapClient) kv.Client { return m }},
		{"Plain", func(m *mapClient) kv.Client { return plainClient{m} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMapClient()
			const refresh = 300 * time.Millisecond
			s1 := kv.New(c.client(m), kv.WithRefresh(refresh))
			s2 := kv.New(c.client(m), kv.WithRefresh(refresh))
			defer s1.Close()
			defer s2.Close()
			lim := runtime.Limits{MaxSize: 10}
			sp1, sp2 := spaceOf(t, s1, "pkg.F@v1", lim), spaceOf(t, s2, "pkg.F@v1", lim)
			mustSet(t, sp1, "k", "v")
			if got := get(t, sp2, "k"); got != "v" {
				t.Fatalf("the other store reads %q, want v", got)
			}
			wantLen(t, sp2, 1)
			if err := sp1.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			cleared := time.Now()
			if got := get(t, sp1, "k"); got != "<absent>" {
				t.Errorf("the clearing store reads %q after its Clear", got)
			}
			wantLen(t, sp1, 0)
			for get(t, sp2, "k") != "<absent>" {
				if time.Since(cleared) > refresh+time.Second {
					t.Fatalf("the other store still reads the entry %v after the Clear (refresh %v)", time.Since(cleared), refresh)
				}
				time.Sleep(10 * time.Millisecond)
			}
			seen := time.Since(cleared)
			if seen > refresh+300*time.Millisecond {
				t.Errorf("the other store saw the Clear after %v, want within %v", seen, refresh)
			}
			wantLen(t, sp2, 0)
			// Both go on caching in the new generation.
			mustSet(t, sp2, "k", "v2")
			if got := get(t, sp1, "k"); got != "v2" {
				t.Errorf("after the Clear the clearing store reads %q, want v2", got)
			}
			t.Logf("seen by the other store %v after the Clear", seen)
		})
	}
}

// TestIdleStoreSeesClear: a store that was idle past the refresh interval
// reads the generation before its next call, so that it never serves an
// entry cleared long ago.
func TestIdleStoreSeesClear(t *testing.T) {
	m := newMapClient()
	s1, s2 := kv.New(m, kv.WithRefresh(100*time.Millisecond)), kv.New(m, kv.WithRefresh(100*time.Millisecond))
	defer s1.Close()
	defer s2.Close()
	sp1, sp2 := spaceOf(t, s1, "pkg.F@v1", unbounded), spaceOf(t, s2, "pkg.F@v1", unbounded)
	mustSet(t, sp1, "k", "v")
	if get(t, sp2, "k") != "v" {
		t.Fatal("not shared")
	}
	if err := sp1.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if got := get(t, sp2, "k"); got != "<absent>" {
		t.Errorf("after a Clear and an idle refresh interval: Get = %q, want absent", got)
	}
}

// TestLostGeneration: when the cache drops a function's generation key,
// the entries written before are not read again (a new random generation
// starts), as after a Clear.
func TestLostGeneration(t *testing.T) {
	m := newMapClient()
	s1 := kv.New(m)
	sp1 := spaceOf(t, s1, "pkg.F@v1", unbounded)
	mustSet(t, sp1, "k", "v")
	s1.Close()
	for _, k := range m.keys() {
		if strings.HasPrefix(k, kv.DefaultPrefix+"g") {
			m.Delete(ctx, k)
		}
	}
	s2 := kv.New(m)
	defer s2.Close()
	sp2 := spaceOf(t, s2, "pkg.F@v1", unbounded)
	if got := get(t, sp2, "k"); got != "<absent>" {
		t.Errorf("after the generation key was lost: Get = %q, want absent", got)
	}
	mustSet(t, sp2, "k", "v2")
	if got := get(t, sp2, "k"); got != "v2" {
		t.Errorf("Get = %q, want v2", got)
	}
}

// TestForeignValues: values that are not this package's envelopes, or of
// another namespace, are misses.
func TestForeignValues(t *testing.T) {
	m := newMapClient()
	s := kv.New(m)
	defer s.Close()
	sp := spaceOf(t, s, "pkg.F@v1", unbounded)
	mustSet(t, sp, "k", "v")
	var entry string
	for _, k := range m.keys() {
		if strings.HasPrefix(k, kv.DefaultPrefix+"e") {
			entry = k
		}
	}
	orig, _, _ := m.Get(ctx, entry)
	for name, v := range map[string][]byte{
		"empty":     {},
		"garbage":   []byte("hello"),
		"truncated": orig[:len(orig)-3],
		"short":     orig[:10],
	} {
		m.Set(ctx, entry, v, 0)
		if got := get(t, sp, "k"); got != "<absent>" && name != "truncated" {
			t.Errorf("%s value: Get = %q, want absent", name, got)
		}
	}
	// truncated cuts the value only: it reads as the shorter value,
	// which the runtime's own header then rejects. The envelope guards
	// against other keys, not damage.
}

// TestOversize: a value over the limit is not stored, the earlier value
// of its key is gone, the Set returns nil, it is counted, and logged once;
// a memoized call returns its result all the same and counts no failure.
func TestOversize(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []kv.Option
		max  int // the map's own limit
	}{
		{"StoreLimit", []kv.Option{kv.WithMaxValueLen(1000)}, 0},
		{"ClientErrTooLarge", nil, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := testenv.CaptureLogs(t)
			m := newMapClient()
			m.maxItem = c.max
			s := kv.New(m, c.opts...)
			defer s.Close()
			fn := "pkg.Big@v1"
			sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10})
			mustSet(t, sp, "k", "small")
			big := strings.Repeat("x", 1000)
			for range 3 {
				if err := sp.Set(ctx, []byte("k"), []byte(big)); err != nil {
					t.Fatalf("Set of an oversize value: %v, want nil", err)
				}
			}
			if got := get(t, sp, "k"); got != "<absent>" {
				t.Errorf("Get after an oversize Set = %.10q, want absent", got)
			}
			wantLen(t, sp, 0)
			if n := s.Stats().Oversize; n != 3 {
				t.Errorf("Stats().Oversize = %d, want 3", n)
			}
			if n := strings.Count(logs.String(), "msg="); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logs)
			}
			if !strings.Contains(logs.String(), fn) {
				t.Errorf("the log does not name the function: %s", logs)
			}

			// Through a memoized function.
			f := runtime.New(runtime.Config{Name: "pkg.Huge", Version: "1", MaxSize: runtime.Unbounded}, runtime.Codec[string]{
				Type:   "string",
				Append: func(dst []byte, v string) []byte { return append(dst, v...) },
				Decode: func(src []byte) (string, error) { return string(src), nil },
			})
			f.Bind(s)
			var runs atomic.Int64
			for range 2 {
				v, err := f.Do(ctx, []byte("x"), func(context.Context) (string, error) { runs.Add(1); return big, nil })
				if err != nil || v != big {
					t.Fatalf("call = %.10q, %v; want the big result", v, err)
				}
			}
			info, _ := f.Info(ctx)
			if runs.Load() != 2 || info.StoreErrors != 0 || info.CurrSize != 0 {
				t.Errorf("runs %d, %+v; want 2 runs (not stored), no store errors, currsize 0", runs.Load(), info)
			}
			if n := strings.Count(logs.String(), "msg="); n != 2 {
				t.Errorf("logged %d times for two functions, want 2", n)
			}
		})
	}
}

// TestPromises: what the Store declares to the suite and its users.
func TestPromises(t *testing.T) {
	s := kv.New(newMapClient(), kv.WithRefresh(3*time.Second), kv.WithMaxValueLen(5000))
	p := s.Promises()
	want := runtime.Promises{LenInProcess: true, LRUInProcess: true, ClearDelay: 3 * time.Second, MaxEntry: 5000 - kv.EnvelopeOverhead}
	if p != want {
		t.Errorf("Promises() = %+v, want %+v", p, want)
	}
	if p := kv.New(newMapClient()).Promises(); p.MaxEntry != 0 || p.ClearDelay != kv.DefaultRefresh {
		t.Errorf("default Promises() = %+v", p)
	}
	// MaxEntry is exact: an entry of that size is stored, one byte more
	// is not.
	m := newMapClient()
	m.maxItem = 5000
	s = kv.New(m, kv.WithMaxValueLen(5000))
	fn, key := "pkg.F@v1", "key"
	sp := spaceOf(t, s, fn, unbounded)
	room := s.Promises().MaxEntry - len(fn) - len(key)
	mustSet(t, sp, key, strings.Repeat("v", room))
	if got := get(t, sp, key); len(got) != room {
		t.Errorf("an entry of MaxEntry bytes: Get = %d bytes, want %d", len(got), room)
	}
	mustSet(t, sp, key, strings.Repeat("v", room+1))
	if got := get(t, sp, key); got != "<absent>" {
		t.Errorf("an entry of MaxEntry+1 bytes was stored")
	}
}

func TestNewPanics(t *testing.T) {
	for name, opts := range map[string][]kv.Option{
		"prefix too long": {kv.WithPrefix(strings.Repeat("p", 230))},
		"key too short":   {kv.WithMaxKeyLen(20)},
		"space in prefix": {kv.WithPrefix("my app:")},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			kv.New(newMapClient(), opts...)
		})
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("New(nil) did not panic")
			}
		}()
		kv.New(nil)
	}()
}

// TestClosed: every call after Close fails with ErrClosed, wrapped in
// the store's name.
func TestClosed(t *testing.T) {
	s := kv.New(newMapClient(), kv.WithName("mycache"))
	sp := spaceOf(t, s, "pkg.F@v1", unbounded)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := sp.Get(ctx, []byte("k"))
	if !errors.Is(err, kv.ErrClosed) || !errors.Is(err, runtime.ErrClosed) || !strings.HasPrefix(err.Error(), "mycache: ") {
		t.Errorf("Get after Close: %v; want one wrapping kv.ErrClosed, named mycache", err)
	}
	if _, err := s.Space(ctx, runtime.Namespace{Name: "x"}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Space after Close: %v", err)
	}
}

// TestBoundedWaits: a cache that never answers costs each call at most
// the store's bound, and a memoized call its result computed; other
// stores are not delayed.
func TestBoundedWaits(t *testing.T) {
	testenv.CaptureLogs(t)
	s := kv.New(silentClient{}, kv.WithTimeout(300*time.Millisecond))
	defer s.Close()
	if s.Bound() != 300*time.Millisecond {
		t.Fatalf("Bound() = %v", s.Bound())
	}
	sp := spaceOf(t, s, "pkg.F@v1", runtime.Limits{MaxSize: 10})
	for name, op := range map[string]func() error{
		"Get":   func() error { _, _, err := sp.Get(ctx, []byte("k")); return err },
		"Set":   func() error { return sp.Set(ctx, []byte("k"), []byte("v")) },
		"Clear": func() error { return sp.Clear(ctx) },
		"Len":   func() error { _, err := sp.Len(ctx); return err },
	} {
		start := time.Now()
		err := op()
		if d := time.Since(start); d > s.Bound()+faulttest.Slack {
			t.Errorf("%s took %v, bound %v", name, d, s.Bound())
		}
		if err == nil || !strings.Contains(err.Error(), "no answer in time") {
			t.Errorf("%s: err = %v, want one saying it timed out", name, err)
		}
	}
	f, runs := faulttest.NewFunc(t)
	f.Bind(s)
	faulttest.CallsWithin(t, f, runs, s.Bound(), 0, 2)
}

// TestTTLEnvelope: sub-second TTLs are exact, whatever the cache's own
// granularity: the client is given the TTL plus a second, the expiry
// in the envelope decides.
func TestTTLEnvelope(t *testing.T) {
	m := newMapClient()
	s := kv.New(m)
	defer s.Close()
	sp := spaceOf(t, s, "pkg.F@v1", runtime.Limits{MaxSize: runtime.Unbounded, TTL: 100 * time.Millisecond})
	mustSet(t, sp, "k", "v")
	time.Sleep(150 * time.Millisecond)
	if got := get(t, sp, "k"); got != "<absent>" {
		t.Errorf("Get after the TTL = %q", got)
	}
	if m.len() != 2 { // the client keeps it a second longer
		t.Errorf("the cache holds %d items, want the entry and the generation", m.len())
	}
}

// TestTrackLimit: an unbounded function counts at most the track limit
// of keys in the process, and keeps every entry in the cache.
func TestTrackLimit(t *testing.T) {
	m := newMapClient()
	s := kv.New(m, kv.WithTrackLimit(5))
	defer s.Close()
	sp := spaceOf(t, s, "pkg.F@v1", unbounded)
	for i := range 8 {
		mustSet(t, sp, fmt.Sprint(i), "v")
	}
	wantLen(t, sp, 5)
	for i := range 8 {
		if get(t, sp, fmt.Sprint(i)) != "v" {
			t.Errorf("entry %d gone from the cache", i)
		}
	}
}

// TestHitCallsOnce: a hit, within the refresh interval, is one Get of
// the client.
func TestHitCallsOnce(t *testing.T) {
	m := newMapClient()
	s := kv.New(m, kv.WithRefresh(time.Hour))
	defer s.Close()
	sp := spaceOf(t, s, "pkg.F@v1", runtime.Limits{MaxSize: 10})
	mustSet(t, sp, "k", "v")
	m.mu.Lock()
	before := m.calls
	m.mu.Unlock()
	for range 10 {
		get(t, sp, "k")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.calls - before; n != 10 {
		t.Errorf("10 hits made %d client calls, want 10", n)
	}
}

// TestEnvelopeKeyBytes checks that keys that differ only in where the
// namespace ends and the key begins stay apart.
func TestEnvelopeKeyBytes(t *testing.T) {
	m := newMapClient()
	s := kv.New(m)
	defer s.Close()
	a := spaceOf(t, s, "ab", unbounded)
	b := spaceOf(t, s, "a", unbounded)
	mustSet(t, a, "c", "from ab")
	mustSet(t, b, "bc", "from a")
	if get(t, a, "c") != "from ab" || get(t, b, "bc") != "from a" || get(t, b, "c") != "<absent>" {
		t.Error("namespace and key boundaries are confused")
	}
}
