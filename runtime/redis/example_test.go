package redis_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/redis/rueidis"
)

// Open a server and make it the store of every memoized function of the
// process. (Needs a server, so it does not run as a test.)
func ExampleOpen() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	runtime.SetDefaultStore(s)
}

// A Redis Cluster: name a few seed nodes; rueidis discovers the rest, and
// one node in cluster mode is detected as a Cluster as well.
func ExampleOpen_cluster() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	runtime.SetDefaultStore(s)
}

// Bind one memoized function to a store; a generated wrapper's handle
// (FooCache) has the same Bind method.
func ExampleOpen_bind() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379")
	if err != nil {
		log.Fatal(err)
	}
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

// Hits reach the server in batches, at the latest after the flush delay:
// a shorter one lets other processes' evictions see them sooner, for more
// writes. The URL can say the same: redis://127.0.0.1:6379/0?flush=100ms.
func ExampleWithFlushDelay() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0", redis.WithFlushDelay(100*time.Millisecond), redis.WithTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // applies the hits still pending
	runtime.SetDefaultStore(s)
}

// Flush applies the recency of the hits recorded so far, for instance
// before another process takes over the work; Close does too.
func ExampleStore_Flush() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// ... calls of memoized functions bound to s ...
	if err := s.Flush(ctx); err != nil {
		log.Print(err)
	}
}

// Wrap a client the application already has. The Store does not close it.
func ExampleNew() {
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{"127.0.0.1:6379"},
		DisableCache: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	runtime.SetDefaultStore(redis.New(c))
}

// ParseURL gives the options Open would use, to adjust before creating the
// client.
func ExampleParseURL() {
	opt, err := redis.ParseURL("rediss://app:secret@cache.example.com:6380/2?addr=cache2.example.com:6380")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(opt.InitAddress, opt.SelectDB, opt.Username, opt.TLSConfig.ServerName)
	fmt.Println(opt.Dialer.Timeout, opt.ConnWriteTimeout)
	// Output:
	// [cache.example.com:6380 cache2.example.com:6380] 2 app cache.example.com
	// 2s 3s
}

// A store told to prune deletes, by itself, once a day, the versions of
// functions that no process used for 30 days. The URL can say the same:
// redis://127.0.0.1:6379/0?prune=720h. (Needs a server, so it does not
// run as a test.)
func ExampleWithPrune() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0", redis.WithPrune(720*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // stops the pruning
	runtime.SetDefaultStore(s)
}

// List the namespaces (functions and versions) of the server, with their
// entries, bytes and last use, as picocache ls does. (Needs a server, so
// it does not run as a test.)
func ExampleStore_Namespaces() {
	ctx := context.Background()
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
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
	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	deleted, err := s.DeleteNamespace(ctx, "example.com/app.Price@1a2b3c4d", time.Now().Add(-7*24*time.Hour))
	fmt.Println(deleted, err)
}
