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

	ctx := context.Background()
	lim := runtime.Limits{MaxSize: 2}
	for _, k := range []string{"a", "b", "c"} { // c evicts a
		if err := s.Set(ctx, "example.F@v1", []byte(k), []byte("value of "+k), lim); err != nil {
			log.Fatal(err)
		}
	}
	v, ok, err := s.Get(ctx, "example.F@v1", []byte("c"), lim)
	fmt.Println(string(v), ok, err)
	_, ok, _ = s.Get(ctx, "example.F@v1", []byte("a"), lim)
	fmt.Println("a still stored:", ok)
	n, _ := s.Len(ctx, "example.F@v1")
	fmt.Println("entries:", n)
	// Output:
	// value of c true <nil>
	// a still stored: false
	// entries: 2
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
