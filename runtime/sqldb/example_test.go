package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver for postgres:// URLs

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// Open a store on PostgreSQL and make it the default of every memoized
// function in the program (or bind it to one with its handle's Bind).
// (Needs a server, so it does not run as a test.)
func ExampleOpen() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&table=memo")
	if err != nil {
		log.Fatal(err)
	}
	runtime.SetDefaultStore(store)
	defer runtime.CloseDefault()
}

// Bind one memoized function to a store; a generated wrapper's handle
// (FooCache) has the same Bind method. A hit is one SELECT.
func ExampleOpen_bind() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "mysql://root@127.0.0.1:3306/test")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	square := runtime.New(runtime.Config{Name: "example.Square", Version: "1", MaxSize: 1000}, runtime.Codec[int]{
		Type:   "int/decimal",
		Append: func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) },
		Decode: func(src []byte) (int, error) { return strconv.Atoi(string(src)) },
	})
	square.Bind(store)
	v, err := square.Do(ctx, []byte("12"), func(context.Context) (int, error) { return 12 * 12, nil })
	fmt.Println(v, err)
}

// Wrap a *sql.DB the program already has; the store leaves it open. A
// Space is one function's entries, as the runtime sees them.
func ExampleNew() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqldb.New(ctx, db, sqldb.Postgres, sqldb.WithTable("memo"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sp, err := store.Space(ctx, runtime.Namespace{Name: "example.Square@v1", Limits: runtime.Limits{MaxSize: 2}})
	if err != nil {
		log.Fatal(err)
	}
	sp.Set(ctx, []byte("3"), []byte("9"))
	v, ok, err := sp.Get(ctx, []byte("3"))
	fmt.Println(string(v), ok, err)
	n, _ := sp.Len(ctx)
	fmt.Println(n, "entry")
}

// Name the table the store keeps its entries in; the URL parameter
// table= does the same.
func ExampleWithTable() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqldb.WithTable("picocache_v2"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println(store.Table(), store.Dialect())
}

// Bound every operation of the store: past it a call computes instead of
// waiting on a database that stopped answering.
func ExampleWithTimeout() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqldb.WithTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println(store.Bound())
}

// Apply the recency of hits sooner than the default second, so that other
// processes' evictions see them sooner; the URL parameter flush= does the
// same.
func ExampleWithFlushDelay() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&flush=250ms")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	runtime.SetDefaultStore(store)
}

// Apply the hits recorded so far now, before a handover to another
// process say; Close does it too.
func ExampleStore_Flush() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqldb.WithFlushDelay(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Flush(ctx); err != nil {
		log.Print(err)
	}
}
