package redis_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
)

var intCodec = runtime.Codec[int]{
	Type:   "int/varint",
	Append: func(dst []byte, v int) []byte { return binary.AppendVarint(dst, int64(v)) },
	Decode: func(src []byte) (int, error) {
		v, n := binary.Varint(src)
		if n <= 0 || n != len(src) {
			return 0, errors.New("bad varint")
		}
		return int(v), nil
	},
}

// TestServerDownAndBack stops a private server in the middle of a run of
// calls and starts it again: every call returns the computed result,
// failures are counted while it is down, and caching resumes once it is
// back, with the same process, store and client.
func TestServerDownAndBack(t *testing.T) {
	srv := startServer(t, portEnv(t, "PICOCACHE_TEST_REDIS_FAULT_PORT", 7199))
	s, err := redis.Open(ctx, "redis://"+srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The whole test is bounded: a call that hung would end it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	f := runtime.New(runtime.Config{Name: "fault.Square", Version: "1", MaxSize: 100}, intCodec)
	f.Bind(s)
	var computed atomic.Int64
	call := func(n int) {
		t.Helper()
		v, err := f.Do(ctx, []byte(strconv.Itoa(n)), func(context.Context) (int, error) {
			computed.Add(1)
			return n * n, nil
		})
		if err != nil || v != n*n {
			t.Fatalf("call(%d) = %d, %v; want %d, nil", n, v, err, n*n)
		}
	}
	info := func() runtime.Info {
		t.Helper()
		i, _ := f.Info(ctx) // CurrSize fails while the server is down
		return i
	}

	// Up: the first round computes, the second hits.
	for round := range 2 {
		for n := range 20 {
			call(n)
		}
		if got := computed.Load(); got != 20 {
			t.Fatalf("round %d with the server up: %d computations, want 20", round, got)
		}
	}
	if i := info(); i.Hits != 20 || i.Misses != 20 || i.StoreErrors != 0 || i.CurrSize != 20 {
		t.Fatalf("with the server up: %+v, want 20 hits, 20 misses, 0 store errors, 20 entries", i)
	}

	// Down: every call computes its correct result, and each failed Get
	// and Set is counted.
	srv.stop()
	for n := range 20 {
		call(n)
	}
	if got := computed.Load(); got != 40 {
		t.Errorf("with the server down: %d computations, want 40", got)
	}
	i := info()
	if i.StoreErrors < 20 {
		t.Errorf("with the server down: %d store errors counted, want at least 20 (one per call)", i.StoreErrors)
	}
	if i.Hits != 20 || i.Misses != 40 {
		t.Errorf("with the server down: %d hits, %d misses; want 20, 40", i.Hits, i.Misses)
	}
	sp := spaceOf(t, s, f.Namespace(), runtime.Limits{MaxSize: 100})
	if _, err := sp.Len(ctx); err == nil {
		t.Errorf("Len with the server down: nil error")
	}
	if err := sp.Clear(ctx); err == nil {
		t.Errorf("Clear with the server down: nil error")
	}

	// Back (empty, as it keeps no data): the store reconnects on its own.
	srv.start()
	errsBefore := info().StoreErrors
	resumed := false
	for attempt := 0; attempt < 100 && !resumed; attempt++ {
		before := computed.Load()
		call(7)
		call(7)
		resumed = computed.Load()-before <= 1 // the second call hit
		if !resumed {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !resumed {
		t.Fatalf("caching did not resume after the server came back: %+v", info())
	}
	errsAfter := info().StoreErrors
	for n := range 20 {
		call(n)
		call(n)
	}
	if i := info(); i.StoreErrors != errsAfter {
		t.Errorf("store errors went from %d to %d after caching resumed", errsAfter, i.StoreErrors)
	}
	if i := info(); i.CurrSize != 20 {
		t.Errorf("after recovery: CurrSize %d, want 20", i.CurrSize)
	}
	t.Logf("store errors: %d while down, %d while reconnecting", errsBefore, errsAfter-errsBefore)
}

// TestServerDownMidRun kills the server while goroutines are calling, then
// restarts it while they still are: no call returns a wrong result or an
// error, and the run ends with caching working again.
func TestServerDownMidRun(t *testing.T) {
	srv := startServer(t, portEnv(t, "PICOCACHE_TEST_REDIS_FAULT_PORT", 7199))
	s, err := redis.Open(ctx, "redis://"+srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	f := runtime.New(runtime.Config{Name: "fault.Cube", Version: "1", MaxSize: 30, TTL: time.Minute}, intCodec)
	f.Bind(s)
	const workers, calls = 4, 400
	var done atomic.Int64 // calls finished, to time the outage
	errs := make(chan error, workers)
	var slowest atomic.Int64
	for w := range workers {
		go func() {
			for i := range calls {
				n := (w*13 + i) % 50
				start := time.Now()
				v, err := f.Do(ctx, []byte(strconv.Itoa(n)), func(context.Context) (int, error) { return n * n * n, nil })
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				if err != nil || v != n*n*n {
					errs <- fmt.Errorf("call(%d) = %d, %v; want %d, nil", n, v, err, n*n*n)
					return
				}
				done.Add(1)
			}
			errs <- nil
		}()
	}
	waitCalls := func(n int64) {
		for done.Load() < n && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	waitCalls(workers * calls / 4)
	srv.stop()
	down := done.Load()
	waitCalls(down + workers*calls/4)
	srv.start()
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	i, err := f.Info(ctx)
	if err != nil {
		t.Fatalf("Info after the server came back: %v", err)
	}
	if i.StoreErrors == 0 {
		t.Errorf("no store errors counted across the outage: %+v", i)
	}
	if i.Hits+i.Misses != workers*calls {
		t.Errorf("hits+misses = %d, want %d", i.Hits+i.Misses, workers*calls)
	}
	// Caching works again.
	for range 2 {
		if _, err := f.Do(ctx, []byte("after"), func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if j, _ := f.Info(ctx); j.Hits != i.Hits+1 || j.StoreErrors != i.StoreErrors {
		t.Errorf("after the outage: %+v then %+v; want one more hit and no new store errors", i, j)
	}
	t.Logf("%+v; slowest call %v", i, time.Duration(slowest.Load()))
}
