// Command demo shows PicoCache's persistent memoization. Run it twice:
// the first run computes, the second finds the first run's results in
// ./picocache.db and returns them in microseconds.
//
//	go generate ./examples/... && cd examples/demo && go run . && go run .
//
// With -clear it empties both functions' entries first. The demo links
// every store, so PICOCACHE_URL may name any of them:
//
//	PICOCACHE_URL=redis://127.0.0.1:6379 go run ./examples/demo
//	PICOCACHE_URL=postgres://postgres@127.0.0.1/test go run ./examples/demo
//	PICOCACHE_URL=mysql://root@127.0.0.1/test go run ./examples/demo
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql" // mysql:// through runtime/sqldb
	_ "github.com/jackc/pgx/v5/stdlib" // postgres:// through runtime/sqldb

	"github.com/picocache/picocache/runtime"
	_ "github.com/picocache/picocache/runtime/memcache" // memcache://
	_ "github.com/picocache/picocache/runtime/redis"    // redis://, rediss://
	_ "github.com/picocache/picocache/runtime/sqldb"    // postgres://, postgresql://, mysql://
)

//go:generate go tool picogen

// CountPrimes returns how many primes are below n, with a sieve of
// Eratosthenes: a fraction of a second for tens of millions.
//
//picocache:maxsize=256
func CountPrimes(n int) int {
	if n < 3 {
		return 0
	}
	composite := make([]bool, n)
	count := 1 // 2
	for i := 3; i < n; i += 2 {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < n; j += 2 * i {
			composite[j] = true
		}
	}
	return count
}

// Fib returns the n-th Fibonacci number. Its recursion goes through
// FibCached, so each n is computed once, ever.
//
//picocache:maxsize=none
func Fib(n int) int {
	if n < 2 {
		return n
	}
	return FibCached(n-1) + FibCached(n-2)
}

func main() {
	clearFirst := flag.Bool("clear", false, "empty the cache before running")
	small := flag.Bool("small", false, "use small inputs (for tests)")
	flag.Parse()
	sizes := []int{10_000_000, 20_000_000, 40_000_000}
	if *small {
		sizes = []int{1000, 2000, 4000}
	}
	log.SetFlags(0)
	ctx := context.Background()
	defer runtime.CloseDefault()

	store := "./picocache.db (SQLite, the default)"
	if raw := os.Getenv("PICOCACHE_URL"); raw != "" {
		store = raw
		if u, err := url.Parse(raw); err == nil {
			store = u.Redacted()
		}
	}
	fmt.Printf("PicoCache demo, store %s\n\n", store)
	if *clearFirst {
		if err := CountPrimesCache.Clear(ctx); err != nil {
			log.Fatal(err)
		}
		if err := FibCache.Clear(ctx); err != nil {
			log.Fatal(err)
		}
	}

	start := time.Now()
	for _, n := range sizes {
		timed(fmt.Sprintf("CountPrimes(%d)", n), func() int { return CountPrimesCached(n) }, func() int64 { return misses(ctx, CountPrimesCache) })
	}
	timed("Fib(90)", func() int { return FibCached(90) }, func() int64 { return misses(ctx, FibCache) })
	fmt.Printf("\ntotal %v\n\n", time.Since(start).Round(time.Microsecond))

	show(ctx, "CountPrimesCache", CountPrimesCache)
	show(ctx, "FibCache", FibCache)
}

// timed runs call and says whether it computed anything.
func timed(label string, call func() int, misses func() int64) {
	before := misses()
	start := time.Now()
	v := call()
	took := time.Since(start)
	how := "from the cache"
	if n := misses() - before; n > 0 {
		how = fmt.Sprintf("computed (%d misses)", n)
	}
	fmt.Printf("%-22s = %-20d %12v  %s\n", label, v, took.Round(time.Microsecond), how)
}

func misses(ctx context.Context, f interface {
	Info(context.Context) (runtime.Info, error)
}) int64 {
	info, _ := f.Info(ctx)
	return info.Misses
}

func show(ctx context.Context, name string, f interface {
	Info(context.Context) (runtime.Info, error)
}) {
	info, err := f.Info(ctx)
	if err != nil {
		log.Fatalf("%s.Info: %v", name, err)
	}
	maxSize := fmt.Sprint(info.MaxSize)
	if info.MaxSize == runtime.Unbounded {
		maxSize = "none"
	}
	fmt.Printf("%-23s hits=%-3d misses=%-3d maxsize=%-5s currsize=%d\n", name+".Info:", info.Hits, info.Misses, maxSize, info.CurrSize)
}
