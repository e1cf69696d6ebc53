package runtime_test

import (
	"context"
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

// bytesOnly hides the Values ability of a Memory's spaces, so that Func
// takes the path every persistent store takes: encoded values and the
// envelope.
type bytesOnly struct{ runtime.Store }

func (s bytesOnly) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, err := s.Store.Space(ctx, ns)
	if err != nil {
		return nil, err
	}
	return bytesSpace{sp}, nil
}

// bytesSpace has the Space methods of the space it wraps, and no other.
type bytesSpace struct{ runtime.Space }

// spaceOf opens f's space in s, for tests that reach under a Func.
func spaceOf(t testing.TB, s runtime.Store, f *runtime.Func[int]) runtime.Space {
	t.Helper()
	sp, err := s.Space(context.Background(), runtime.Namespace{Name: f.Namespace(), Limits: runtime.Limits{MaxSize: f.Config().MaxSize, TTL: f.Config().TTL}})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestByteStoreFunc(t *testing.T) {
	storetest.RunFunc(t, func(t *testing.T) runtime.Store { return bytesOnly{runtime.NewMemory()} })
}
