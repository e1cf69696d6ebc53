package picotest

import (
	"testing"

	"github.com/picocache/picocache/runtime"
)

// Memory makes a new, empty in-memory store the default store of the
// process until t ends, then puts back the default store set before (if
// any) and closes the new one, so that nothing of the test's results
// remains. It returns the store, for tests that look at it.
//
// Functions bound to a store of their own with Func.Bind keep it; Memory
// changes only what unbound functions use. The default store belongs to
// the whole process, so Memory must not be used in parallel tests: like
// t.Setenv, it fails a test that called t.Parallel. It also sets
// PICOCACHE_URL=memory: for the test, so that programs the test starts
// use a memory store of their own.
func Memory(t testing.TB) *runtime.Memory {
	t.Helper()
	t.Setenv("PICOCACHE_URL", "memory:") // also refuses parallel tests
	m := runtime.NewMemory()
	prev := runtime.SetDefaultStore(m)
	t.Cleanup(func() {
		runtime.SetDefaultStore(prev)
		m.Close()
	})
	return m
}
