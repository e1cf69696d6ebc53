package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqlite"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := sqlite.Open(filepath.Join(dir, "cache.db"), sqlite.WithTable("memo"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A store is asked once per function for its Space.
	ctx := context.Background()
	sp, err := s.Space(ctx, runtime.Namespace{Name: "example.F@v1", Limits: runtime.Limits{MaxSize: 2}})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} { // c evicts a
		if err := sp.Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
			log.Fatal(err)
		}
	}
	v, ok, err := sp.Get(ctx, []byte("c"))
	fmt.Println(string(v), ok, err)
	_, ok, _ = sp.Get(ctx, []byte("a"))
	fmt.Println("a still stored:", ok)
	n, _ := sp.Len(ctx)
	fmt.Println("entries:", n)
	// Output:
	// value of c true <nil>
	// a still stored: false
	// entries: 2
}

// A hit of a bounded function is a read: its recency is applied later, by
// the next Set of the function in this process, within the flush delay,
// by Flush or by Close. Another process's eviction sees it from then on.
func ExampleStore_Flush() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cache.db")

	ctx := context.Background()
	ns := runtime.Namespace{Name: "example.F@v1", Limits: runtime.Limits{MaxSize: 2}}
	space := func(s *sqlite.Store) runtime.Space {
		sp, err := s.Space(ctx, ns)
		if err != nil {
			log.Fatal(err)
		}
		return sp
	}
	// Two stores on one file, as two processes would have.
	first, err := sqlite.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	second, err := sqlite.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()

	space(first).Set(ctx, []byte("a"), []byte("A"))
	space(first).Set(ctx, []byte("b"), []byte("B"))
	space(first).Get(ctx, []byte("a")) // a hit: a is now more recent than b
	if err := first.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	space(second).Set(ctx, []byte("c"), []byte("C")) // evicts b, the least recently used
	_, aStored, _ := space(second).Get(ctx, []byte("a"))
	_, bStored, _ := space(second).Get(ctx, []byte("b"))
	fmt.Println("a:", aStored, "b:", bStored)
	// Output:
	// a: true b: false
}

func ExampleWithFlushDelay() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Apply the recency of hits to the file within 100ms, rather than 1s,
	// for other processes' evictions to see; the same as ?flush=100ms.
	s, err := sqlite.Open(filepath.Join(dir, "cache.db"), sqlite.WithFlushDelay(100*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(filepath.Base(s.Path()))
	// Output:
	// cache.db
}

// Importing the package registers the "sqlite" URL scheme, so that a
// store can be chosen by URL, as PICOCACHE_URL does.
func Example_openURL() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := runtime.OpenURL(context.Background(), "sqlite://"+filepath.ToSlash(dir)+"/cache.db?busy_timeout=10s")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Printf("%T\n", s)
	// Output:
	// *sqlite.Store
}

func ExampleParseURL() {
	path, opts, err := sqlite.ParseURL("sqlite:data/cache.db?table=memo&busy_timeout=250")
	fmt.Println(path, len(opts), err)
	_, _, err = sqlite.ParseURL("sqlite://db.example.com/cache.db")
	fmt.Println(err != nil)
	// Output:
	// data/cache.db 2 <nil>
	// true
}

func ExampleWithBusyTimeout() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Wait up to 30s for other processes' writes, read on 8 connections.
	s, err := sqlite.Open(filepath.Join(dir, "cache.db"), sqlite.WithBusyTimeout(30*time.Second), sqlite.WithReaders(8))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(filepath.Base(s.Path()))
	// Output:
	// cache.db
}

// A file that is not a SQLite database, or is damaged, fails to open with
// recovery off; by default the store moves it aside and starts afresh.
func ExampleWithRecovery() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cache.db")
	if err := os.WriteFile(path, []byte("not a database, not even close"), 0o644); err != nil {
		log.Fatal(err)
	}

	_, err = sqlite.Open(path, sqlite.WithRecovery(false))
	fmt.Println(strings.Contains(err.Error(), "file is not a database"))

	s, err := sqlite.Open(path) // logs a warning with log/slog

	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	moved, _ := filepath.Glob(path + ".corrupt-*")
	fmt.Println(len(moved))
	// Output:
	// true
	// 1
}

// Bound is the longest a call waits on the store: the busy timeout.
func ExampleStore_Bound() {
	dir, err := os.MkdirTemp("", "picocache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := sqlite.Open(filepath.Join(dir, "cache.db"), sqlite.WithBusyTimeout(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var st runtime.Store = s
	if b, ok := st.(runtime.Bounder); ok {
		fmt.Println(b.Bound())
	}
	// Output:
	// 2s
}
