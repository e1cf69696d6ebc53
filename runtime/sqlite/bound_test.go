package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faulttest"
	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// testIntCodec is a codec such as picogen writes for an int result.
var testIntCodec = runtime.Codec[int]{
	Type: "int",
	Append: func(dst []byte, v int) []byte {
		return binary.BigEndian.AppendUint64(dst, uint64(v))
	},
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

// intKey is the key of argument n, as generated code would encode it.
func intKey(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// lockFile takes the write lock of the file at path on a connection of
// its own, as another process would, and returns the function that
// releases it.
func lockFile(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Error(err)
			}
			c.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// TestBoundWhileLocked holds the file's write lock from another
// connection for many times the busy timeout while 8 goroutines call a
// bounded memoized function, and the store directly, over and over. Every
// call returns its correct result, and none waits much longer than the
// bound: a call may wait for this process's writer connection and for the
// other connection's lock, but for no longer than the busy timeout in
// all, per store operation. The lock is held longer than 8 busy timeouts,
// so that calls queued behind one another for the writer, each waiting
// its full busy timeout, would show. Once the lock is released, calls hit
// again.
func TestBoundWhileLocked(t *testing.T) {
	const (
		busy = 250 * time.Millisecond
		hold = 9 * busy
		// limit is meant to catch hangs and queues, not to time the store.
		limit = busy + time.Second
	)
	path := filepath.Join(t.TempDir(), "locked.db")
	s, err := Open(path, WithBusyTimeout(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Bound(); got != busy {
		t.Errorf("Bound() = %v, want the busy timeout %v", got, busy)
	}
	var st runtime.Store = s
	if b, ok := st.(runtime.Bounder); !ok || b.Bound() != busy {
		t.Errorf("the store is not a runtime.Bounder of %v", busy)
	}

	var runs atomic.Int64
	body := func(n int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			runs.Add(1)
			return 10 * n, nil
		}
	}
	f := runtime.New(runtime.Config{Name: "bound.F", Version: "v1", MaxSize: 100}, testIntCodec)
	f.Bind(s)
	const stored = 8 // arguments 0..7 are stored before the lock; 8..15 are not
	for n := range stored {
		if v, err := f.Do(ctx, intKey(n), body(n)); v != 10*n || err != nil {
			t.Fatalf("F(%d) = %d, %v", n, v, err)
		}
	}
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	if err := spaceOf(t, s, "direct", unbounded).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	release := lockFile(t, path)
	timer := time.AfterFunc(hold, release)
	defer timer.Stop()
	deadline := time.Now().Add(hold)

	var (
		mu      sync.Mutex
		slowest time.Duration
		what    string
		calls   int
	)
	note := func(d time.Duration, op string) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if d > slowest {
			slowest, what = d, op
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				n := (g*5 + i) % (2 * stored)
				start := time.Now()
				v, err := f.Do(ctx, intKey(n), body(n))
				note(time.Since(start), fmt.Sprintf("F(%d)", n))
				if v != 10*n || err != nil {
					t.Errorf("F(%d) = %d, %v; want %d", n, v, err, 10*n)
				}
				start = time.Now()
				err = spaceOf(t, s, "direct", unbounded).Set(ctx, []byte(fmt.Sprint(g)), []byte("v"))
				note(time.Since(start), "Set")
				if err == nil && time.Now().Before(deadline.Add(-busy)) {
					t.Errorf("Set succeeded while the file was locked")
				}
				start = time.Now()
				v2, ok, err := spaceOf(t, s, "direct", unbounded).Get(ctx, []byte("k"))
				note(time.Since(start), "unbounded Get")
				if !ok || err != nil || string(v2) != "v" {
					t.Errorf("unbounded Get while locked = %q, %v, %v; want a hit: reads take no lock", v2, ok, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d calls while locked; slowest %s took %v (bound %v)", calls, what, slowest, busy)
	if slowest > limit {
		t.Errorf("%s took %v while another connection held the lock; want at most about the bound %v", what, slowest, busy)
	}
	info, _ := f.Info(ctx)
	if info.StoreErrors == 0 {
		t.Errorf("no store failure while the file was locked: the test did not lock it")
	}

	release()
	before := runs.Load()
	for n := range stored {
		if v, err := f.Do(ctx, intKey(n), body(n)); v != 10*n || err != nil {
			t.Errorf("F(%d) after the lock = %d, %v", n, v, err)
		}
	}
	if ran := runs.Load() - before; ran != 0 {
		t.Errorf("after the lock, %d of %d calls of stored arguments computed; want hits", ran, stored)
	}
	n := 2*stored + 1
	f.Do(ctx, intKey(n), body(n))
	before = runs.Load()
	if v, err := f.Do(ctx, intKey(n), body(n)); v != 10*n || err != nil || runs.Load() != before {
		t.Errorf("F(%d) after the lock: %d, %v, computed %d times; want a hit of what the call before stored", n, v, err, runs.Load()-before)
	}
}

// TestWaitsShareTheBound checks that waiting for this process's writer
// connection counts against an operation's bound: a Set queued behind
// another Set that waits on another connection's lock fails when its own
// busy timeout is up, not after the other's and then its own.
func TestWaitsShareTheBound(t *testing.T) {
	const busy = time.Second
	path := filepath.Join(t.TempDir(), "queue.db")
	s, err := Open(path, WithBusyTimeout(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp := spaceOf(t, s, "f", runtime.Limits{MaxSize: runtime.Unbounded})
	lockFile(t, path)
	first := make(chan error, 1)
	go func() { first <- sp.Set(ctx, []byte("a"), []byte("v")) }()
	time.Sleep(busy / 4) // the first Set has the writer, and waits in SQLite's busy handler
	start := time.Now()
	err = sp.Set(ctx, []byte("b"), []byte("v"))
	took := time.Since(start)
	t.Logf("queued Set: %v after %v", err, took)
	if err == nil {
		t.Errorf("queued Set succeeded while the file was locked")
	}
	// Alone it would wait busy; behind the first, 1.75 busy.
	if took > busy*3/2 {
		t.Errorf("queued Set took %v; want about the busy timeout %v, its wait for the writer included", took, busy)
	}
	if err := <-first; err == nil {
		t.Errorf("first Set succeeded while the file was locked")
	}
}

// TestContextDeadlineBoundsBusyWait checks that a context deadline
// earlier than the busy timeout ends SQLite's wait for another
// connection's lock: the busy handler itself does not heed the interrupt
// a context sets off.
func TestContextDeadlineBoundsBusyWait(t *testing.T) {
	const busy = 3 * time.Second
	path := filepath.Join(t.TempDir(), "deadline.db")
	s, err := Open(path, WithBusyTimeout(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lims := []runtime.Limits{{MaxSize: runtime.Unbounded}, {MaxSize: 10}}
	for _, lim := range lims {
		spaceOf(t, s, "f", lim) // registers the namespace, a write
	}
	lockFile(t, path)
	for _, lim := range lims {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		err := spaceOf(t, s, "f", lim).Set(c, []byte("k"), []byte("v"))
		took := time.Since(start)
		cancel()
		t.Logf("Set(maxsize %d) with a 100ms deadline: %v after %v", lim.MaxSize, err, took)
		if err == nil {
			t.Errorf("Set succeeded while the file was locked")
		}
		if took > busy/2 {
			t.Errorf("Set with a 100ms deadline took %v; want the deadline to end the busy wait (busy timeout %v)", took, busy)
		}
	}
}

// TestBusyTimeoutRestored checks that an operation that shortened the
// writer connection's busy timeout to its budget leaves the next one the
// whole busy timeout, and that an uncontended operation does not touch
// it.
func TestBusyTimeoutRestored(t *testing.T) {
	s := openTemp(t, WithBusyTimeout(2*time.Second))
	writerBusy := func() int64 {
		t.Helper()
		s.wsem <- struct{}{}
		defer func() { <-s.wsem }()
		var ms int64
		if err := s.h.Load().w.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
			t.Fatal(err)
		}
		if h := s.h.Load(); h.busy != ms {
			t.Errorf("handle says busy %d ms, the connection %d", h.busy, ms)
		}
		return ms
	}
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	if err := spaceOf(t, s, "f", unbounded).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ms := writerBusy(); ms != 2000 {
		t.Errorf("after an uncontended Set, busy_timeout = %d, want 2000", ms)
	}
	c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := spaceOf(t, s, "f", unbounded).Set(c, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ms := writerBusy(); ms > 500 {
		t.Errorf("after a Set with a 500ms deadline, busy_timeout = %d, want at most 500", ms)
	}
	if err := spaceOf(t, s, "f", unbounded).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ms := writerBusy(); ms != 2000 {
		t.Errorf("after a Set without deadline, busy_timeout = %d, want 2000 again", ms)
	}
}

// TestOpenBoundWhileLocked opens a store on a file that another
// connection holds an exclusive lock on, before the file is in WAL mode
// (the only state in which opening needs a lock another may hold for
// long): Open fails within the busy timeout, and succeeds once the lock
// is released.
func TestOpenBoundWhileLocked(t *testing.T) {
	const busy = 300 * time.Millisecond
	path := filepath.Join(t.TempDir(), "exclusive.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"CREATE TABLE other (x)", "BEGIN EXCLUSIVE", "INSERT INTO other VALUES (1)"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	start := time.Now()
	s, err := Open(path, WithBusyTimeout(busy))
	took := time.Since(start)
	t.Logf("Open while locked: %v after %v", err, took)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded while another connection held an exclusive lock")
	}
	if took > busy+time.Second {
		t.Errorf("Open took %v while the file was locked; want about the busy timeout %v", took, busy)
	}
	if !storekit.Transient(err) || !strings.HasPrefix(err.Error(), "sqlite: opening "+path+": ") {
		t.Errorf("Open while locked: %v; want SQLITE_BUSY, naming the path", err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, WithBusyTimeout(busy))
	if err != nil {
		t.Fatalf("Open after the lock: %v", err)
	}
	s.Close()
}

// TestLockedFaultTest runs the checks every store passes through
// internal/faulttest while another connection holds the file's write
// lock: calls from 8 goroutines return their results within the bound
// and faulttest's slack, and a function on a healthy store is not
// delayed meanwhile.
func TestLockedFaultTest(t *testing.T) {
	const busy = 200 * time.Millisecond
	path := filepath.Join(t.TempDir(), "faulttest.db")
	s, err := Open(path, WithBusyTimeout(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, runs := faulttest.NewFunc(t)
	f.Bind(s)
	release := lockFile(t, path)
	slowest := faulttest.CallsWithin(t, f, runs, s.Bound(), 0, 3)
	release()
	t.Logf("slowest call while locked: %v (bound %v)", slowest, s.Bound())
	if info, _ := f.Info(ctx); info.StoreErrors == 0 {
		t.Error("no store failure counted while the file was locked")
	}
}
