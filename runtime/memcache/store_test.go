package memcache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
	"github.com/picocache/picocache/runtime/memcache"
	"github.com/picocache/picocache/runtime/storetest"
)

// TestConformance runs the byte-contract and Func suites on the real
// server: each store opened is a new client.
func TestConformance(t *testing.T) {
	openShared(t).Close()
	open := func(t *testing.T) runtime.Store { return openShared(t) }
	t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
	t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
}

// TestShared runs the suite of processes sharing a server, held to the
// weaker promises the store declares (runtime.Promises).
func TestShared(t *testing.T) {
	openShared(t).Close()
	storetest.RunShared(t, func(t *testing.T) runtime.Store { return openShared(t) })
}

// TestConformanceNew runs the byte suite on a Store that wraps a client
// made by the caller, with gomemcache's defaults.
func TestConformanceNew(t *testing.T) {
	needServer(t)
	c := gomemcache.New(memcachedAddr())
	defer c.Close()
	storetest.Run(t, func(t *testing.T) runtime.Store { return memcache.New(c) })
}

func TestPromises(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	p := s.Promises()
	want := runtime.Promises{
		LenInProcess: true, LRUInProcess: true, ClearDelay: time.Second,
		MaxEntry: memcache.DefaultItemSize - kv.DefaultMaxKeyLen - 96 - kv.EnvelopeOverhead,
	}
	if p != want {
		t.Errorf("Promises() = %+v, want %+v", p, want)
	}
	if s.Bound() != memcache.DefaultTimeout {
		t.Errorf("Bound() = %v, want %v", s.Bound(), memcache.DefaultTimeout)
	}
	if s.Client().Timeout != memcache.DefaultTimeout/5 || s.Client().MaxIdleConns != memcache.DefaultMaxIdleConns {
		t.Errorf("client Timeout %v, MaxIdleConns %d", s.Client().Timeout, s.Client().MaxIdleConns)
	}
}

func TestOpenURLScheme(t *testing.T) {
	needServer(t)
	u := memcachedURL()
	s, err := runtime.OpenURL(ctx, u)
	if err != nil {
		t.Fatalf("runtime.OpenURL(%s): %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	if _, ok := s.(*memcache.Store); !ok {
		t.Fatalf("runtime.OpenURL(%s) = %T, want *memcache.Store", u, s)
	}
	fn := newFn(t, s)
	mustSet(t, spaceOf(t, s, fn, unbounded), "k", "v")

	// The scheme works through PICOCACHE_URL.
	t.Setenv("PICOCACHE_URL", u)
	runtime.CloseDefault()
	defer runtime.CloseDefault()
	d, err := runtime.DefaultStore(ctx)
	if err != nil {
		t.Fatalf("DefaultStore with PICOCACHE_URL=%s: %v", u, err)
	}
	if _, ok := d.(*memcache.Store); !ok {
		t.Fatalf("DefaultStore = %T, want *memcache.Store", d)
	}
	if got := get(t, spaceOf(t, d, fn, unbounded), "k"); got != "v" {
		t.Fatalf("Get through the default store = %q", got)
	}
}

// TestNewKeepsClientOpen: Close of a Store from New leaves the caller's
// client working, and makes the Store's calls fail with ErrClosed.
func TestNewKeepsClientOpen(t *testing.T) {
	needServer(t)
	c := gomemcache.New(memcachedAddr())
	defer c.Close()
	s := memcache.New(c)
	if s.Bound() != 5*gomemcache.DefaultTimeout {
		t.Errorf("Bound() = %v, want five socket timeouts", s.Bound())
	}
	fn := newFn(t, openShared(t))
	sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10})
	mustSet(t, sp, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Get":   func() error { _, _, err := sp.Get(ctx, []byte("k")); return err }(),
		"Set":   sp.Set(ctx, []byte("k"), []byte("v")),
		"Clear": sp.Clear(ctx),
		"Len":   func() error { _, err := sp.Len(ctx); return err }(),
		"Space": func() error { _, err := s.Space(ctx, runtime.Namespace{Name: fn}); return err }(),
	} {
		if !errors.Is(err, memcache.ErrClosed) || !errors.Is(err, runtime.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Ping(); err != nil {
		t.Errorf("client after Store.Close: %v", err)
	}
}

// TestLongKeys: keys of any length and bytes, over memcached's 250 and
// with spaces and control characters, work.
func TestLongKeys(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	sp := spaceOf(t, s, newFn(t, s)+strings.Repeat("n", 1000), runtime.Limits{MaxSize: 10})
	keys := []string{strings.Repeat("k", 251), strings.Repeat("k", 252), strings.Repeat(" \r\n\x00", 1000), strings.Repeat("k", 10000)}
	for i, k := range keys {
		mustSet(t, sp, k, fmt.Sprint(i))
	}
	for i, k := range keys {
		if got := get(t, sp, k); got != fmt.Sprint(i) {
			t.Errorf("key %d (%d bytes): Get = %q, want %d", i, len(k), got, i)
		}
	}
	if got := get(t, sp, strings.Repeat("k", 253)); got != "<absent>" {
		t.Errorf("a key sharing a long prefix: Get = %q, want absent", got)
	}
}

// TestClearSeenByOtherStore: a Clear through one store (process) is seen
// at once by it, and by another within the refresh interval.
func TestClearSeenByOtherStore(t *testing.T) {
	s1, s2 := openShared(t), openShared(t)
	defer s1.Close()
	defer s2.Close()
	fn := newFn(t, s1)
	lim := runtime.Limits{MaxSize: 100}
	sp1, sp2 := spaceOf(t, s1, fn, lim), spaceOf(t, s2, fn, lim)
	mustSet(t, sp1, "k", "v")
	if got := get(t, sp2, "k"); got != "v" {
		t.Fatalf("the other store reads %q", got)
	}
	if err := sp1.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	cleared := time.Now()
	if got := get(t, sp1, "k"); got != "<absent>" {
		t.Errorf("the clearing store reads %q after its Clear", got)
	}
	for get(t, sp2, "k") != "<absent>" {
		if time.Since(cleared) > 3*time.Second {
			t.Fatal("the other store still reads the entry 3s after the Clear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	seen := time.Since(cleared)
	if bound := s2.Promises().ClearDelay; seen > bound+200*time.Millisecond {
		t.Errorf("the other store saw the Clear after %v, want within %v", seen, bound)
	}
	if n, err := sp2.Len(ctx); err != nil || n != 0 {
		t.Errorf("the other store's Len = %d, %v after the Clear", n, err)
	}
	t.Logf("seen by the other store %v after the Clear", seen)
}

// TestOversize: a result over the server's item size is not stored, and
// the call returns it; counted, logged once per function. Both the
// store's own check and the server's refusal (a Store told the server
// takes larger items than it does) are covered.
func TestOversize(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []kv.Option
	}{
		{"StoreLimit", nil},
		{"ServerRefuses", []kv.Option{memcache.WithItemSize(8 << 20)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := testenv.CaptureLogs(t)
			needServer(t)
			s, err := memcache.Open(ctx, memcachedURL(), c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f := runtime.New(runtime.Config{Name: newFn(t, s), Version: "1", MaxSize: 10}, runtime.Codec[string]{
				Type:   "string",
				Append: func(dst []byte, v string) []byte { return append(dst, v...) },
				Decode: func(src []byte) (string, error) { return string(src), nil },
			})
			f.Bind(s)
			big := strings.Repeat("x", 2<<20)
			var runs atomic.Int64
			for range 3 {
				v, err := f.Do(ctx, []byte("big"), func(context.Context) (string, error) { runs.Add(1); return big, nil })
				if err != nil || len(v) != len(big) {
					t.Fatalf("call = %d bytes, %v; want the 2 MiB result", len(v), err)
				}
			}
			small, _ := f.Do(ctx, []byte("small"), func(context.Context) (string, error) { return "s", nil })
			small2, _ := f.Do(ctx, []byte("small"), func(context.Context) (string, error) { return "not cached", nil })
			info, _ := f.Info(ctx)
			if runs.Load() != 3 || info.StoreErrors != 0 || info.CurrSize != 1 || small != "s" || small2 != "s" {
				t.Errorf("runs %d, %+v, small %q %q; want 3 runs (nothing stored), no store errors, the small result cached", runs.Load(), info, small, small2)
			}
			if n := s.Stats().Oversize; n != 3 {
				t.Errorf("Stats().Oversize = %d, want 3", n)
			}
			if n := strings.Count(logs.String(), "msg="); n != 1 || !strings.Contains(logs.String(), "too large") {
				t.Errorf("logged %d times, want once:\n%s", n, logs)
			}
		})
	}
}

// TestLargestValue: an entry of MaxEntry bytes is stored on a server with
// the default item size; one byte more is not.
func TestLargestValue(t *testing.T) {
	testenv.CaptureLogs(t)
	s := openShared(t)
	defer s.Close()
	fn := newFn(t, s)
	sp := spaceOf(t, s, fn, unbounded)
	key := strings.Repeat("k", 300)
	room := s.Promises().MaxEntry - len(fn) - len(key)
	mustSet(t, sp, key, strings.Repeat("v", room))
	if got := get(t, sp, key); len(got) != room {
		t.Errorf("an entry of MaxEntry bytes: Get = %d bytes, want %d", len(got), room)
	}
	mustSet(t, sp, key, strings.Repeat("v", room+1))
	if got := get(t, sp, key); got != "<absent>" {
		t.Errorf("an entry of MaxEntry+1 bytes: Get = %d bytes, want absent", len(got))
	}
	if s.Stats().Oversize != 1 {
		t.Errorf("Oversize = %d, want 1", s.Stats().Oversize)
	}
}

// TestLongTTL: TTLs over memcached's 30 days of relative expiration are
// sent as dates, so that the entry lives instead of expiring at once.
func TestLongTTL(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	fn := newFn(t, s)
	for _, ttl := range []time.Duration{31 * 24 * time.Hour, 400 * 24 * time.Hour, time.Hour} {
		sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10, TTL: ttl})
		mustSet(t, sp, ttl.String(), "v")
		if got := get(t, sp, ttl.String()); got != "v" {
			t.Errorf("TTL %v: Get = %q, want v", ttl, got)
		}
	}
}

// TestServerTTL: memcached itself drops an entry after its TTL (plus the
// second of grace), so expired entries do not linger on the server.
func TestServerTTL(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	raw := rawClient(t)
	fn := newFn(t, s)
	sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10, TTL: 200 * time.Millisecond})
	mustSet(t, sp, "k", "v")
	key := entryKey(t, raw, s, fn, "k")
	if _, err := raw.Get(key); err != nil {
		t.Fatalf("the entry is not on the server under %s: %v", key, err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := get(t, sp, "k"); got != "<absent>" {
		t.Errorf("Get after the TTL = %q", got)
	}
	// The server is given the TTL plus a second, in whole seconds (2 s),
	// and its clock ticks by the second.
	deadline := time.Now().Add(6 * time.Second)
	for {
		if _, err := raw.Get(key); errors.Is(err, gomemcache.ErrCacheMiss) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still holds the entry 6s after its TTL of 200ms")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSecondStoreFindsResults is the acceptance sequence over two stores
// (as two processes would open them): lru_cache semantics in the first,
// the second finding its results.
func TestSecondStoreFindsResults(t *testing.T) {
	s1, s2 := openShared(t), openShared(t)
	defer s1.Close()
	defer s2.Close()
	name := newFn(t, s1)
	mk := func(s runtime.Store) (*runtime.Func[int], *atomic.Int64) {
		f := runtime.New(runtime.Config{Name: name, Version: "1", MaxSize: 2}, intCodec)
		f.Bind(s)
		return f, new(atomic.Int64)
	}
	call := func(f *runtime.Func[int], runs *atomic.Int64, n int) {
		t.Helper()
		v, err := f.Do(ctx, []byte(fmt.Sprint(n)), func(context.Context) (int, error) { runs.Add(1); return n * n, nil })
		if err != nil || v != n*n {
			t.Fatalf("call(%d) = %d, %v", n, v, err)
		}
	}
	f1, runs1 := mk(s1)
	for _, n := range []int{1, 2, 3, 1, 2, 2} {
		call(f1, runs1, n)
	}
	if i, _ := f1.Info(ctx); i.Hits != 1 || i.Misses != 5 || i.CurrSize != 2 || i.StoreErrors != 0 {
		t.Errorf("calls 1,2,3,1,2,2 with maxsize 2: %+v, want 1 hit, 5 misses, currsize 2", i)
	}
	f2, runs2 := mk(s2)
	call(f2, runs2, 2)
	call(f2, runs2, 1)
	if runs2.Load() != 0 {
		t.Errorf("the second store computed %d results the first had stored", runs2.Load())
	}
	if i, _ := f2.Info(ctx); i.Hits != 2 || i.CurrSize != 2 {
		t.Errorf("the second store: %+v, want 2 hits, currsize 2 (what it found)", i)
	}
}

// TestSeveralServers: keys spread over two servers (here two proxies of
// one), and Open succeeds while one of them is down, its keys failing.
func TestSeveralServers(t *testing.T) {
	testenv.CaptureLogs(t)
	p1, p2 := sharedProxy(t), sharedProxy(t)
	s, err := memcache.Open(ctx, "memcache://"+p1.Addr()+"?addr="+p2.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fn := newFn(t, s)
	sp := spaceOf(t, s, fn, unbounded)
	for i := range 50 {
		mustSet(t, sp, fmt.Sprint(i), fmt.Sprint(i))
	}
	for i := range 50 {
		if got := get(t, sp, fmt.Sprint(i)); got != fmt.Sprint(i) {
			t.Errorf("Get(%d) = %q", i, got)
		}
	}
	p2.Cut()
	s2, err := memcache.Open(ctx, "memcache://"+p1.Addr()+"?addr="+p2.Addr())
	if err != nil {
		t.Fatalf("Open with one of two servers down: %v", err)
	}
	defer s2.Close()
	p1.Cut()
	if _, err := memcache.Open(ctx, "memcache://"+p1.Addr()+"?addr="+p2.Addr()); err == nil {
		t.Error("Open with every server down succeeded")
	}
}
