package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/picocache/picocache/runtime/storetest"
	"github.com/redis/rueidis"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	openShared(t).Close()
	open := func(t *testing.T) runtime.Store { return openShared(t) }
	t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
	t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
}

// TestShared runs the suite of processes sharing a server: each store it
// opens is a new client, as another process would have.
func TestShared(t *testing.T) {
	openShared(t).Close()
	open := func(t *testing.T) runtime.Store { return openShared(t) }
	storetest.RunShared(t, open)
	t.Run("FlushAcrossSlots", func(t *testing.T) { testFlushAcrossSlots(t, open) })
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

// TestConformanceFastFlush runs the suite with a flush delay of 1ms, so
// that background flushes race with every test's Sets: LRU order must stay
// exact in one process all the same.
func TestConformanceFastFlush(t *testing.T) {
	openShared(t).Close()
	storetest.Run(t, func(t *testing.T) runtime.Store {
		s, err := redis.Open(ctx, redisURL(), redis.WithFlushDelay(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// spaceOf opens fn's Space in s with lim.
func spaceOf(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q, %+v): %v", fn, lim, err)
	}
	return sp
}

var unbounded = runtime.Limits{MaxSize: runtime.Unbounded}

func TestConformanceCluster(t *testing.T) {
	addrs := clusterAddrs(t)
	if len(addrs) < 3 {
		t.Fatalf("cluster seeds %q: want 3 nodes", addrs)
	}
	u := clusterURL(addrs)
	open := func(t *testing.T) runtime.Store {
		s, err := redis.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if m := s.Client().Mode(); m != rueidis.ClientModeCluster {
			t.Fatalf("Open(%s): client mode %s, want cluster", u, m)
		}
		return s
	}
	t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
	t.Run("Shared", func(t *testing.T) { storetest.RunShared(t, open) })
	t.Run("FlushAcrossSlots", func(t *testing.T) { testFlushAcrossSlots(t, open) })

	// One seed is enough: rueidis finds the other nodes.
	s, err := redis.Open(ctx, "redis://"+addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m := s.Client().Mode(); m != rueidis.ClientModeCluster {
		t.Errorf("one seed: client mode %s, want cluster", m)
	}
	if n := len(s.Client().Nodes()); n < 3 {
		t.Errorf("one seed: client knows %d nodes, want 3", n)
	}

	// Functions spread over the nodes: entries of many namespaces land
	// on more than one node, while each one's keys share its slot (the
	// scripts would fail with CROSSSLOT otherwise).
	lim := runtime.Limits{MaxSize: 3, TTL: time.Minute}
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
		for addr, c := range s.Client().Nodes() {
			keys, err := c.Do(ctx, c.B().Keys().Pattern("pc:*").Build()).AsStrSlice()
			if err == nil && len(keys) > 0 {
				nodes[addr] = true
			}
		}
		if err := sp.Clear(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(nodes) < 2 {
		t.Errorf("30 functions all landed on %d node(s); want them spread", len(nodes))
	}
}

// newFn returns a fresh namespace with awkward bytes in it.
func newFn(t testing.TB, s runtime.Store) string {
	var b [6]byte
	rand.Read(b[:])
	fn := "redis_test/" + t.Name() + " {}{x}\x00é" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if sp, err := s.Space(context.Background(), runtime.Namespace{Name: fn, Limits: unbounded}); err == nil {
			sp.Clear(context.Background())
		}
	})
	return fn
}

func TestOpenURLScheme(t *testing.T) {
	openShared(t).Close()
	u := redisURL()
	s, err := runtime.OpenURL(ctx, u)
	if err != nil {
		t.Fatalf("runtime.OpenURL(%s): %v", u, err)
	}
	t.Cleanup(func() { s.Close() }) // after newFn's Clear
	if _, ok := s.(*redis.Store); !ok {
		t.Fatalf("runtime.OpenURL(%s) = %T, want *redis.Store", u, s)
	}
	fn := newFn(t, s)
	if err := spaceOf(t, s, fn, unbounded).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	// The scheme works through PICOCACHE_URL.
	t.Setenv("PICOCACHE_URL", u)
	runtime.CloseDefault()
	defer runtime.CloseDefault()
	d, err := runtime.DefaultStore(ctx)
	if err != nil {
		t.Fatalf("DefaultStore with PICOCACHE_URL=%s: %v", u, err)
	}
	if _, ok := d.(*redis.Store); !ok {
		t.Fatalf("DefaultStore = %T, want *redis.Store", d)
	}
	v, ok, err := spaceOf(t, d, fn, unbounded).Get(ctx, []byte("k"))
	if err != nil || !ok || string(v) != "v" {
		t.Fatalf("Get through the default store = %q, %v, %v", v, ok, err)
	}
}

func TestParseURL(t *testing.T) {
	opt, err := redis.ParseURL("rediss://alice:s3cret@cache.example.com:6380/3?dial_timeout=5s&addr=h2:7000&addr=h3")
	if err != nil {
		t.Fatal(err)
	}
	if opt.Username != "alice" || opt.Password != "s3cret" {
		t.Errorf("user, password = %q, %q", opt.Username, opt.Password)
	}
	if opt.SelectDB != 3 {
		t.Errorf("SelectDB = %d, want 3", opt.SelectDB)
	}
	if opt.TLSConfig == nil || opt.TLSConfig.ServerName != "cache.example.com" {
		t.Errorf("TLSConfig = %+v, want one for cache.example.com", opt.TLSConfig)
	}
	if want := []string{"cache.example.com:6380", "h2:7000", "h3:6379"}; strings.Join(opt.InitAddress, ",") != strings.Join(want, ",") {
		t.Errorf("InitAddress = %q, want %q", opt.InitAddress, want)
	}
	if opt.Dialer.Timeout != 5*time.Second {
		t.Errorf("dial timeout = %v, want the URL's 5s", opt.Dialer.Timeout)
	}
	if opt.ConnWriteTimeout != redis.DefaultWriteTimeout {
		t.Errorf("write timeout = %v, want the default %v", opt.ConnWriteTimeout, redis.DefaultWriteTimeout)
	}
	if !opt.DisableCache || opt.RetryDelay == nil {
		t.Errorf("DisableCache = %v, RetryDelay set = %v; want true, true", opt.DisableCache, opt.RetryDelay != nil)
	}
	if opt.RetryDelay(redis.DefaultRetries, rueidis.Completed{}, nil) >= 0 {
		t.Errorf("RetryDelay after %d attempts: want no further retry", redis.DefaultRetries)
	}

	opt, err = redis.ParseURL("redis://localhost")
	if err != nil || opt.TLSConfig != nil || opt.SelectDB != 0 || opt.InitAddress[0] != "localhost:6379" {
		t.Errorf("redis://localhost: %+v, %v", opt, err)
	}
	if opt.Dialer.Timeout != redis.DefaultDialTimeout {
		t.Errorf("dial timeout = %v, want the default %v", opt.Dialer.Timeout, redis.DefaultDialTimeout)
	}

	for _, bad := range []string{
		"http://localhost:6379",
		"redis://localhost/notanumber",
		"redis://localhost/1/2",
		"redis://localhost?max_retries=x",
		"redis://localhost?dial_timeout=soon",
		"rediss://localhost?skip_verify=maybe",
	} {
		if _, err := redis.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q): want an error", bad)
		}
	}
	// Errors do not show the password.
	for _, bad := range []string{"redis://u:hunter2@localhost/x", "redis://u:hunter2@local%zzhost/"} {
		if _, err := redis.ParseURL(bad); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q): error %v, want one without the password", bad, err)
		}
	}
}

func TestNewKeepsClientOpen(t *testing.T) {
	openShared(t).Close()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := redis.New(c)
	cleaner := openShared(t)
	t.Cleanup(func() { cleaner.Close() })
	fn := newFn(t, cleaner)
	sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10})
	if err := sp.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sp.Get(ctx, []byte("k")); err != nil { // a hit pending for Close
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sp.Get(ctx, []byte("k")); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The caller's client still works.
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		t.Errorf("client after Store.Close: %v", err)
	}
}

func TestDatabaseAndAuth(t *testing.T) {
	srv := startServer(t, portEnv(t, "PICOCACHE_TEST_REDIS_AUTH_PORT", 7198),
		"user default off", "user alice on >s3cret ~* &* +@all")
	if _, err := redis.Open(ctx, "redis://"+srv.addr()); err == nil {
		t.Errorf("Open without credentials: want an error")
	}
	if _, err := redis.Open(ctx, "redis://alice:wrong@"+srv.addr()); err == nil {
		t.Errorf("Open with a wrong password: want an error")
	}
	s1, err := redis.Open(ctx, "redis://alice:s3cret@"+srv.addr()+"/1")
	if err != nil {
		t.Fatalf("Open with user, password, db 1: %v", err)
	}
	defer s1.Close()
	s0, err := redis.Open(ctx, "redis://alice:s3cret@"+srv.addr()+"?db=0")
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Close()
	sp0, sp1 := spaceOf(t, s0, "fn", unbounded), spaceOf(t, s1, "fn", unbounded)
	if err := sp1.Set(ctx, []byte("k"), []byte("in db 1")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sp0.Get(ctx, []byte("k")); err != nil || ok {
		t.Errorf("db 0 sees db 1's entry: ok=%v err=%v", ok, err)
	}
	if v, ok, err := sp1.Get(ctx, []byte("k")); err != nil || !ok || string(v) != "in db 1" {
		t.Errorf("db 1: %q, %v, %v", v, ok, err)
	}
	n, err := s1.Client().Do(ctx, s1.Client().B().Dbsize().Build()).AsInt64()
	if err != nil || n == 0 {
		t.Errorf("DBSIZE of db 1 = %d, %v; want the entry there", n, err)
	}
}

// benchSpaceOf is spaceOf for the benchmarks.
func benchSpaceOf(b *testing.B, s *redis.Store, fn string, lim runtime.Limits) benchSpace {
	return spaceOf(b, s, fn, lim)
}
