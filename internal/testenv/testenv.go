// Package testenv decides what a test does when a server it needs is absent:
// skip with a message, or fail when PICOCACHE_REQUIRE_SERVICES=1 (as CI sets).
package testenv

import (
	"os"
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
