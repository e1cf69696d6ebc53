package bench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/picocache/picocache/runtime/sqlite"
	// The driver's own registration ("sqlite") is what the raw peers use.
	_ "modernc.org/sqlite"
)

// rawSQLite is the code a user writes without PicoCache: a key-value table
// in a SQLite file with the pragmas the store uses, and prepared statements.
type rawSQLite struct {
	db          *sql.DB
	get, upsert *sql.Stmt
}

func openRaw(b *testing.B, path string) *rawSQLite {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	r := &rawSQLite{db: db}
	if r.get, err = db.Prepare(`SELECT v FROM kv WHERE k = ?`); err != nil {
		b.Fatal(err)
	}
	if r.upsert, err = db.Prepare(`INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)`); err != nil {
		b.Fatal(err)
	}
	return r
}

func key8(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func openStore(b *testing.B, path string) *sqlite.Store {
	s, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkSQLiteHit compares a hit of a generated wrapper on the SQLite
// store with a raw prepared SELECT of a value of the same size, on the
// same file.
func BenchmarkSQLiteHit(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	ctx := context.Background()
	b.Run("raw-select", func(b *testing.B) {
		r := openRaw(b, path)
		for n := range keys {
			r.upsert.Exec(key8(n), key8(n*n))
		}
		b.ReportAllocs()
		var v []byte
		for i := 0; b.Loop(); i++ {
			if err := r.get.QueryRowContext(ctx, key8(i&(keys-1))).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("picocache-unbounded", func(b *testing.B) {
		CubeCache.Bind(openStore(b, path))
		defer CubeCache.Bind(nil)
		for n := range keys {
			CubeCached(n)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			CubeCached(i & (keys - 1))
		}
	})
	b.Run("picocache-maxsize", func(b *testing.B) {
		SquareCache.Bind(openStore(b, path))
		defer SquareCache.Bind(nil)
		for n := range keys {
			SquareCached(n)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			SquareCached(i & (keys - 1))
		}
	})
}

// BenchmarkSQLiteMissStore compares a miss of a generated wrapper (a Get
// that misses, the call, a Set) with a raw prepared INSERT OR REPLACE of
// a new key, on the same file.
func BenchmarkSQLiteMissStore(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	base := 1 << 20
	b.Run("raw-insert-or-replace", func(b *testing.B) {
		r := openRaw(b, path)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			n := base + i
			if _, err := r.upsert.Exec(key8(n), key8(n*n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("picocache-unbounded", func(b *testing.B) {
		CubeCache.Bind(openStore(b, path))
		defer CubeCache.Bind(nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			CubeCached(base + i)
		}
		base += b.N
	})
	b.Run("picocache-maxsize", func(b *testing.B) {
		SquareCache.Bind(openStore(b, path))
		defer SquareCache.Bind(nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			SquareCached(base + i)
		}
		base += b.N
	})
}
