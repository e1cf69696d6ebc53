package goredis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/picocache/picocache/runtime/storetest"
	"github.com/redis/go-redis/v9"
)

// TestConformance runs the suites on plain Redis, through a client that
// bounds its calls by their context and through one with go-redis's
// defaults, whose calls the Store guards.
func TestConformance(t *testing.T) {
	newClient(t, nil) // skip early when there is no server
	for _, cf := range configs {
		t.Run(cf.name, func(t *testing.T) {
			open := openWith(cf)
			t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
			t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
		})
	}
}

// TestShared runs the suite of processes sharing a server: each store it
// opens has a new client, as another process would.
func TestShared(t *testing.T) {
	newClient(t, nil)
	for _, cf := range configs {
		t.Run(cf.name, func(t *testing.T) {
			open := openWith(cf)
			storetest.RunShared(t, open)
			t.Run("FlushAcrossSlots", func(t *testing.T) { testFlushAcrossSlots(t, open) })
		})
	}
}

// TestConformanceFastFlush runs the suite with a flush delay of 1ms, so
// that background flushes race with every test's Sets: LRU order must stay
// exact in one process all the same.
func TestConformanceFastFlush(t *testing.T) {
	newClient(t, nil)
	storetest.Run(t, openWith(configs[0], goredis.WithFlushDelay(time.Millisecond)))
}

// testFlushAcrossSlots: one Flush applies the hits of many functions, in
// as many slots (on a Cluster, on several nodes), where another store's
// evictions see them.
func testFlushAcrossSlots(t *testing.T, open func(t *testing.T) runtime.Store) {
	s1, s2 := open(t), open(t)
	t.Cleanup(func() { s1.Close(); s2.Close() })
	lim := runtime.Limits{MaxSize: 3}
	var fns []string
	for i := range 12 {
		fn := newFn(t, s2) + string(rune('a'+i))
		fns = append(fns, fn)
		sp := spaceOf(t, s1, fn, lim)
		for _, k := range []string{"a", "b", "c"} {
			if err := sp.Set(ctx, []byte(k), []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok, err := sp.Get(ctx, []byte("a")); !ok || err != nil {
			t.Fatalf("Get(a) = %v, %v", ok, err)
		}
	}
	if err := s1.(runtime.Flusher).Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for _, fn := range fns {
		sp := spaceOf(t, s2, fn, lim)
		if err := sp.Set(ctx, []byte("d"), []byte("d")); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
			if _, ok, err := sp.Get(ctx, []byte(k)); ok != want || err != nil {
				t.Errorf("%q: Get(%s) = %v, %v; want %v (a was hit in the other store)", fn, k, ok, err, want)
			}
		}
	}
}

// TestConformanceCluster runs the suites on the 3-node test Cluster through
// redis.NewClusterClient, and checks that functions spread over its nodes.
func TestConformanceCluster(t *testing.T) {
	open := func(t *testing.T) runtime.Store {
		s := goredis.New(newClusterClient(t))
		if !goredis.Guarded(s) {
			t.Fatal("a ClusterClient's calls are not guarded")
		}
		return s
	}
	t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
	t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
	t.Run("Shared", func(t *testing.T) { storetest.RunShared(t, open) })
	t.Run("FlushAcrossSlots", func(t *testing.T) { testFlushAcrossSlots(t, open) })

	// Functions spread over the nodes: entries of many namespaces land
	// on more than one node, while each one's keys share its slot (the
	// scripts would fail with CROSSSLOT otherwise).
	c := newClusterClient(t)
	s := goredis.New(c)
	defer s.Close()
	lim := runtime.Limits{MaxSize: 3, TTL: time.Minute}
	var nodesMu sync.Mutex
	nodes := map[string]bool{}
	for i := range 30 {
		fn := newFn(t, s) + string(rune('a'+i))
		sp := spaceOf(t, s, fn, lim)
		for _, k := range []string{"a", "b", "c", "d"} {
			if err := sp.Set(ctx, []byte(k), []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := sp.Len(ctx); err != nil || n != 3 {
			t.Fatalf("Len = %d, %v; want 3", n, err)
		}
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			keys, err := m.Keys(ctx, "pc:*").Result()
			if err == nil && len(keys) > 0 {
				nodesMu.Lock()
				nodes[m.Options().Addr] = true
				nodesMu.Unlock()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sp.Clear(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(nodes) < 2 {
		t.Errorf("30 functions all landed on %d node(s); want them spread", len(nodes))
	}
}

// TestGuarded checks which clients the Store calls directly (those that end
// every call at its context's deadline) and which it guards, and which
// replies it copies.
func TestGuarded(t *testing.T) {
	ctxBound := func(o *redis.Options) { o.ContextTimeoutEnabled = true }
	for _, tt := range []struct {
		name            string
		c               redis.UniversalClient
		guarded, copies bool
	}{
		{"default", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), true, false},
		{"ContextTimeoutEnabled", redis.NewClient(opts(ctxBound)), false, false},
		{"ContextTimeoutEnabled, ReadTimeout -1", redis.NewClient(opts(ctxBound, func(o *redis.Options) { o.ReadTimeout = -1 })), false, false},
		{"ContextTimeoutEnabled, ReadTimeout -2", redis.NewClient(opts(ctxBound, func(o *redis.Options) { o.ReadTimeout = -2 })), true, false},
		{"ContextTimeoutEnabled, WriteTimeout -2", redis.NewClient(opts(ctxBound, func(o *redis.Options) { o.WriteTimeout = -2 })), true, false},
		{"client-side cache", redis.NewClient(opts(ctxBound, func(o *redis.Options) { o.ClientSideCacheConfig = &redis.ClientSideCacheConfig{} })), false, true},
		{"failover", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), false, false},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), true, true},
		{"ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true}), true, true},
		{"universal, one address", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), false, false},
	} {
		s := goredis.New(tt.c)
		if g, c := goredis.Guarded(s), goredis.Copies(s); g != tt.guarded || c != tt.copies {
			t.Errorf("%s: guarded %v, copies %v; want %v, %v", tt.name, g, c, tt.guarded, tt.copies)
		}
		s.Close()
		tt.c.Close()
	}
	if s := goredis.New(nil); !goredis.Guarded(s) || s.Bound() != goredis.DefaultTimeout {
		t.Errorf("New(nil): guarded %v, bound %v", goredis.Guarded(s), s.Bound())
	}
}

func opts(conf ...func(o *redis.Options)) *redis.Options {
	o := &redis.Options{Addr: "127.0.0.1:1"}
	for _, c := range conf {
		c(o)
	}
	return o
}

// TestNewKeepsClientOpen: Close applies what is pending, makes every call
// fail with ErrClosed, and leaves the application's client working.
func TestNewKeepsClientOpen(t *testing.T) {
	for _, cf := range configs {
		t.Run(cf.name, func(t *testing.T) {
			c := newClient(t, cf.conf)
			s := goredis.New(c, goredis.WithFlushDelay(time.Hour))
			if s.Client() != redis.UniversalClient(c) {
				t.Errorf("Client() is not the client given to New")
			}
			cleaner := goredis.New(newClient(t, cf.conf))
			t.Cleanup(func() { cleaner.Close() })
			fn := newFn(t, cleaner)
			lim := runtime.Limits{MaxSize: 2}
			sp := spaceOf(t, s, fn, lim)
			for _, k := range []string{"a", "b"} {
				if err := sp.Set(ctx, []byte(k), []byte(k)); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := sp.Get(ctx, []byte("a")); err != nil { // a hit pending for Close
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			closed := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, goredis.ErrClosed) || !errors.Is(err, runtime.ErrClosed) {
					t.Errorf("%s after Close: %v, want goredis.ErrClosed", op, err)
				}
			}
			_, _, err := sp.Get(ctx, []byte("a"))
			closed("Get", err)
			closed("Set", sp.Set(ctx, []byte("c"), []byte("c")))
			closed("Clear", sp.Clear(ctx))
			_, err = sp.Len(ctx)
			closed("Len", err)
			closed("Flush", s.Flush(ctx))
			_, err = s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
			closed("Space", err)
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			// The caller's client still works.
			if err := c.Ping(ctx).Err(); err != nil {
				t.Errorf("client after Store.Close: %v", err)
			}
			// Close applied the hit of a: another store evicts b.
			other := spaceOf(t, cleaner, fn, lim)
			if err := other.Set(ctx, []byte("c"), []byte("c")); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]bool{"a": true, "b": false, "c": true} {
				if _, ok, err := other.Get(ctx, []byte(k)); ok != want || err != nil {
					t.Errorf("after Close: Get(%s) = %v, %v; want %v", k, ok, err, want)
				}
			}
		})
	}
}

// TestNewReachesNoServer: New and Space on a client of a server that is
// not there return at once; the calls then fail within the bound.
func TestNewReachesNoServer(t *testing.T) {
	for _, cf := range configs {
		t.Run(cf.name, func(t *testing.T) {
			o := &redis.Options{Addr: "127.0.0.1:1"}
			if cf.conf != nil {
				cf.conf(o)
			}
			c := redis.NewClient(o)
			defer c.Close()
			start := time.Now()
			s := goredis.New(c, goredis.WithTimeout(500*time.Millisecond))
			defer s.Close()
			sp := spaceOf(t, s, "fn", runtime.Limits{MaxSize: 3})
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("New and Space took %v", d)
			}
			start = time.Now()
			if _, _, err := sp.Get(ctx, []byte("k")); err == nil {
				t.Error("Get with no server: nil error")
			}
			if err := sp.Set(ctx, []byte("k"), []byte("v")); err == nil {
				t.Error("Set with no server: nil error")
			}
			if d := time.Since(start); d > 2*s.Bound()+time.Second {
				t.Errorf("Get and Set with no server took %v (bound %v each)", d, s.Bound())
			}
		})
	}
}

func TestTimeoutOption(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, tt := range []struct {
		opts []goredis.Option
		want time.Duration
	}{
		{nil, goredis.DefaultTimeout},
		{[]goredis.Option{goredis.WithTimeout(250 * time.Millisecond)}, 250 * time.Millisecond},
		{[]goredis.Option{goredis.WithTimeout(0)}, goredis.DefaultTimeout},
		{[]goredis.Option{goredis.WithTimeout(-time.Second), goredis.WithFlushDelay(-time.Second)}, goredis.DefaultTimeout},
	} {
		if s := goredis.New(c, tt.opts...); s.Bound() != tt.want {
			t.Errorf("Bound() = %v, want %v", s.Bound(), tt.want)
		}
	}
}
