package goredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/redis/go-redis/v9"
)

var ctx = context.Background()

// redisOptions returns the options of a client of the shared test server:
// PICOCACHE_TEST_REDIS, as host:port or a redis:// URL, default
// 127.0.0.1:6379.
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	v := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	if !strings.Contains(v, "://") {
		return &redis.Options{Addr: v}
	}
	o, err := redis.ParseURL(v)
	if err != nil {
		t.Fatalf("PICOCACHE_TEST_REDIS: %v", err)
	}
	return o
}

// config is a way an application configures its go-redis client.
type config struct {
	name    string
	conf    func(o *redis.Options) // nil: go-redis's defaults
	guarded bool                   // the Store runs each call on a goroutine
}

// configs are the client configurations the tests run the store with: one
// that bounds its calls by their context, which the Store calls directly,
// and go-redis's defaults, which it guards.
var configs = []config{
	{"ContextTimeout", func(o *redis.Options) { o.ContextTimeoutEnabled = true }, false},
	{"Default", nil, true},
}

// newClient returns a new client of the shared server, configured by conf
// (if not nil), and closes it when the test ends. It skips (or fails
// under PICOCACHE_REQUIRE_SERVICES=1) when the server is unreachable.
func newClient(t testing.TB, conf func(o *redis.Options)) *redis.Client {
	t.Helper()
	o := redisOptions(t)
	if conf != nil {
		conf(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		testenv.Unavailable(t, "redis at "+o.Addr, err)
	}
	return c
}

// openWith returns an opener of stores on new clients (as new processes
// would have) configured by cf; each client is closed after its store,
// when the test ends.
func openWith(cf config, opts ...goredis.Option) func(t *testing.T) runtime.Store {
	return func(t *testing.T) runtime.Store {
		s := goredis.New(newClient(t, cf.conf), opts...)
		if goredis.Guarded(s) != cf.guarded {
			t.Fatalf("%s client: guarded = %v, want %v", cf.name, goredis.Guarded(s), cf.guarded)
		}
		return s
	}
}

// cluster is the Redis Cluster of these tests: on ports of its own, as
// go test ./... runs runtime/redis's tests, with theirs, at the same time.
var cluster = testenv.RedisCluster{Ports: "7111 7112 7113", Dir: "picocache-redis-cluster-goredis"}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the tests make many on purpose.
	redis.SetLogger(quietLogger{})
	code := m.Run()
	cluster.Stop()
	sweepRegistry()
	os.Exit(code)
}

// sweepRegistry removes from the shared server's registry of namespaces
// (pc:ns, in the database of PICOCACHE_TEST_REDIS) the namespaces that the
// tests registered and cleared, which would otherwise pile up run after
// run: the tests' namespaces have random names under these prefixes, and
// none of the tests that run meanwhile reads that database's registry.
func sweepRegistry() {
	o := &redis.Options{Addr: testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")}
	if strings.Contains(o.Addr, "://") {
		var err error
		if o, err = redis.ParseURL(o.Addr); err != nil {
			return
		}
	}
	c := redis.NewClient(o)
	defer c.Close()
	for _, match := range []string{"storetest/*", "storetest.*", "faulttest/*", "goredis_test/*"} {
		iter := c.HScan(ctx, "pc:ns", 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			field := iter.Val()
			if !iter.Next(ctx) { // the value
				break
			}
			c.HDel(ctx, "pc:ns", field)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// newClusterClient returns a client of the test Cluster, closed when the
// test ends.
func newClusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := cluster.Addrs(t)
	if len(addrs) < 3 {
		t.Fatalf("cluster seeds %q: want 3 nodes", addrs)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	return c
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

// newFn returns a fresh namespace with awkward bytes in it, cleared
// through s when the test ends.
func newFn(t testing.TB, s runtime.Store) string {
	var b [6]byte
	rand.Read(b[:])
	fn := "goredis_test/" + t.Name() + " {}{x}\x00é" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if sp, err := s.Space(context.Background(), runtime.Namespace{Name: fn, Limits: unbounded}); err == nil {
			sp.Clear(context.Background())
		}
	})
	return fn
}

// quietLogs sends slog's output away for the rest of the test: the
// runtime's store-failure warnings are expected there.
func quietLogs(t *testing.T) { testenv.CaptureLogs(t) }
