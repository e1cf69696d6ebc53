// Package faulttest checks, for any store, the promise that no memoized
// call waits on its store longer than the store's bound, whatever the
// server does. The tests of each network store run it through a
// faultnet.Proxy that accepts connections and never answers.
//
// It is for tests only; it imports the runtime and faultnet, no store.
package faulttest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faultnet"
	"github.com/picocache/picocache/runtime"
)

// Slack is what a call may take beyond its store's bound: computing the
// result, scheduling on a loaded machine. It is a bound that catches
// hangs, not a speed target.
const Slack = time.Second

var codec = runtime.Codec[int]{
	Type:   "faulttest int",
	Append: func(dst []byte, v int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

var seq atomic.Int64

// NewFunc returns a fresh memoized function of n, computing n*7, with its
// own namespace and maxsize 256, and the count of its body's runs.
func NewFunc(t testing.TB) (*runtime.Func[int], *atomic.Int64) {
	name := fmt.Sprintf("faulttest/%s/%d/%d", t.Name(), time.Now().UnixNano(), seq.Add(1))
	return runtime.New(runtime.Config{Name: name, Version: "1", MaxSize: 256}, codec), new(atomic.Int64)
}

// Call calls f(n) and reports what it returned and how long it took.
func Call(f *runtime.Func[int], runs *atomic.Int64, n int) (int, time.Duration) {
	start := time.Now()
	v, err := f.Do(context.Background(), binary.BigEndian.AppendUint64(nil, uint64(n)), func(context.Context) (int, error) {
		runs.Add(1)
		return n * 7, nil
	})
	if err != nil {
		return -1, time.Since(start)
	}
	return v, time.Since(start)
}

// CallsWithin calls f from 8 goroutines, perG calls each with keys from
// base on, and checks that every call returns its correct result within
// bound + Slack. Meanwhile it calls a function bound to a healthy memory
// store and checks that it is not delayed by the other store (no call
// takes the other store's bound). It returns the slowest call.
func CallsWithin(t testing.TB, f *runtime.Func[int], runs *atomic.Int64, bound time.Duration, base, perG int) time.Duration {
	t.Helper()
	healthy, hruns := NewFunc(t)
	healthy.Bind(runtime.NewMemory())
	var slowest atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var healthySlowest time.Duration
	healthyDone := make(chan struct{})
	go func() {
		defer close(healthyDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, d := Call(healthy, hruns, i%64)
			healthySlowest = max(healthySlowest, d)
			time.Sleep(time.Millisecond)
		}
	}()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				n := base + g*perG + i
				v, d := Call(f, runs, n)
				if v != n*7 {
					t.Errorf("f(%d) = %d, want %d", n, v, n*7)
				}
				if d > bound+Slack {
					t.Errorf("f(%d) took %v, more than the store's bound %v + %v", n, d, bound, Slack)
				}
				for {
					old := slowest.Load()
					if int64(d) <= old || slowest.CompareAndSwap(old, int64(d)) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-healthyDone
	// A call that waited for the silent store would wait its bound; less
	// than that is the machine's scheduling (CI runs this on 2 cores with
	// every server beside it, and a call once took 840 ms there).
	if healthySlowest >= max(bound, 200*time.Millisecond) {
		t.Errorf("a call of a function on a healthy store took %v while the other store was silent (bound %v)", healthySlowest, bound)
	}
	return time.Duration(slowest.Load())
}

// SilentAtOpen points PICOCACHE_URL at rawURL, a store behind a proxy that
// never answers, and checks that calls of an unbound function return
// their results within bound + Slack while the default store tries to
// open, and that Info reports the failure.
func SilentAtOpen(t *testing.T, rawURL string, bound time.Duration) {
	t.Setenv("PICOCACHE_URL", rawURL)
	runtime.CloseDefault()
	t.Cleanup(func() { runtime.CloseDefault() })
	f, runs := NewFunc(t)
	slowest := CallsWithin(t, f, runs, bound, 0, 2)
	t.Logf("slowest call while the store was opening: %v", slowest)
	if _, err := f.Info(context.Background()); err == nil {
		t.Error("Info with a silent default store returned no error")
	}
}

// SilentMidRun binds a fresh function to s, a store reached through p,
// checks that it caches, makes p silent and checks that calls stay within
// bound + Slack and return correct results, then lets p forward again and
// checks that caching resumes within reconnect.
func SilentMidRun(t *testing.T, p *faultnet.Proxy, s runtime.Store, bound, reconnect time.Duration) {
	f, runs := NewFunc(t)
	f.Bind(s)
	for n := range 3 {
		Call(f, runs, n)
		Call(f, runs, n)
	}
	if info, _ := f.Info(context.Background()); info.Hits != 3 || info.StoreErrors != 0 {
		t.Fatalf("through a forwarding proxy: %+v, want 3 hits and no store errors", info)
	}
	p.Silent()
	slowest := CallsWithin(t, f, runs, bound, 100, 2)
	t.Logf("slowest call while the server was silent: %v (bound %v)", slowest, bound)
	if info, _ := f.Info(context.Background()); info.StoreErrors == 0 {
		t.Error("no store failure counted while the server was silent")
	}
	p.Forward()
	deadline := time.Now().Add(reconnect)
	for n := 1000; ; n++ {
		before := runs.Load()
		Call(f, runs, n)
		Call(f, runs, n)
		if runs.Load() == before+1 {
			return // computed once, then a hit: caching resumed
		}
		if time.Now().After(deadline) {
			t.Fatalf("caching did not resume within %v of the server answering again", reconnect)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
