package redis_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faultnet"
	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime/redis"
)

// sharedProxy starts a proxy to the shared test server.
func sharedProxy(t *testing.T) *faultnet.Proxy {
	t.Helper()
	target := strings.TrimPrefix(redisURL(), "redis://")
	if i := strings.IndexAny(target, "/?"); i >= 0 {
		target = target[:i]
	}
	if c, err := net.DialTimeout("tcp", target, 2*time.Second); err != nil {
		testenv.Unavailable(t, "redis at "+target, err)
	} else {
		c.Close()
	}
	return faultnet.Start(t, target)
}

// TestSilentServerAtOpen makes PICOCACHE_URL name a Redis that accepts
// connections and never answers: calls return their results within the
// store's bound, and other functions are not delayed.
func TestSilentServerAtOpen(t *testing.T) {
	quietLogs(t)
	p := sharedProxy(t)
	p.Silent()
	faulttest.SilentAtOpen(t, "redis://"+p.Addr(), redis.DefaultTimeout)
	start := time.Now()
	_, err := redis.Open(context.Background(), "redis://"+p.Addr())
	if d := time.Since(start); d > redis.DefaultTimeout+faulttest.Slack {
		t.Errorf("opening a silent server took %v", d)
	}
	if err == nil {
		t.Error("opening a silent server succeeded")
	}
}

// TestSilentServerMidRun makes Redis stop answering while a store is in
// use (a network cut that drops packets): every call returns its result
// within the store's bound, and caching resumes once it answers again.
func TestSilentServerMidRun(t *testing.T) {
	quietLogs(t)
	p := sharedProxy(t)
	s, err := redis.Open(context.Background(), "redis://"+p.Addr()+"?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Bound() != time.Second {
		t.Fatalf("Bound() = %v with timeout=1s, want 1s", s.Bound())
	}
	faulttest.SilentMidRun(t, p, s, s.Bound(), 20*time.Second)
}

// TestSlowServer adds a second to every reply: a call still returns within
// the store's bound, however many round trips it would have made.
func TestSlowServer(t *testing.T) {
	quietLogs(t)
	p := sharedProxy(t)
	s, err := redis.Open(context.Background(), "redis://"+p.Addr(), redis.WithTimeout(2*time.Second))
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

// quietLogs sends slog's output away for the rest of the test: the
// runtime's store-failure warnings are expected here.
func quietLogs(t *testing.T) { testenv.CaptureLogs(t) }

func TestTimeoutParameter(t *testing.T) {
	for _, bad := range []string{"abc", "0s", "-1s"} {
		if _, err := redis.ParseURL("redis://127.0.0.1:1?timeout=" + bad); err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("timeout=%s: err = %v, want one naming timeout", bad, err)
		}
	}
	if _, err := redis.ParseURL("redis://127.0.0.1:1?timeout=250ms"); err != nil {
		t.Errorf("timeout=250ms: %v", err)
	}
	if s := redis.New(nil); s.Bound() != redis.DefaultTimeout {
		t.Errorf("New: Bound() = %v, want DefaultTimeout", s.Bound())
	}
}
