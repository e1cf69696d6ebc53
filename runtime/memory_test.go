package runtime_test

import (
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) runtime.Store { return runtime.NewMemory() })
}
