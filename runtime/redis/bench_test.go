package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	picoruntime "github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/redis/rueidis"
)

// valueSize is the size of the cached value in the benchmarks, as the
// store sees it (the runtime's header included).
const valueSize = 256

// benchMaxSize is the maxsize of the bounded function of the benchmarks.
const benchMaxSize = 256

// benchSpace is what the benchmarks call of a store's Space.
type benchSpace interface {
	Get(ctx context.Context, key []byte) ([]byte, bool, error)
	Set(ctx context.Context, key, value []byte) error
}

var benchLimits = []struct {
	name string
	lim  picoruntime.Limits
}{
	{"unbounded", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
	{"bounded", picoruntime.Limits{MaxSize: benchMaxSize}},
}

// BenchmarkHit compares a hit through the store with a raw rueidis GET of
// a value of the same size, on the same client:
//
//	go test ./runtime/redis -run '^$' -bench 'Hit' -benchtime 1s -count 3
func BenchmarkHit(b *testing.B) {
	s, raw, fn, key := benchSetup(b)
	ctx := context.Background()
	b.Run("raw-GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, err := raw.Do(ctx, raw.B().Get().Key("picocache-bench-raw").Build()).AsBytes(); err != nil || len(v) != valueSize {
				b.Fatal(len(v), err)
			}
		}
	})
	for _, c := range benchLimits {
		sp := benchSpaceOf(b, s, fn, c.lim)
		b.Run("store-"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, ok, err := sp.Get(ctx, key); err != nil || !ok || len(v) != valueSize {
					b.Fatal(len(v), ok, err)
				}
			}
		})
	}
}

// BenchmarkHitParallel is BenchmarkHit with 16 goroutines.
func BenchmarkHitParallel(b *testing.B) {
	s, raw, fn, key := benchSetup(b)
	ctx := context.Background()
	par := (16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0) // 16 goroutines in all
	b.Run("raw-GET-16", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, err := raw.Do(ctx, raw.B().Get().Key("picocache-bench-raw").Build()).AsBytes(); err != nil || len(v) != valueSize {
					b.Error(len(v), err)
					return
				}
			}
		})
	})
	for _, c := range benchLimits {
		sp := benchSpaceOf(b, s, fn, c.lim)
		b.Run("store-"+c.name+"-16", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, ok, err := sp.Get(ctx, key); err != nil || !ok || len(v) != valueSize {
						b.Error(len(v), ok, err)
						return
					}
				}
			})
		})
	}
}

// benchSetup stores the same value under the store and under a raw key,
// and returns the store, its client, the namespace and the key.
func benchSetup(b *testing.B) (*redis.Store, rueidis.Client, string, []byte) {
	s := openShared(b)
	b.Cleanup(func() { s.Close() })
	raw := s.Client()
	ctx := context.Background()
	val := bytes.Repeat([]byte{'v'}, valueSize)
	if err := raw.Do(ctx, raw.B().Set().Key("picocache-bench-raw").Value(string(val)).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Do(ctx, raw.B().Del().Key("picocache-bench-raw").Build()) })
	fn, key := newFn(b, s), []byte("pkg.F(42)")
	if err := benchSpaceOf(b, s, fn, picoruntime.Limits{MaxSize: benchMaxSize}).Set(ctx, key, val); err != nil {
		b.Fatal(err)
	}
	return s, raw, fn, key
}

// BenchmarkHitPaired measures the store and raw GETs in alternating chunks
// within one benchmark, so that load from elsewhere on the machine hits
// both alike, and reports their ratio: "store/raw" is the time of a hit
// through the store over a raw GET (one goroutine); "throughput" is the
// store's throughput over raw GETs' with 16 goroutines. ns/op counts one
// store hit plus one raw GET.
//
//	go test ./runtime/redis -run '^$' -bench 'HitPaired' -benchtime 2s -count 3
func BenchmarkHitPaired(b *testing.B) {
	s, raw, fn, key := benchSetup(b)
	ctx := context.Background()
	rawGet := func() {
		if v, err := raw.Do(ctx, raw.B().Get().Key("picocache-bench-raw").Build()).AsBytes(); err != nil || len(v) != valueSize {
			panic(fmt.Sprint(len(v), err))
		}
	}
	for _, c := range benchLimits {
		sp := benchSpaceOf(b, s, fn, c.lim)
		storeGet := func() {
			if v, ok, err := sp.Get(ctx, key); err != nil || !ok || len(v) != valueSize {
				panic(fmt.Sprint(len(v), ok, err))
			}
		}
		b.Run(c.name, func(b *testing.B) { paired(b, rawGet, storeGet) })
		b.Run(c.name+"-16", func(b *testing.B) { paired16(b, rawGet, storeGet) })
	}
}

// BenchmarkMissSetPaired is a miss that stores its result into a full
// function of maxsize 256, so that every Set evicts: the store's GET that
// misses and its Set script, against a raw GET that misses and a raw SET
// of a value of the same size. Ratios as in BenchmarkHitPaired.
//
//	go test ./runtime/redis -run '^$' -bench 'MissSetPaired' -benchtime 2s -count 3
func BenchmarkMissSetPaired(b *testing.B) {
	s := openShared(b)
	b.Cleanup(func() { s.Close() })
	raw := s.Client()
	ctx := context.Background()
	val := bytes.Repeat([]byte{'v'}, valueSize)
	fn := newFn(b, s)
	sp := benchSpaceOf(b, s, fn, picoruntime.Limits{MaxSize: benchMaxSize})
	b.Cleanup(func() { raw.Do(ctx, raw.B().Del().Key("picocache-bench-raw").Build()) })
	var n atomic.Int64
	newKey := func() []byte { return strconv.AppendInt([]byte("pkg.F("), n.Add(1), 10) }
	for range benchMaxSize {
		if err := sp.Set(ctx, newKey(), val); err != nil {
			b.Fatal(err)
		}
	}
	rawMissSet := func() {
		if err := raw.Do(ctx, raw.B().Get().Key("picocache-bench-raw-absent").Build()).Error(); !rueidis.IsRedisNil(err) {
			panic(fmt.Sprint(err))
		}
		if err := raw.Do(ctx, raw.B().Set().Key("picocache-bench-raw").Value(string(val)).Build()).Error(); err != nil {
			panic(err)
		}
	}
	storeMissSet := func() {
		k := newKey()
		if _, ok, err := sp.Get(ctx, k); ok || err != nil {
			panic(fmt.Sprint(ok, err))
		}
		if err := sp.Set(ctx, k, val); err != nil {
			panic(err)
		}
	}
	b.Run("evicting", func(b *testing.B) { paired(b, rawMissSet, storeMissSet) })
	b.Run("evicting-16", func(b *testing.B) { paired16(b, rawMissSet, storeMissSet) })
}

// paired runs raw and store in alternating chunks on one goroutine and
// reports the store's time over raw's.
func paired(b *testing.B, raw, store func()) {
	b.ReportAllocs()
	const chunk = 32
	var tRaw, tStore time.Duration
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		t0 := time.Now()
		for range n {
			raw()
		}
		t1 := time.Now()
		for range n {
			store()
		}
		tRaw, tStore = tRaw+t1.Sub(t0), tStore+time.Since(t1)
	}
	b.ReportMetric(float64(tStore)/float64(tRaw), "store/raw")
}

// paired16 runs raw and store in alternating chunks over 16 goroutines
// and reports the store's throughput over raw's.
func paired16(b *testing.B, raw, store func()) {
	b.ReportAllocs()
	const chunk = 512
	var tRaw, tStore time.Duration
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		tRaw += run16(n, raw)
		tStore += run16(n, store)
	}
	b.ReportMetric(float64(tRaw)/float64(tStore), "throughput")
}

// run16 runs op n times over 16 goroutines and returns the wall time.
func run16(n int, op func()) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				op()
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
