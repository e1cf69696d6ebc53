package sqldb_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// The benchmarks compare the store with the least a program could do by
// hand through the same driver, pool and server: a prepared SELECT of a
// value by primary key, and a prepared upsert. Values are benchValueSize
// bytes, keys 8. Each benchmark runs its peers one after the other, so
// that -count alternates them:
//
//	go test ./runtime/sqldb -run '^$' -bench . -count 3
const benchValueSize = 128

// benchMaxSize is the maxsize of the bounded function the benchmarks use;
// the hit benchmarks cycle through that many present keys.
const benchMaxSize = 256

var benchValue = bytes.Repeat([]byte{'v'}, benchValueSize)

// benchRaw is a plain key-value table beside the store's, of a name of
// its own: runs on a shared server do not drop each other's.
type benchRaw struct {
	sel, upsert *sql.Stmt
}

func newBenchRaw(b *testing.B, s *sqldb.Store) benchRaw {
	b.Helper()
	db := s.DB()
	table := randomName(s.Table() + "_bench_raw_")
	var create, sel, upsert string
	if s.Dialect() == sqldb.Postgres {
		create = `CREATE TABLE IF NOT EXISTS "` + table + `" (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)`
		sel = `SELECT v FROM "` + table + `" WHERE k = $1`
		upsert = `INSERT INTO "` + table + `" (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`
	} else {
		create = "CREATE TABLE IF NOT EXISTS `" + table + "` (k VARBINARY(255) PRIMARY KEY, v LONGBLOB NOT NULL) ENGINE=InnoDB"
		sel = "SELECT v FROM `" + table + "` WHERE k = ?"
		upsert = "INSERT INTO `" + table + "` (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)"
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

// BenchmarkHit reads present entries, cycling through benchMaxSize keys:
// by a raw prepared SELECT, and through the store for a function with
// maxsize benchMaxSize (a SELECT, the hit recorded in the process and
// applied by the flusher) and for an unbounded one (a SELECT).
func BenchmarkHit(b *testing.B) {
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			s := srv.open(b, srv.url(b))
			raw := newBenchRaw(b, s)
			fn := randomName("bench/")
			clearFn(b, s, fn)
			bounded := runtime.Limits{MaxSize: benchMaxSize}
			keys := make([][]byte, benchMaxSize)
			for i := range keys {
				keys[i] = benchKey(uint64(i))
				for _, lim := range []runtime.Limits{unbounded, bounded} {
					if err := space(b, s, fn, lim).Set(ctx, keys[i], benchValue); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := raw.upsert.ExecContext(ctx, keys[i], benchValue); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("raw-select", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var v []byte
					if err := raw.sel.QueryRowContext(ctx, keys[i%benchMaxSize]).Scan(&v); err != nil || len(v) != benchValueSize {
						b.Fatal(err, len(v))
					}
					i++
				}
			})
			for _, c := range []struct {
				name string
				lim  runtime.Limits
			}{
				{"store-maxsize256", bounded},
				{"store-unbounded", unbounded},
			} {
				b.Run(c.name, func(b *testing.B) {
					sp := space(b, s, fn, c.lim)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						v, ok, err := sp.Get(ctx, keys[i%benchMaxSize])
						if err != nil || !ok || len(v) != benchValueSize {
							b.Fatal(ok, err)
						}
						i++
					}
				})
			}
		})
	}
}

var benchSeq atomic.Uint64

// BenchmarkMissStore is a call that misses and stores its result: through
// the store a Get that misses and a Set, unbounded or bounded (the Set then
// locks, applies pending hits, inserts and evicts one entry, in one
// transaction: the function is kept full). Its raw peer,
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
				{"store-unbounded", unbounded},
				{"store-maxsize256", runtime.Limits{MaxSize: benchMaxSize}},
			} {
				b.Run(c.name, func(b *testing.B) {
					fn := randomName("bench/")
					clearFn(b, s, fn)
					sp := space(b, s, fn, c.lim)
					if c.lim.MaxSize > 0 {
						for range c.lim.MaxSize {
							if err := sp.Set(ctx, benchKey(benchSeq.Add(1)), benchValue); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportAllocs()
					for b.Loop() {
						key := benchKey(benchSeq.Add(1))
						if _, ok, err := sp.Get(ctx, key); err != nil || ok {
							b.Fatal(ok, err)
						}
						if err := sp.Set(ctx, key, benchValue); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkHitPaired runs the store's hits and raw SELECTs in alternating
// chunks within one benchmark, so that load from elsewhere on the machine
// hits both alike, and reports their ratios: store/raw against a raw
// SELECT with the caller's context (context.Background), store/raw-bounded
// against a raw SELECT under a deadline of the store's bound, as the store
// bounds each of its reads (a cancellable context costs database/sql and
// the drivers a goroutine handoff per query). ns/op counts one store hit
// and one of each raw SELECT.
//
//	go test ./runtime/sqldb -run '^$' -bench 'HitPaired' -benchtime 2s -count 3
func BenchmarkHitPaired(b *testing.B) {
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			s := srv.open(b, srv.url(b))
			raw := newBenchRaw(b, s)
			fn := randomName("bench/")
			clearFn(b, s, fn)
			bounded := runtime.Limits{MaxSize: benchMaxSize}
			keys := make([][]byte, benchMaxSize)
			for i := range keys {
				keys[i] = benchKey(uint64(i))
				for _, lim := range []runtime.Limits{unbounded, bounded} {
					if err := space(b, s, fn, lim).Set(ctx, keys[i], benchValue); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := raw.upsert.ExecContext(ctx, keys[i], benchValue); err != nil {
					b.Fatal(err)
				}
			}
			var ri, rbi, si int
			rawGet := func() {
				var v []byte
				if err := raw.sel.QueryRowContext(ctx, keys[ri%benchMaxSize]).Scan(&v); err != nil || len(v) != benchValueSize {
					b.Fatal(err, len(v))
				}
				ri++
			}
			rawBoundedGet := func() {
				c, cancel := context.WithTimeout(ctx, s.Bound())
				defer cancel()
				var v []byte
				if err := raw.sel.QueryRowContext(c, keys[rbi%benchMaxSize]).Scan(&v); err != nil || len(v) != benchValueSize {
					b.Fatal(err, len(v))
				}
				rbi++
			}
			for _, c := range []struct {
				name string
				lim  runtime.Limits
			}{
				{"maxsize256", bounded},
				{"unbounded", unbounded},
			} {
				sp := space(b, s, fn, c.lim)
				storeGet := func() {
					v, ok, err := sp.Get(ctx, keys[si%benchMaxSize])
					if err != nil || !ok || len(v) != benchValueSize {
						b.Fatal(ok, err)
					}
					si++
				}
				b.Run(c.name, func(b *testing.B) { paired(b, storeGet, rawGet, rawBoundedGet) })
			}
		})
	}
}

// BenchmarkMissSetPaired is a miss that stores its result into a full
// function of maxsize 256, so that every Set evicts: the store's SELECT
// that misses and its bounded Set, against a raw SELECT that misses and a
// raw upsert, in alternating chunks. Ratios as in BenchmarkHitPaired.
//
//	go test ./runtime/sqldb -run '^$' -bench 'MissSetPaired' -benchtime 2s -count 3
func BenchmarkMissSetPaired(b *testing.B) {
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			s := srv.open(b, srv.url(b))
			raw := newBenchRaw(b, s)
			fn := randomName("bench/")
			clearFn(b, s, fn)
			sp := space(b, s, fn, runtime.Limits{MaxSize: benchMaxSize})
			for range benchMaxSize {
				if err := sp.Set(ctx, benchKey(benchSeq.Add(1)), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			rawMissSet := func(c context.Context) {
				key := benchKey(benchSeq.Add(1))
				var v []byte
				if err := raw.sel.QueryRowContext(c, key).Scan(&v); err != sql.ErrNoRows {
					b.Fatal(err)
				}
				if _, err := raw.upsert.ExecContext(c, key, benchValue); err != nil {
					b.Fatal(err)
				}
			}
			storeMissSet := func() {
				key := benchKey(benchSeq.Add(1))
				if _, ok, err := sp.Get(ctx, key); err != nil || ok {
					b.Fatal(ok, err)
				}
				if err := sp.Set(ctx, key, benchValue); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("evicting", func(b *testing.B) {
				paired(b, storeMissSet, func() { rawMissSet(ctx) }, func() {
					c, cancel := context.WithTimeout(ctx, s.Bound())
					defer cancel()
					rawMissSet(c)
				})
			})
		})
	}
}

// paired runs store, raw and rawBounded in alternating chunks on one
// goroutine and reports the store's time over each raw peer's.
func paired(b *testing.B, store, raw, rawBounded func()) {
	b.ReportAllocs()
	const chunk = 16
	var tStore, tRaw, tRawBounded time.Duration
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		t0 := time.Now()
		for range n {
			raw()
		}
		t1 := time.Now()
		for range n {
			store()
		}
		t2 := time.Now()
		for range n {
			rawBounded()
		}
		tRaw, tStore, tRawBounded = tRaw+t1.Sub(t0), tStore+t2.Sub(t1), tRawBounded+time.Since(t2)
	}
	b.ReportMetric(float64(tStore)/float64(tRaw), "store/raw")
	b.ReportMetric(float64(tStore)/float64(tRawBounded), "store/raw-bounded")
}
