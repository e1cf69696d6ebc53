package runtime_test

import (
	"container/list"
	"context"
	"math/rand/v2"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// TestMemoryGoesAway checks that after Bind(nil) and the store's Close,
// nothing of 10^5 former entries stays on the heap.
func TestMemoryGoesAway(t *testing.T) {
	heap := func() int64 {
		goruntime.GC()
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	f := newFunc(t, runtime.Unbounded)
	before := heap()
	mem := runtime.NewMemory()
	f.Bind(mem)
	var runs atomic.Int64
	const n = 100_000
	for i := range n {
		call(f, &runs, i)
	}
	full := heap()
	f.Bind(nil)
	mem.Close()
	after := heap()
	t.Logf("heap: %d B before, %d B with %d entries (%.1f B each), %d B after Bind(nil) and Close", before, full, n, float64(full-before)/n, after)
	if per := float64(after-before) / n; per > 2 {
		t.Errorf("%.1f B per former entry stay on the heap after Bind(nil) and Close", per)
	}
	goruntime.KeepAlive(f)
}

// TestMemoryConcurrentHits hits a bounded function from many goroutines
// at once, filling the recency buffers many times over, while others
// store: every result is right, and the size stays within maxsize.
func TestMemoryConcurrentHits(t *testing.T) {
	f := newFunc(t, 50)
	f.Bind(runtime.NewMemory())
	var runs atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20000 {
				n := (i*7 + g) % 64
				if got := call(f, &runs, n); got != n*10 {
					t.Errorf("f(%d) = %d", n, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if info, _ := f.Info(context.Background()); info.CurrSize > 50 || info.Hits+info.Misses != 8*20000 {
		t.Errorf("Info = %+v: want currsize <= 50 and %d calls", info, 8*20000)
	}
}

// TestMemoryURL opens the memory store by URL: each opening is a new,
// empty store; maxsize caps every function; bad URLs say why.
func TestMemoryURL(t *testing.T) {
	ctx := context.Background()
	s, err := runtime.OpenURL(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newFunc(t, runtime.Unbounded)
	f.Bind(s)
	var runs atomic.Int64
	for n := range 10 {
		call(f, &runs, n)
		call(f, &runs, n)
	}
	if runs.Load() != 10 {
		t.Errorf("memory: store: %d runs for 10 keys called twice, want 10", runs.Load())
	}
	if other, err := runtime.OpenURL(ctx, "memory:"); err != nil {
		t.Fatal(err)
	} else if n, _ := spaceOf(t, other, f).Len(ctx); n != 0 {
		t.Errorf("a second memory: store holds %d entries, want a new, empty store", n)
	}

	capped, err := runtime.OpenURL(ctx, "memory:?maxsize=3")
	if err != nil {
		t.Fatal(err)
	}
	defer capped.Close()
	for _, maxSize := range []int64{runtime.Unbounded, 2, 5} {
		f := newFunc(t, maxSize)
		f.Bind(capped)
		for n := range 10 {
			call(f, &runs, n)
		}
		want := int64(3)
		if maxSize != runtime.Unbounded {
			want = min(want, maxSize)
		}
		if info, err := f.Info(ctx); err != nil || info.CurrSize != want {
			t.Errorf("maxsize=%d under memory:?maxsize=3: CurrSize %d (%v), want %d", maxSize, info.CurrSize, err, want)
		}
	}

	for _, bad := range []string{"memory:?maxsize=-1", "memory:?maxsize=many", "memory:?size=3", "memory:foo", "memory://host", "memory:///path"} {
		if _, err := runtime.OpenURL(ctx, bad); err == nil || !strings.Contains(err.Error(), "memory store") {
			t.Errorf("OpenURL(%q): err = %v, want an error naming the memory store", bad, err)
		}
	}
}

// TestMemoryURLDefault uses the memory store through PICOCACHE_URL, as a
// test run or a one-off run does.
func TestMemoryURLDefault(t *testing.T) {
	t.Setenv("PICOCACHE_URL", "memory:")
	runtime.CloseDefault()
	t.Cleanup(func() { runtime.CloseDefault() })
	f := newFunc(t, 2)
	var runs atomic.Int64
	for _, n := range []int{1, 2, 3, 1, 2, 2} {
		call(f, &runs, n)
	}
	info, err := f.Info(context.Background())
	if err != nil || info.Hits != 1 || info.Misses != 5 || info.CurrSize != 2 {
		t.Errorf("lru_cache sequence on PICOCACHE_URL=memory:: %+v, %v; want hits 1, misses 5, currsize 2", info, err)
	}
	if s, err := runtime.DefaultStore(context.Background()); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(*runtime.Memory); !ok {
		t.Errorf("default store is %T, want *runtime.Memory", s)
	}
}

// TestMemoryExactLRU runs random gets and sets of one goroutine on a
// bounded space and on a reference LRU list side by side: every get finds
// exactly what the reference holds, whatever the stores evict, replace or
// let expire.
func TestMemoryExactLRU(t *testing.T) {
	for _, maxSize := range []int64{1, 2, 7, 64} {
		s := runtime.NewMemory()
		sp, err := s.Space(context.Background(), runtime.Namespace{Name: "lru", Limits: runtime.Limits{MaxSize: maxSize}})
		if err != nil {
			t.Fatal(err)
		}
		ref := list.New() // front: most recent
		at := map[string]*list.Element{}
		rng := rand.New(rand.NewPCG(1, uint64(maxSize)))
		for op := range 50_000 {
			k := strconv.Itoa(rng.IntN(int(maxSize) * 3))
			if rng.IntN(3) == 0 {
				v := strconv.Itoa(op)
				if err := sp.Set(context.Background(), []byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				if e := at[k]; e != nil {
					ref.Remove(e)
				}
				at[k] = ref.PushFront([2]string{k, v})
				for int64(ref.Len()) > maxSize {
					old := ref.Remove(ref.Back()).([2]string)
					delete(at, old[0])
				}
				continue
			}
			got, ok, err := sp.Get(context.Background(), []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			want, wantOK := "", false
			if e := at[k]; e != nil {
				want, wantOK = e.Value.([2]string)[1], true
				ref.MoveToFront(e)
			}
			if ok != wantOK || string(got) != want {
				t.Fatalf("maxsize %d, op %d: Get(%s) = %q, %v; the reference LRU holds %q, %v", maxSize, op, k, got, ok, want, wantOK)
			}
		}
		if n, _ := sp.Len(context.Background()); n != int64(ref.Len()) {
			t.Errorf("maxsize %d: Len %d, reference %d", maxSize, n, ref.Len())
		}
		s.Close()
	}
}
