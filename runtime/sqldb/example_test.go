package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver for postgres:// URLs
	_ "modernc.org/sqlite"             // the driver for sqlite: URLs

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// Open a store on PostgreSQL and make it the default of every memoized
// function in the program (or bind it to one with its handle's Bind).
func ExampleOpen() {
	ctx := context.Background()
	store, err := sqldb.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&table=memo")
	if err != nil {
		log.Fatal(err)
	}
	runtime.SetDefaultStore(store)
	defer runtime.CloseDefault()
}

// Wrap a *sql.DB the program already has; the store leaves it open.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqldb-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqldb.New(ctx, db, sqldb.SQLite, sqldb.WithTable("memo"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	lim := runtime.Limits{MaxSize: 2}
	store.Set(ctx, "example.Square@v1", []byte("3"), []byte("9"), lim)
	v, ok, err := store.Get(ctx, "example.Square@v1", []byte("3"), lim)
	fmt.Println(string(v), ok, err)
	n, _ := store.Len(ctx, "example.Square@v1")
	fmt.Println(n, "entry")
	// Output:
	// 9 true <nil>
	// 1 entry
}

// Name the table the store keeps its entries in.
func ExampleWithTable() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqldb-example")
	defer os.RemoveAll(dir)
	store, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(dir, "cache.db"), sqldb.WithTable("picocache_v2"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println(store.Table(), store.Dialect())
	// Output: picocache_v2 sqlite
}
