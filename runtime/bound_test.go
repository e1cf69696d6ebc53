package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// slowBounded is a Bounder whose Get takes get before it misses and
// whose Set blocks until its context ends, recording whether that
// context had a deadline and how far off it was.
type slowBounded struct {
	runtime.Store
	bound, get time.Duration

	mu      sync.Mutex
	sets    int
	setLeft time.Duration // the Set's deadline, from its start
}

func (s *slowBounded) Bound() time.Duration { return s.bound }

func (s *slowBounded) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, err := s.Store.Space(ctx, ns)
	return slowSpace{sp, s}, err
}

type slowSpace struct {
	runtime.Space
	s *slowBounded
}

func (sp slowSpace) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	time.Sleep(sp.s.get)
	return nil, false, nil
}

func (sp slowSpace) Set(ctx context.Context, key, value []byte) error {
	s := sp.s
	s.mu.Lock()
	s.sets++
	if dl, ok := ctx.Deadline(); ok {
		s.setLeft = time.Until(dl)
	}
	s.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// TestBounderSetGetsWhatRemains checks that the Set after a miss gets only
// what the Get left of the store's Bound, so a call waits at most Bound on
// its store in all.
func TestBounderSetGetsWhatRemains(t *testing.T) {
	captureLogs(t)
	s := &slowBounded{Store: runtime.NewMemory(), bound: 400 * time.Millisecond, get: 150 * time.Millisecond}
	f := newFunc(t, 10)
	f.Bind(s)
	var runs atomic.Int64
	start := time.Now()
	if got := call(f, &runs, 4); got != 40 {
		t.Fatalf("got %d, want 40", got)
	}
	took := time.Since(start)
	s.mu.Lock()
	left, sets := s.setLeft, s.sets
	s.mu.Unlock()
	if sets != 1 {
		t.Fatalf("%d Sets, want 1", sets)
	}
	if left <= 0 || left > s.bound-s.get {
		t.Errorf("the Set's deadline was %v away, want at most %v (Bound less the Get's time)", left, s.bound-s.get)
	}
	if took > 3*time.Second {
		t.Errorf("the call took %v on a store bound to %v", took, s.bound)
	}
	if info, _ := f.Info(context.Background()); info.StoreErrors != 1 {
		t.Errorf("StoreErrors = %d, want 1 (the Set)", info.StoreErrors)
	}
}

// TestBounderSpentOnGet checks that no Set is tried when the Get took the
// whole Bound.
func TestBounderSpentOnGet(t *testing.T) {
	captureLogs(t)
	s := &slowBounded{Store: runtime.NewMemory(), bound: 50 * time.Millisecond, get: 80 * time.Millisecond}
	f := newFunc(t, 10)
	f.Bind(s)
	var runs atomic.Int64
	if got := call(f, &runs, 4); got != 40 {
		t.Fatalf("got %d, want 40", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sets != 0 {
		t.Errorf("%d Sets after a Get that spent the bound, want 0", s.sets)
	}
}

// TestMovedValueIsAMiss copies a valid stored value to another key, and to
// another function with the same result type: both are misses, computed
// and overwritten, never returned as that key's result.
func TestMovedValueIsAMiss(t *testing.T) {
	captureLogs(t)
	ctx := context.Background()
	s := bytesOnly{runtime.NewMemory()}
	f, g := newFunc(t, 10), newFunc(t, 10)
	f.Bind(s)
	g.Bind(s)
	var runs atomic.Int64
	key := func(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	call(f, &runs, 1) // stores 10 under f's key 1
	fs, gs := spaceOf(t, s, f), spaceOf(t, s, g)
	raw, ok, err := fs.Get(ctx, key(1))
	if err != nil || !ok {
		t.Fatalf("the stored entry: %v %v", ok, err)
	}
	// Under f's key 2, and under g's key 1.
	if err := fs.Set(ctx, key(2), raw); err != nil {
		t.Fatal(err)
	}
	if err := gs.Set(ctx, key(1), raw); err != nil {
		t.Fatal(err)
	}
	runs.Store(0)
	if got := call(f, &runs, 2); got != 20 {
		t.Errorf("f(2) with f(1)'s value moved under its key: got %d, want 20", got)
	}
	if got := call(g, &runs, 1); got != 10 || runs.Load() != 2 {
		t.Errorf("g(1) with f(1)'s value moved to g: got %d after %d runs, want 10 computed (2 runs)", got, runs.Load())
	}
	// Overwritten: the next calls hit.
	call(f, &runs, 2)
	call(g, &runs, 1)
	if runs.Load() != 2 {
		t.Errorf("after the moved values were overwritten the body ran %d times, want 2", runs.Load())
	}
	for _, h := range []*runtime.Func[int]{f, g} {
		if info, _ := h.Info(ctx); info.StoreErrors != 1 {
			t.Errorf("%s: StoreErrors = %d, want 1 (the moved entry)", h.Namespace(), info.StoreErrors)
		}
	}
}

// TestOldFormatIsACleanMiss checks that an entry of envelope format 1 is
// a miss that counts no store failure, and is overwritten.
func TestOldFormatIsACleanMiss(t *testing.T) {
	captureLogs(t)
	ctx := context.Background()
	s := bytesOnly{runtime.NewMemory()}
	f := newFunc(t, 10)
	f.Bind(s)
	var runs atomic.Int64
	key := binary.BigEndian.AppendUint64(nil, 7)
	call(f, &runs, 7)
	sp := spaceOf(t, s, f)
	raw, _, _ := sp.Get(ctx, key)
	old := append([]byte(nil), raw...)
	old[2] = 1
	sp.Set(ctx, key, old)
	if call(f, &runs, 7); runs.Load() != 2 {
		t.Errorf("a format-1 entry was returned as a hit")
	}
	if info, _ := f.Info(ctx); info.StoreErrors != 0 {
		t.Errorf("StoreErrors = %d after a format-1 entry, want 0", info.StoreErrors)
	}
}

// TestDefaultStoreOpensInTheBackground checks that a default store that
// takes long to open delays no call by more than about a second, that
// calls meanwhile compute, that functions bound elsewhere are not delayed
// at all, and that the store is used once it is open.
func TestDefaultStoreOpensInTheBackground(t *testing.T) {
	captureLogs(t)
	release := make(chan struct{})
	var opens atomic.Int64
	opened := runtime.NewMemory()
	runtime.RegisterScheme("picoslow", func(ctx context.Context, raw string) (runtime.Store, error) {
		opens.Add(1)
		select {
		case <-release:
			return bytesOnly{opened}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	t.Setenv("PICOCACHE_URL", "picoslow:x")
	runtime.CloseDefault()
	t.Cleanup(func() { runtime.CloseDefault() })

	f := newFunc(t, 10)
	healthy := newFunc(t, 10)
	healthy.Bind(runtime.NewMemory())
	var runs atomic.Int64
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if got := call(f, &runs, i); got != i*10 {
				t.Errorf("call %d while the store opens: got %d", i, got)
			}
			for d := int64(time.Since(start)); ; {
				if old := slowest.Load(); d <= old || slowest.CompareAndSwap(old, d) {
					break
				}
			}
		}()
	}
	// A function on another store is not held up by the opening.
	start := time.Now()
	for i := range 100 {
		call(healthy, &runs, i)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("100 calls of a function bound to a memory store took %v while another store opened", d)
	}
	wg.Wait()
	if d := time.Duration(slowest.Load()); d > 3*time.Second {
		t.Errorf("a call waited %v for the default store to open, want about 1 s at most", d)
	}
	// Still opening: calls compute at once, counting a store failure.
	start = time.Now()
	call(f, &runs, 100)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a call after the first wait took %v while the store still opened", d)
	}
	if info, err := f.Info(context.Background()); err == nil || info.StoreErrors == 0 {
		t.Errorf("Info while opening: %+v, %v; want store errors and an error", info, err)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := spaceOf(t, opened, f).Len(context.Background())
		call(f, &runs, 200)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the default store was never used after it opened")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("the store was opened %d times, want 1", n)
	}
}

// TestDefaultStoreRetriesInTheBackground checks that after a failure to
// open, the retry happens in the background: no call waits for it.
func TestDefaultStoreRetriesInTheBackground(t *testing.T) {
	captureLogs(t)
	var opens atomic.Int64
	runtime.RegisterScheme("picofail", func(ctx context.Context, raw string) (runtime.Store, error) {
		if opens.Add(1) > 1 {
			time.Sleep(2 * time.Second) // a slow retry
		}
		return nil, errors.New("refused")
	})
	t.Setenv("PICOCACHE_URL", "picofail:x")
	runtime.CloseDefault()
	t.Cleanup(func() { runtime.CloseDefault() })
	f := newFunc(t, 10)
	var runs atomic.Int64
	call(f, &runs, 1) // the first opening fails at once
	if opens.Load() != 1 {
		t.Fatalf("%d openings, want 1", opens.Load())
	}
	deadline := time.Now().Add(10 * time.Second)
	var slowest time.Duration
	for opens.Load() < 2 && time.Now().Before(deadline) {
		start := time.Now()
		call(f, &runs, 1)
		slowest = max(slowest, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	if opens.Load() < 2 {
		t.Fatal("the failed opening was never retried")
	}
	start := time.Now()
	call(f, &runs, 1) // the retry is in progress and takes 2 s
	slowest = max(slowest, time.Since(start))
	if slowest > 500*time.Millisecond {
		t.Errorf("a call took %v around a background retry, want no wait", slowest)
	}
}

// TestRecursionWithSameKey checks that a function calling itself with the
// same arguments, passing its context on, panics with a RecursionError
// instead of waiting for itself for ever; recursion with other arguments
// works as before.
func TestRecursionWithSameKey(t *testing.T) {
	f := newFunc(t, 10)
	f.Bind(runtime.NewMemory())
	key := func(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	var fib func(ctx context.Context, n int) (int, error)
	fib = func(ctx context.Context, n int) (int, error) {
		return f.Do(ctx, key(n), func(ctx context.Context) (int, error) {
			if n < 2 {
				return n, nil
			}
			if n == 7 {
				return fib(ctx, 7) // itself, same key
			}
			a, _ := fib(ctx, n-1)
			b, _ := fib(ctx, n-2)
			return a + b, nil
		})
	}
	if got, _ := fib(context.Background(), 6); got != 8 {
		t.Fatalf("fib(6) = %d, want 8", got)
	}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fib(context.Background(), 9)
	}()
	select {
	case p := <-done:
		re, ok := p.(*runtime.RecursionError)
		if !ok {
			// The leader re-panics with the original value; a waiter gets
			// a *PanicError holding it.
			if pe, isPE := p.(*runtime.PanicError); isPE {
				re, ok = pe.Value.(*runtime.RecursionError)
			}
		}
		if !ok || re.Func != f.Namespace() {
			t.Errorf("recovered %v (%T), want a *runtime.RecursionError naming %s", p, p, f.Namespace())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call waiting for itself hung")
	}
	// Nothing stays blocked: the function works afterwards.
	if got, _ := fib(context.Background(), 6); got != 8 {
		t.Errorf("fib(6) after the recursion error = %d, want 8", got)
	}
}
