package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	picoruntime "github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/redis/rueidis"
)

// valueSize is the size of the cached value in the hit benchmarks, as the
// store sees it (the runtime's header included).
const valueSize = 256

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
	for _, c := range []struct {
		name string
		lim  picoruntime.Limits
	}{
		{"store-unbounded", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
		{"store-bounded", picoruntime.Limits{MaxSize: 1000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, ok, err := s.Get(ctx, fn, key, c.lim); err != nil || !ok || len(v) != valueSize {
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
	for _, c := range []struct {
		name string
		lim  picoruntime.Limits
	}{
		{"store-unbounded-16", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
		{"store-bounded-16", picoruntime.Limits{MaxSize: 1000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, ok, err := s.Get(ctx, fn, key, c.lim); err != nil || !ok || len(v) != valueSize {
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
	if err := s.Set(ctx, fn, key, val, picoruntime.Limits{MaxSize: 1000}); err != nil {
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
	for _, c := range []struct {
		name string
		lim  picoruntime.Limits
	}{
		{"unbounded", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
		{"bounded", picoruntime.Limits{MaxSize: 1000}},
	} {
		storeGet := func() {
			if v, ok, err := s.Get(ctx, fn, key, c.lim); err != nil || !ok || len(v) != valueSize {
				panic(fmt.Sprint(len(v), ok, err))
			}
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			const chunk = 32
			var tRaw, tStore time.Duration
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				t0 := time.Now()
				for range n {
					rawGet()
				}
				t1 := time.Now()
				for range n {
					storeGet()
				}
				tRaw, tStore = tRaw+t1.Sub(t0), tStore+time.Since(t1)
			}
			b.ReportMetric(float64(tStore)/float64(tRaw), "store/raw")
		})
		b.Run(c.name+"-16", func(b *testing.B) {
			b.ReportAllocs()
			const chunk = 512
			var tRaw, tStore time.Duration
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				tRaw += run16(n, rawGet)
				tStore += run16(n, storeGet)
			}
			b.ReportMetric(float64(tRaw)/float64(tStore), "throughput")
		})
	}
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
