package memcache_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/internal/testenv"
	picoruntime "github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/memcache"
)

// valueSize is the size of the cached value in the benchmarks, as the
// store sees it (the runtime's header included), and of the raw value.
const valueSize = 256

// benchMaxSize is the maxsize of the bounded function of the benchmarks.
const benchMaxSize = 256

var benchLimits = []struct {
	name string
	lim  picoruntime.Limits
}{
	{"unbounded", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
	{"maxsize=256", picoruntime.Limits{MaxSize: benchMaxSize}},
}

const rawKey = "picocache-bench-raw"

// benchSetup stores a value of valueSize under the store and under a raw
// key, and returns the store (whose client the raw Gets use too), the
// namespace and the key.
func benchSetup(b *testing.B) (*memcache.Store, string, []byte) {
	s := openShared(b)
	b.Cleanup(func() { s.Close() })
	raw := s.Client()
	val := bytes.Repeat([]byte{'v'}, valueSize)
	if err := raw.Set(&gomemcache.Item{Key: rawKey, Value: val}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Delete(rawKey) })
	fn, key := newFn(b, s), []byte("pkg.F(42)")
	for _, c := range benchLimits {
		if err := spaceOf(b, s, fn, c.lim).Set(context.Background(), key, val); err != nil {
			b.Fatal(err)
		}
	}
	return s, fn, key
}

func rawGetter(c *gomemcache.Client) func(int) {
	return func(int) {
		if it, err := c.Get(rawKey); err != nil || len(it.Value) != valueSize {
			panic(fmt.Sprint(err))
		}
	}
}

func storeGetter(sp picoruntime.Space, key []byte) func(int) {
	ctx := context.Background()
	return func(int) {
		if v, ok, err := sp.Get(ctx, key); err != nil || !ok || len(v) != valueSize {
			panic(fmt.Sprint(len(v), ok, err))
		}
	}
}

// BenchmarkHit compares a hit through the store with the raw gomemcache
// client's own Get of a value of the same size, on the same client, in
// alternating chunks on one goroutine (testenv.Paired): "store/raw" is
// the ratio of their times, "cpu-store/raw" of their CPU times.
//
//	go test ./runtime/memcache -run '^$' -bench 'Hit$' -benchtime 2s -count 5
func BenchmarkHit(b *testing.B) {
	s, fn, key := benchSetup(b)
	raw := rawGetter(s.Client())
	for _, c := range benchLimits {
		sp := spaceOf(b, s, fn, c.lim)
		b.Run(c.name, func(b *testing.B) { testenv.Paired(b, raw, storeGetter(sp, key)) })
	}
}

// BenchmarkHitParallel runs hits from 16 goroutines, in alternating
// chunks of raw Gets and store hits, and reports the store's throughput
// over the raw client's ("throughput"; 1 is as fast).
//
//	go test ./runtime/memcache -run '^$' -bench 'HitParallel' -benchtime 2s -count 5
func BenchmarkHitParallel(b *testing.B) {
	s, fn, key := benchSetup(b)
	raw := rawGetter(s.Client())
	for _, c := range benchLimits {
		sp := spaceOf(b, s, fn, c.lim)
		b.Run(c.name+"-16", func(b *testing.B) { paired16(b, raw, storeGetter(sp, key)) })
	}
}

// BenchmarkMissSet is a miss that stores its result into a full function
// of maxsize 256, so that every Set evicts (a Delete): the store's Get
// and Set (and Delete) against a raw Get that misses and a raw Set.
//
//	go test ./runtime/memcache -run '^$' -bench 'MissSet' -benchtime 2s -count 3
func BenchmarkMissSet(b *testing.B) {
	s := openShared(b)
	b.Cleanup(func() { s.Close() })
	raw := s.Client()
	ctx := context.Background()
	val := bytes.Repeat([]byte{'v'}, valueSize)
	fn := newFn(b, s)
	sp := spaceOf(b, s, fn, picoruntime.Limits{MaxSize: benchMaxSize})
	var n atomic.Int64
	newKey := func() []byte { return fmt.Appendf(nil, "pkg.F(%d)", n.Add(1)) }
	for range benchMaxSize {
		if err := sp.Set(ctx, newKey(), val); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { raw.Delete(rawKey) })
	rawMissSet := func(int) {
		if _, err := raw.Get(rawKey + "-absent"); err != gomemcache.ErrCacheMiss {
			panic(fmt.Sprint(err))
		}
		if err := raw.Set(&gomemcache.Item{Key: rawKey, Value: val}); err != nil {
			panic(err)
		}
	}
	storeMissSet := func(int) {
		k := newKey()
		if _, ok, err := sp.Get(ctx, k); ok || err != nil {
			panic(fmt.Sprint(ok, err))
		}
		if err := sp.Set(ctx, k, val); err != nil {
			panic(err)
		}
	}
	b.Run("evicting", func(b *testing.B) { testenv.Paired(b, rawMissSet, storeMissSet) })
}

// paired16 runs raw and store in alternating chunks over 16 goroutines
// and reports the store's throughput over raw's, with both per-op times.
func paired16(b *testing.B, raw, store func(int)) {
	b.ReportAllocs()
	const chunk = 512
	var tRaw, tStore time.Duration
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		tRaw += run16(n, raw)
		tStore += run16(n, store)
	}
	b.ReportMetric(float64(tRaw)/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(tStore)/float64(b.N), "store-ns/op")
	b.ReportMetric(float64(tRaw)/float64(tStore), "throughput")
}

// run16 runs op n times over 16 goroutines and returns the wall time.
func run16(n int, op func(int)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				op(int(i))
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
