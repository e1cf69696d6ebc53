package storetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// RunFunc checks the promises of runtime.Func (lru_cache statistics,
// single flight, errors, panics, cancellation, per-function namespaces)
// on top of the stores returned by open. Stores run both Run and RunFunc.
func RunFunc(t *testing.T, open func(t *testing.T) runtime.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s runtime.Store)
	}{
		{"LRUCacheSemantics", testFuncLRUCache},
		{"MaxSizeZero", testFuncMaxSizeZero},
		{"Unbounded", testFuncUnbounded},
		{"SingleFlight", testFuncSingleFlight},
		{"SingleFlightKeys", testFuncSingleFlightKeys},
		{"CountsUnderConcurrency", testFuncCounts},
		{"ClearRacesCalls", testFuncClearRace},
		{"RecursiveFib", testFuncFib},
		{"FunctionsDoNotShare", testFuncIsolation},
		{"ErrorsNotStored", testFuncErrors},
		{"PanicReachesEveryone", testFuncPanic},
		{"WaiterCancellation", testFuncWaiterCancel},
		{"LeaderCancellation", testFuncLeaderCancel},
		{"TTL", testFuncTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// intCodec is a codec such as picogen writes for an int result.
var intCodec = runtime.Codec[int]{
	Type: "int",
	Append: func(dst []byte, v int) []byte {
		return binary.BigEndian.AppendUint64(dst, uint64(v))
	},
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

// counted is a memoized func(int) int whose body runs are counted.
type counted struct {
	f    *runtime.Func[int]
	runs atomic.Int64
	body func(ctx context.Context, n int) (int, error)
}

func newCounted(t *testing.T, s runtime.Store, maxSize int64, body func(ctx context.Context, n int) (int, error)) *counted {
	t.Helper()
	name := fmt.Sprintf("storetest.%s.%d.%d", t.Name(), time.Now().UnixNano(), seq.Add(1))
	c := &counted{f: runtime.New(runtime.Config{Name: name, Version: "v1", MaxSize: maxSize}, intCodec), body: body}
	if c.body == nil {
		c.body = func(ctx context.Context, n int) (int, error) { return n * 10, nil }
	}
	c.f.Bind(s)
	t.Cleanup(func() { c.f.Clear(context.Background()) })
	return c
}

var seq atomic.Int64

func (c *counted) call(ctx context.Context, n int) (int, error) {
	var kb [8]byte
	key := binary.BigEndian.AppendUint64(kb[:0], uint64(n))
	return c.f.Do(ctx, key, func(ctx context.Context) (int, error) {
		c.runs.Add(1)
		return c.body(ctx, n)
	})
}

func (c *counted) mustCall(t *testing.T, n int) int {
	t.Helper()
	v, err := c.call(context.Background(), n)
	if err != nil {
		t.Fatalf("call(%d): %v", n, err)
	}
	return v
}

func wantInfo(t *testing.T, c *counted, hits, misses, currSize int64) {
	t.Helper()
	info, err := c.f.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Hits != hits || info.Misses != misses || info.CurrSize != currSize {
		t.Errorf("Info = hits %d, misses %d, currsize %d; want %d, %d, %d",
			info.Hits, info.Misses, info.CurrSize, hits, misses, currSize)
	}
	if info.StoreErrors != 0 {
		t.Errorf("Info.StoreErrors = %d, want 0", info.StoreErrors)
	}
}

func testFuncLRUCache(t *testing.T, s runtime.Store) {
	c := newCounted(t, s, 2, nil)
	for _, n := range []int{1, 2, 3, 1, 2, 2} {
		if got := c.mustCall(t, n); got != n*10 {
			t.Fatalf("call(%d) = %d, want %d", n, got, n*10)
		}
	}
	wantInfo(t, c, 1, 5, 2)
	if got := c.runs.Load(); got != 5 {
		t.Errorf("body ran %d times, want 5", got)
	}
	if info, _ := c.f.Info(context.Background()); info.MaxSize != 2 {
		t.Errorf("Info.MaxSize = %d, want 2", info.MaxSize)
	}
	// Clear empties the store and resets the counters.
	if err := c.f.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantInfo(t, c, 0, 0, 0)
	c.mustCall(t, 2)
	wantInfo(t, c, 0, 1, 1)
}

func testFuncMaxSizeZero(t *testing.T, s runtime.Store) {
	c := newCounted(t, s, 0, nil)
	for range 3 {
		c.mustCall(t, 7)
	}
	wantInfo(t, c, 0, 3, 0)
	if got := c.runs.Load(); got != 3 {
		t.Errorf("body ran %d times, want 3", got)
	}
}

func testFuncUnbounded(t *testing.T, s runtime.Store) {
	c := newCounted(t, s, runtime.Unbounded, nil)
	for range 2 {
		for n := range 100 {
			c.mustCall(t, n)
		}
	}
	wantInfo(t, c, 100, 100, 100)
	if info, _ := c.f.Info(context.Background()); info.MaxSize != runtime.Unbounded {
		t.Errorf("Info.MaxSize = %d, want Unbounded", info.MaxSize)
	}
}

// gate is a body that blocks until released, so that callers pile up.
func gate(release <-chan struct{}) func(ctx context.Context, n int) (int, error) {
	return func(ctx context.Context, n int) (int, error) {
		<-release
		return n * 10, nil
	}
}

func testFuncSingleFlight(t *testing.T, s runtime.Store) {
	release := make(chan struct{})
	c := newCounted(t, s, 100, gate(release))
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := c.mustCall(t, 5); got != 50 {
				t.Errorf("got %d, want 50", got)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let most callers join the flight; counts hold either way
	close(release)
	wg.Wait()
	wantInfo(t, c, 9, 1, 1)
	if got := c.runs.Load(); got != 1 {
		t.Errorf("body ran %d times for one key, want 1", got)
	}
}

func testFuncSingleFlightKeys(t *testing.T, s runtime.Store) {
	release := make(chan struct{})
	c := newCounted(t, s, 100, gate(release))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % 10
			if got := c.mustCall(t, n); got != n*10 {
				t.Errorf("call(%d) = %d", n, got)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	wantInfo(t, c, 10, 10, 10)
	if got := c.runs.Load(); got != 10 {
		t.Errorf("body ran %d times for 10 keys, want 10", got)
	}
}

func testFuncCounts(t *testing.T, s runtime.Store) {
	const maxSize = 8
	c := newCounted(t, s, maxSize, nil)
	const goroutines, calls = 8, 60
	var wg sync.WaitGroup
	var over atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				n := (g*31 + i*7) % 20
				if got := c.mustCall(t, n); got != n*10 {
					t.Errorf("call(%d) = %d", n, got)
				}
				if i%10 == 0 {
					if info, err := c.f.Info(context.Background()); err == nil && info.CurrSize > maxSize {
						over.Store(info.CurrSize)
					}
				}
			}
		}()
	}
	wg.Wait()
	info, err := c.f.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Hits+info.Misses != goroutines*calls {
		t.Errorf("hits %d + misses %d = %d, want %d calls", info.Hits, info.Misses, info.Hits+info.Misses, goroutines*calls)
	}
	if info.Misses != c.runs.Load() {
		t.Errorf("misses %d, body runs %d: want equal", info.Misses, c.runs.Load())
	}
	if n := over.Load(); n != 0 || info.CurrSize > maxSize {
		t.Errorf("currsize exceeded maxsize %d: saw %d, final %d", maxSize, n, info.CurrSize)
	}
}

func testFuncClearRace(t *testing.T, s runtime.Store) {
	c := newCounted(t, s, 5, nil)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := (g + i) % 9
				if got := c.mustCall(t, n); got != n*10 {
					t.Errorf("call(%d) = %d", n, got)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			if err := c.f.Clear(context.Background()); err != nil {
				t.Errorf("Clear: %v", err)
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("calls racing with Clear did not finish: deadlock")
	}
	if info, err := c.f.Info(context.Background()); err != nil || info.CurrSize > 5 {
		t.Errorf("after the race: Info = %+v, %v", info, err)
	}
}

func testFuncFib(t *testing.T, s runtime.Store) {
	var fib func(n int) int
	f := runtime.New(runtime.Config{Name: fmt.Sprintf("storetest.fib.%d.%d", time.Now().UnixNano(), seq.Add(1)), MaxSize: runtime.Unbounded}, intCodec)
	f.Bind(s)
	t.Cleanup(func() { f.Clear(context.Background()) })
	var runs atomic.Int64
	fib = func(n int) int {
		key := strconv.AppendInt(nil, int64(n), 10)
		v, _ := f.Do(context.Background(), key, func(context.Context) (int, error) {
			runs.Add(1)
			if n < 2 {
				return n, nil
			}
			return fib(n-1) + fib(n-2), nil
		})
		return v
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := fib(60); got != 1548008755920 {
				t.Errorf("fib(60) = %d", got)
			}
		}()
	}
	wg.Wait()
	if got := runs.Load(); got != 61 {
		t.Errorf("fib body ran %d times, want 61 (once per n)", got)
	}
}

func testFuncIsolation(t *testing.T, s runtime.Store) {
	a := newCounted(t, s, 10, func(_ context.Context, n int) (int, error) { return n + 1, nil })
	b := newCounted(t, s, 10, func(_ context.Context, n int) (int, error) { return n + 2, nil })
	if a.mustCall(t, 1) != 2 || b.mustCall(t, 1) != 3 || a.mustCall(t, 1) != 2 || b.mustCall(t, 1) != 3 {
		t.Fatal("two functions with the same arguments shared a result")
	}
	if err := a.f.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantInfo(t, a, 0, 0, 0)
	if info, _ := b.f.Info(context.Background()); info.CurrSize != 1 {
		t.Errorf("Clear of one function left the other with %d entries, want 1", info.CurrSize)
	}
	b.mustCall(t, 1)
	if got := b.runs.Load(); got != 1 {
		t.Errorf("after Clear of another function, body ran %d times, want 1", got)
	}
}

func testFuncErrors(t *testing.T, s runtime.Store) {
	errBoom := errors.New("boom")
	release := make(chan struct{})
	var fail atomic.Bool
	fail.Store(true)
	c := newCounted(t, s, 10, func(_ context.Context, n int) (int, error) {
		<-release
		if fail.Load() {
			return 0, errBoom
		}
		return n, nil
	})
	var wg sync.WaitGroup
	var gotErr atomic.Int64
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.call(context.Background(), 1); errors.Is(err, errBoom) {
				gotErr.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	// Callers that joined the flight share its error; a caller that came
	// after it ran the body again (errors are not stored) and failed too.
	if gotErr.Load() != 5 {
		t.Errorf("%d of 5 callers got the error", gotErr.Load())
	}
	if info, _ := c.f.Info(context.Background()); info.CurrSize != 0 {
		t.Errorf("an error was stored: currsize %d", info.CurrSize)
	}
	fail.Store(false)
	if got := c.mustCall(t, 1); got != 1 {
		t.Errorf("after the error: got %d, want 1", got)
	}
}

func testFuncPanic(t *testing.T, s runtime.Store) {
	release := make(chan struct{})
	c := newCounted(t, s, 10, func(_ context.Context, n int) (int, error) {
		<-release
		panic("kaboom")
	})
	var wg sync.WaitGroup
	var panics atomic.Int64
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				switch p := recover().(type) {
				case string: // the caller that ran the body gets the value itself
					if p == "kaboom" {
						panics.Add(1)
					}
				case *runtime.PanicError:
					if p.Value == "kaboom" {
						panics.Add(1)
					}
				}
			}()
			c.call(context.Background(), 1)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("callers stayed blocked after a panic")
	}
	if panics.Load() != 5 {
		t.Errorf("%d of 5 callers saw the panic", panics.Load())
	}
	if info, _ := c.f.Info(context.Background()); info.CurrSize != 0 {
		t.Errorf("a panicking call stored something: currsize %d", info.CurrSize)
	}
}

func testFuncWaiterCancel(t *testing.T, s runtime.Store) {
	release := make(chan struct{})
	c := newCounted(t, s, 10, gate(release))
	leaderDone := make(chan int)
	go func() { v, _ := c.call(context.Background(), 3); leaderDone <- v }()
	time.Sleep(30 * time.Millisecond) // the leader is in the body now
	ctx, cancel := context.WithCancel(context.Background())
	waiterDone := make(chan error)
	go func() { _, err := c.call(ctx, 3); waiterDone <- err }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case err := <-waiterDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled waiter: err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter whose context ended did not return")
	}
	close(release)
	if v := <-leaderDone; v != 30 {
		t.Errorf("leader got %d after a waiter's cancellation, want 30", v)
	}
	if got := c.mustCall(t, 3); got != 30 || c.runs.Load() != 1 {
		t.Errorf("after: got %d with %d runs, want 30 with 1", got, c.runs.Load())
	}
}

func testFuncLeaderCancel(t *testing.T, s runtime.Store) {
	release := make(chan struct{})
	c := newCounted(t, s, 10, func(ctx context.Context, n int) (int, error) {
		select {
		case <-release:
			return n * 10, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error)
	go func() { _, err := c.call(ctx, 4); leaderErr <- err }()
	time.Sleep(30 * time.Millisecond)
	waiter := make(chan int)
	go func() { v, _ := c.call(context.Background(), 4); waiter <- v }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled leader: err = %v, want context.Canceled", err)
	}
	close(release)
	select {
	case v := <-waiter:
		if v != 40 {
			t.Errorf("the leader's cancellation spoiled the waiter's result: got %d, want 40", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter blocked after the leader's cancellation")
	}
}

func testFuncTTL(t *testing.T, s runtime.Store) {
	f := runtime.New(runtime.Config{
		Name: fmt.Sprintf("storetest.ttl.%d.%d", time.Now().UnixNano(), seq.Add(1)), MaxSize: 10, TTL: 300 * time.Millisecond,
	}, intCodec)
	f.Bind(s)
	t.Cleanup(func() { f.Clear(context.Background()) })
	var runs atomic.Int64
	call := func() {
		f.Do(context.Background(), []byte("k"), func(context.Context) (int, error) { runs.Add(1); return 1, nil })
	}
	call()
	call()
	if runs.Load() != 1 {
		t.Fatalf("within the TTL the body ran %d times, want 1", runs.Load())
	}
	time.Sleep(800 * time.Millisecond)
	call()
	if runs.Load() != 2 {
		t.Errorf("after the TTL the body ran %d times in all, want 2", runs.Load())
	}
}
