package goredis_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/redis/go-redis/v9"
)

// Make the application's go-redis client the store of every memoized
// function of the process. New reaches no server, so this runs without
// one; the first memoized call is the client's first use.
// ContextTimeoutEnabled lets the client end each call at the store's
// deadline itself, so that a hit costs one GET and nothing more.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close() // the application's: the store never closes it

	s := goredis.New(rdb)
	defer s.Close() // applies the hits still pending
	runtime.SetDefaultStore(s)
	fmt.Println(s.Bound())
	// Output: 3s
}

// A Redis Cluster: the store takes any redis.UniversalClient.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
	})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	runtime.SetDefaultStore(s)
}

// Redis behind Sentinel: go-redis's failover client follows the master.
func ExampleNew_sentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	runtime.SetDefaultStore(s)
}

// Bind one memoized function to a store; a generated wrapper's handle
// (FooCache) has the same Bind method. (Needs a server, so it does not run
// as a test.)
func ExampleNew_bind() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	square := runtime.New(runtime.Config{Name: "example.Square", Version: "1", MaxSize: 1000}, runtime.Codec[int]{
		Type:   "int/decimal",
		Append: func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) },
		Decode: func(src []byte) (int, error) { return strconv.Atoi(string(src)) },
	})
	square.Bind(s)
	v, err := square.Do(ctx, []byte("12"), func(context.Context) (int, error) { return 12 * 12, nil })
	fmt.Println(v, err)
}

// The store's timeout is its bound: no memoized call waits longer on the
// server, whatever the client's own timeouts, here go-redis's defaults.
func ExampleWithTimeout() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	s := goredis.New(rdb, goredis.WithTimeout(500*time.Millisecond))
	defer s.Close()
	fmt.Println(s.Bound())
	// Output: 500ms
}

// Hits reach the server in batches, at the latest after the flush delay:
// a shorter one lets other processes' evictions see them sooner, for more
// writes.
func ExampleWithFlushDelay() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb, goredis.WithFlushDelay(100*time.Millisecond))
	defer s.Close() // applies the hits still pending
	runtime.SetDefaultStore(s)
}

// Flush applies the recency of the hits recorded so far, for instance
// before another process takes over the work; Close does too. (Needs a
// server, so it does not run as a test.)
func ExampleStore_Flush() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	// ... calls of memoized functions bound to s ...
	if err := s.Flush(ctx); err != nil {
		log.Print(err)
	}
}

// A store told to prune deletes, by itself, once a day, the versions of
// functions that no process used for 30 days; Close stops it.
func ExampleWithPrune() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb, goredis.WithPrune(720*time.Hour))
	defer s.Close() // stops the pruning
	runtime.SetDefaultStore(s)
}

// List the namespaces (functions and versions) of the server, with their
// entries, bytes and last use, as picocache ls does. (Needs a server, so
// it does not run as a test.)
func ExampleStore_Namespaces() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	list, err := s.Namespaces(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range list {
		fmt.Println(n.Function(), n.Version(), n.Entries, n.Bytes, n.LastUsed)
	}
}

// Delete one version of a function, but only while no process has used
// it for a week; runtime.Prune does this for every namespace unused for
// that long. (Needs a server, so it does not run as a test.)
func ExampleStore_DeleteNamespace() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	s := goredis.New(rdb)
	defer s.Close()
	deleted, err := s.DeleteNamespace(ctx, "example.com/app.Price@1a2b3c4d", time.Now().Add(-7*24*time.Hour))
	fmt.Println(deleted, err)
}
