package storetest_test

import (
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/storetest"
)

// A store's conformance test: every suite the store's abilities call for,
// against the real backend (here the memory store, which needs none).
func ExampleRun() {
	testConformance := func(t *testing.T) {
		open := func(t *testing.T) runtime.Store { return runtime.NewMemory() }
		storetest.Run(t, open)     // the byte contract
		storetest.RunFunc(t, open) // runtime.Func's promises on the store
		// storetest.RunShared(t, open) for a store shared by processes,
		// storetest.RunLister(t, open) for a runtime.Lister.
	}
	_ = testConformance // go test runs it as func TestConformance(t *testing.T)
}
