package sqldb_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faultnet"
	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime/sqldb"
)

// captureLogs sends slog's output to a buffer for the rest of the test,
// so that the runtime's store-failure warnings do not flood the output.
func captureLogs(t *testing.T) *testenv.Logs { return testenv.CaptureLogs(t) }

// throughProxy returns srv's URL with its host replaced by a proxy to it,
// and the proxy.
func throughProxy(t *testing.T, srv server) (string, *faultnet.Proxy) {
	t.Helper()
	u, err := url.Parse(srv.url(t))
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if port == "" {
		port = map[sqldb.Dialect]string{sqldb.Postgres: "5432", sqldb.MySQL: "3306"}[srv.dialect]
	}
	target := net.JoinHostPort(u.Hostname(), port)
	if c, err := net.DialTimeout("tcp", target, 2*time.Second); err != nil {
		testenv.Unavailable(t, srv.what, err)
	} else {
		c.Close()
	}
	p := faultnet.Start(t, target)
	u.Host = p.Addr()
	return u.String(), p
}

// TestSilentServerAtOpen makes PICOCACHE_URL name a database that accepts
// connections and never answers: calls return their results within the
// store's bound, and other functions are not delayed.
func TestSilentServerAtOpen(t *testing.T) {
	captureLogs(t)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			u, p := throughProxy(t, srv)
			p.Silent()
			faulttest.SilentAtOpen(t, u, sqldb.DefaultTimeout)
			// Opening it directly fails within the bound too, and says
			// what failed.
			start := time.Now()
			_, err := sqldb.Open(context.Background(), u, sqldb.WithTimeout(time.Second))
			if d := time.Since(start); d > time.Second+faulttest.Slack {
				t.Errorf("opening a silent server took %v with a 1s timeout", d)
			}
			if err == nil || !strings.Contains(err.Error(), "connecting") {
				t.Errorf("opening a silent server: %v, want an error about connecting", err)
			}
		})
	}
}

// TestSilentServerMidRun makes the database stop answering while a store
// is in use: every call returns its result within the store's bound, and
// caching resumes once the server answers again.
func TestSilentServerMidRun(t *testing.T) {
	captureLogs(t)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			u, p := throughProxy(t, srv)
			const bound = time.Second
			s := srv.open(t, u, sqldb.WithTimeout(bound))
			if s.Bound() != bound {
				t.Fatalf("Bound() = %v, want %v", s.Bound(), bound)
			}
			faulttest.SilentMidRun(t, p, s, bound, 20*time.Second)
		})
	}
}
