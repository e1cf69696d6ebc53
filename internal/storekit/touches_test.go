package storekit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTouchesOrderAndDedup(t *testing.T) {
	var tc Touches
	for _, k := range []string{"a", "b", "c", "a", "d", "b"} {
		tc.Add([]byte(k))
	}
	var got []string
	for _, k := range tc.Take() {
		got = append(got, string(k))
	}
	if want := "[c a d b]"; fmt.Sprint(got) != want {
		t.Errorf("Take = %v, want %s (least recent first, each key once)", got, want)
	}
	if k := tc.Take(); k != nil {
		t.Errorf("Take after Take = %q, want nil", k)
	}
}

func TestTouchesKeysAreCopies(t *testing.T) {
	var tc Touches
	key := []byte("key")
	tc.Add(key)
	key[0] = 'X'
	if k := tc.Take(); len(k) != 1 || string(k[0]) != "key" {
		t.Errorf("Take = %q, want [key]", k)
	}
}

// TestTouchesBounded hits a million distinct keys: the batch reports full
// long before, and after each Take its size starts over.
func TestTouchesBounded(t *testing.T) {
	var tc Touches
	fulls, most := 0, 0
	for i := range 1_000_000 {
		if tc.Add(fmt.Appendf(nil, "key %d", i)) {
			fulls++
			most = max(most, tc.Len())
			tc.Take()
		}
	}
	if fulls == 0 {
		t.Fatal("a million distinct keys never filled the batch")
	}
	if limit := 16 * stripeKeys; most > limit {
		t.Errorf("the batch held %d keys, more than %d", most, limit)
	}
	if n := tc.Len(); n > 16*stripeKeys {
		t.Errorf("%d keys pending at the end", n)
	}
}

func TestTouchesBoundedBytes(t *testing.T) {
	var tc Touches
	big := make([]byte, 64<<10)
	full := false
	for i := 0; i < 64 && !full; i++ {
		big[0], big[1] = byte(i), byte(i>>8)
		full = tc.Add(big)
	}
	if !full {
		t.Error("64 keys of 64 KiB each never filled the batch")
	}
}

func TestTouchesConcurrent(t *testing.T) {
	var tc Touches
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				tc.Add(fmt.Appendf(nil, "%d/%d", g, i%50))
			}
		}()
	}
	wg.Wait()
	if n := len(tc.Take()); n != 400 {
		t.Errorf("Take after 8 goroutines hit 50 keys each: %d keys, want 400", n)
	}
}

func TestTouchesAddAllocatesNothing(t *testing.T) {
	var tc Touches
	keys := make([][]byte, 100)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key %d", i)
	}
	for _, k := range keys { // grow the buffers
		tc.Add(k)
	}
	tc.Take()
	for _, k := range keys {
		tc.Add(k)
	}
	tc.Take()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		tc.Add(keys[i%len(keys)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v times, want 0", allocs)
	}
}

func TestFlusher(t *testing.T) {
	var n atomic.Int64
	f := NewFlusher(20*time.Millisecond, func() { n.Add(1) })
	time.Sleep(60 * time.Millisecond)
	if n.Load() != 0 {
		t.Error("flushed without a kick")
	}
	f.Kick()
	f.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() != 1 {
		t.Errorf("%d flushes after two kicks, want 1", n.Load())
	}
	f.Close()
	f.Kick() // after Close: nothing runs
	time.Sleep(60 * time.Millisecond)
	if n.Load() != 1 {
		t.Errorf("a flush ran after Close")
	}
	f.Close()
}

// TestTouchesBoundedWhenNeverApplied adds keys, and puts back every batch
// as a store that keeps failing does: the batch stays bounded.
func TestTouchesBoundedWhenNeverApplied(t *testing.T) {
	var tc Touches
	for i := range 200_000 {
		if tc.Add(fmt.Appendf(nil, "key %d", i)) && i%1000 == 0 {
			tc.Put(tc.Take())
		}
	}
	if n, limit := tc.Len(), 16*2*stripeKeys; n > limit {
		t.Errorf("%d keys pending after 200000 hits never applied, more than %d", n, limit)
	}
}

func TestFlusherNow(t *testing.T) {
	var n atomic.Int64
	f := NewFlusher(time.Hour, func() { n.Add(1) })
	defer f.Close()
	f.Now()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() != 1 {
		t.Fatalf("%d flushes after Now with an hour's delay, want 1", n.Load())
	}
	// Now again at once: the next flush waits for the minimum gap
	// (delay/8), not for the delay, and not for nothing.
	for range 100 {
		f.Now()
	}
	time.Sleep(50 * time.Millisecond)
	if n.Load() != 1 {
		t.Errorf("%d flushes right after another, want them spaced by delay/8", n.Load())
	}
}
