package sqlite

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
)

// The benchmarks compare the store with the least a cache on SQLite could
// do: raw prepared statements on a plain key → value table, with no
// namespace, recency, expiry or eviction. Both run on the same file
// through the same *sql.DB (so the same pragmas and pool), with the keys
// and values a memoized func(int) int has: an 8-byte key and a 23-byte
// value (the runtime's 15-byte envelope around 8 bytes). The store and
// its peer run in alternating chunks within one benchmark, so that load
// from elsewhere on the machine hits both alike; each reports the ratio.
//
//	go test ./runtime/sqlite -run '^$' -bench . -benchtime 2s -count 3
//
// Besides ns/op (of one store operation plus one raw one), each reports
// store/raw, the store's wall time over its peer's, and cpu-store/raw,
// the same for the CPU time of the benchmark's thread, which waiting for
// a CPU on a busy machine does not inflate.

const (
	benchMaxSize = 256
	benchValSize = 23
)

// benchValue is the value of every entry: what the runtime stores for an
// int result.
var benchValue = []byte("pc\x02fingerpr\x00\x00\x00\x00\x00\x00\x00\x2acrc!")

func init() {
	if len(benchValue) != benchValSize {
		panic(len(benchValue))
	}
}

// benchKey is key number n: 8 bytes, as generated code encodes an int.
func benchKey(dst []byte, n int) []byte {
	return binary.BigEndian.AppendUint64(dst[:0], uint64(n))
}

const rawSchema = `CREATE TABLE IF NOT EXISTS raw (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`

// rawPeer is the raw table beside a store, on the store's own connections.
type rawPeer struct {
	get, put *sql.Stmt
}

func openRaw(b *testing.B, s *Store) *rawPeer {
	b.Helper()
	db := s.testDB()
	if _, err := db.Exec(rawSchema); err != nil {
		b.Fatal(err)
	}
	var r rawPeer
	var err error
	if r.get, err = db.Prepare(`SELECT v FROM raw WHERE k = ?`); err != nil {
		b.Fatal(err)
	}
	if r.put, err = db.Prepare(`INSERT OR REPLACE INTO raw (k, v) VALUES (?, ?)`); err != nil {
		b.Fatal(err)
	}
	return &r
}

// benchStore opens a store on a fresh file, with the raw table beside it,
// both holding benchMaxSize entries, and the space of the store's
// function with lim.
func benchStore(b *testing.B, lim runtime.Limits) (*Store, runtime.Space, *rawPeer) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	raw := openRaw(b, s)
	sp := spaceOf(b, s, "github.com/picocache/picocache/bench.F@0123456789abcdef", lim)
	var key []byte
	for n := range benchMaxSize {
		key = benchKey(key, n)
		if err := sp.Set(ctx, key, benchValue); err != nil {
			b.Fatal(err)
		}
		if _, err := raw.put.Exec(key, benchValue); err != nil {
			b.Fatal(err)
		}
	}
	return s, sp, raw
}

var benchLimits = []struct {
	name string
	lim  runtime.Limits
}{
	{"maxsize=256", runtime.Limits{MaxSize: benchMaxSize}},
	{"unbounded", runtime.Limits{MaxSize: runtime.Unbounded}},
}

// BenchmarkHitPaired is a hit, cycling over the entries, against a raw
// prepared SELECT of the same key and value. A hit of a bounded function
// also records the key for its recency, applied in batches.
func BenchmarkHitPaired(b *testing.B) {
	for _, c := range benchLimits {
		b.Run(c.name, func(b *testing.B) {
			_, sp, raw := benchStore(b, c.lim)
			var rkey, skey, v []byte
			testenv.Paired(b, func(i int) {
				rkey = benchKey(rkey, i%benchMaxSize)
				if err := raw.get.QueryRow(rkey).Scan(&v); err != nil || len(v) != benchValSize {
					b.Fatal(err, len(v))
				}
			}, func(i int) {
				skey = benchKey(skey, i%benchMaxSize)
				v, ok, err := sp.Get(ctx, skey)
				if err != nil || !ok || len(v) != benchValSize {
					b.Fatal(err, ok, len(v))
				}
			})
		})
	}
}

// BenchmarkMissSetPaired is a call of a new key, as the runtime makes it:
// a Get that misses, then a Set. The raw peer is one INSERT OR REPLACE.
// The bounded function is full, so that every Set also evicts one entry.
func BenchmarkMissSetPaired(b *testing.B) {
	for _, c := range benchLimits {
		b.Run(c.name, func(b *testing.B) {
			_, sp, raw := benchStore(b, c.lim)
			var rkey, skey []byte
			testenv.Paired(b, func(i int) {
				rkey = benchKey(rkey, benchMaxSize+i)
				if _, err := raw.put.Exec(rkey, benchValue); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				skey = benchKey(skey, benchMaxSize+i)
				if _, ok, err := sp.Get(ctx, skey); ok || err != nil {
					b.Fatal(ok, err)
				}
				if err := sp.Set(ctx, skey, benchValue); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// The scale benchmark's files are filled once per test binary run, in
// scaleDir, which TestMain removes.
var (
	scaleDir   string
	scaleMu    sync.Mutex
	scaleFiles = map[string]string{} // guarded by scaleMu
)

func TestMain(m *testing.M) {
	code := m.Run()
	if scaleDir != "" {
		os.RemoveAll(scaleDir)
	}
	os.Exit(code)
}

const scaleFn = "github.com/picocache/picocache/bench.Scale@0123456789abcdef"

// scaleFile returns a store file holding n entries of scaleFn (bounded:
// each with its recency; else none) and a raw file holding the same keys
// and values, filling them the first time it is asked. Both are filled
// in key order, one transaction per 10000 rows, through connections with
// the store's pragmas and a larger cache.
func scaleFile(b *testing.B, n int, bounded bool) (store, raw string) {
	b.Helper()
	scaleMu.Lock()
	defer scaleMu.Unlock()
	name := fmt.Sprintf("store-%d-%v.db", n, bounded)
	if p, ok := scaleFiles[name]; ok {
		return p, scaleFiles[fmt.Sprintf("raw-%d.db", n)]
	}
	if scaleDir == "" {
		d, err := os.MkdirTemp("", "picocache-scale")
		if err != nil {
			b.Fatal(err)
		}
		scaleDir = d
	}
	start := time.Now()
	store = filepath.Join(scaleDir, name)
	lim := runtime.Limits{MaxSize: runtime.Unbounded}
	if bounded {
		lim.MaxSize = int64(n)
	}
	var id int64
	fill(b, store, n, func(s *Store) (string, []any) {
		id = spaceOf(b, s, scaleFn, lim).(*space).ns.id.Load().id
		return `INSERT INTO picocache (ns, key, value, seq, expires)
			SELECT ?3, unhex(printf('%016x', i)), ?4, CASE WHEN ?5 THEN i + 1 END, 0 FROM c`, []any{id, benchValue, bounded}
	}, func(c *sql.Conn) {
		if bounded { // counted, as a bounded Set would make it, once filled
			if _, err := c.ExecContext(ctx, `UPDATE picocache_ns SET n = ? WHERE id = ?`, n, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	scaleFiles[name] = store
	rawName := fmt.Sprintf("raw-%d.db", n)
	if _, ok := scaleFiles[rawName]; !ok {
		raw := filepath.Join(scaleDir, rawName)
		fill(b, raw, n, func(s *Store) (string, []any) {
			if _, err := s.testDB().Exec(rawSchema); err != nil {
				b.Fatal(err)
			}
			return `INSERT INTO raw (k, v) SELECT unhex(printf('%016x', i)), ?3 FROM c`, []any{benchValue}
		}, func(*sql.Conn) {})
		scaleFiles[rawName] = raw
	}
	b.Logf("filled %d entries (bounded %v) in %v", n, bounded, time.Since(start).Round(time.Millisecond))
	return store, scaleFiles[rawName]
}

// fill makes a store file at path and inserts n rows in it, keys 0 to
// n-1 in order, one transaction per 10^5 rows, with the statement and
// arguments that setup returns: an INSERT from c(i), the rows' numbers,
// whose arguments ?1 and ?2 are the first and the last plus one. Then it
// runs done and checkpoints the file.
func fill(b *testing.B, path string, n int, setup func(s *Store) (insert string, args []any), done func(c *sql.Conn)) {
	b.Helper()
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	insert, args := setup(s)
	c, err := s.testDB().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// A fill that fails leaves a file no benchmark reads: it need not be
	// durable, nor checkpointed before the end.
	for _, p := range []string{"PRAGMA cache_size = -262144", "PRAGMA synchronous = OFF", "PRAGMA wal_autocheckpoint = 0"} {
		if _, err := c.ExecContext(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 100000
	for lo := 0; lo < n; lo += batch {
		q := `WITH RECURSIVE c(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?2) ` + insert
		if _, err := c.ExecContext(ctx, q, append([]any{lo, min(n, lo+batch)}, args...)...); err != nil {
			b.Fatal(err)
		}
	}
	done(c)
	if _, err := c.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScale is a hit at random over 10^3 entries and over 10^6, in
// alternating chunks, for the store (the same space, a bounded one with
// every entry's recency and an unbounded one) and for raw SELECTs; it
// reports the hit's time at 10^6 over its time at 10^3 ("1e6/1e3"), and
// the file's bytes per entry, the store's and the raw table's. Each file
// is filled once per run of the test binary, in a few seconds.
func BenchmarkScale(b *testing.B) {
	for _, bounded := range []bool{true, false} {
		name := "unbounded"
		if bounded {
			name = "bounded"
		}
		b.Run("store-"+name, func(b *testing.B) {
			var sizes [2]int
			var sps [2]runtime.Space
			var files [2]string
			for j, n := range []int{1e3, 1e6} {
				files[j], _ = scaleFile(b, n, bounded)
				s, err := Open(files[j])
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				lim := runtime.Limits{MaxSize: runtime.Unbounded}
				if bounded {
					lim.MaxSize = int64(n)
				}
				sizes[j], sps[j] = n, spaceOf(b, s, scaleFn, lim)
			}
			scalePaired(b, sizes, func(j int, key []byte) {
				if v, ok, err := sps[j].Get(ctx, key); err != nil || !ok || len(v) != benchValSize {
					b.Fatal(err, ok, len(v))
				}
			})
			fi, err := os.Stat(files[1])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/float64(sizes[1]), "file-B/entry")
		})
	}
	b.Run("raw", func(b *testing.B) {
		var sizes [2]int
		var gets [2]*sql.Stmt
		var files [2]string
		for j, n := range []int{1e3, 1e6} {
			_, files[j] = scaleFile(b, n, false)
			s, err := Open(files[j])
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if gets[j], err = s.testDB().Prepare(`SELECT v FROM raw WHERE k = ?`); err != nil {
				b.Fatal(err)
			}
			sizes[j] = n
		}
		var v []byte
		scalePaired(b, sizes, func(j int, key []byte) {
			if err := gets[j].QueryRow(key).Scan(&v); err != nil || len(v) != benchValSize {
				b.Fatal(err, len(v))
			}
		})
		fi, err := os.Stat(files[1])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/float64(sizes[1]), "file-B/entry")
	})
}

// scalePaired runs get over sizes[0] and sizes[1] entries, b.N times
// each, at random keys, in alternating chunks, and reports their times.
func scalePaired(b *testing.B, sizes [2]int, get func(j int, key []byte)) {
	b.ReportAllocs()
	const chunk = 64
	var took [2]time.Duration
	var key []byte
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for j := range 2 {
			t0 := time.Now()
			for i := done; i < done+n; i++ {
				// A fixed permutation of the keys: 999983 is prime, so
				// coprime with both sizes.
				key = benchKey(key, int(uint64(i)*999983%uint64(sizes[j])))
				get(j, key)
			}
			took[j] += time.Since(t0)
		}
	}
	b.ReportMetric(float64(took[0])/float64(b.N), "1e3-ns/op")
	b.ReportMetric(float64(took[1])/float64(b.N), "1e6-ns/op")
	b.ReportMetric(float64(took[1])/float64(took[0]), "1e6/1e3")
}

// BenchmarkPrune prunes an old version of 10^6 entries while another
// store on the same file (as another process would) stores results of a
// live function about a thousand times a second: it reports how long the
// prune took and the longest and 99th-percentile time one of those Sets
// took meanwhile, so that deleting in batches is seen to keep the file's
// write lock short.
//
//	go test ./runtime/sqlite -run '^$' -bench Prune -benchtime 1x -count 3
func BenchmarkPrune(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "prune.db")
		fill(b, path, n, func(s *Store) (string, []any) {
			id := spaceOf(b, s, "old@1", runtime.Limits{MaxSize: runtime.Unbounded}).(*space).ns.id.Load().id
			return `INSERT INTO picocache (ns, key, value, seq, expires)
				SELECT ?3, unhex(printf('%016x', i)), ?4, NULL, 0 FROM c`, []any{id, benchValue}
		}, func(c *sql.Conn) {
			if _, err := c.ExecContext(ctx, `UPDATE picocache_ns SET used = ? WHERE name = 'old@1'`, time.Now().Add(-90*24*time.Hour).UnixMilli()); err != nil {
				b.Fatal(err)
			}
		})
		pruner, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		writer, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		live := spaceOf(b, writer, "live@1", runtime.Limits{MaxSize: benchMaxSize})
		stop := make(chan struct{})
		var waits []time.Duration
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var key [8]byte
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if err := live.Set(ctx, benchKey(key[:], i), benchValue); err != nil {
					b.Error(err)
					return
				}
				waits = append(waits, time.Since(t0))
				time.Sleep(time.Millisecond) // a busy service: about a thousand misses a second
			}
		}()
		b.StartTimer()
		start := time.Now()
		pruned, err := runtime.Prune(ctx, pruner, 24*time.Hour, false)
		took := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if err != nil || len(pruned) != 1 || pruned[0].Entries != n {
			b.Fatalf("Prune = %+v, %v", pruned, err)
		}
		slices.Sort(waits)
		b.ReportMetric(took.Seconds(), "prune-s")
		b.ReportMetric(float64(len(waits)), "sets-meanwhile")
		if len(waits) > 0 {
			b.ReportMetric(float64(waits[len(waits)-1])/1e6, "max-set-ms")
			b.ReportMetric(float64(waits[len(waits)*99/100])/1e6, "p99-set-ms")
		}
		pruner.Close()
		writer.Close()
		b.StartTimer()
	}
}
