package memcache_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
	"github.com/picocache/picocache/runtime/memcache"
)

// Open servers and make them the store of every memoized function of the
// process; PICOCACHE_URL=memcache://127.0.0.1:11211 does the same for a
// program that imports this package. (Needs a server, so it does not run
// as a test.)
func ExampleOpen() {
	ctx := context.Background()
	s, err := memcache.Open(ctx, "memcache://127.0.0.1:11211?addr=127.0.0.1:11212&timeout=1s")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	runtime.SetDefaultStore(s)
}

// Bind one memoized function to the store; a generated wrapper's handle
// (FooCache) has the same Bind method.
func ExampleOpen_bind() {
	ctx := context.Background()
	s, err := memcache.Open(ctx, "memcache://127.0.0.1:11211")
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
	info, _ := square.Info(ctx) // CurrSize: what this process knows of
	fmt.Println(info.CurrSize)
}

// Wrap a client the application already has. The Store does not close it;
// its bound is five of the client's socket timeouts unless kv.WithTimeout
// says otherwise.
func ExampleNew() {
	c := gomemcache.New("10.0.0.1:11211", "10.0.0.2:11211")
	c.Timeout = 200 * time.Millisecond
	c.MaxIdleConns = 32
	s := memcache.New(c, kv.WithPrefix("myapp:"), memcache.WithItemSize(2<<20)) // servers run with -I 2m
	defer s.Close()
	fmt.Println(s.Bound(), s.Promises().MaxEntry)
	// Then bind it to functions, or runtime.SetDefaultStore(s).
	// Output:
	// 1s 2096766
}

// Adapt is the kv.Client that New builds on: a kv.Store of options of
// your own over it is a Store without this package's defaults (no item
// size limit but the server's refusals, here).
func ExampleAdapt() {
	c := gomemcache.New("127.0.0.1:11211")
	s := kv.New(memcache.Adapt(c), kv.WithName("memcache"), kv.WithTimeout(2*time.Second))
	defer s.Close()
	fmt.Println(s.Bound(), s.Promises().MaxEntry)
	// Output:
	// 2s 0
}

// ParseURL shows what Open makes of a URL.
func ExampleParseURL() {
	cfg, err := memcache.ParseURL("memcache://cache1?addr=cache2:11311&timeout=500ms&item_size=2m&prefix=shop:")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Addrs, cfg.Timeout, cfg.ItemSize, cfg.Prefix, cfg.MaxIdleConns, cfg.Refresh)
	// Output:
	// [cache1:11211 cache2:11311] 500ms 2097152 shop: 16 1s
}
