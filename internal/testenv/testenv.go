// Package testenv decides what a test does when a server it needs is absent:
// skip with a message, or fail when PICOCACHE_REQUIRE_SERVICES=1 (as CI sets).
package testenv

import (
	"bytes"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// RequireServices reports whether PICOCACHE_REQUIRE_SERVICES=1 is set, so
// that an absent server fails the run instead of skipping.
func RequireServices() bool { return os.Getenv("PICOCACHE_REQUIRE_SERVICES") == "1" }

// Unavailable ends the test because service is unreachable: it fails when
// RequireServices reports true, and skips otherwise.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if RequireServices() {
		t.Fatalf("%s is required (PICOCACHE_REQUIRE_SERVICES=1) but unavailable: %v", service, err)
	}
	t.Skipf("%s unavailable, skipping (set PICOCACHE_REQUIRE_SERVICES=1 to fail instead): %v", service, err)
}

// Env returns the environment variable key, or def when it is unset.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Logs is the text that log/slog's default logger wrote during a test. It
// is safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// CaptureLogs sends log/slog's default logger to a buffer for the rest of
// the test, so that expected warnings (store failures) neither flood the
// output nor go unchecked, and restores it when the test ends.
func CaptureLogs(t testing.TB) *Logs {
	l := new(Logs)
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(l, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return l
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
