package goredis_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faultnet"
	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/redis/go-redis/v9"
)

// sharedProxy starts a proxy to the shared test server.
func sharedProxy(t *testing.T) *faultnet.Proxy {
	t.Helper()
	target := redisOptions(t).Addr
	if c, err := net.DialTimeout("tcp", target, 2*time.Second); err != nil {
		testenv.Unavailable(t, "redis at "+target, err)
	} else {
		c.Close()
	}
	return faultnet.Start(t, target)
}

// proxied is a way to reach the shared server through a proxy, as an
// application's client would be configured.
type proxied struct {
	name    string
	guarded bool
	client  func(addr string) redis.UniversalClient
}

// proxiedClients are the clients the fault tests run the store on: one
// that ends its calls at their context's deadline; go-redis's defaults,
// whose reads wait 5 s whatever the context says; one without socket
// deadlines at all, whose reads on a silent server never end by
// themselves; and a ClusterClient (its slots all on the proxy's address,
// in front of the plain server), which waits for its COMMAND table under
// a lock of its own.
var proxiedClients = []proxied{
	{"ContextTimeout", false, func(addr string) redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	}},
	{"Default", true, func(addr string) redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: addr})
	}},
	{"NoDeadlines", true, func(addr string) redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -2, WriteTimeout: -2})
	}},
	{"Cluster", true, func(addr string) redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{
			ContextTimeoutEnabled: true,
			ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
				return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
			},
		})
	}},
}

// newProxied returns a store with opts on pc's client of the shared
// server through a new proxy, and the proxy. The client is closed when
// the test ends, after the store.
func newProxied(t *testing.T, pc proxied, opts ...goredis.Option) (*goredis.Store, *faultnet.Proxy) {
	t.Helper()
	p := sharedProxy(t)
	c := pc.client(p.Addr())
	s := goredis.New(c, opts...)
	t.Cleanup(func() { s.Close(); c.Close() })
	if goredis.Guarded(s) != pc.guarded {
		t.Fatalf("%s: guarded = %v, want %v", pc.name, goredis.Guarded(s), pc.guarded)
	}
	return s, p
}

// TestSilentServerMidRun makes Redis stop answering while a store is in
// use (a network cut that drops packets): every call returns its result
// within the store's bound, however the client is configured, and caching
// resumes once it answers again.
func TestSilentServerMidRun(t *testing.T) {
	quietLogs(t)
	for _, pc := range proxiedClients {
		t.Run(pc.name, func(t *testing.T) {
			s, p := newProxied(t, pc, goredis.WithTimeout(time.Second))
			if s.Bound() != time.Second {
				t.Fatalf("Bound() = %v with WithTimeout(1s)", s.Bound())
			}
			faulttest.SilentMidRun(t, p, s, s.Bound(), 20*time.Second)
		})
	}
}

// TestSilentServerFromStart gives the store a client whose server never
// answered it: no connection was made, a Cluster's slots and COMMAND table
// never loaded. Calls return within the bound all the same, and caching
// starts once the server answers.
func TestSilentServerFromStart(t *testing.T) {
	quietLogs(t)
	for _, pc := range proxiedClients {
		t.Run(pc.name, func(t *testing.T) {
			p := sharedProxy(t)
			p.Silent()
			c := pc.client(p.Addr())
			s := goredis.New(c, goredis.WithTimeout(time.Second))
			t.Cleanup(func() { s.Close(); c.Close() })
			f, runs := faulttest.NewFunc(t)
			f.Bind(s)
			slowest := faulttest.CallsWithin(t, f, runs, s.Bound(), 0, 2)
			t.Logf("slowest call with a silent server: %v (bound %v)", slowest, s.Bound())
			p.Forward()
			waitCaching(t, f, runs, 20*time.Second)
		})
	}
}

// waitCaching calls f until a call hits, failing after within.
func waitCaching(t *testing.T, f *runtime.Func[int], runs *atomic.Int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for n := 5000; ; n++ {
		before := runs.Load()
		faulttest.Call(f, runs, n)
		faulttest.Call(f, runs, n)
		if runs.Load() == before+1 {
			return // computed once, then a hit
		}
		if time.Now().After(deadline) {
			t.Fatalf("caching did not start within %v of the server answering", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowServer adds a second to every reply: a call still returns within
// the store's bound, however many round trips it would have made.
func TestSlowServer(t *testing.T) {
	quietLogs(t)
	for _, pc := range proxiedClients {
		t.Run(pc.name, func(t *testing.T) {
			s, p := newProxied(t, pc, goredis.WithTimeout(2*time.Second))
			p.Delay(time.Second)
			f, runs := faulttest.NewFunc(t)
			f.Bind(s)
			slowest := faulttest.CallsWithin(t, f, runs, s.Bound(), 0, 2)
			t.Logf("slowest call with 1 s per reply: %v (bound %v)", slowest, s.Bound())
		})
	}
}

// TestCutServer drops every connection and refuses new ones (a server
// that went down): calls return their results within the bound, and
// caching resumes when connections are accepted again.
func TestCutServer(t *testing.T) {
	quietLogs(t)
	for _, pc := range proxiedClients {
		t.Run(pc.name, func(t *testing.T) {
			s, p := newProxied(t, pc, goredis.WithTimeout(time.Second))
			f, runs := faulttest.NewFunc(t)
			f.Bind(s)
			for n := range 3 {
				faulttest.Call(f, runs, n)
			}
			p.Cut()
			faulttest.CallsWithin(t, f, runs, s.Bound(), 100, 2)
			if info, _ := f.Info(ctx); info.StoreErrors == 0 {
				t.Error("no store failure counted while the server was down")
			}
			p.Forward()
			waitCaching(t, f, runs, 20*time.Second)
		})
	}
}

// TestAbandonedCallsBounded: with a client that has no socket deadlines,
// calls on a silent server never end by themselves. The store stops
// waiting for each at its bound, and once MaxAbandoned of them are left
// running, fails the next calls at once rather than start more; when the
// connections drop, they end, and the store works again.
func TestAbandonedCallsBounded(t *testing.T) {
	quietLogs(t)
	p := sharedProxy(t)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ReadTimeout: -2, WriteTimeout: -2, PoolSize: 2 * goredis.MaxAbandoned})
	s := goredis.New(c, goredis.WithTimeout(200*time.Millisecond))
	t.Cleanup(func() { s.Close(); c.Close() })
	sp := spaceOf(t, s, newFn(t, s), runtime.Limits{MaxSize: 10})
	if err := sp.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	p.Silent()
	// Rounds of concurrent Gets, each left running at the bound, until
	// the store refuses one.
	const par = 20
	var mu sync.Mutex
	var slowest time.Duration
	refused := 0
	for round := 0; refused == 0 && round < 2*goredis.MaxAbandoned/par; round++ {
		var wg sync.WaitGroup
		for range par {
			wg.Go(func() {
				start := time.Now()
				_, _, err := sp.Get(ctx, []byte("k"))
				d := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				slowest = max(slowest, d)
				switch {
				case err == nil:
					t.Error("Get from a silent server: nil error")
				case strings.Contains(err.Error(), "still running"):
					refused++
				}
			})
		}
		wg.Wait()
	}
	if slowest > s.Bound()+faulttest.Slack {
		t.Errorf("slowest Get %v, bound %v", slowest, s.Bound())
	}
	// Those that start while fewer than MaxAbandoned run may all be
	// left running too.
	if n := goredis.Abandoned(s); n < goredis.MaxAbandoned || n > goredis.MaxAbandoned+par {
		t.Errorf("%d calls left running, want %d to %d", n, goredis.MaxAbandoned, goredis.MaxAbandoned+par)
	}
	if refused == 0 {
		t.Fatalf("no Get refused with %d calls left running", goredis.Abandoned(s))
	}
	start := time.Now()
	_, _, err := sp.Get(ctx, []byte("k"))
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Get with %d calls left running: %v, want the store to refuse it", goredis.Abandoned(s), err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a refused Get took %v", d)
	}
	p.Cut() // the reads fail, the calls end
	for deadline := time.Now().Add(10 * time.Second); goredis.Abandoned(s) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still running 10s after their connections dropped", goredis.Abandoned(s))
		}
	}
	p.Forward()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		v, ok, err := sp.Get(ctx, []byte("k"))
		if err == nil && ok && string(v) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the server came back: Get = %q, %v, %v", v, ok, err)
		}
	}
}
