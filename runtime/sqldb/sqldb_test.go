package sqldb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
	"github.com/picocache/picocache/runtime/storetest"
)

var ctx = context.Background()

// server is a database the tests run against.
type server struct {
	name    string
	dialect sqldb.Dialect
	// url returns the URL of the database; for SQLite a file in a fresh
	// temporary directory.
	url func(t testing.TB) string
	// what names the service in skip messages; empty for SQLite, which is
	// always there.
	what string
}

func pgURL() string {
	return testenv.Env("PICOCACHE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

func myURL() string {
	return testenv.Env("PICOCACHE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")
}

var servers = []server{
	{"postgres", sqldb.Postgres, func(testing.TB) string { return pgURL() }, "PostgreSQL at " + pgURL()},
	{"mysql", sqldb.MySQL, func(testing.TB) string { return myURL() }, "MySQL/MariaDB at " + myURL()},
	{"sqlite", sqldb.SQLite, func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "cache.db") }, ""},
}

// open opens a Store on srv, skipping (or failing, when services are
// required) when the server is unreachable. The store is closed when t
// ends.
func (srv server) open(t testing.TB, url string, opts ...sqldb.Option) *sqldb.Store {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := sqldb.Open(c, url, opts...)
	if err != nil {
		if srv.what != "" {
			testenv.Unavailable(t, srv.what, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// dropTable removes a test table and its companions.
func dropTable(t testing.TB, s *sqldb.Store) {
	t.Helper()
	db, name := s.DB(), s.Table()
	var stmts []string
	switch s.Dialect() {
	case sqldb.Postgres:
		stmts = []string{`DROP TABLE IF EXISTS "` + name + `"`, `DROP SEQUENCE IF EXISTS "` + name + `_used"`, `DROP FUNCTION IF EXISTS "` + name + `_set"`, `DROP TABLE IF EXISTS "` + name + `_count"`}
	case sqldb.MySQL:
		stmts = []string{"DROP TABLE IF EXISTS `" + name + "`", "DROP TABLE IF EXISTS `" + name + "_count`"}
	default:
		stmts = []string{`DROP TABLE IF EXISTS "` + name + `"`, `DROP TABLE IF EXISTS "` + name + `_count"`}
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestConformance(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			url := srv.url(t)
			srv.open(t, url) // skip early when the server is absent
			open := func(t *testing.T) runtime.Store { return srv.open(t, url) }
			t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
			t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
		})
	}
}

// TestOpenURL checks that importing the package registers its schemes
// with the runtime, for PICOCACHE_URL.
func TestOpenURL(t *testing.T) {
	for _, srv := range servers[:2] {
		t.Run(srv.name, func(t *testing.T) {
			srv.open(t, srv.url(t))
			s, err := runtime.OpenURL(ctx, srv.url(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, ok := s.(*sqldb.Store); !ok || got.Dialect() != srv.dialect {
				t.Fatalf("OpenURL returned %T, want a %v *sqldb.Store", s, srv.dialect)
			}
		})
	}
	if strings.HasPrefix(pgURL(), "postgres://") {
		alias := "postgresql://" + strings.TrimPrefix(pgURL(), "postgres://")
		servers[0].open(t, alias).Close()
	}
}

// TestCreateTableConcurrently starts many stores on a new table at once,
// each on its own connection pool, as processes starting together would.
func TestCreateTableConcurrently(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			table := randomName("pc_create_")
			first := srv.open(t, url, sqldb.WithTable(table+"_probe")) // skip when absent
			dropTable(t, first)
			const n = 8
			stores := make([]*sqldb.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stores[i], errs[i] = sqldb.Open(ctx, url, sqldb.WithTable(table))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("store %d: %v", i, err)
				}
			}
			for _, s := range stores {
				if s == nil {
					continue
				}
				defer s.Close()
			}
			if t.Failed() {
				return
			}
			defer dropTable(t, stores[0])
			fn := randomName("fn")
			lim := runtime.Limits{MaxSize: 2}
			for i, s := range stores {
				if err := s.Set(ctx, fn, []byte{byte(i)}, []byte("v"), lim); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := stores[0].Len(ctx, fn); err != nil || n != 2 {
				t.Errorf("Len = %d, %v; want 2", n, err)
			}
		})
	}
}

// TestTable checks that a store keeps to its own table, and that a table
// named in the URL is used.
func TestTable(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			table := randomName("pc_table_")
			sep := "?"
			if strings.Contains(url, "?") {
				sep = "&"
			}
			a := srv.open(t, url+sep+"table="+table)
			defer dropTable(t, a)
			if a.Table() != table {
				t.Fatalf("Table() = %q, want %q", a.Table(), table)
			}
			b := srv.open(t, url) // the default table
			fn := randomName("fn")
			defer b.Clear(ctx, fn)
			if err := a.Set(ctx, fn, []byte("k"), []byte("in a"), runtime.Limits{MaxSize: 3}); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := b.Get(ctx, fn, []byte("k"), runtime.Limits{MaxSize: 3}); err != nil || ok {
				t.Errorf("the default table sees another table's entry: ok=%v err=%v", ok, err)
			}
			var n int
			q := `SELECT COUNT(*) FROM "` + table + `"`
			if srv.dialect == sqldb.MySQL {
				q = "SELECT COUNT(*) FROM `" + table + "`"
			}
			if err := a.DB().QueryRowContext(ctx, q).Scan(&n); err != nil || n != 1 {
				t.Errorf("%s = %d, %v; want 1", q, n, err)
			}
		})
	}
}

func TestTableNameValidation(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bad := []string{"", "1abc", "a-b", "a b", `a"b`, "a`b", "x;DROP TABLE y", "é", strings.Repeat("a", 49), "a.b"}
	for _, name := range bad {
		if s, err := sqldb.New(ctx, db, sqldb.SQLite, sqldb.WithTable(name)); err == nil {
			s.Close()
			t.Errorf("WithTable(%q) accepted", name)
		}
	}
	for _, name := range []string{"a", "_x", "Cache_2", strings.Repeat("a", 48)} {
		s, err := sqldb.New(ctx, db, sqldb.SQLite, sqldb.WithTable(name))
		if err != nil {
			t.Errorf("WithTable(%q): %v", name, err)
			continue
		}
		s.Close()
	}
	if _, err := sqldb.New(ctx, db, sqldb.Dialect(42)); err == nil {
		t.Error("New with an unknown dialect: no error")
	}
}

// TestForeignRow plants a row whose key hash matches but whose key does
// not (a hash collision, or a row written by other code): it is a miss.
func TestForeignRow(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t))
			fn := randomName("fn")
			defer s.Clear(ctx, fn)
			for _, lim := range []runtime.Limits{{MaxSize: runtime.Unbounded}, {MaxSize: 5}} {
				if err := s.Set(ctx, fn, []byte("real key"), []byte("v"), lim); err != nil {
					t.Fatal(err)
				}
				q := `UPDATE "` + s.Table() + `" SET k = $1 WHERE k = $2`
				switch srv.dialect {
				case sqldb.MySQL:
					q = "UPDATE `" + s.Table() + "` SET k = ? WHERE k = ?"
				case sqldb.SQLite:
					q = `UPDATE "` + s.Table() + `" SET k = ?1 WHERE k = ?2`
				}
				if _, err := s.DB().ExecContext(ctx, q, []byte("other key"), []byte("real key")); err != nil {
					t.Fatal(err)
				}
				if v, ok, err := s.Get(ctx, fn, []byte("real key"), lim); err != nil || ok {
					t.Errorf("%+v: Get of a row whose stored key differs = %q, %v, %v; want a miss", lim, v, ok, err)
				}
				if err := s.Set(ctx, fn, []byte("real key"), []byte("v2"), lim); err != nil {
					t.Fatal(err)
				}
				if v, ok, err := s.Get(ctx, fn, []byte("real key"), lim); err != nil || !ok || !bytes.Equal(v, []byte("v2")) {
					t.Errorf("%+v: after Set over it: Get = %q, %v, %v; want v2", lim, v, ok, err)
				}
			}
		})
	}
}

// TestExpiredRowsDeleted checks that expired entries of a bounded function
// leave the table, not only the counts: they are never used again, so they
// become its least recently used rows and the next Sets evict them first.
func TestExpiredRowsDeleted(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t))
			fn := randomName("fn")
			defer s.Clear(ctx, fn)
			short := runtime.Limits{MaxSize: 5, TTL: 50 * time.Millisecond}
			for i := range 5 {
				if err := s.Set(ctx, fn, []byte{byte(i)}, []byte("v"), short); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(150 * time.Millisecond)
			long := runtime.Limits{MaxSize: 5, TTL: time.Hour}
			for i := range 5 {
				if err := s.Set(ctx, fn, []byte{'n', byte(i)}, []byte("v"), long); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.Len(ctx, fn); err != nil || n != 5 {
				t.Errorf("Len = %d, %v; want 5", n, err)
			}
			var n int
			q := `SELECT COUNT(*) FROM "` + s.Table() + `" WHERE k <> $1`
			switch srv.dialect {
			case sqldb.MySQL:
				q = "SELECT COUNT(*) FROM `" + s.Table() + "` WHERE k IN (?, ?, ?, ?, ?)"
			case sqldb.SQLite:
				q = `SELECT COUNT(*) FROM "` + s.Table() + `" WHERE k IN (?, ?, ?, ?, ?)`
			}
			args := []any{[]byte{0}, []byte{1}, []byte{2}, []byte{3}, []byte{4}}
			if srv.dialect == sqldb.Postgres {
				q = `SELECT COUNT(*) FROM "` + s.Table() + `" WHERE k IN ($1, $2, $3, $4, $5)`
			}
			if err := s.DB().QueryRowContext(ctx, q, args...).Scan(&n); err != nil || n != 0 {
				t.Errorf("expired rows left after a Set: %d, %v; want 0", n, err)
			}
		})
	}
}

// TestNewKeepsDB checks that Close leaves a database passed to New open.
func TestNewKeepsDB(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := sqldb.New(ctx, db, sqldb.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Errorf("db after Store.Close: %v", err)
	}
	if _, err := s.Len(ctx, "fn"); err == nil {
		t.Error("Len after Close: no error")
	}
	if err := s.Clear(ctx, "fn"); err == nil {
		t.Error("Clear after Close: no error")
	}
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"",
		"redis://localhost",
		"sqlite:",
		"sqlite://host/x.db",
		"mysql://a:b@host/db/x",
		"postgres://localhost/x?table=bad-name",
	} {
		if s, err := sqldb.Open(ctx, url); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", url)
		} else {
			t.Logf("Open(%q): %v", url, err)
		}
	}
	// A password never appears in an error.
	_, err := sqldb.Open(ctx, "postgres://u:secret@127.0.0.1:1/x?table=bad-name")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v: want one without the password", err)
	}
}

// TestTimeoutBoundsABlockedOperation holds an exclusive lock on the
// store's count table from another session, as a stuck peer would: a
// bounded Set must give up after the store's timeout, not wait with it.
func TestTimeoutBoundsABlockedOperation(t *testing.T) {
	for _, srv := range servers[:2] { // the network databases; SQLite has its busy timeout
		t.Run(srv.name, func(t *testing.T) {
			table := randomName("pc_timeout_")
			s := srv.open(t, srv.url(t), sqldb.WithTable(table), sqldb.WithTimeout(300*time.Millisecond))
			t.Cleanup(func() { dropTable(t, s) })
			conn, err := s.DB().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var lock, unlock string
			if srv.dialect == sqldb.Postgres {
				lock, unlock = `BEGIN; LOCK TABLE "`+table+`_count" IN ACCESS EXCLUSIVE MODE`, `ROLLBACK`
			} else {
				lock, unlock = "LOCK TABLES `"+table+"_count` WRITE", "UNLOCK TABLES"
			}
			for _, q := range strings.Split(lock, "; ") {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			done := make(chan error, 1)
			go func() {
				done <- s.Set(ctx, "fn", []byte("k"), []byte("v"), runtime.Limits{MaxSize: 10})
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Error("a Set blocked by a lock succeeded")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("a Set blocked by a lock ignored the store's timeout")
			}
			if _, err := conn.ExecContext(ctx, unlock); err != nil {
				t.Fatal(err)
			}
			// The store works once the lock is gone.
			if err := s.Set(ctx, "fn", []byte("k"), []byte("v"), runtime.Limits{MaxSize: 10}); err != nil {
				t.Errorf("Set after the lock was released: %v", err)
			}
		})
	}
}
