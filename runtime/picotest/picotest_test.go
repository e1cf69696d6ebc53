package picotest_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/picotest"
)

var intCodec = runtime.Codec[int]{
	Type:   "int",
	Append: func(dst []byte, v int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

var square = runtime.New(runtime.Config{Name: "picotest_test.square", Version: "1", MaxSize: 16}, intCodec)

var runs atomic.Int64

func squareCached(n int) int {
	var kb [8]byte
	v, _ := square.Do(context.Background(), binary.BigEndian.AppendUint64(kb[:0], uint64(n)), func(context.Context) (int, error) {
		runs.Add(1)
		return n * n, nil
	})
	return v
}

// TestMemory checks that a test under Memory starts empty, that its
// results reach neither the default store set before nor later tests, and
// that the store it used is closed afterwards.
func TestMemory(t *testing.T) {
	outer := runtime.NewMemory()
	defer outer.Close()
	prev := runtime.SetDefaultStore(outer)
	defer runtime.SetDefaultStore(prev)
	squareCached(3) // stored in outer

	var inner *runtime.Memory
	for i := range 2 {
		t.Run("isolated", func(t *testing.T) {
			inner = picotest.Memory(t)
			if got := os.Getenv("PICOCACHE_URL"); got != "memory:" {
				t.Errorf("PICOCACHE_URL = %q, want memory:", got)
			}
			before := runs.Load()
			if got := squareCached(4); got != 16 {
				t.Fatalf("squareCached(4) = %d", got)
			}
			squareCached(4)
			if n := runs.Load() - before; n != 1 {
				t.Errorf("run %d: body ran %d times for two calls, want 1 (a miss in a fresh store, then a hit)", i, n)
			}
			if n, _ := square.Info(context.Background()); n.CurrSize != 1 {
				t.Errorf("run %d: CurrSize = %d, want 1", i, n.CurrSize)
			}
		})
		if _, err := inner.Space(context.Background(), runtime.Namespace{Name: "x"}); !errors.Is(err, runtime.ErrClosed) {
			t.Errorf("after the test, its store: Space error %v, want ErrClosed", err)
		}
	}
	if got := runtime.SetDefaultStore(outer); got != runtime.Store(outer) {
		t.Errorf("after the tests the default store is %v, want the one set before", got)
	}
	before := runs.Load()
	squareCached(3)
	if runs.Load() != before {
		t.Errorf("the outer store lost its entry")
	}
	sp, err := outer.Space(context.Background(), runtime.Namespace{Name: square.Namespace(), Limits: runtime.Limits{MaxSize: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sp.Len(context.Background()); err != nil || n != 1 {
		t.Errorf("the outer store holds %d entries (%v), want 1: the isolated tests' results reached it", n, err)
	}
}

func TestMemoryRefusesParallel(t *testing.T) {
	t.Run("parallel", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if recover() == nil {
				t.Error("Memory in a parallel test did not panic")
			}
		}()
		picotest.Memory(t)
	})
}
