// Package picotest gives a test memoized functions that start empty and
// leave nothing behind.
//
// A test that calls memoized functions writes, by default, to
// ./picocache.db in the package's folder: a second go test -count=1 run
// then finds the first run's results, and a test that expects a miss
// fails. [Memory] makes a fresh in-memory store the default store for the
// duration of one test instead:
//
//	func TestPrice(t *testing.T) {
//		picotest.Memory(t)
//		if got := PriceCached("widget"); got != 42 { ... }
//		if info := PriceCache.Info(); info.Misses != 1 { ... }
//	}
//
// Without code, PICOCACHE_URL=memory: does the same for a whole test
// binary (go test ./... with PICOCACHE_URL=memory: in the environment),
// with one store shared by its tests.
package picotest
