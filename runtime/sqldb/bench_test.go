package sqldb_test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// The benchmarks compare the store with the least a program could do by
// hand through the same driver, pool and server: a prepared SELECT of a
// value by primary key, and a prepared upsert. Values are benchValueSize
// bytes, keys 8.
//
//	go test ./runtime/sqldb -run '^$' -bench . -benchtime 1s
const benchValueSize = 128

var benchValue = bytes.Repeat([]byte{'v'}, benchValueSize)

// benchRaw is a plain key-value table beside the store's.
type benchRaw struct {
	sel, upsert *sql.Stmt
}

func newBenchRaw(b *testing.B, s *sqldb.Store) benchRaw {
	b.Helper()
	db := s.DB()
	table := s.Table() + "_bench_raw"
	var create, sel, upsert string
	switch s.Dialect() {
	case sqldb.Postgres:
		create = `CREATE TABLE IF NOT EXISTS "` + table + `" (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)`
		sel = `SELECT v FROM "` + table + `" WHERE k = $1`
		upsert = `INSERT INTO "` + table + `" (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`
	case sqldb.MySQL:
		create = "CREATE TABLE IF NOT EXISTS `" + table + "` (k VARBINARY(255) PRIMARY KEY, v LONGBLOB NOT NULL) ENGINE=InnoDB"
		sel = "SELECT v FROM `" + table + "` WHERE k = ?"
		upsert = "INSERT INTO `" + table + "` (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)"
	default:
		create = `CREATE TABLE IF NOT EXISTS "` + table + `" (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`
		sel = `SELECT v FROM "` + table + `" WHERE k = ?1`
		upsert = `INSERT INTO "` + table + `" (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.ExecContext(ctx, `DROP TABLE `+table) })
	var r benchRaw
	var err error
	if r.sel, err = db.PrepareContext(ctx, sel); err != nil {
		b.Fatal(err)
	}
	if r.upsert, err = db.PrepareContext(ctx, upsert); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.sel.Close(); r.upsert.Close() })
	return r
}

func benchKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// BenchmarkHit reads one present entry over and over: through the store
// for an unbounded function (a plain SELECT), for a bounded one (the read
// also bumps recency), and by a raw prepared SELECT.
func BenchmarkHit(b *testing.B) {
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			s := srv.open(b, srv.url(b))
			raw := newBenchRaw(b, s)
			fn := randomName("bench/")
			b.Cleanup(func() { s.Clear(ctx, fn) })
			key := benchKey(1)
			for _, lim := range []runtime.Limits{{MaxSize: runtime.Unbounded}, {MaxSize: 1000}} {
				if err := s.Set(ctx, fn, key, benchValue, lim); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := raw.upsert.ExecContext(ctx, key, benchValue); err != nil {
				b.Fatal(err)
			}
			b.Run("raw-select", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var v []byte
					if err := raw.sel.QueryRowContext(ctx, key).Scan(&v); err != nil || len(v) != benchValueSize {
						b.Fatal(err, len(v))
					}
				}
			})
			for _, c := range []struct {
				name string
				lim  runtime.Limits
			}{
				{"store-unbounded", runtime.Limits{MaxSize: runtime.Unbounded}},
				{"store-maxsize", runtime.Limits{MaxSize: 1000}},
				{"store-maxsize10", runtime.Limits{MaxSize: 10}},
			} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						v, ok, err := s.Get(ctx, fn, key, c.lim)
						if err != nil || !ok || len(v) != benchValueSize {
							b.Fatal(ok, err)
						}
					}
				})
			}
		})
	}
}

var benchSeq atomic.Uint64

// BenchmarkMissStore is a call that misses and stores its result: through
// the store a Get that misses and a Set, unbounded or bounded (the Set then
// locks, inserts and evicts in one transaction). Its raw peer,
// raw-select-upsert, does the same work by hand: a prepared SELECT that
// misses, then a prepared upsert, in autocommit — two round trips and one
// commit (one log flush), as the store's unbounded miss+store. raw-upsert
// alone is the floor for the write.
func BenchmarkMissStore(b *testing.B) {
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			s := srv.open(b, srv.url(b))
			raw := newBenchRaw(b, s)
			b.Run("raw-upsert", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := raw.upsert.ExecContext(ctx, benchKey(benchSeq.Add(1)), benchValue); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("raw-select-upsert", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					key := benchKey(benchSeq.Add(1))
					var v []byte
					if err := raw.sel.QueryRowContext(ctx, key).Scan(&v); err != sql.ErrNoRows {
						b.Fatal(err)
					}
					if _, err := raw.upsert.ExecContext(ctx, key, benchValue); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, c := range []struct {
				name string
				lim  runtime.Limits
			}{
				{"store-unbounded", runtime.Limits{MaxSize: runtime.Unbounded}},
				{"store-maxsize", runtime.Limits{MaxSize: 1000}},
				{"store-maxsize10", runtime.Limits{MaxSize: 10}},
				{"store-maxsize100000", runtime.Limits{MaxSize: 100000}},
			} {
				b.Run(c.name, func(b *testing.B) {
					fn := randomName("bench/")
					b.Cleanup(func() { s.Clear(ctx, fn) })
					b.ReportAllocs()
					for b.Loop() {
						key := benchKey(benchSeq.Add(1))
						if _, ok, err := s.Get(ctx, fn, key, c.lim); err != nil || ok {
							b.Fatal(ok, err)
						}
						if err := s.Set(ctx, fn, key, benchValue, c.lim); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
