package runtime_test

import (
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) runtime.Store { return runtime.NewMemory() })
}

func TestMemoryFunc(t *testing.T) {
	storetest.RunFunc(t, func(t *testing.T) runtime.Store { return runtime.NewMemory() })
}

// bytesOnly hides *runtime.Memory behind the Store interface, so that
// Func takes the path every persistent store takes: encoded values, the
// envelope, and single flight outside the store.
type bytesOnly struct{ runtime.Store }

func TestByteStoreFunc(t *testing.T) {
	storetest.RunFunc(t, func(t *testing.T) runtime.Store { return bytesOnly{runtime.NewMemory()} })
}
