package sqldb_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
	"github.com/picocache/picocache/runtime/storetest"
)

// These tests check that a hit is a read and that its recency still
// arrives: in the next Set from the process, within the flush delay, by
// Flush and Close, by the hit that fills the batch, in the order of the
// hits, and for other stores' evictions.

// used returns the recency column of fn's rows in s's table, by key.
func used(t testing.TB, srv server, s *sqldb.Store, fn string) map[string]uint64 {
	t.Helper()
	rows, err := s.DB().QueryContext(ctx, srv.q(`SELECT k, used FROM "`+s.Table()+`" WHERE fh = $1`), fnHash(fn))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := make(map[string]uint64)
	for rows.Next() {
		var k []byte
		var u uint64
		if err := rows.Scan(&k, &u); err != nil {
			t.Fatal(err)
		}
		m[string(k)] = u
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantOrder fails t unless the rows of keys were used in that order.
func wantOrder(t testing.TB, u map[string]uint64, keys []string) {
	t.Helper()
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if _, ok := u[a]; !ok {
			t.Fatalf("no row for %q", a)
		}
		if u[a] >= u[b] {
			t.Fatalf("recency: %q (%d) is not older than %q (%d), the key hit after it (position %d of %d)", a, u[a], b, u[b], i, len(keys))
		}
	}
}

// TestHitIsARead checks that a hit of a bounded function writes nothing,
// and that Flush then applies it.
func TestHitIsARead(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t), sqldb.WithFlushDelay(time.Hour))
			fn := randomName("fn")
			clearFn(t, s, fn)
			sp := space(t, s, fn, runtime.Limits{MaxSize: 5})
			mustSet(t, sp, "a", "A")
			mustSet(t, sp, "b", "B")
			before := used(t, srv, s, fn)
			for range 10 {
				if v := get(t, sp, "a"); v != "A" {
					t.Fatalf("Get(a) = %q", v)
				}
			}
			if after := used(t, srv, s, fn); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("hits wrote: recency %v, then %v", before, after)
			}
			if n := sqldb.Pending(s); n != 1 {
				t.Errorf("Pending = %d after 10 hits of one key, want 1", n)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := sqldb.Pending(s); n != 0 {
				t.Errorf("Pending = %d after Flush, want 0", n)
			}
			wantOrder(t, used(t, srv, s, fn), []string{"b", "a"})
		})
	}
}

// TestTouchOrder hits many keys in a random order and checks that their
// recency follows it exactly, applied by Flush (in MySQL across several
// bump statements) and applied by a Set, whose own entry comes last.
func TestTouchOrder(t *testing.T) {
	const n = 300
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t), sqldb.WithFlushDelay(time.Hour))
			fn := randomName("fn")
			clearFn(t, s, fn)
			sp := space(t, s, fn, runtime.Limits{MaxSize: 2 * n})
			for i := range n {
				mustSet(t, sp, fmt.Sprint(i), "v")
			}
			hit := func() []string {
				var order []string
				for _, i := range rand.Perm(n) {
					k := fmt.Sprint(i)
					if get(t, sp, k) != "v" {
						t.Fatalf("Get(%q): absent", k)
					}
					order = append(order, k)
				}
				return order
			}
			order := hit()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			wantOrder(t, used(t, srv, s, fn), order)

			order = hit()
			mustSet(t, sp, "new", "v")
			wantOrder(t, used(t, srv, s, fn), append(order, "new"))
		})
	}
}

// TestHitThenSetEvictsExactLRU checks, with no flusher to help, that a
// Set applies this process's hits before it evicts.
func TestHitThenSetEvictsExactLRU(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t), sqldb.WithFlushDelay(time.Hour))
			fn := randomName("fn")
			clearFn(t, s, fn)
			sp := space(t, s, fn, runtime.Limits{MaxSize: 3})
			for _, k := range []string{"a", "b", "c"} {
				mustSet(t, sp, k, k)
			}
			get(t, sp, "b")
			get(t, sp, "a") // order now: c, b, a
			mustSet(t, sp, "d", "d")
			for k, want := range map[string]string{"a": "a", "b": "b", "c": "<absent>", "d": "d"} {
				if got := get(t, sp, k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
			// The hits above are pending again, and the next Set applies
			// them first too: d, a, b hit in that order, then e set.
			for _, k := range []string{"d", "a", "b"} {
				get(t, sp, k)
			}
			mustSet(t, sp, "e", "e") // evicts d
			for k, want := range map[string]string{"a": "a", "b": "b", "d": "<absent>", "e": "e"} {
				if got := get(t, sp, k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestConformanceWithoutFlusher runs the conformance suites on stores
// whose flusher never fires in a test's time: only Sets, Flush and Close
// apply hits, and LRU order must still be exact.
func TestConformanceWithoutFlusher(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			url := withParam(srv.url(t), "flush=1h")
			srv.open(t, url)
			open := func(t *testing.T) runtime.Store { return srv.open(t, url) }
			t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
			t.Run("Func", func(t *testing.T) { storetest.RunFunc(t, open) })
		})
	}
}

// TestTouchesReachOtherStores checks that another store's eviction sees
// this store's hits once the flush delay has passed, with no Set from
// this store.
func TestTouchesReachOtherStores(t *testing.T) {
	const delay = 100 * time.Millisecond
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			a := srv.open(t, srv.url(t), sqldb.WithFlushDelay(delay))
			b := srv.open(t, srv.url(t))
			fn := randomName("fn")
			clearFn(t, a, fn)
			lim := runtime.Limits{MaxSize: 2}
			spA, spB := space(t, a, fn, lim), space(t, b, fn, lim)
			mustSet(t, spA, "x", "x")
			mustSet(t, spA, "y", "y")
			start := time.Now()
			get(t, spA, "x")
			for u := used(t, srv, a, fn); u["x"] < u["y"]; u = used(t, srv, a, fn) {
				if time.Since(start) > 50*delay {
					t.Fatalf("the hit was not applied %v after it, with a flush delay of %v", time.Since(start), delay)
				}
				time.Sleep(delay / 10)
			}
			t.Logf("hit applied after %v (flush delay %v)", time.Since(start), delay)
			mustSet(t, spB, "z", "z") // evicts y, the least recently used
			for k, want := range map[string]string{"x": "x", "y": "<absent>", "z": "z"} {
				if got := get(t, spB, k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestShared runs stores that share one table as separate processes
// would, each on its own connection pool: the conformance suite's shared
// checks, and Sets with hits while every store flushes every 5 ms.
func TestShared(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			url := srv.url(t)
			srv.open(t, url)
			storetest.RunShared(t, func(t *testing.T) runtime.Store { return srv.open(t, url) })
			t.Run("MaxSizeWithFlushes", func(t *testing.T) {
				testMaxSizeWithFlushes(t, func(t *testing.T) *sqldb.Store { return srv.open(t, withParam(url, "flush=5ms")) })
			})
		})
	}
}

// testMaxSizeWithFlushes has 4 stores hit and set one bounded function at
// once, their flushes racing with the others' Sets: at most maxsize
// entries after any Set, every value right.
func testMaxSizeWithFlushes(t *testing.T, open func(*testing.T) *sqldb.Store) {
	const (
		stores  = 4
		workers = 4
		ops     = 60
		keys    = 30
		maxSize = 8
	)
	fn := randomName("shared/")
	lim := runtime.Limits{MaxSize: maxSize}
	var wg sync.WaitGroup
	for i := range stores {
		s := open(t)
		if i == 0 {
			clearFn(t, s, fn)
		}
		sp := space(t, s, fn, lim)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), uint64(w)))
				for range ops {
					k := fmt.Sprint(r.IntN(keys))
					v, ok, err := sp.Get(ctx, []byte(k))
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					if ok && string(v) != "value of "+k {
						t.Errorf("Get(%q) = %q", k, v)
					}
					if ok {
						continue
					}
					if err := sp.Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
						t.Errorf("Set: %v", err)
						return
					}
					if n, err := sp.Len(ctx); err != nil || n > maxSize {
						t.Errorf("after a Set: Len = %d, %v; want at most %d", n, err, maxSize)
					}
				}
			}()
		}
	}
	wg.Wait()
	wantLen(t, space(t, open(t), fn, lim), maxSize)
}

// TestFullBatchApplied hits more distinct keys than a batch holds, with a
// flush delay of an hour: a full batch is applied at once, by the
// flusher, not by the hit (which never waits for a write).
func TestFullBatchApplied(t *testing.T) {
	if testing.Short() {
		t.Skip("16369 entries")
	}
	// 16 stripes of at most 1023 keys before one is full: n keys fill
	// one whatever the hash seed.
	const n = 16*1023 + 1
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.open(t, srv.url(t), sqldb.WithFlushDelay(time.Hour))
			fn := randomName("fn")
			clearFn(t, s, fn)
			// Rows written directly, 1000 at a time, with recency 0: no
			// counter (the table's sequence, UUID_SHORT) gives 0.
			for lo := 0; lo < n; lo += 1000 {
				var vals []string
				var args []any
				for i := lo; i < lo+1000; i++ {
					k := []byte(fmt.Sprint(i))
					kh := sha256.Sum256(k)
					j := len(args)
					vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, $%d, 0, %d)", j+1, j+2, j+3, j+4, int64(1)<<62))
					args = append(args, fnHash(fn), kh[:], k, []byte("v"))
				}
				q := srv.q(`INSERT INTO "` + s.Table() + `" (fh, kh, k, v, used, expires) VALUES ` + strings.Join(vals, ", "))
				if _, err := s.DB().ExecContext(ctx, q, args...); err != nil {
					t.Fatal(err)
				}
			}
			if srv.dialect == sqldb.Postgres {
				// As after any bulk load: statistics from when the
				// table was small would make PostgreSQL scan the
				// function's rows for every Get (see keyStatsPostgres).
				if _, err := s.DB().ExecContext(ctx, `ANALYZE "`+s.Table()+`"`); err != nil {
					t.Fatal(err)
				}
			}
			sp := space(t, s, fn, runtime.Limits{MaxSize: 2 * n})
			for i := range n {
				if get(t, sp, fmt.Sprint(i)) != "v" {
					t.Fatalf("Get(%d): absent", i)
				}
			}
			var pending, moved int
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				pending, moved = sqldb.Pending(s), 0
				for _, u := range used(t, srv, s, fn) {
					if u != 0 {
						moved++
					}
				}
				if moved > 0 && moved+pending == n || time.Now().After(deadline) {
					break
				}
			}
			t.Logf("%d hits: %d applied since a batch filled, %d pending", n, moved, pending)
			if moved == 0 || moved+pending != n {
				t.Errorf("%d hits: %d applied, %d pending; want some applied, and every hit applied or pending", n, moved, pending)
			}
		})
	}
}

// TestFailedApplyPutsBack makes the server silent: a Flush and a Set that
// fail keep the hits pending, and once the server answers they are
// applied.
func TestFailedApplyPutsBack(t *testing.T) {
	captureLogs(t)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			u, p := throughProxy(t, srv)
			s := srv.open(t, u, sqldb.WithTimeout(500*time.Millisecond), sqldb.WithFlushDelay(time.Hour))
			fn := randomName("fn")
			clearFn(t, s, fn)
			sp := space(t, s, fn, runtime.Limits{MaxSize: 2})
			mustSet(t, sp, "a", "a")
			mustSet(t, sp, "b", "b")
			get(t, sp, "a")
			p.Silent()
			if err := s.Flush(ctx); err == nil {
				t.Fatal("Flush with a silent server: no error")
			} else if strings.Count(err.Error(), "sqldb:") != 1 {
				t.Errorf("Flush: %v, want one prefix", err)
			}
			if err := sp.Set(ctx, []byte("c"), []byte("c")); err == nil {
				t.Fatal("Set with a silent server: no error")
			}
			if n := sqldb.Pending(s); n != 1 {
				t.Fatalf("Pending = %d after a failed Flush and Set, want 1", n)
			}
			p.Forward()
			deadline := time.Now().Add(20 * time.Second)
			for {
				err := sp.Set(ctx, []byte("c"), []byte("c"))
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Set once the server answers again: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for k, want := range map[string]string{"a": "a", "b": "<absent>", "c": "c"} {
				if got := get(t, sp, k); got != want {
					t.Errorf("Get(%q) = %q, want %q", k, got, want)
				}
			}
		})
	}
}
