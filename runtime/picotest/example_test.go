package picotest_test

import (
	"testing"

	"github.com/picocache/picocache/runtime/picotest"
)

// A test that memoized functions must find empty, whatever earlier runs
// stored: its results go to a store of its own, gone when it ends.
func ExampleMemory() {
	testSquare := func(t *testing.T) {
		picotest.Memory(t)
		if got := squareCached(5); got != 25 {
			t.Errorf("squareCached(5) = %d, want 25", got)
		}
		// A second call is a hit of this test's own store.
		squareCached(5)
	}
	_ = testSquare // go test runs it as func TestSquare(t *testing.T)
}
