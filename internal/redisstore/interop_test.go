package redisstore_test

// The stores of runtime/redis (rueidis) and runtime/goredis (go-redis)
// share their server-side layout through this package: these tests check
// that each reads, counts, evicts and clears what the other wrote, on plain
// Redis and on a Redis Cluster. They live here, in an external test
// package, because store packages never import each other.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/picocache/picocache/runtime/redis"
	goredislib "github.com/redis/go-redis/v9"
)

var ctx = context.Background()

// cluster is the Redis Cluster of these tests, on ports of its own: go
// test ./... runs the store packages' tests, with theirs, at the same
// time.
var cluster = testenv.RedisCluster{Ports: "7121 7122 7123", Dir: "picocache-redis-cluster-redisstore"}

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	sweepRegistry(0)
	sweepRegistry(listerDB)
	os.Exit(code)
}

// sweepRegistry removes from the registry of namespaces of the shared
// server's database db the namespaces these tests registered and
// cleared, which would otherwise pile up run after run.
func sweepRegistry(db int) {
	c := goredislib.NewClient(&goredislib.Options{Addr: testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379"), DB: db})
	defer c.Close()
	iter := c.HScan(ctx, redisstore.Registry, 0, "interop_test/*", 1000).Iterator()
	for iter.Next(ctx) {
		field := iter.Val()
		if !iter.Next(ctx) { // the value
			break
		}
		c.HDel(ctx, redisstore.Registry, field)
	}
}

// backend opens the stores of both packages on one server.
type backend struct {
	rueidis func(t *testing.T) *redis.Store
	goredis func(t *testing.T) *goredis.Store
}

// plain is the shared test server, PICOCACHE_TEST_REDIS (host:port),
// default 127.0.0.1:6379.
func plain() backend { return plainDB(0) }

// listerDB is the database of the shared server where these tests list
// and delete namespaces: one of this package's own, as the other
// packages' tests prune theirs at the same time (runtime/redis uses 11,
// runtime/goredis 12, cmd/picocache 14).
const listerDB = 13

// plainDB is the shared test server's database db.
func plainDB(db int) backend {
	addr := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	return backend{
		rueidis: func(t *testing.T) *redis.Store {
			t.Helper()
			s, err := redis.Open(ctx, fmt.Sprintf("redis://%s/%d", addr, db), redis.WithFlushDelay(time.Hour))
			if err != nil {
				testenv.Unavailable(t, "redis at "+addr, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		goredis: func(t *testing.T) *goredis.Store {
			t.Helper()
			c := goredislib.NewClient(&goredislib.Options{Addr: addr, DB: db, ContextTimeoutEnabled: true})
			s := goredis.New(c, goredis.WithFlushDelay(time.Hour))
			t.Cleanup(func() { s.Close(); c.Close() })
			return s
		},
	}
}

// clustered is the test Cluster.
func clustered(t *testing.T) backend {
	addrs := cluster.Addrs(t)
	u := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	return backend{
		rueidis: func(t *testing.T) *redis.Store {
			t.Helper()
			s, err := redis.Open(ctx, u, redis.WithFlushDelay(time.Hour))
			if err != nil {
				t.Fatalf("Open(%s): %v", u, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		goredis: func(t *testing.T) *goredis.Store {
			t.Helper()
			c := goredislib.NewClusterClient(&goredislib.ClusterOptions{Addrs: addrs})
			s := goredis.New(c, goredis.WithFlushDelay(time.Hour))
			t.Cleanup(func() { s.Close(); c.Close() })
			return s
		},
	}
}

func TestInteropPlain(t *testing.T) {
	testInterop(t, plain())
	t.Run("Lister", func(t *testing.T) { testInteropLister(t, plainDB(listerDB)) })
}

func TestInteropCluster(t *testing.T) {
	b := clustered(t)
	testInterop(t, b)
	t.Run("Lister", func(t *testing.T) { testInteropLister(t, b) })
}

// store is one of the two stores under test, with its name.
type store struct {
	name string
	s    interface {
		runtime.Lister
		runtime.Flusher
	}
}

func testInterop(t *testing.T, b backend) {
	r, g := b.rueidis(t), b.goredis(t)
	for _, pair := range [][2]store{{{"rueidis", r}, {"go-redis", g}}, {{"go-redis", g}, {"rueidis", r}}} {
		one, other := pair[0], pair[1]
		t.Run(one.name+" then "+other.name, func(t *testing.T) {
			t.Run("ReadEachOther", func(t *testing.T) { testReadEachOther(t, one, other) })
			t.Run("Eviction", func(t *testing.T) { testEviction(t, one, other) })
			t.Run("Clear", func(t *testing.T) { testClear(t, one, other) })
		})
	}
	t.Run("ServerKeys", func(t *testing.T) { testServerKeys(t, r, g) })
}

// newFn returns a fresh namespace with awkward bytes in it, cleared
// through s when the test ends.
func newFn(t *testing.T, s runtime.Store) string {
	var b [6]byte
	rand.Read(b[:])
	fn := "interop_test/" + t.Name() + " {}{x}\x00é" + hex.EncodeToString(b[:])
	t.Cleanup(func() { space(t, s, fn, runtime.Limits{MaxSize: runtime.Unbounded}).Clear(context.Background()) })
	return fn
}

func space(t *testing.T, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space: %v", err)
	}
	return sp
}

func set(t *testing.T, st store, fn string, lim runtime.Limits, keys ...string) {
	t.Helper()
	sp := space(t, st.s, fn, lim)
	for _, k := range keys {
		if err := sp.Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
			t.Fatalf("%s: Set(%q): %v", st.name, k, err)
		}
	}
}

// want checks which of keys st finds, as present says.
func want(t *testing.T, st store, fn string, lim runtime.Limits, present map[string]bool) {
	t.Helper()
	sp := space(t, st.s, fn, lim)
	for k, p := range present {
		v, ok, err := sp.Get(ctx, []byte(k))
		if err != nil {
			t.Fatalf("%s: Get(%q): %v", st.name, k, err)
		}
		if ok != p || ok && string(v) != "value of "+k {
			t.Errorf("%s: Get(%q) = %q, %v; want present %v", st.name, k, v, ok, p)
		}
	}
}

func wantLen(t *testing.T, st store, fn string, n int64) {
	t.Helper()
	got, err := space(t, st.s, fn, runtime.Limits{MaxSize: runtime.Unbounded}).Len(ctx)
	if err != nil || got != n {
		t.Errorf("%s: Len = %d, %v; want %d", st.name, got, err, n)
	}
}

// testReadEachOther: what one writes, bounded or not, with a TTL or not,
// the other reads and counts, and the other way round.
func testReadEachOther(t *testing.T, one, other store) {
	for _, lim := range []runtime.Limits{{MaxSize: runtime.Unbounded}, {MaxSize: 10, TTL: time.Minute}} {
		t.Run(fmt.Sprintf("maxsize=%d,ttl=%v", lim.MaxSize, lim.TTL), func(t *testing.T) {
			fn := newFn(t, one.s)
			set(t, one, fn, lim, "a", "b", "")
			want(t, other, fn, lim, map[string]bool{"a": true, "b": true, "": true, "c": false})
			set(t, other, fn, lim, "c")
			want(t, one, fn, lim, map[string]bool{"a": true, "b": true, "": true, "c": true})
			wantLen(t, one, fn, 4)
			wantLen(t, other, fn, 4)
		})
	}
}

// testEviction: a bounded function written through both stores stays
// within its maxsize, and each store's evictions follow the recency of the
// other's hits once that one has applied them.
func testEviction(t *testing.T, one, other store) {
	fn := newFn(t, one.s)
	lim := runtime.Limits{MaxSize: 3}
	set(t, one, fn, lim, "a", "b", "c")
	want(t, other, fn, lim, map[string]bool{"a": true}) // the other's hit of a
	if err := other.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	set(t, one, fn, lim, "d") // evicts b, the least recently used
	want(t, one, fn, lim, map[string]bool{"c": true})
	if err := one.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	set(t, other, fn, lim, "e") // evicts a: c was hit since
	wantLen(t, one, fn, 3)
	wantLen(t, other, fn, 3)
	for _, st := range []store{one, other} {
		want(t, st, fn, lim, map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true})
	}
}

// testClear: Clear through one store empties the function for the other.
func testClear(t *testing.T, one, other store) {
	fn := newFn(t, one.s)
	lim := runtime.Limits{MaxSize: 100, TTL: time.Hour}
	set(t, one, fn, lim, "a", "b")
	set(t, other, fn, lim, "c")
	if err := space(t, other.s, fn, lim).Clear(ctx); err != nil {
		t.Fatal(err)
	}
	wantLen(t, one, fn, 0)
	want(t, one, fn, lim, map[string]bool{"a": false, "b": false, "c": false})
	set(t, one, fn, lim, "d")
	wantLen(t, other, fn, 1)
}

// testServerKeys: both stores name an entry by the same key on the server,
// and each client library reads the other's bytes as they were given.
func testServerKeys(t *testing.T, r *redis.Store, g *goredis.Store) {
	fn := newFn(t, r)
	n := redisstore.NewNames(fn)
	lim := runtime.Limits{MaxSize: 5, TTL: time.Hour}
	val := []byte{0, 1, 2, 0xff, '{', '}'}
	if err := space(t, g, fn, lim).Set(ctx, []byte("k"), val); err != nil {
		t.Fatal(err)
	}
	rc := r.Client()
	v, err := rc.Do(ctx, rc.B().Get().Key(n.Entry+"k").Build()).AsBytes()
	if err != nil || string(v) != string(val) {
		t.Errorf("rueidis GET of go-redis's entry: %q, %v; want %q", v, err, val)
	}
	pttl, err := rc.Do(ctx, rc.B().Pttl().Key(n.Entry+"k").Build()).AsInt64()
	if err != nil || pttl <= 0 || pttl > int64(time.Hour/time.Millisecond) {
		t.Errorf("PTTL of go-redis's entry with a 1h TTL = %d, %v", pttl, err)
	}
	if err := space(t, r, fn, lim).Set(ctx, []byte("j"), val); err != nil {
		t.Fatal(err)
	}
	if v, err := g.Client().Get(ctx, n.Entry+"j").Bytes(); err != nil || string(v) != string(val) {
		t.Errorf("go-redis GET of rueidis's entry: %q, %v; want %q", v, err, val)
	}
	members, err := g.Client().ZRange(ctx, n.LRU, 0, -1).Result()
	if err != nil || strings.Join(members, ",") != "k,j" {
		t.Errorf("lru = %q, %v; want k,j by recency", members, err)
	}
}

// testInteropLister: a namespace written through one store is listed,
// with its entries, bytes and last use, and deleted, whole or only while
// unused, through the other, and the other way round.
func testInteropLister(t *testing.T, b backend) {
	r, g := b.rueidis(t), b.goredis(t)
	for _, pair := range [][2]store{{{"rueidis", r}, {"go-redis", g}}, {{"go-redis", g}, {"rueidis", r}}} {
		one, other := pair[0], pair[1]
		t.Run(one.name+" then "+other.name, func(t *testing.T) {
			fn := newFn(t, one.s)
			before := time.Now()
			set(t, one, fn, runtime.Limits{MaxSize: 10}, "a", "b", "c")
			if err := one.s.Flush(ctx); err != nil { // the registration, sent already or now
				t.Fatal(err)
			}
			n := listed(t, other, fn)
			if n == nil {
				t.Fatalf("%s does not list the namespace that %s wrote", other.name, one.name)
			}
			if n.Entries != 3 || n.Bytes != 3*int64(len("a")+len("value of a")) {
				t.Errorf("%s lists %d entries, %d bytes; want 3, %d", other.name, n.Entries, n.Bytes, 3*(len("a")+len("value of a")))
			}
			if n.LastUsed.Before(before.Add(-time.Second)) || n.LastUsed.After(time.Now().Add(time.Second)) {
				t.Errorf("%s lists the last use at %v, want about %v", other.name, n.LastUsed, before)
			}
			if deleted, err := other.s.DeleteNamespace(ctx, fn, time.Now().Add(-time.Hour)); err != nil || deleted {
				t.Errorf("%s: DeleteNamespace of a namespace %s used since = %v, %v; want false", other.name, one.name, deleted, err)
			}
			wantLen(t, one, fn, 3)
			if deleted, err := other.s.DeleteNamespace(ctx, fn, time.Time{}); err != nil || !deleted {
				t.Fatalf("%s: DeleteNamespace = %v, %v; want true", other.name, deleted, err)
			}
			wantLen(t, one, fn, 0)
			want(t, one, fn, runtime.Limits{MaxSize: 10}, map[string]bool{"a": false, "b": false, "c": false})
			if n := listed(t, one, fn); n == nil || n.Entries != 0 {
				t.Errorf("%s lists %+v after %s deleted it; want the namespace in use, with no entries", one.name, n, other.name)
			}
		})
	}
}

// listed returns st's listing of fn, or nil.
func listed(t *testing.T, st store, fn string) *runtime.NamespaceInfo {
	t.Helper()
	list, err := st.s.Namespaces(ctx)
	if err != nil {
		t.Fatalf("%s: Namespaces: %v", st.name, err)
	}
	for i := range list {
		if list[i].Name == fn {
			return &list[i]
		}
	}
	return nil
}
