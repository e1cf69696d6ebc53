package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// TestBoundedHitsWhileLocked holds the file's write lock from another
// connection, as another process's BEGIN IMMEDIATE would, while 8
// goroutines call a bounded memoized function on stored arguments: a hit
// is a read, so every call hits, none waits for the lock (the bound is 2
// s; a call that waited would take that long), and no store failure is
// counted, though the flusher (every 50ms here) fails meanwhile to apply
// the hits' recency. Once the lock is released, a Flush applies it.
func TestBoundedHitsWhileLocked(t *testing.T) {
	const busy = 2 * time.Second
	path := filepath.Join(t.TempDir(), "locked.db")
	s, err := Open(path, WithBusyTimeout(busy), WithFlushDelay(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var runs atomic.Int64
	body := func(n int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { runs.Add(1); return 10 * n, nil }
	}
	f := runtime.New(runtime.Config{Name: "locked.F", Version: "v1", MaxSize: 16}, testIntCodec)
	f.Bind(s)
	const stored = 16
	for n := range stored {
		f.Do(ctx, intKey(n), body(n))
	}
	before := order(t, s, f.Namespace())

	release := lockFile(t, path)
	var (
		mu      sync.Mutex
		slowest time.Duration
		calls   int
	)
	deadline := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				// The first half of the keys, the least recently used.
				n := (g + i) % (stored / 2)
				start := time.Now()
				v, err := f.Do(ctx, intKey(n), body(n))
				took := time.Since(start)
				if v != 10*n || err != nil {
					t.Errorf("F(%d) = %d, %v", n, v, err)
				}
				mu.Lock()
				calls++
				slowest = max(slowest, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d bounded hits in 1.5s while another connection held the write lock; slowest %v", calls, slowest)
	info, _ := f.Info(ctx)
	if info.StoreErrors != 0 || runs.Load() != stored {
		t.Errorf("while locked: %d store errors, %d computations; want 0 and only the %d before the lock", info.StoreErrors, runs.Load(), stored)
	}
	if slowest > busy/2 {
		t.Errorf("a hit took %v while the file was locked: it waited for the lock (busy timeout %v)", slowest, busy)
	}
	if got := order(t, s, f.Namespace()); !slices.Equal(got, before) {
		t.Errorf("order changed while the file was locked: %v, was %v", got, before)
	}
	release()
	flush(t, s)
	got := order(t, s, f.Namespace())
	if !slices.Equal(got[:stored/2], before[stored/2:]) {
		t.Errorf("after Flush the order is %v; want the keys not hit (%v) least recent", got, before[stored/2:])
	}
}

// TestFailedSetKeepsHits checks that the hits a Set takes with it are put
// back when the Set fails, for a later Set or Flush to apply.
func TestFailedSetKeepsHits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failed.db")
	s, err := Open(path, WithBusyTimeout(100*time.Millisecond), WithFlushDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lim := runtime.Limits{MaxSize: 3}
	sp := spaceOf(t, s, "f", lim)
	for _, k := range []string{"a", "b", "c"} {
		if err := sp.Set(ctx, []byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := sp.Get(ctx, []byte("a")); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	release := lockFile(t, path)
	if err := sp.Set(ctx, []byte("d"), []byte("d")); err == nil {
		t.Fatal("Set succeeded while the file was locked")
	}
	release()
	if err := sp.Set(ctx, []byte("e"), []byte("e")); err != nil { // evicts b, not a
		t.Fatal(err)
	}
	if got := order(t, s, "f"); !slices.Equal(got, []string{"c", "a", "e"}) {
		t.Errorf("order %v, want [c a e]: the hit of a, put back by the failed Set, applied before the eviction", got)
	}
}

// TestFlushDelay checks that the recency of hits reaches the file within
// the flush delay, with no Set, Flush or Close.
func TestFlushDelay(t *testing.T) {
	s := openTemp(t, WithFlushDelay(50*time.Millisecond))
	sp := spaceOf(t, s, "f", runtime.Limits{MaxSize: 10})
	for _, k := range []string{"a", "b", "c"} {
		if err := sp.Set(ctx, []byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := sp.Get(ctx, []byte("a")); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	want := []string{"b", "c", "a"}
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		if slices.Equal(order(t, s, "f"), want) {
			return
		}
	}
	t.Errorf("order %v 10s after a hit with a 50ms flush delay; want %v", order(t, s, "f"), want)
}

// TestFullBatchAppliesItself hits more distinct keys than a batch holds,
// with a flush delay of an hour: a full batch is applied at once, by the
// flusher, not by the hit (which never waits for a write).
func TestFullBatchAppliesItself(t *testing.T) {
	const entries = 24000
	s := openTemp(t, WithFlushDelay(time.Hour))
	lim := runtime.Limits{MaxSize: 2 * entries}
	sp := spaceOf(t, s, "f", lim)
	if err := sp.Set(ctx, []byte("first"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	// The other entries in one statement: the store's Sets would take
	// seconds under the race detector.
	if _, err := s.testDB().ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1)
		INSERT INTO picocache (ns, key, value, seq, expires)
		SELECT (SELECT id FROM picocache_ns WHERE name = 'f'), CAST(printf('%05d', i) AS BLOB), x'76', i + 1, 0 FROM c`, entries); err != nil {
		t.Fatal(err)
	}
	ns := sp.(*space).ns
	for i := range entries {
		if _, ok, err := sp.Get(ctx, fmt.Appendf(nil, "%05d", entries-i)); !ok || err != nil {
			t.Fatalf("Get %d = %v, %v", i, ok, err)
		}
	}
	var pending, applied int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pending = ns.touches.Len()
		if err := s.testDB().QueryRowContext(ctx, `SELECT count(*) FROM picocache WHERE seq > ?`, entries+1).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if applied > 0 && pending+applied == entries || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("after %d hits: %d pending, %d applied", entries, pending, applied)
	if applied == 0 || pending+applied != entries {
		t.Errorf("after %d hits of distinct keys: %d pending, %d applied; want a full batch applied by a hit, and the rest pending", entries, pending, applied)
	}
}

// TestSpaceRace has four stores, as four processes would, register the
// same new namespaces at once: each name gets one id, the same for all.
func TestSpaceRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	const stores, names = 4, 20
	var all [stores]*Store
	for i := range all {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		all[i] = s
	}
	ids := make([][names]int64, stores)
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Go(func() {
			for n := range names {
				sp, err := s.Space(ctx, runtime.Namespace{Name: fmt.Sprint("ns", n), Limits: runtime.Limits{MaxSize: int64(i + 1)}})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i][n] = sp.(*space).ns.id.Load().id
			}
		})
	}
	wg.Wait()
	for i := 1; i < stores; i++ {
		if ids[i] != ids[0] {
			t.Errorf("store %d has ids %v, store 0 %v", i, ids[i], ids[0])
		}
	}
	var rows int
	if err := all[0].testDB().QueryRowContext(ctx, `SELECT count(*) FROM picocache_ns`).Scan(&rows); err != nil || rows != names {
		t.Errorf("%d namespace rows, %v; want %d", rows, err, names)
	}
}

// oldSchema is the schema of the releases before namespaces had ids.
const oldSchema = `
CREATE TABLE picocache (
	fn TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, seq INTEGER, expires INTEGER NOT NULL,
	PRIMARY KEY (fn, key)
) WITHOUT ROWID;
CREATE INDEX picocache_lru ON picocache (fn, seq) WHERE seq IS NOT NULL;
CREATE INDEX picocache_exp ON picocache (fn, expires) WHERE expires > 0;
CREATE TABLE picocache_fn (fn TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER picocache_ins AFTER INSERT ON picocache BEGIN UPDATE picocache_fn SET n = n + 1 WHERE fn = NEW.fn; END;
CREATE TRIGGER picocache_del AFTER DELETE ON picocache BEGIN UPDATE picocache_fn SET n = n - 1 WHERE fn = OLD.fn; END;
INSERT INTO picocache_fn VALUES ('f', 0);
INSERT INTO picocache VALUES ('f', x'6b', x'6f6c64', 1, 0);
`

// TestOldSchema opens a file of an earlier release, whose table has the
// store's name and another shape: the store keeps its entries in tables
// of other names (picocache_v2), leaves the old ones as they were, and
// keeps using its own after they are dropped as the documentation says.
func TestOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, WithTable("scratch")) // a WAL file, with no picocache table
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.testDB().ExecContext(ctx, oldSchema); err != nil {
		t.Fatal(err)
	}
	s.Close()
	schemaOf := func(s *Store) string {
		t.Helper()
		var sql string
		if err := s.testDB().QueryRowContext(ctx, `SELECT group_concat(name || ':' || sql, ';') FROM
			(SELECT name, sql FROM sqlite_schema WHERE name LIKE 'picocache%' AND name NOT LIKE 'picocache_v2%' ORDER BY name)`).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		return sql
	}
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.h.Load().names; got != newTables("picocache_v2") {
		t.Errorf("tables %+v on a file with the old table; want picocache_v2", got)
	}
	lim := runtime.Limits{MaxSize: 5}
	wantGet := func(s *Store, want string) {
		t.Helper()
		v, ok, err := spaceOf(t, s, "f", lim).Get(ctx, []byte("k"))
		if err != nil || (ok != (want != "")) || string(v) != want {
			t.Errorf("Get = %q, %v, %v; want %q", v, ok, err, want)
		}
	}
	wantGet(a, "") // the old entry is not read
	if err := spaceOf(t, a, "f", lim).Set(ctx, []byte("k"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	wantGet(a, "new")
	var old string
	if err := a.testDB().QueryRowContext(ctx, `SELECT value FROM picocache WHERE fn = 'f'`).Scan(&old); err != nil || old != "old" {
		t.Errorf("the old table's entry: %q, %v; want it untouched", old, err)
	}
	before := schemaOf(a)
	// Another process agrees, and the documented clean-up changes nothing
	// for the store.
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wantGet(b, "new")
	if got := schemaOf(b); got != before {
		t.Errorf("a second open changed the old tables:\n%s\nwas\n%s", got, before)
	}
	if _, err := b.testDB().ExecContext(ctx, `DROP TABLE picocache; DROP TABLE picocache_fn`); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.h.Load().names; got != newTables("picocache_v2") {
		t.Errorf("tables %+v after the old ones were dropped; want picocache_v2 still", got)
	}
	wantGet(c, "new")
	wantGet(a, "new")
}
