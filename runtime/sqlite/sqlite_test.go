package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/storetest"
)

var ctx = context.Background()

// testDB returns the pool of the store's current handle, for tests that
// look at the file directly.
func (s *Store) testDB() *sql.DB { return s.h.Load().db }

var unboundedLim = runtime.Limits{MaxSize: runtime.Unbounded}

// spaceOf returns fn's Space in s with lim.
func spaceOf(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q): %v", fn, err)
	}
	return sp
}

// flush applies the hits s has recorded.
func flush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func openTemp(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "cache.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	// One file for the whole suite, as processes share ./picocache.db;
	// each subtest opens its own Store on it.
	path := filepath.Join(t.TempDir(), "conformance.db")
	storetest.Run(t, func(t *testing.T) runtime.Store {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceFunc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "func.db")
	storetest.RunFunc(t, func(t *testing.T) runtime.Store {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceShared runs the checks of what several processes sharing
// one file see: each open is a new Store on the file, with its own
// connections, as another process's would be.
func TestConformanceShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	storetest.RunShared(t, func(t *testing.T) runtime.Store {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceCustomTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "custom.db")
	storetest.Run(t, func(t *testing.T) runtime.Store {
		s, err := runtime.OpenURL(ctx, "sqlite://"+path+"?table=memo_v2&busy_timeout=2s&readers=2")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// order returns fn's keys from least to most recently used, as the
// eviction sees them.
func order(t *testing.T, s *Store, fn string) []string {
	t.Helper()
	rows, err := s.testDB().QueryContext(ctx, `SELECT key FROM picocache
		WHERE ns = (SELECT id FROM picocache_ns WHERE name = ?) ORDER BY seq NULLS FIRST, key`, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(k))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkCount checks that the trigger-kept row count of fn, if fn has one
// (if it has ever been bounded), matches its rows.
func checkCount(t *testing.T, s *Store, fn string) {
	t.Helper()
	var n, rows int64
	err := s.testDB().QueryRowContext(ctx, `SELECT coalesce((SELECT n FROM picocache_ns WHERE name = ?1), -1),
		(SELECT count(*) FROM picocache WHERE ns = (SELECT id FROM picocache_ns WHERE name = ?1))`, fn).Scan(&n, &rows)
	if n == -1 {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Errorf("%s: picocache_ns.n = %d, but %d rows", fn, n, rows)
	}
}

// TestExactLRU replays thousands of random Gets and Sets, far more than
// one per millisecond, against a model LRU list. Hits are recorded in the
// process and applied by the next Set, before its eviction, or by a
// Flush: after every Set, and after a Flush every few steps, the store's
// recency order is the model's.
func TestExactLRU(t *testing.T) {
	s := openTemp(t)
	const maxSize = 16
	lim := runtime.Limits{MaxSize: maxSize}
	fn := "exact"
	var model []string // least recent first
	touch := func(k string) {
		if i := slices.Index(model, k); i >= 0 {
			model = slices.Delete(model, i, i+1)
		}
		model = append(model, k)
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	const steps = 3000
	for i := range steps {
		k := fmt.Sprint(r.IntN(40))
		switch op := r.IntN(8); {
		case op < 4:
			v, ok, err := spaceOf(t, s, fn, lim).Get(ctx, []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Contains(model, k)
			if ok != want || ok && string(v) != "v"+k {
				t.Fatalf("step %d: Get(%s) = %q, %v; model has it: %v", i, k, v, ok, want)
			}
			if ok {
				touch(k)
			}
			continue // the hit is recorded, not applied yet
		case op < 7:
			if err := spaceOf(t, s, fn, lim).Set(ctx, []byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
			touch(k)
			if len(model) > maxSize {
				model = model[1:]
			}
		default:
			flush(t, s)
		}
		if got := order(t, s, fn); !slices.Equal(got, model) {
			t.Fatalf("step %d: store order %v, model %v", i, got, model)
		}
	}
	checkCount(t, s, fn)
	t.Logf("%d steps in %v (%.0f per millisecond)", steps, time.Since(start), steps/float64(time.Since(start).Milliseconds()+1))
}

// TestUnboundedGetIsRead checks that a hit of an unbounded function
// records no recency, even once flushed, and that a hit of a bounded one
// is a read too, whose recency a Flush applies.
func TestUnboundedGetIsRead(t *testing.T) {
	s := openTemp(t)
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	for _, k := range []string{"a", "b", "c"} {
		if err := spaceOf(t, s, "u", unbounded).Set(ctx, []byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := spaceOf(t, s, "u", unbounded).Get(ctx, []byte("a")); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	flush(t, s)
	if got := order(t, s, "u"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("order after unbounded Get = %v, want [a b c]", got)
	}
	if _, ok, err := spaceOf(t, s, "u", runtime.Limits{MaxSize: 10}).Get(ctx, []byte("a")); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if got := order(t, s, "u"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("order after bounded Get, before Flush = %v, want [a b c]: a hit writes nothing", got)
	}
	flush(t, s)
	if got := order(t, s, "u"); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Errorf("order after bounded Get = %v, want [b c a]", got)
	}
}

// TestTTLPurge checks that expired rows are deleted by a later Set of
// their function, and only of their function.
func TestTTLPurge(t *testing.T) {
	s := openTemp(t)
	short := runtime.Limits{MaxSize: runtime.Unbounded, TTL: 50 * time.Millisecond}
	for i := range 5 {
		for _, fn := range []string{"a", "b"} {
			if err := spaceOf(t, s, fn, short).Set(ctx, []byte(fmt.Sprint(i)), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	for _, fn := range []string{"a", "b"} {
		if n, err := spaceOf(t, s, fn, unboundedLim).Len(ctx); n != 0 || err != nil {
			t.Errorf("Len(%s) after expiry = %d, %v; want 0", fn, n, err)
		}
	}
	if err := spaceOf(t, s, "a", short).Set(ctx, []byte("new"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got := order(t, s, "a"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("rows of a after a Set = %v, want the expired ones purged", got)
	}
	if got := order(t, s, "b"); len(got) != 5 {
		t.Errorf("rows of b = %v, want its 5 expired rows left for b's next Set", got)
	}
	checkCount(t, s, "a")
	checkCount(t, s, "b")
}

func TestCloseThenUse(t *testing.T) {
	s := openTemp(t)
	lim := runtime.Limits{MaxSize: 3}
	if err := spaceOf(t, s, "f", lim).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	bounded, unbounded := spaceOf(t, s, "f", lim), spaceOf(t, s, "f", unboundedLim)
	if _, _, err := bounded.Get(ctx, []byte("k")); err != nil { // a recorded hit, for Close to apply
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, runtime.ErrClosed) {
			t.Errorf("%s after Close: %v, want runtime.ErrClosed", op, err)
		}
	}
	_, _, err := bounded.Get(ctx, []byte("k"))
	check("bounded Get", err)
	_, _, err = unbounded.Get(ctx, []byte("k"))
	check("Get", err)
	check("Set", bounded.Set(ctx, []byte("k"), []byte("v")))
	check("Clear", unbounded.Clear(ctx))
	_, err = unbounded.Len(ctx)
	check("Len", err)
	check("Flush", s.Flush(ctx))
	_, err = s.Space(ctx, runtime.Namespace{Name: "f", Limits: lim})
	check("Space", err)
}

// TestCloseWhileBusy closes a store while goroutines use it: every call
// either succeeds or fails cleanly, and nothing hangs or panics.
func TestCloseWhileBusy(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "busy.db"))
	if err != nil {
		t.Fatal(err)
	}
	spaces := []runtime.Space{spaceOf(t, s, "f", unboundedLim), spaceOf(t, s, "f", runtime.Limits{MaxSize: 10})}
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			sp := spaces[w%2]
			for i := 0; ; i++ {
				k := []byte(fmt.Sprint(i % 20))
				err := sp.Set(ctx, k, k)
				if err == nil {
					_, _, err = sp.Get(ctx, k)
				}
				if err != nil {
					if !errors.Is(err, runtime.ErrClosed) && !strings.Contains(err.Error(), "closed") {
						t.Errorf("after Close: %v", err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for range 4 {
		<-done
	}
}

func TestContextCanceled(t *testing.T) {
	s := openTemp(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	lim := runtime.Limits{MaxSize: 5}
	if err := spaceOf(t, s, "f", lim).Set(c, []byte("k"), []byte("v")); err == nil {
		t.Error("Set with a canceled context: nil error")
	}
	if _, _, err := spaceOf(t, s, "f", lim).Get(c, []byte("k")); err == nil {
		t.Error("Get with a canceled context: nil error")
	}
	// The store is still usable, with no transaction left open.
	if err := spaceOf(t, s, "f", lim).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatalf("Set after a canceled one: %v", err)
	}
	if v, ok, err := spaceOf(t, s, "f", lim).Get(ctx, []byte("k")); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
}

// TestOpenErrors checks that a failure to open names the path and says
// what is wrong, with "sqlite: " once in front.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, bytes.Repeat([]byte("this is not a SQLite database\n"), 200), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		opts       []Option
		want       []string
	}{
		{"corrupt file without recovery", corrupt, []Option{WithRecovery(false)}, []string{"not a database", "delete it or move it aside"}},
		{"directory", dir, nil, []string{"is a directory"}},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "c.db"), nil, []string{"directory " + filepath.Join(dir, "no") + " does not exist"}},
		{"parent is a file", filepath.Join(notDir, "c.db"), nil, []string{notDir + " is not a directory"}},
		{"ancestor is a file", filepath.Join(notDir, "a", "b", "c.db"), nil, []string{notDir + " is not a directory"}},
		{"empty", "", nil, []string{"empty database path"}},
		{"memory", ":memory:", nil, []string{"runtime.NewMemory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): nil error", tc.path)
			}
			t.Logf("Open(%q): %v", tc.path, err)
			checkOpenError(t, tc.path, err, tc.want...)
		})
	}
	// Without recovery, the corrupt file is left as it was, alone.
	if b, _ := os.ReadFile(corrupt); !bytes.HasPrefix(b, []byte("this is not")) {
		t.Errorf("Open changed the corrupt file")
	}
	if m, _ := filepath.Glob(corrupt + ".corrupt-*"); len(m) != 0 {
		t.Errorf("Open without recovery moved the file aside: %v", m)
	}
	// The same by URL.
	_, err := runtime.OpenURL(ctx, "sqlite://"+corrupt+"?recovery=false")
	checkOpenError(t, corrupt, err, "not a database", "delete it or move it aside")
}

// checkOpenError checks that err, from opening path, names it, says each
// of want, and begins with "sqlite: " once.
func checkOpenError(t *testing.T, path string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("opening %q: nil error", path)
		return
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("opening %q: %v; want it to say %q", path, err, w)
		}
	}
	if path != "" && !strings.Contains(msg, path) {
		t.Errorf("opening %q: %v; want it to name the path", path, err)
	}
	if !strings.HasPrefix(msg, "sqlite: ") || strings.Count(msg, "sqlite: ") != 1 {
		t.Errorf("opening %q: %v; want one \"sqlite: \" prefix", path, err)
	}
}

func TestOptionErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	for _, opt := range []Option{WithTable("a b"), WithTable(""), WithTable("1x"), WithTable(`x"y`), WithBusyTimeout(-1), WithReaders(0)} {
		if s, err := Open(path, opt); err == nil {
			s.Close()
			t.Errorf("Open with a bad option: nil error")
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a bad option created the file: %v", err)
	}
}

// TestTablesIndependent checks that two tables in one file are two caches.
func TestTablesIndependent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, WithTable("other"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lim := runtime.Limits{MaxSize: runtime.Unbounded}
	if err := spaceOf(t, a, "f", lim).Set(ctx, []byte("k"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := spaceOf(t, b, "f", lim).Get(ctx, []byte("k")); ok || err != nil {
		t.Errorf("table other sees table picocache's entry: %v, %v", ok, err)
	}
}

func TestPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	var mode string
	if err := s.testDB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var sync, busy int
	if err := s.testDB().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		t.Errorf("synchronous = %d, %v; want 1 (NORMAL)", sync, err)
	}
	if err := s.testDB().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Errorf("busy_timeout = %d, %v; want 5000", busy, err)
	}
}

// TestCounting follows a function's trigger-kept count: absent while the
// function is only used unbounded, created by its first bounded Set, and
// kept exact from then on, whatever the limits.
func TestCounting(t *testing.T) {
	s := openTemp(t)
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	set := func(k string, lim runtime.Limits) {
		t.Helper()
		if err := spaceOf(t, s, "f", lim).Set(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	wantLen := func(want int64) {
		t.Helper()
		if n, err := spaceOf(t, s, "f", unboundedLim).Len(ctx); n != want || err != nil {
			t.Errorf("Len = %d, %v; want %d", n, err, want)
		}
		checkCount(t, s, "f")
	}
	counted := func() bool {
		var n int
		if err := s.testDB().QueryRowContext(ctx, `SELECT count(*) FROM picocache_ns WHERE name = 'f' AND n IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for i := range 5 {
		set(fmt.Sprint(i), unbounded)
	}
	wantLen(5)
	if counted() {
		t.Errorf("an unbounded function has a count row")
	}
	set("5", runtime.Limits{MaxSize: 10})
	if !counted() {
		t.Errorf("a bounded Set made no count row")
	}
	wantLen(6)
	set("5", runtime.Limits{MaxSize: 10}) // overwrite: no new row
	wantLen(6)
	for i := 6; i < 9; i++ {
		set(fmt.Sprint(i), unbounded)
	}
	wantLen(9)
	if err := spaceOf(t, s, "f", unboundedLim).Clear(ctx); err != nil {
		t.Fatal(err)
	}
	wantLen(0)
	for i := range 5 {
		set(fmt.Sprint(i), runtime.Limits{MaxSize: 2})
	}
	wantLen(2)
	if got := order(t, s, "f"); !slices.Equal(got, []string{"3", "4"}) {
		t.Errorf("entries %v, want [3 4]", got)
	}
	// Touches of the most recent entry keep the order.
	for range 3 {
		if _, ok, err := spaceOf(t, s, "f", runtime.Limits{MaxSize: 2}).Get(ctx, []byte("4")); !ok || err != nil {
			t.Fatalf("Get = %v, %v", ok, err)
		}
	}
	flush(t, s)
	if got := order(t, s, "f"); !slices.Equal(got, []string{"3", "4"}) {
		t.Errorf("entries %v, want [3 4]", got)
	}
}

// TestUnboundedToBounded pins what happens when a function used unbounded
// gets a bounded Set. Its unbounded entries carry no recency (seq NULL):
// they become its least recently used, in key order, below the entries a
// bounded Get touched; from then on the function is counted and every
// Set, bounded or not, makes its entry the most recent. Two Stores on one
// file play two processes: the one that did not make the count row must
// see it.
func TestUnboundedToBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transition.db")
	open := func() *Store {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	three := runtime.Limits{MaxSize: 3}
	set := func(s *Store, k string, lim runtime.Limits) {
		t.Helper()
		if err := spaceOf(t, s, "f", lim).Set(ctx, []byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	want := func(keys ...string) {
		t.Helper()
		if got := order(t, a, "f"); !slices.Equal(got, keys) {
			t.Errorf("entries %v, want %v", got, keys)
		}
		if n, err := spaceOf(t, b, "f", unboundedLim).Len(ctx); n != int64(len(keys)) || err != nil {
			t.Errorf("Len = %d, %v; want %d", n, err, len(keys))
		}
		checkCount(t, a, "f")
	}
	nulls := func() int {
		t.Helper()
		var n int
		if err := a.testDB().QueryRowContext(ctx, `SELECT count(*) FROM picocache
			WHERE ns = (SELECT id FROM picocache_ns WHERE name = 'f') AND seq IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, k := range []string{"c", "a", "d", "b"} {
		set(a, k, unbounded)
	}
	if n := nulls(); n != 4 {
		t.Errorf("%d NULL-seq rows after 4 unbounded Sets, want 4", n)
	}
	// A bounded hit gives its entry a seq, above the NULL-seq ones.
	if _, ok, err := spaceOf(t, a, "f", three).Get(ctx, []byte("c")); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	flush(t, a)
	want("a", "b", "d", "c")
	// The first bounded Set, from the other Store, counts the function,
	// orders the NULL-seq rows by key below c, and evicts the first two.
	set(b, "e", three)
	if n := nulls(); n != 0 {
		t.Errorf("%d NULL-seq rows in a counted function, want 0", n)
	}
	want("d", "c", "e")
	// Unbounded Sets of a counted function, from the Store that has not
	// seen it counted, keep recency and evict nothing.
	set(a, "f", unbounded)
	set(a, "d", unbounded)
	want("c", "e", "f", "d")
	if n := nulls(); n != 0 {
		t.Errorf("%d NULL-seq rows in a counted function, want 0", n)
	}
	set(a, "g", three)
	want("f", "d", "g")
	// Clear keeps the count row; later unbounded Sets keep recency.
	if err := spaceOf(t, a, "f", unboundedLim).Clear(ctx); err != nil {
		t.Fatal(err)
	}
	set(b, "z", unbounded)
	set(b, "y", unbounded)
	want("z", "y")
	set(a, "x", runtime.Limits{MaxSize: 2})
	want("y", "x")
}

// TestQueryPlans checks the plans of the statements whose plan matters:
// a touch reads its list of keys and looks each up, and takes the
// namespace's largest seq from the partial index on (ns, seq); a read
// searches the primary key. A plan that scanned the namespace's rows would
// make every batch of touches, or every hit, read them all.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	q := queries(newTables(DefaultTable))
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"touch", q.touch, []any{1, `["6b"]`}, []string{"SCAN t", "SEARCH picocache USING PRIMARY KEY (ns=? AND key=?)", "picocache_lru"}},
		{"get", q.get, []any{1, []byte("k"), 1}, []string{"SEARCH picocache USING PRIMARY KEY (ns=? AND key=?)"}},
	} {
		rows, err := s.testDB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		for _, w := range tc.want {
			if !strings.Contains(joined, w) {
				t.Errorf("%s: plan %q; want it to say %q", tc.name, joined, w)
			}
		}
		if strings.Contains(joined, "SCAN picocache") || strings.Contains(joined, "SEARCH picocache USING PRIMARY KEY (ns=?)") {
			t.Errorf("%s: plan %q scans the namespace's rows", tc.name, joined)
		}
	}
}

func TestLister(t *testing.T) {
	storetest.RunLister(t, func(t *testing.T) runtime.Store { return openTemp(t) })
}

// used returns the last use the file records for fn.
func used(t *testing.T, s *Store, fn string) time.Time {
	t.Helper()
	var ms int64
	if err := s.testDB().QueryRowContext(ctx, `SELECT used FROM picocache_ns WHERE name = ?`, fn).Scan(&ms); err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(ms)
}

// age makes the file say fn was last used d ago, and this process
// forget that it recorded a use since.
func age(t *testing.T, s *Store, fn string, d time.Duration) {
	t.Helper()
	if _, err := s.testDB().ExecContext(ctx, `UPDATE picocache_ns SET used = ? WHERE name = ?`, time.Now().Add(-d).UnixMilli(), fn); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if ns := s.nss[fn]; ns != nil {
		ns.recorded.Store(0)
	}
	s.mu.Unlock()
}

// TestLastUse checks that a hit, a read, records the namespace's use
// through the flusher, and that Prune removes what no process used for
// the duration, and only that.
func TestLastUse(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	sp := spaceOf(t, s, "hot", unboundedLim)
	if err := sp.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if time.Since(used(t, s, "hot")) > time.Minute {
		t.Errorf("a new namespace's last use is %v", used(t, s, "hot"))
	}
	age(t, s, "hot", 48*time.Hour)
	if _, ok, err := sp.Get(ctx, []byte("k")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	flush(t, s)
	if u := used(t, s, "hot"); time.Since(u) > time.Minute {
		t.Errorf("after a hit and a flush, the last use is %v ago, want now", time.Since(u))
	}

	cold := spaceOf(t, s, "cold", unboundedLim)
	for i := range 1500 {
		cold.Set(ctx, []byte(fmt.Sprint(i)), []byte("v"))
	}
	age(t, s, "cold", 48*time.Hour)
	spaceOf(t, s, "warm", unboundedLim).Set(ctx, []byte("k"), []byte("v"))
	age(t, s, "warm", 20*time.Hour)

	dry, err := runtime.Prune(ctx, s, 24*time.Hour, true)
	if err != nil || len(dry) != 1 || dry[0].Name != "cold" || dry[0].Entries != 1500 {
		t.Fatalf("Prune dry run = %+v, %v; want cold alone, with its 1500 entries", dry, err)
	}
	if n, _ := cold.Len(ctx); n != 1500 {
		t.Errorf("a dry run deleted entries: %d left", n)
	}
	pruned, err := runtime.Prune(ctx, s, 24*time.Hour, false)
	if err != nil || len(pruned) != 1 || pruned[0].Name != "cold" {
		t.Fatalf("Prune = %+v, %v; want cold alone", pruned, err)
	}
	if n, _ := cold.Len(ctx); n != 0 {
		t.Errorf("cold has %d entries after Prune", n)
	}
	for _, fn := range []string{"hot", "warm"} {
		if n, _ := spaceOf(t, s, fn, unboundedLim).Len(ctx); n != 1 {
			t.Errorf("%s has %d entries after Prune, want 1", fn, n)
		}
	}
}

// TestUsedColumnAdded opens a file whose namespace table has no column of
// last use, as an earlier release made it: the column is added, with the
// time of the opening, and the entries stay.
func TestUsedColumnAdded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	spaceOf(t, s, "f", unboundedLim).Set(ctx, []byte("k"), []byte("v"))
	if _, err := s.testDB().ExecContext(ctx, `ALTER TABLE picocache_ns DROP COLUMN used`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := time.Now()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u := used(t, s, "f"); u.Before(before.Add(-time.Second)) {
		t.Errorf("the added column says %v, want the opening's time", u)
	}
	if v, ok, err := spaceOf(t, s, "f", unboundedLim).Get(ctx, []byte("k")); !ok || err != nil || string(v) != "v" {
		t.Errorf("the entry after the column was added: %q, %v, %v", v, ok, err)
	}
}

// TestPruneEvery runs the background pruning a store is told to do: it
// removes the unused namespace, keeps the used one, and stops.
func TestPruneEvery(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	cold, warm := spaceOf(t, s, "cold", unboundedLim), spaceOf(t, s, "warm", unboundedLim)
	cold.Set(ctx, []byte("k"), []byte("v"))
	warm.Set(ctx, []byte("k"), []byte("v"))
	age(t, s, "cold", 90*24*time.Hour)
	stop := runtime.PruneEvery(s, 720*time.Hour, 20*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := cold.Len(ctx); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unused namespace was not pruned within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	stop() // twice is fine
	if n, _ := warm.Len(ctx); n != 1 {
		t.Errorf("the used namespace has %d entries after pruning, want 1", n)
	}
}

func TestPruneURL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := runtime.OpenURL(ctx, "sqlite:"+path+"?prune=720h")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.(*Store); st.o.prune != 720*time.Hour || st.stopPrune == nil {
		t.Errorf("prune=720h: prune %v, running %v", st.o.prune, st.stopPrune != nil)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"prune=soon", "prune=0s", "prune=-1h"} {
		if _, _, err := ParseURL("sqlite:" + path + "?" + bad); err == nil || !strings.Contains(err.Error(), "prune=") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}
