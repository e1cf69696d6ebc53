package memcache_test

import (
	"context"
	"net"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/internal/faultnet"
	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
	"github.com/picocache/picocache/runtime/memcache"
)

// sharedProxy starts a proxy to the shared test server.
func sharedProxy(t *testing.T) *faultnet.Proxy {
	t.Helper()
	if c, err := net.DialTimeout("tcp", memcachedAddr(), 2*time.Second); err != nil {
		testenv.Unavailable(t, "memcached at "+memcachedAddr(), err)
	} else {
		c.Close()
	}
	return faultnet.Start(t, memcachedAddr())
}

// TestSilentServerAtOpen makes PICOCACHE_URL name a memcached that
// accepts connections and never answers: calls return their results
// within the store's bound, other functions are not delayed, and opening
// fails within the bound.
func TestSilentServerAtOpen(t *testing.T) {
	testenv.CaptureLogs(t)
	p := sharedProxy(t)
	p.Silent()
	faulttest.SilentAtOpen(t, "memcache://"+p.Addr(), memcache.DefaultTimeout)
	start := time.Now()
	_, err := memcache.Open(context.Background(), "memcache://"+p.Addr())
	if d := time.Since(start); d > memcache.DefaultTimeout+faulttest.Slack {
		t.Errorf("opening a silent server took %v", d)
	}
	if err == nil {
		t.Error("opening a silent server succeeded")
	}
}

// TestSilentServerMidRun makes memcached stop answering while a store is
// in use: every call returns its result within the store's bound, and
// caching resumes once it answers again.
func TestSilentServerMidRun(t *testing.T) {
	testenv.CaptureLogs(t)
	p := sharedProxy(t)
	s, err := memcache.Open(context.Background(), "memcache://"+p.Addr()+"?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Bound() != time.Second {
		t.Fatalf("Bound() = %v with timeout=1s, want 1s", s.Bound())
	}
	faulttest.SilentMidRun(t, p, s, s.Bound(), 20*time.Second)
}

// TestSilentServerShortBound: a Store whose bound is shorter than four
// of its client's socket timeouts (a caller's client with a long Timeout,
// a short kv.WithTimeout) runs its calls on goroutines, and keeps its
// bound all the same.
func TestSilentServerShortBound(t *testing.T) {
	testenv.CaptureLogs(t)
	p := sharedProxy(t)
	c := gomemcache.New(p.Addr())
	c.Timeout = 3 * time.Second
	defer c.Close()
	s := memcache.New(c, kv.WithTimeout(300*time.Millisecond))
	defer s.Close()
	faulttest.SilentMidRun(t, p, s, s.Bound(), 20*time.Second)
}

// TestSlowServer adds a second to every reply: a call still returns within
// the store's bound, however many round trips it would have made.
func TestSlowServer(t *testing.T) {
	testenv.CaptureLogs(t)
	p := sharedProxy(t)
	s, err := memcache.Open(context.Background(), "memcache://"+p.Addr(), kv.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p.Delay(time.Second)
	f, runs := faulttest.NewFunc(t)
	f.Bind(s)
	slowest := faulttest.CallsWithin(t, f, runs, s.Bound(), 0, 2)
	t.Logf("slowest call with 1 s per reply: %v (bound %v)", slowest, s.Bound())
}

// TestServerCutAndBack cuts every connection to the server mid-run and
// refuses new ones, then forwards again: calls return their results,
// failures are counted, and caching resumes with the same store.
func TestServerCutAndBack(t *testing.T) {
	testenv.CaptureLogs(t)
	p := sharedProxy(t)
	s, err := memcache.Open(context.Background(), "memcache://"+p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, runs := faulttest.NewFunc(t)
	f.Bind(s)
	t.Cleanup(func() { f.Clear(context.Background()) })
	for n := range 10 {
		faulttest.Call(f, runs, n)
		faulttest.Call(f, runs, n)
	}
	if runs.Load() != 10 {
		t.Fatalf("with the server up: %d computations, want 10", runs.Load())
	}
	p.Cut()
	for n := range 10 {
		if v, d := faulttest.Call(f, runs, n); v != n*7 || d > s.Bound()+faulttest.Slack {
			t.Errorf("with the server cut: f(%d) = %d in %v", n, v, d)
		}
	}
	info, _ := f.Info(context.Background())
	if info.StoreErrors < 10 {
		t.Errorf("with the server cut: %d store errors, want one per call at least", info.StoreErrors)
	}
	if err := spaceOf(t, s, f.Namespace(), runtime.Limits{MaxSize: 256}).Clear(ctx); err == nil {
		t.Error("Clear with the server cut: nil error")
	}
	p.Forward()
	deadline := time.Now().Add(10 * time.Second)
	for n := 100; ; n++ {
		before := runs.Load()
		faulttest.Call(f, runs, n)
		faulttest.Call(f, runs, n)
		if runs.Load() == before+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("caching did not resume after the server came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
