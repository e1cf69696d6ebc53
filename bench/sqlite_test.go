package bench

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/bench/sqlitebench"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqlite"
	// The driver's own registration ("sqlite") is what the raw peers use.
	_ "modernc.org/sqlite"
)

// The SQLite benchmarks compare a generated wrapper on the SQLite store
// with the code a user writes without PicoCache: a key-value table in the
// same file, read and written by prepared statements, with the pragmas
// the store sets. Store and peer run in alternating chunks within one
// benchmark, so that load from elsewhere on the machine hits both alike:
//
//	go test ./bench -run '^$' -bench SQLite -benchtime 20000x -count 3
//
// Each reports store/raw, the wrapper's wall time over the peer's, and
// cpu-store/raw, the same for the CPU time of the benchmark's thread,
// which waiting for a CPU on a busy machine does not inflate.

// storePragmas are the pragmas runtime/sqlite sets on its connections
// (connPragmas there, with its busy timeout), for the raw peers.
const storePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"

// keys256 is the key distribution of the SQLite hit benchmarks: 256 keys,
// all resident in a function of maxsize 256, visited in a fixed order.
const keys256 = 256

// rawValue is what the raw peers store: as long as the runtime's value
// for an int result (its envelope is 15 bytes around the 8).
var rawValue = make([]byte, 23)

// rawSQLite is the code a user writes without PicoCache.
type rawSQLite struct {
	db          *sql.DB
	get, upsert *sql.Stmt
}

func openRaw(b *testing.B, path string) *rawSQLite {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?"+storePragmas)
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

func key8(dst []byte, n int) []byte { return binary.BigEndian.AppendUint64(dst[:0], uint64(n)) }

func openStore(b *testing.B, path string) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// bindSQLite binds f to a store on path until the benchmark ends, and
// empties it.
func bindSQLite[R any](b *testing.B, f *runtime.Func[R], path string) *sqlite.Store {
	b.Helper()
	s := openStore(b, path)
	f.Bind(s)
	b.Cleanup(func() { f.Bind(nil) })
	if err := f.Clear(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSQLiteHit compares a hit of a generated wrapper on the SQLite
// store with a raw prepared SELECT of a value of the same size, on the
// same file: Square256, of maxsize 256, whose hits are reads that record
// their recency for later, and the unbounded Cube.
func BenchmarkSQLiteHit(b *testing.B) {
	for _, c := range []struct {
		name string
		fn   func(int) int
		bind func(b *testing.B, path string)
	}{
		{"maxsize=256", sqlitebench.Square256Cached, func(b *testing.B, path string) { bindSQLite(b, sqlitebench.Square256Cache, path) }},
		{"unbounded", CubeCached, func(b *testing.B, path string) { bindSQLite(b, CubeCache, path) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			c.bind(b, path)
			r := openRaw(b, path)
			var key []byte
			for n := range keys256 {
				c.fn(n)
				if _, err := r.upsert.Exec(key8(key, n), rawValue); err != nil {
					b.Fatal(err)
				}
			}
			var v []byte
			testenv.Paired(b, func(i int) {
				key = key8(key, i%keys256)
				if err := r.get.QueryRow(key).Scan(&v); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				n := i % keys256
				if v := c.fn(n); v != n*n && v != n*n*n {
					b.Fatal("wrong result")
				}
			})
		})
	}
}

// BenchmarkSQLiteMissStore compares a miss of a generated wrapper (a Get
// that misses, the call, a Set) with a raw prepared INSERT OR REPLACE of
// a new key, on the same file. Square256 is full, so that every Set also
// evicts its least recently used entry.
func BenchmarkSQLiteMissStore(b *testing.B) {
	for _, c := range []struct {
		name string
		fn   func(int) int
		bind func(b *testing.B, path string)
	}{
		{"maxsize=256", sqlitebench.Square256Cached, func(b *testing.B, path string) { bindSQLite(b, sqlitebench.Square256Cache, path) }},
		{"unbounded", CubeCached, func(b *testing.B, path string) { bindSQLite(b, CubeCache, path) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			c.bind(b, path)
			r := openRaw(b, path)
			for n := range keys256 {
				c.fn(n)
			}
			var key []byte
			testenv.Paired(b, func(i int) {
				if _, err := r.upsert.Exec(key8(key, keys256+i), rawValue); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				c.fn(keys256 + i)
			})
		})
	}
}

// The multi-process benchmark re-runs this test binary as children, with
// -test.run selecting TestSQLiteChild and these variables saying what to
// do.
const (
	envChild = "PICOCACHE_BENCH_SQLITE_CHILD" // the file; unset in the parent
)

// procs and goroutines are the multi-process benchmark's shape.
const procs, goroutines = 4, 8

// BenchmarkSQLiteProcesses has 4 processes with 8 goroutines each hit one
// function on one SQLite file: Square256 (maxsize=256, whose hits record
// their recency and apply it in batches) and the unbounded Cube, in
// alternating rounds, the same processes for both. It reports each one's
// throughput, in hits per second of all processes together, their ratio
// (bounded/unbounded) and the store errors the children counted, which
// must be 0. b.N is the number of hits of each function in all.
//
//	go test ./bench -run '^$' -bench SQLiteProcesses -benchtime 100000x -count 3
func BenchmarkSQLiteProcesses(b *testing.B) {
	path := filepath.Join(b.TempDir(), "shared.db")
	bindSQLite(b, sqlitebench.Square256Cache, path)
	bindSQLite(b, CubeCache, path)
	for n := range keys256 {
		sqlitebench.Square256Cached(n)
		CubeCached(n)
	}
	var children []*childProc
	for range procs {
		c := startChild(b, path)
		children = append(children, c)
	}
	const rounds = 4
	per := max(1, b.N/(rounds*procs))
	var took [2]time.Duration
	var errs int64
	b.ResetTimer()
	for range rounds {
		for mode, name := range []string{"bounded", "unbounded"} {
			start := time.Now()
			for _, c := range children {
				c.send(b, fmt.Sprintf("RUN %s %d", name, per))
			}
			for _, c := range children {
				var n int64
				if _, err := fmt.Sscanf(c.expect(b, "DONE "), "%d", &n); err != nil {
					b.Fatal(err)
				}
				errs += n
			}
			took[mode] += time.Since(start)
		}
	}
	b.StopTimer()
	for _, c := range children {
		c.send(b, "EXIT")
		if err := c.cmd.Wait(); err != nil {
			b.Errorf("child: %v\n%s", err, c.out.String())
		}
	}
	hits := float64(rounds * procs * per)
	b.ReportMetric(hits/took[0].Seconds(), "bounded-hits/s")
	b.ReportMetric(hits/took[1].Seconds(), "unbounded-hits/s")
	b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "bounded/unbounded")
	b.ReportMetric(float64(errs), "store-errors")
	if errs != 0 {
		b.Errorf("%d store errors in the children", errs)
	}
}

// childProc is a child of BenchmarkSQLiteProcesses, told what to do on
// its standard input, answering on its standard output.
type childProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	sc  *bufio.Scanner
	out strings.Builder // what it printed besides its answers
}

func startChild(b *testing.B, path string) *childProc {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSQLiteChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), envChild+"="+path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill() })
	c := &childProc{cmd: cmd, in: in, sc: bufio.NewScanner(out)}
	c.expect(b, "READY")
	return c
}

func (c *childProc) send(b *testing.B, line string) {
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		b.Fatalf("child: %v\n%s", err, c.out.String())
	}
}

// expect returns what follows prefix on the child's next answer.
func (c *childProc) expect(b *testing.B, prefix string) string {
	for c.sc.Scan() {
		if rest, ok := strings.CutPrefix(c.sc.Text(), prefix); ok {
			return rest
		}
		c.out.WriteString(c.sc.Text() + "\n")
	}
	b.Fatalf("child ended before %q: %v\n%s", prefix, c.sc.Err(), c.out.String())
	return ""
}

// TestSQLiteChild is not a test: it is what a child of
// BenchmarkSQLiteProcesses runs. It opens the store, binds both functions
// to it, hits each of their entries once, says READY, then runs "RUN
// bounded|unbounded N" (N hits from each of 8 goroutines in all, answered
// by DONE and the store errors counted meanwhile) until EXIT.
func TestSQLiteChild(t *testing.T) {
	path := os.Getenv(envChild)
	if path == "" {
		t.Skip("runs only as a child of BenchmarkSQLiteProcesses")
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlitebench.Square256Cache.Bind(s)
	CubeCache.Bind(s)
	fns := map[string]func(int) int{"bounded": sqlitebench.Square256Cached, "unbounded": CubeCached}
	errsOf := func() int64 {
		var n int64
		for _, f := range []interface {
			Info(context.Context) (runtime.Info, error)
		}{sqlitebench.Square256Cache, CubeCache} {
			info, _ := f.Info(context.Background())
			n += info.StoreErrors
		}
		return n
	}
	for n := range keys256 {
		sqlitebench.Square256Cached(n)
		CubeCached(n)
	}
	fmt.Println("READY")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "EXIT" {
			return
		}
		if len(f) != 3 || f[0] != "RUN" || fns[f[1]] == nil {
			t.Fatalf("bad command %q", sc.Text())
		}
		fn := fns[f[1]]
		calls, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		before := errsOf()
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := g; i < calls; i += goroutines {
					fn((i * 7) % keys256)
				}
			})
		}
		wg.Wait()
		fmt.Printf("DONE %d\n", errsOf()-before)
	}
}
