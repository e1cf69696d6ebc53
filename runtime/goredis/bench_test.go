package goredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	picoruntime "github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/redis/go-redis/v9"
)

// valueSize is the size of the cached value in the benchmarks, as the
// store sees it (the runtime's header included).
const valueSize = 256

// benchMaxSize is the maxsize of the bounded function of the benchmarks.
const benchMaxSize = 256

// rawKey is the key of the raw GETs the store's hits are compared with.
const rawKey = "picocache-goredis-bench-raw"

var benchLimits = []struct {
	name string
	lim  picoruntime.Limits
}{
	{"unbounded", picoruntime.Limits{MaxSize: picoruntime.Unbounded}},
	{"bounded", picoruntime.Limits{MaxSize: benchMaxSize}},
}

// Each benchmark runs for both configs: "ContextTimeout", a client with
// ContextTimeoutEnabled that the Store calls directly, and "Default",
// go-redis's defaults, whose calls the Store runs on goroutines of their
// own (see the package documentation).

// BenchmarkHit compares a hit through the store with a raw go-redis GET of
// a value of the same size, on the same client:
//
//	go test ./runtime/goredis -run '^$' -bench '^BenchmarkHit$' -benchtime 1s -count 3
func BenchmarkHit(b *testing.B) {
	for _, cf := range configs {
		b.Run(cf.name, func(b *testing.B) {
			s, raw, fn, key := benchSetup(b, cf)
			b.Run("raw-GET", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rawGet(raw)
				}
			})
			for _, c := range benchLimits {
				sp := spaceOf(b, s, fn, c.lim)
				b.Run("store-"+c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						storeGet(sp, key)
					}
				})
			}
		})
	}
}

// BenchmarkHitParallel is BenchmarkHit with 16 goroutines.
//
//	go test ./runtime/goredis -run '^$' -bench 'HitParallel' -benchtime 1s -count 3
func BenchmarkHitParallel(b *testing.B) {
	par := (16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0) // 16 goroutines in all
	for _, cf := range configs {
		b.Run(cf.name, func(b *testing.B) {
			s, raw, fn, key := benchSetup(b, cf)
			b.Run("raw-GET-16", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						rawGet(raw)
					}
				})
			})
			for _, c := range benchLimits {
				sp := spaceOf(b, s, fn, c.lim)
				b.Run("store-"+c.name+"-16", func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(par)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							storeGet(sp, key)
						}
					})
				})
			}
		})
	}
}

// BenchmarkHitPaired measures the store's hits and raw GETs in alternating
// chunks within one benchmark, so that load from elsewhere on the machine
// hits both alike, and reports their ratios. On one goroutine
// (testenv.Paired): "store/raw" is the wall time of a hit through the
// store over a raw GET's, "cpu-store/raw" the same in the thread's CPU
// time, which waiting for a CPU on a busy machine does not inflate. With 16
// goroutines: "throughput" is the store's hits per second over raw GETs'.
//
//	go test ./runtime/goredis -run '^$' -bench 'HitPaired' -benchtime 2s -count 5
func BenchmarkHitPaired(b *testing.B) {
	for _, cf := range configs {
		b.Run(cf.name, func(b *testing.B) {
			s, raw, fn, key := benchSetup(b, cf)
			for _, c := range benchLimits {
				sp := spaceOf(b, s, fn, c.lim)
				b.Run(c.name, func(b *testing.B) {
					testenv.Paired(b, func(int) { rawGet(raw) }, func(int) { storeGet(sp, key) })
				})
				b.Run(c.name+"-16", func(b *testing.B) {
					paired16(b, func() { rawGet(raw) }, func() { storeGet(sp, key) })
				})
			}
		})
	}
}

// BenchmarkMissSetPaired is a miss that stores its result into a full
// function of maxsize 256, so that every Set evicts: the store's GET that
// misses and its Set script, against a raw GET that misses and a raw SET
// of a value of the same size. Ratios as in BenchmarkHitPaired.
//
//	go test ./runtime/goredis -run '^$' -bench 'MissSetPaired' -benchtime 2s -count 3
func BenchmarkMissSetPaired(b *testing.B) {
	for _, cf := range configs {
		b.Run(cf.name, func(b *testing.B) {
			raw := newClient(b, cf.conf)
			s := goredis.New(raw)
			b.Cleanup(func() { s.Close() })
			val := bytes.Repeat([]byte{'v'}, valueSize)
			sp := spaceOf(b, s, newFn(b, s), picoruntime.Limits{MaxSize: benchMaxSize})
			b.Cleanup(func() { raw.Del(context.Background(), rawKey) })
			var n atomic.Int64
			newKey := func() []byte { return strconv.AppendInt([]byte("pkg.F("), n.Add(1), 10) }
			for range benchMaxSize {
				if err := sp.Set(ctx, newKey(), val); err != nil {
					b.Fatal(err)
				}
			}
			rawMissSet := func() {
				if err := raw.Get(ctx, rawKey+"-absent").Err(); !errors.Is(err, redis.Nil) {
					panic(fmt.Sprint(err))
				}
				if err := raw.Set(ctx, rawKey, val, 0).Err(); err != nil {
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
			b.Run("evicting", func(b *testing.B) {
				testenv.Paired(b, func(int) { rawMissSet() }, func(int) { storeMissSet() })
			})
			b.Run("evicting-16", func(b *testing.B) { paired16(b, rawMissSet, storeMissSet) })
		})
	}
}

// benchSetup stores the same value under the store and under a raw key,
// and returns the store, its client, the namespace and the key.
func benchSetup(b *testing.B, cf config) (*goredis.Store, *redis.Client, string, []byte) {
	raw := newClient(b, cf.conf)
	s := goredis.New(raw)
	b.Cleanup(func() { s.Close() })
	if goredis.Guarded(s) != cf.guarded {
		b.Fatalf("%s: guarded = %v", cf.name, goredis.Guarded(s))
	}
	val := bytes.Repeat([]byte{'v'}, valueSize)
	if err := raw.Set(ctx, rawKey, val, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Del(context.Background(), rawKey) })
	fn, key := newFn(b, s), []byte("pkg.F(42)")
	if err := spaceOf(b, s, fn, picoruntime.Limits{MaxSize: benchMaxSize}).Set(ctx, key, val); err != nil {
		b.Fatal(err)
	}
	return s, raw, fn, key
}

// rawGet is the raw client's GET of the value, as an application reads
// bytes with go-redis.
func rawGet(raw *redis.Client) {
	if v, err := raw.Get(ctx, rawKey).Bytes(); err != nil || len(v) != valueSize {
		panic(fmt.Sprint(len(v), err))
	}
}

func storeGet(sp picoruntime.Space, key []byte) {
	if v, ok, err := sp.Get(ctx, key); err != nil || !ok || len(v) != valueSize {
		panic(fmt.Sprint(len(v), ok, err))
	}
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
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				op()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
