package runtime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
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

var nameSeq atomic.Int64

func newFunc(t *testing.T, maxSize int64) *runtime.Func[int] {
	return runtime.New(runtime.Config{Name: t.Name() + "." + string(rune('a'+nameSeq.Add(1)%26)), Version: "1", MaxSize: maxSize}, intCodec)
}

// call memoizes n*10, counting body runs.
func call(f *runtime.Func[int], runs *atomic.Int64, n int) int {
	var kb [8]byte
	v, _ := f.Do(context.Background(), binary.BigEndian.AppendUint64(kb[:0], uint64(n)), func(context.Context) (int, error) {
		runs.Add(1)
		return n * 10, nil
	})
	return v
}

// failing is a store whose spaces' operations fail while down is set.
type failing struct {
	runtime.Store
	down atomic.Bool
}

var errDown = errors.New("store is down")

func (s *failing) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, err := s.Store.Space(ctx, ns)
	return failingSpace{sp, &s.down}, err
}

type failingSpace struct {
	runtime.Space
	down *atomic.Bool
}

func (s failingSpace) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if s.down.Load() {
		return nil, false, errDown
	}
	return s.Space.Get(ctx, key)
}

func (s failingSpace) Set(ctx context.Context, key, value []byte) error {
	if s.down.Load() {
		return errDown
	}
	return s.Space.Set(ctx, key, value)
}

// captureLogs sends slog's default logger to a buffer for the test.
func captureLogs(t *testing.T) *testenv.Logs { return testenv.CaptureLogs(t) }

func TestStoreFailureKeepsResultsCorrect(t *testing.T) {
	logs := captureLogs(t)
	s := &failing{Store: runtime.NewMemory()}
	f := newFunc(t, 10)
	f.Bind(s)
	var runs atomic.Int64
	call(f, &runs, 1) // stored while the store is up
	s.down.Store(true)
	for i := range 20 {
		if got := call(f, &runs, i%3); got != (i%3)*10 {
			t.Fatalf("with the store down: got %d, want %d", got, (i%3)*10)
		}
	}
	info, _ := f.Info(context.Background())
	if info.StoreErrors == 0 {
		t.Errorf("store failures were not counted: %+v", info)
	}
	if n := strings.Count(logs.String(), "store failure"); n != 1 {
		t.Errorf("logged %d store failures in a burst, want 1 (rate-limited):\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "store is down") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
	// When the store is back, caching resumes.
	s.down.Store(false)
	before := runs.Load()
	call(f, &runs, 2)
	call(f, &runs, 2)
	if runs.Load() != before+1 {
		t.Errorf("after recovery the body ran %d times for one key, want 1", runs.Load()-before)
	}
}

func TestCorruptEntryIsAMissAndIsOverwritten(t *testing.T) {
	captureLogs(t)
	mem := runtime.NewMemory()
	f := newFunc(t, 10)
	f.Bind(bytesOnly{mem})
	var runs atomic.Int64
	call(f, &runs, 1)
	key := binary.BigEndian.AppendUint64(nil, 1)
	ctx := context.Background()
	sp := spaceOf(t, mem, f)
	good, ok, _ := sp.Get(ctx, key)
	if !ok {
		t.Fatal("the result was not stored")
	}
	damaged := bytes.Clone(good)
	damaged[len(damaged)-6] ^= 0x40 // a bit flip in the payload
	for _, bad := range [][]byte{nil, []byte("garbage"), damaged, good[:len(good)-1]} {
		sp.Set(ctx, key, bad)
		before := runs.Load()
		if got := call(f, &runs, 1); got != 10 {
			t.Fatalf("with a corrupt entry %q: got %d, want 10", bad, got)
		}
		if runs.Load() != before+1 {
			t.Errorf("a corrupt entry %q was a hit", bad)
		}
		if v, _, _ := sp.Get(ctx, key); !bytes.Equal(v, good) {
			t.Errorf("the corrupt entry %q was not overwritten", bad)
		}
	}
	if info, _ := f.Info(ctx); info.StoreErrors != 4 {
		t.Errorf("StoreErrors = %d, want 4 (one per corrupt entry)", info.StoreErrors)
	}

	// A value of another result type under the same namespace is foreign.
	other := runtime.New(runtime.Config{Name: f.Config().Name, Version: f.Config().Version, MaxSize: 10},
		runtime.Codec[int]{Type: "uint64", Append: intCodec.Append, Decode: intCodec.Decode})
	other.Bind(bytesOnly{mem})
	ran := false
	other.Do(ctx, key, func(context.Context) (int, error) { ran = true; return 10, nil })
	if !ran {
		t.Error("a value written for another result type was a hit")
	}
}

func TestGoexitReleasesWaiters(t *testing.T) {
	f := newFunc(t, 10)
	f.Bind(runtime.NewMemory())
	release := make(chan struct{})
	var wg sync.WaitGroup
	var returned atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Do(context.Background(), []byte("k"), func(context.Context) (int, error) {
				<-release
				// runtime.Goexit, as t.FailNow does in a test helper.
				goruntime.Goexit()
				return 0, nil
			})
			returned.Add(1)
		}()
	}
	time.Sleep(30 * time.Millisecond)
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callers stayed blocked after runtime.Goexit")
	}
	if returned.Load() != 0 {
		t.Errorf("%d callers returned normally from a computation that called Goexit", returned.Load())
	}
}

func TestDefaultStoreOrder(t *testing.T) {
	ctx := context.Background()
	envStore := runtime.NewMemory()
	runtime.RegisterScheme("picotest", func(ctx context.Context, raw string) (runtime.Store, error) {
		if raw != "picotest:env" {
			return nil, errors.New("unexpected URL " + raw)
		}
		return envStore, nil
	})
	t.Cleanup(func() { runtime.SetDefaultStore(nil); runtime.CloseDefault() })
	runtime.CloseDefault()

	f := newFunc(t, 10)
	var runs atomic.Int64
	lenIn := func(s runtime.Store) int64 {
		n, err := spaceOf(t, s, f).Len(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// 4. Nothing chosen: SQLite at ./picocache.db, whose package this test
	// does not link, so the store cannot open. Calls still work.
	t.Setenv("PICOCACHE_URL", "")
	captureLogs(t)
	if got := call(f, &runs, 1); got != 10 {
		t.Fatalf("without an openable store: got %d", got)
	}
	if _, err := f.Info(ctx); err == nil || !strings.Contains(err.Error(), `"sqlite"`) {
		t.Errorf("Info without an openable store: err = %v, want one naming the sqlite scheme", err)
	}

	// 3. PICOCACHE_URL.
	t.Setenv("PICOCACHE_URL", "picotest:env")
	runtime.CloseDefault() // forget the failure
	call(f, &runs, 1)
	if lenIn(envStore) != 1 {
		t.Error("PICOCACHE_URL's store was not used")
	}

	// 2. The process default beats PICOCACHE_URL.
	procStore := runtime.NewMemory()
	runtime.SetDefaultStore(procStore)
	call(f, &runs, 2)
	if lenIn(procStore) != 1 || lenIn(envStore) != 1 {
		t.Error("SetDefaultStore's store was not used")
	}

	// 1. A bound store beats everything.
	bound := runtime.NewMemory()
	f.Bind(bound)
	call(f, &runs, 3)
	if lenIn(bound) != 1 || lenIn(procStore) != 1 {
		t.Error("the bound store was not used")
	}
	f.Bind(nil)
	call(f, &runs, 4)
	if lenIn(procStore) != 2 {
		t.Error("Bind(nil) did not return to the default store")
	}
}

func TestOpenURLErrors(t *testing.T) {
	_, err := runtime.OpenURL(context.Background(), "nosuch://u:secret@host/x")
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("unknown scheme: err = %v", err)
	}
	if _, err := runtime.OpenURL(context.Background(), "::"); err == nil {
		t.Error("unparsable URL: no error")
	}
}

func TestMemoryHitAllocs(t *testing.T) {
	f := newFunc(t, 100)
	f.Bind(runtime.NewMemory())
	var runs atomic.Int64
	call(f, &runs, 7)
	allocs := testing.AllocsPerRun(1000, func() { call(f, &runs, 7) })
	if allocs != 0 {
		t.Errorf("a memory hit allocates %.1f times, want 0", allocs)
	}
}

// TestByteStoreHitAllocs checks that a hit on a store of bytes allocates
// only what the store's read does: the wrapper adds nothing (no flight, no
// copy of the key).
func TestByteStoreHitAllocs(t *testing.T) {
	s := bytesOnly{runtime.NewMemory()}
	f := newFunc(t, 100)
	f.Bind(s)
	var runs atomic.Int64
	call(f, &runs, 7)
	sp := spaceOf(t, s, f)
	key := binary.BigEndian.AppendUint64(nil, 7)
	store := testing.AllocsPerRun(1000, func() { sp.Get(context.Background(), key) })
	hit := testing.AllocsPerRun(1000, func() { call(f, &runs, 7) })
	if runs.Load() != 1 {
		t.Fatalf("the body ran %d times, want 1", runs.Load())
	}
	if hit > store {
		t.Errorf("a hit allocates %.1f times, the store's read alone %.1f: the wrapper adds %.1f", hit, store, hit-store)
	}
}

// TestParallelMemoryHitsOrder checks that hits of a bounded function on
// the memory store, buffered, still give one goroutine exact LRU order
// however many of them there were before the eviction.
func TestMemoryHitsKeepLRUOrder(t *testing.T) {
	for _, hits := range []int{1, 63, 64, 65, 1000} {
		f := newFunc(t, 3)
		f.Bind(runtime.NewMemory())
		var runs atomic.Int64
		for _, n := range []int{1, 2, 3} {
			call(f, &runs, n)
		}
		// Hit 3, 1, 2 in turn, many times: 3 is the least recent.
		for i := range hits {
			call(f, &runs, []int{3, 1, 2}[i%3])
		}
		lru := []int{3, 1, 2}[hits%3]
		call(f, &runs, 4) // evicts lru
		before := runs.Load()
		call(f, &runs, lru)
		if runs.Load() != before+1 {
			t.Errorf("after %d hits, %d (the least recent) was not the one evicted", hits, lru)
		}
	}
}

func BenchmarkMemoryHit(b *testing.B) {
	f := runtime.New(runtime.Config{Name: "bench", MaxSize: 1024}, intCodec)
	f.Bind(runtime.NewMemory())
	var runs atomic.Int64
	for n := range 1024 {
		call(f, &runs, n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		call(f, &runs, i&1023)
	}
}

// stalling is a store whose Get and Set hang until their context ends,
// like a server that stopped answering.
type stalling struct{ runtime.Store }

func (s stalling) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, err := s.Store.Space(ctx, ns)
	return stallingSpace{sp}, err
}

type stallingSpace struct{ runtime.Space }

func (stallingSpace) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

func (stallingSpace) Set(ctx context.Context, key, value []byte) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestSlowStoreCostsTimeNotResults(t *testing.T) {
	captureLogs(t)
	runtime.SetStoreTimeout(20 * time.Millisecond)
	t.Cleanup(func() { runtime.SetStoreTimeout(0) })
	f := newFunc(t, 10)
	f.Bind(stalling{runtime.NewMemory()})
	var runs atomic.Int64
	done := make(chan int)
	go func() { done <- call(f, &runs, 3) }()
	select {
	case got := <-done:
		if got != 30 {
			t.Errorf("with a stalled store: got %d, want 30", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled store held the call beyond the store timeout")
	}
	// The Set is not tried after a failed Get: a call waits on a store
	// that stopped answering once, not twice.
	if info, _ := f.Info(context.Background()); info.StoreErrors != 1 {
		t.Errorf("StoreErrors = %d, want 1 (the Get timed out; no Set after it)", info.StoreErrors)
	}
}

func TestClosedMemoryIsAStoreFailure(t *testing.T) {
	captureLogs(t)
	mem := runtime.NewMemory()
	f := newFunc(t, 10)
	f.Bind(mem)
	var runs atomic.Int64
	call(f, &runs, 1)
	mem.Close()
	for range 3 {
		if got := call(f, &runs, 1); got != 10 {
			t.Fatalf("after Close: got %d, want 10", got)
		}
	}
	if runs.Load() != 4 {
		t.Errorf("after Close the body ran %d times in all, want 4 (nothing cached)", runs.Load())
	}
	if info, _ := f.Info(context.Background()); info.StoreErrors == 0 {
		t.Error("calls on a closed Memory counted no store failure")
	}
}
