package sqlite

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// The benchmarks compare the store with the least a cache on SQLite could
// do: raw prepared statements on a plain (fn, key) → value table, with no
// recency, expiry or eviction. Both run on the same file, through the same
// *sql.DB (so the same pragmas and pool), with the same key and value
// sizes.
//
//	go test ./runtime/sqlite -run '^$' -bench . -benchmem -count=3
//
// Besides ns/op (wall time, which on a shared machine includes waiting for
// a CPU and for the disk), each benchmark reports cpu-ns/op: the user and
// system CPU time of the whole process per operation, the steadier figure
// to compare the store with its peer.

const (
	benchFn      = "github.com/picocache/picocache/bench.F@v1"
	benchEntries = 1000
	benchKeySize = 16
	benchValSize = 128
)

const rawSchema = `CREATE TABLE IF NOT EXISTS raw (
	fn    TEXT NOT NULL,
	key   BLOB NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (fn, key)
) WITHOUT ROWID`

// benchKey writes key number i into dst (benchKeySize bytes).
func benchKey(dst []byte, i int) []byte {
	dst = append(dst[:0], "key:"...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(i))
	return append(dst, "...."...)
}

var benchValue = bytes.Repeat([]byte("v"), benchValSize)

// benchStore opens a store on a fresh file, with the raw table beside
// it, both holding benchEntries entries of benchFn.
func benchStore(b *testing.B, lim runtime.Limits) (*Store, *sql.Stmt, *sql.Stmt) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.testDB().Exec(rawSchema); err != nil {
		b.Fatal(err)
	}
	sel, err := s.testDB().Prepare(`SELECT value FROM raw WHERE fn = ? AND key = ?`)
	if err != nil {
		b.Fatal(err)
	}
	ins, err := s.testDB().Prepare(`INSERT OR REPLACE INTO raw (fn, key, value) VALUES (?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	var key []byte
	for i := range benchEntries {
		key = benchKey(key, i)
		if err := s.Set(ctx, benchFn, key, benchValue, lim); err != nil {
			b.Fatal(err)
		}
		if _, err := ins.Exec(benchFn, key, benchValue); err != nil {
			b.Fatal(err)
		}
	}
	return s, sel, ins
}

// cpuTime returns the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start (a cpuTime).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

var (
	benchUnbounded = runtime.Limits{MaxSize: runtime.Unbounded}
	benchBounded   = runtime.Limits{MaxSize: benchEntries}
)

// BenchmarkSQLiteGetHit: a hit, cycling over the entries so that a
// bounded Get always moves a non-recent entry to the front.
func BenchmarkSQLiteGetHit(b *testing.B) {
	b.Run("raw-select", func(b *testing.B) {
		_, sel, _ := benchStore(b, benchUnbounded)
		b.ReportAllocs()
		var key, v []byte
		cpu := cpuTime(b)
		for i := 0; b.Loop(); i++ {
			key = benchKey(key, i%benchEntries)
			if err := sel.QueryRow(benchFn, key).Scan(&v); err != nil || len(v) != benchValSize {
				b.Fatal(err, len(v))
			}
		}
		reportCPU(b, cpu)
	})
	for _, tc := range []struct {
		name string
		lim  runtime.Limits
	}{{"store-unbounded", benchUnbounded}, {"store-bounded", benchBounded}} {
		b.Run(tc.name, func(b *testing.B) {
			s, _, _ := benchStore(b, tc.lim)
			b.ReportAllocs()
			var key []byte
			cpu := cpuTime(b)
			for i := 0; b.Loop(); i++ {
				key = benchKey(key, i%benchEntries)
				v, ok, err := s.Get(ctx, benchFn, key, tc.lim)
				if err != nil || !ok || len(v) != benchValSize {
					b.Fatal(err, ok, len(v))
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkSQLiteMissStore: a call of a new key, as the runtime makes it:
// Get (a miss), then Set. The raw peer is one INSERT OR REPLACE. The
// bounded store is full, so every Set also evicts one entry.
func BenchmarkSQLiteMissStore(b *testing.B) {
	b.Run("raw-insert-or-replace", func(b *testing.B) {
		_, _, ins := benchStore(b, benchUnbounded)
		b.ReportAllocs()
		var key []byte
		cpu := cpuTime(b)
		for i := benchEntries; b.Loop(); i++ {
			key = benchKey(key, i)
			if _, err := ins.Exec(benchFn, key, benchValue); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	for _, tc := range []struct {
		name string
		lim  runtime.Limits
	}{{"store-unbounded", benchUnbounded}, {"store-bounded", benchBounded}} {
		b.Run(tc.name, func(b *testing.B) {
			s, _, _ := benchStore(b, tc.lim)
			b.ReportAllocs()
			var key []byte
			cpu := cpuTime(b)
			for i := benchEntries; b.Loop(); i++ {
				key = benchKey(key, i)
				if _, ok, err := s.Get(ctx, benchFn, key, tc.lim); ok || err != nil {
					b.Fatal(ok, err)
				}
				if err := s.Set(ctx, benchFn, key, benchValue, tc.lim); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}
