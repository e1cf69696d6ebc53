// Package storetest is the conformance suite for runtime.Store
// implementations, in the manner of testing/fstest: a store passes when
// Run reports no failure.
//
// Every subtest works in fresh namespaces of its own, so the suite can run
// against a shared server that holds other data, and clears what it wrote.
//
// A store that is a runtime.Promiser is held to the weaker promises it
// declares, each in its stated form, never skipped: entries larger than
// MaxEntry are checked to be refused; with LRUInProcess a second process
// is checked to find the first one's entries and to evict only what it
// knows, and processes together to keep at most their number times
// maxsize; with LenInProcess another process's count is not asserted
// before it has read the entries; a Clear must reach other processes
// within ClearDelay. Every other store is held to the full contract.
//
// This package imports runtime only; it must not import a store package.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

var (
	unbounded = runtime.Limits{MaxSize: runtime.Unbounded}
	ctx       = context.Background()
)

// Run checks that the stores returned by open satisfy the runtime.Store
// contract. open is called once per subtest; the suite closes each store
// it opens.
func Run(t *testing.T, open func(t *testing.T) runtime.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s runtime.Store)
	}{
		{"GetAbsent", testGetAbsent},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"NoAliasing", testNoAliasing},
		{"KeysDistinct", testKeysDistinct},
		{"Namespaces", testNamespaces},
		{"Clear", testClear},
		{"LRUEviction", testLRUEviction},
		{"LRUCacheSequence", testLRUCacheSequence},
		{"UnboundedGetDoesNotEvict", testUnboundedNeverEvicts},
		{"MaxSizeZero", testMaxSizeZero},
		{"ShrinkMaxSize", testShrinkMaxSize},
		{"TTL", testTTL},
		{"ConcurrentSetEvict", testConcurrentSetEvict},
		{"ConcurrentNamespaces", testConcurrentNamespaces},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
	t.Run("Close", func(t *testing.T) {
		s := open(t)
		// Not newFn: its cleanup would run on the closed store and leave
		// the entry behind on a shared server.
		fn := fmt.Sprintf("storetest/Close/%d", time.Now().UnixNano())
		sp := space(t, s, fn, bounded(10))
		if err := sp.Set(ctx, []byte("k"), []byte("v")); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if _, _, err := sp.Get(ctx, []byte("k")); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if err := sp.Clear(ctx); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		closed := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, runtime.ErrClosed) {
				t.Errorf("%s after Close: err = %v, want one for which errors.Is(err, runtime.ErrClosed)", op, err)
			}
		}
		_, _, err := sp.Get(ctx, []byte("k"))
		closed("Get", err)
		closed("Set", sp.Set(ctx, []byte("k"), []byte("v")))
		closed("Clear", sp.Clear(ctx))
		_, err = sp.Len(ctx)
		closed("Len", err)
		_, err = s.Space(ctx, runtime.Namespace{Name: fn, Limits: unbounded})
		closed("Space", err)
		if err := s.Close(); err != nil {
			t.Errorf("a second Close: %v", err)
		}
	})
}

// newFn returns a namespace no other test uses, with characters a store
// must not choke on, and clears it when the test ends.
func newFn(t *testing.T, s runtime.Store) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	fn := fmt.Sprintf("storetest/%s {tag}:%s.é\x00", t.Name(), hex.EncodeToString(b[:]))
	t.Cleanup(func() { clearFn(s, fn) })
	return fn
}

// clearFn empties fn in s, for cleanups: errors are ignored, as the store
// may be closed by then.
func clearFn(s runtime.Store, fn string) {
	if sp, err := s.Space(context.Background(), runtime.Namespace{Name: fn, Limits: unbounded}); err == nil {
		sp.Clear(context.Background())
	}
}

func bounded(n int64) runtime.Limits { return runtime.Limits{MaxSize: n} }

// space opens fn's space in s with lim.
func space(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q, %+v): %v", fn, lim, err)
	}
	return sp
}

func mustSet(t *testing.T, s runtime.Store, fn, key, val string, lim runtime.Limits) {
	t.Helper()
	if err := space(t, s, fn, lim).Set(ctx, []byte(key), []byte(val)); err != nil {
		t.Fatalf("Set(%q, %q): %v", key, val, err)
	}
}

// get returns the value of key, or "<absent>".
func get(t *testing.T, s runtime.Store, fn, key string, lim runtime.Limits) string {
	t.Helper()
	v, ok, err := space(t, s, fn, lim).Get(ctx, []byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok {
		if v != nil {
			t.Errorf("Get(%q) = %q, false: want a nil value when absent", key, v)
		}
		return "<absent>"
	}
	return string(v)
}

func wantGet(t *testing.T, s runtime.Store, fn, key string, lim runtime.Limits, want string) {
	t.Helper()
	if got := get(t, s, fn, key, lim); got != want {
		t.Errorf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantLen(t *testing.T, s runtime.Store, fn string, want int64) {
	t.Helper()
	n, err := space(t, s, fn, unbounded).Len(ctx)
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	if n != want {
		t.Errorf("Len = %d, want %d", n, want)
	}
}

func testGetAbsent(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	wantGet(t, s, fn, "missing", unbounded, "<absent>")
	wantGet(t, s, fn, "missing", bounded(3), "<absent>")
	wantLen(t, s, fn, 0)
}

// promises returns the weaker promises s declares, if any.
func promises(s runtime.Store) runtime.Promises {
	if p, ok := s.(runtime.Promiser); ok {
		return p.Promises()
	}
	return runtime.Promises{}
}

func testSetGet(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	// 1 MiB, or as much as fits the store's declared MaxEntry.
	bigLen := 1 << 20
	maxEntry := promises(s).MaxEntry
	if maxEntry > 0 && len(fn)+len("big")+bigLen > maxEntry {
		bigLen = maxEntry - len(fn) - len("big")
	}
	big := strings.Repeat("0123456789abcdef", 1<<16)[:bigLen]
	cases := map[string]string{
		"plain":                          "value",
		"":                               "empty key",
		"empty value":                    "",
		"\x00\x01\xff\xfe":               "\x00binary\x00\xff",
		"big":                            big,
		strings.Repeat("long key ", 200): "long key's value",
	}
	for k, v := range cases {
		mustSet(t, s, fn, k, v, unbounded)
	}
	for k, v := range cases {
		if got := get(t, s, fn, k, unbounded); got != v {
			t.Errorf("Get(%.20q) = %.20q (len %d), want %.20q (len %d)", k, got, len(got), v, len(v))
		}
	}
	wantLen(t, s, fn, int64(len(cases)))
	if maxEntry > 0 {
		// One byte over MaxEntry: not stored, and not an error; the
		// key's earlier value is gone too.
		mustSet(t, s, fn, "too big", "small", unbounded)
		over := strings.Repeat("x", maxEntry-len(fn)-len("too big")+1)
		mustSet(t, s, fn, "too big", over, unbounded)
		wantGet(t, s, fn, "too big", unbounded, "<absent>")
		wantLen(t, s, fn, int64(len(cases)))
	}
}

func testOverwrite(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	mustSet(t, s, fn, "k", "first", bounded(5))
	mustSet(t, s, fn, "k", "second", bounded(5))
	wantGet(t, s, fn, "k", bounded(5), "second")
	wantLen(t, s, fn, 1)
}

func testNoAliasing(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	key, val := []byte("key"), []byte("value")
	sp := space(t, s, fn, unbounded)
	if err := sp.Set(ctx, key, val); err != nil {
		t.Fatal(err)
	}
	key[0], val[0] = 'X', 'X'
	got, ok, err := sp.Get(ctx, []byte("key"))
	if err != nil || !ok || string(got) != "value" {
		t.Fatalf("after changing Set's slices: Get = %q, %v, %v; want \"value\", true, nil", got, ok, err)
	}
	got[0] = 'X'
	wantGet(t, s, fn, "key", unbounded, "value")
}

func testKeysDistinct(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	keys := []string{"", "a", "a\x00", "\x00a", "ab", "A", "a ", "\xff"}
	for i, k := range keys {
		mustSet(t, s, fn, k, fmt.Sprint(i), unbounded)
	}
	for i, k := range keys {
		wantGet(t, s, fn, k, unbounded, fmt.Sprint(i))
	}
	wantLen(t, s, fn, int64(len(keys)))
}

func testNamespaces(t *testing.T, s runtime.Store) {
	a, b := newFn(t, s), newFn(t, s)
	prefix := a[:len(a)-1] // a namespace that is a prefix of another
	t.Cleanup(func() { clearFn(s, prefix) })
	mustSet(t, s, a, "k", "from a", bounded(1))
	mustSet(t, s, b, "k", "from b", bounded(1))
	mustSet(t, s, prefix, "k", "from prefix", bounded(1))
	wantGet(t, s, a, "k", bounded(1), "from a")
	wantGet(t, s, b, "k", bounded(1), "from b")
	wantGet(t, s, prefix, "k", bounded(1), "from prefix")
	// maxsize is per namespace: b's entry did not evict a's.
	wantLen(t, s, a, 1)
	wantLen(t, s, b, 1)
	wantLen(t, s, prefix, 1)
}

func testClear(t *testing.T, s runtime.Store) {
	a, b := newFn(t, s), newFn(t, s)
	for i := range 5 {
		mustSet(t, s, a, fmt.Sprint(i), "a", unbounded)
		mustSet(t, s, b, fmt.Sprint(i), "b", bounded(10))
	}
	if err := space(t, s, a, unbounded).Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantLen(t, s, a, 0)
	wantGet(t, s, a, "3", unbounded, "<absent>")
	wantLen(t, s, b, 5)
	wantGet(t, s, b, "3", bounded(10), "b")
	// The namespace works after Clear, bounded or not.
	mustSet(t, s, a, "again", "yes", bounded(2))
	mustSet(t, s, a, "again2", "yes", bounded(2))
	mustSet(t, s, a, "again3", "yes", bounded(2))
	wantGet(t, s, a, "again3", bounded(2), "yes")
	wantLen(t, s, a, 2)
	if err := space(t, s, newFn(t, s), unbounded).Clear(ctx); err != nil {
		t.Errorf("Clear of an empty namespace: %v", err)
	}
}

func testLRUEviction(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	lim := bounded(2)
	mustSet(t, s, fn, "a", "A", lim)
	mustSet(t, s, fn, "b", "B", lim)
	wantGet(t, s, fn, "a", lim, "A") // a is now more recent than b
	mustSet(t, s, fn, "c", "C", lim) // evicts b
	wantGet(t, s, fn, "b", lim, "<absent>")
	wantGet(t, s, fn, "a", lim, "A")
	wantGet(t, s, fn, "c", lim, "C")
	wantLen(t, s, fn, 2)
	// Overwriting refreshes recency too.
	mustSet(t, s, fn, "a", "A2", lim) // order now: a, c
	mustSet(t, s, fn, "d", "D", lim)  // evicts c
	wantGet(t, s, fn, "c", lim, "<absent>")
	wantGet(t, s, fn, "a", lim, "A2")
	wantGet(t, s, fn, "d", lim, "D")

	// Many operations back to back (within one clock tick on a fast
	// store): recency must still be exact, so stores cannot order by time.
	fn2 := newFn(t, s)
	lim = bounded(3)
	for i := range 10 {
		mustSet(t, s, fn2, fmt.Sprint(i), fmt.Sprint(i), lim)
		if i >= 1 {
			// Use the previous key: recency order is now i-1, i, i-2.
			wantGet(t, s, fn2, fmt.Sprint(i-1), lim, fmt.Sprint(i-1))
		}
	}
	mustSet(t, s, fn2, "x", "x", lim) // evicts 7, the least recently used
	wantGet(t, s, fn2, "7", lim, "<absent>")
	for _, k := range []string{"8", "9", "x"} {
		wantGet(t, s, fn2, k, lim, k)
	}
	wantLen(t, s, fn2, 3)
}

// testLRUCacheSequence replays what the runtime does for calls 1,2,3,1,2,2
// of a function with maxsize=2: lru_cache gives 1 hit and 5 misses.
func testLRUCacheSequence(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	lim := bounded(2)
	hits := 0
	for _, k := range []string{"1", "2", "3", "1", "2", "2"} {
		if get(t, s, fn, k, lim) == "v"+k {
			hits++
			continue
		}
		mustSet(t, s, fn, k, "v"+k, lim)
	}
	if hits != 1 {
		t.Errorf("calls 1,2,3,1,2,2 with maxsize 2: %d hits, want 1", hits)
	}
	wantLen(t, s, fn, 2)
}

func testUnboundedNeverEvicts(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	const n = 300
	for i := range n {
		mustSet(t, s, fn, fmt.Sprint(i), fmt.Sprint(i), unbounded)
	}
	wantLen(t, s, fn, n)
	for i := range n {
		wantGet(t, s, fn, fmt.Sprint(i), unbounded, fmt.Sprint(i))
	}
}

func testMaxSizeZero(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	mustSet(t, s, fn, "k", "v", bounded(0))
	wantGet(t, s, fn, "k", bounded(0), "<absent>")
	wantLen(t, s, fn, 0)
}

func testShrinkMaxSize(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	for i := range 5 {
		mustSet(t, s, fn, fmt.Sprint(i), "v", unbounded)
	}
	mustSet(t, s, fn, "5", "v", bounded(2))
	// Unbounded Sets need not record recency (see Store.Set), so which
	// older entry survives is the store's choice; the newest must.
	wantLen(t, s, fn, 2)
	wantGet(t, s, fn, "5", bounded(2), "v")
	// From here on the function is bounded and the order is exact.
	mustSet(t, s, fn, "6", "v", bounded(2))
	mustSet(t, s, fn, "7", "v", bounded(2))
	wantGet(t, s, fn, "5", bounded(2), "<absent>")
	wantGet(t, s, fn, "6", bounded(2), "v")
	wantGet(t, s, fn, "7", bounded(2), "v")
	wantLen(t, s, fn, 2)
}

func testTTL(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	short := runtime.Limits{MaxSize: runtime.Unbounded, TTL: 300 * time.Millisecond}
	mustSet(t, s, fn, "forever", "f", unbounded)
	mustSet(t, s, fn, "short", "s", short)
	mustSet(t, s, fn, "long", "l", runtime.Limits{MaxSize: runtime.Unbounded, TTL: time.Hour})
	wantGet(t, s, fn, "short", short, "s")
	wantLen(t, s, fn, 3)
	time.Sleep(800 * time.Millisecond)
	wantGet(t, s, fn, "short", short, "<absent>")
	wantGet(t, s, fn, "forever", unbounded, "f")
	wantGet(t, s, fn, "long", unbounded, "l")
	wantLen(t, s, fn, 2)
	// An expired entry can be set again.
	mustSet(t, s, fn, "short", "s2", short)
	wantGet(t, s, fn, "short", short, "s2")

	// Expired entries do not count against maxsize.
	fn2 := newFn(t, s)
	lim := runtime.Limits{MaxSize: 2, TTL: 300 * time.Millisecond}
	mustSet(t, s, fn2, "x", "x", lim)
	mustSet(t, s, fn2, "y", "y", lim)
	time.Sleep(800 * time.Millisecond)
	wantLen(t, s, fn2, 0)
	mustSet(t, s, fn2, "z", "z", runtime.Limits{MaxSize: 2})
	wantGet(t, s, fn2, "z", bounded(2), "z")
	wantLen(t, s, fn2, 1)
}

func testConcurrentSetEvict(t *testing.T, s runtime.Store) {
	fn := newFn(t, s)
	const (
		workers = 8
		ops     = 40
		maxSize = 10
	)
	lim := bounded(maxSize)
	sp := space(t, s, fn, lim)
	var wg sync.WaitGroup
	errs := make(chan error, workers*ops)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				k := fmt.Sprint((w*7 + i) % 25)
				v, ok, err := sp.Get(ctx, []byte(k))
				if err != nil {
					errs <- fmt.Errorf("get: %w", err)
					continue
				}
				if ok && !bytes.Equal(v, []byte("value of "+k)) {
					errs <- fmt.Errorf("Get(%q) = %q, want %q", k, v, "value of "+k)
				}
				if !ok {
					if err := sp.Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
						errs <- fmt.Errorf("set: %w", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, err := sp.Len(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != maxSize {
		t.Errorf("after concurrent sets of 25 keys with maxsize %d: Len = %d, want %d", maxSize, n, maxSize)
	}
}

func testConcurrentNamespaces(t *testing.T, s runtime.Store) {
	const fns = 4
	var names [fns]string
	for i := range names {
		names[i] = newFn(t, s)
	}
	var wg sync.WaitGroup
	for i := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := space(t, s, names[i], bounded(5))
			for k := range 20 {
				if err := sp.Set(ctx, []byte(fmt.Sprint(k)), []byte(fmt.Sprint(i))); err != nil {
					t.Errorf("Set: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for i, fn := range names {
		wantLen(t, s, fn, 5)
		wantGet(t, s, fn, "19", bounded(5), fmt.Sprint(i))
	}
}

// RunShared checks what a store promises to several processes sharing one
// backend (a database file, a server): open must return a new Store on
// the same backend at each call, as another process would open it. The
// suite closes each store it opens.
//
// For a store whose Promises say LRUInProcess, the subtests on recency
// check its weaker promise instead: a second process finds the first one's
// entries, its eviction touches none of those it has not seen, and n
// processes keep at most n×maxsize entries.
func RunShared(t *testing.T, open func(t *testing.T) runtime.Store) {
	t.Run("CloseAppliesHits", func(t *testing.T) {
		// Process 1 hits a, then closes: its hit must reach the backend, so
		// that process 2's eviction spares a.
		s1, s2 := open(t), open(t)
		t.Cleanup(func() { s2.Close() })
		fn := newFn(t, s2)
		lim := bounded(2)
		mustSet(t, s1, fn, "a", "A", lim)
		mustSet(t, s1, fn, "b", "B", lim)
		wantGet(t, s1, fn, "a", lim, "A")
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		mustSet(t, s2, fn, "c", "C", lim) // evicts b, the least recently used
		if promises(s2).LRUInProcess {
			wantEvictsOnlyKnown(t, s2, fn, lim)
			return
		}
		wantGet(t, s2, fn, "b", lim, "<absent>")
		wantGet(t, s2, fn, "a", lim, "A")
		wantGet(t, s2, fn, "c", lim, "C")
	})
	t.Run("FlushAppliesHits", func(t *testing.T) {
		s1, s2 := open(t), open(t)
		t.Cleanup(func() { s1.Close(); s2.Close() })
		fl, ok := s1.(runtime.Flusher)
		weak := promises(s2).LRUInProcess
		if !ok && !weak {
			t.Skip("not a runtime.Flusher")
		}
		fn := newFn(t, s2)
		lim := bounded(2)
		mustSet(t, s1, fn, "a", "A", lim)
		mustSet(t, s1, fn, "b", "B", lim)
		wantGet(t, s1, fn, "a", lim, "A")
		if ok {
			if err := fl.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}
		mustSet(t, s2, fn, "c", "C", lim)
		if weak {
			// Flushed or not (a store with nothing to flush), hits do
			// not reach other processes' evictions.
			wantEvictsOnlyKnown(t, s2, fn, lim)
			return
		}
		wantGet(t, s2, fn, "b", lim, "<absent>")
		wantGet(t, s2, fn, "a", lim, "A")
	})
	t.Run("HitsAppliedWithinDelay", func(t *testing.T) {
		// Without a Set, Flush or Close, a hit reaches the backend within a
		// bounded delay (1 s by default; 5 s allowed here).
		s1, s2 := open(t), open(t)
		t.Cleanup(func() { s1.Close(); s2.Close() })
		fn := newFn(t, s2)
		lim := bounded(2)
		mustSet(t, s1, fn, "a", "A", lim)
		mustSet(t, s1, fn, "b", "B", lim)
		wantGet(t, s1, fn, "a", lim, "A")
		if promises(s2).LRUInProcess {
			// Hits never reach other processes: nothing to wait for.
			mustSet(t, s2, fn, "c", "C", lim)
			wantEvictsOnlyKnown(t, s2, fn, lim)
			return
		}
		time.Sleep(5 * time.Second)
		mustSet(t, s2, fn, "c", "C", lim)
		wantGet(t, s2, fn, "b", lim, "<absent>")
		wantGet(t, s2, fn, "a", lim, "A")
	})
	t.Run("MaxSizeAcrossStores", func(t *testing.T) {
		// Four stores (processes) set one bounded function at once: after
		// every Set returns, at most maxsize entries are live (with
		// LRUInProcess: each store counts at most maxsize, and all of
		// them keep at most four times maxsize).
		const stores, sets, maxSize = 4, 60, 7
		var all [stores]runtime.Store
		for i := range all {
			all[i] = open(t)
		}
		t.Cleanup(func() {
			for _, s := range all {
				s.Close()
			}
		})
		fn := newFn(t, all[0])
		lim := bounded(maxSize)
		var wg sync.WaitGroup
		for i, s := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
				if err != nil {
					t.Error(err)
					return
				}
				for k := range sets {
					key := []byte(fmt.Sprintf("%d/%d", i, k))
					if err := sp.Set(ctx, key, []byte("v")); err != nil {
						t.Errorf("Set: %v", err)
						continue
					}
					if k%5 == 0 {
						sp.Get(ctx, key)
					}
					if n, err := sp.Len(ctx); err != nil {
						t.Errorf("Len: %v", err)
					} else if n > maxSize {
						t.Errorf("after a Set, Len = %d > maxsize %d", n, maxSize)
					}
				}
			}()
		}
		wg.Wait()
		wantLen(t, all[1], fn, maxSize)
		if !promises(all[1]).LRUInProcess {
			return
		}
		// Count the live entries from a store that set none of them.
		reader := open(t)
		t.Cleanup(func() { reader.Close() })
		sp := space(t, reader, fn, lim)
		live := 0
		for i := range stores {
			for k := range sets {
				if _, ok, err := sp.Get(ctx, []byte(fmt.Sprintf("%d/%d", i, k))); err != nil {
					t.Fatalf("Get: %v", err)
				} else if ok {
					live++
				}
			}
		}
		if live > stores*maxSize {
			t.Errorf("%d stores of maxsize %d keep %d live entries, want at most %d", stores, maxSize, live, stores*maxSize)
		}
	})
	t.Run("ValuesAcrossStores", func(t *testing.T) {
		// A second process finds the first one's results, through a
		// memoized function.
		s1, s2 := open(t), open(t)
		t.Cleanup(func() { s1.Close(); s2.Close() })
		name := fmt.Sprintf("storetest.shared.%d.%d", time.Now().UnixNano(), seq.Add(1))
		var runs [2]atomic.Int64
		var fs [2]*runtime.Func[int]
		for i, s := range []runtime.Store{s1, s2} {
			fs[i] = runtime.New(runtime.Config{Name: name, Version: "v1", MaxSize: 10}, intCodec)
			fs[i].Bind(s)
		}
		t.Cleanup(func() { fs[1].Clear(context.Background()) })
		call := func(i, n int) {
			t.Helper()
			var kb [8]byte
			v, err := fs[i].Do(ctx, binary.BigEndian.AppendUint64(kb[:0], uint64(n)), func(context.Context) (int, error) {
				runs[i].Add(1)
				return n * 10, nil
			})
			if err != nil || v != n*10 {
				t.Fatalf("call(%d) in store %d = %d, %v; want %d", n, i+1, v, err, n*10)
			}
		}
		for n := range 5 {
			call(0, n)
		}
		for n := range 5 {
			call(1, n)
		}
		if runs[0].Load() != 5 || runs[1].Load() != 0 {
			t.Errorf("bodies ran %d times in the first store and %d in the second, want 5 and 0", runs[0].Load(), runs[1].Load())
		}
		info, err := fs[1].Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A store with LenInProcess counts what it found.
		if info.Hits != 5 || info.Misses != 0 || info.CurrSize != 5 {
			t.Errorf("the second store's Info = %+v, want 5 hits, 0 misses, currsize 5", info)
		}
	})
	t.Run("ClearAcrossStores", func(t *testing.T) {
		// A Clear in one process removes the entries for every process:
		// at once, or within the store's declared ClearDelay.
		s1, s2 := open(t), open(t)
		t.Cleanup(func() { s1.Close(); s2.Close() })
		p := promises(s1)
		fn := newFn(t, s2)
		lim := bounded(10)
		for _, k := range []string{"a", "b", "c"} {
			mustSet(t, s1, fn, k, "v"+k, lim)
		}
		if !p.LenInProcess {
			wantLen(t, s2, fn, 3)
		}
		for _, k := range []string{"a", "b", "c"} {
			wantGet(t, s2, fn, k, lim, "v"+k)
		}
		wantLen(t, s2, fn, 3)
		wantLen(t, s1, fn, 3)
		if err := space(t, s2, fn, lim).Clear(ctx); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		cleared := time.Now()
		wantGet(t, s2, fn, "a", lim, "<absent>")
		wantLen(t, s2, fn, 0)
		// The other process: polled until the Clear shows, which must be
		// at once, or within ClearDelay (a scheduling slack allowed).
		limit := p.ClearDelay + 500*time.Millisecond
		for {
			n, err := space(t, s1, fn, lim).Len(ctx)
			if err != nil {
				t.Fatalf("Len: %v", err)
			}
			v := get(t, s1, fn, "b", lim)
			if n == 0 && v == "<absent>" {
				break
			}
			if p.ClearDelay == 0 {
				t.Fatalf("after another store's Clear: Len = %d, Get(b) = %q; want 0, absent at once", n, v)
			}
			if time.Since(cleared) > limit {
				t.Fatalf("%v after another store's Clear: Len = %d, Get(b) = %q; want 0, absent within ClearDelay %v", time.Since(cleared), n, v, p.ClearDelay)
			}
			time.Sleep(10 * time.Millisecond)
		}
		wantGet(t, s1, fn, "a", lim, "<absent>")
		wantGet(t, s1, fn, "c", lim, "<absent>")
		// Both go on: an entry set after the Clear is shared again.
		mustSet(t, s2, fn, "d", "vd", lim)
		wantGet(t, s1, fn, "d", lim, "vd")
	})
}

// wantEvictsOnlyKnown checks the weaker recency promise (LRUInProcess) in
// the second of two processes, after the first set a and b in fn and the
// second set c, with maxsize 2: the second finds the first one's entries,
// and its Set evicted none of those it had not seen.
func wantEvictsOnlyKnown(t *testing.T, s2 runtime.Store, fn string, lim runtime.Limits) {
	t.Helper()
	wantGet(t, s2, fn, "c", lim, "C")
	wantGet(t, s2, fn, "a", lim, "A")
	wantGet(t, s2, fn, "b", lim, "B")
	n, err := space(t, s2, fn, lim).Len(ctx)
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	if n > lim.MaxSize {
		t.Errorf("Len = %d in the second process, more than maxsize %d", n, lim.MaxSize)
	}
}
