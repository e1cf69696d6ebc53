package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/redis/rueidis"
)

// These tests look at the server's index to check how the recency of hits
// travels: a hit writes nothing; the next Set, the flush delay, a full
// batch, Flush and Close apply it.

// layoutURL is the shared server of the tests, as redisURL in
// helpers_test.go (of the external test package) gives it.
func layoutURL() string {
	u := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	if !strings.Contains(u, "://") {
		u = "redis://" + u
	}
	return u
}

// withQuery adds parameter p (name=value) to URL u.
func withQuery(u, p string) string {
	if strings.Contains(u, "?") {
		return u + "&" + p
	}
	return u + "?" + p
}

// batchFn returns a fresh namespace, cleared through s when the test ends
// (before s is closed, if s was opened earlier in the test).
func batchFn(t *testing.T, s *Store) string {
	fn := fmt.Sprintf("batch_test/%s/%d", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() { spaceOf(t, s, fn, lims(-1, 0)).Clear(context.Background()) })
	return fn
}

func mustSets(t *testing.T, sp runtime.Space, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := sp.Set(context.Background(), []byte(k), []byte("v"+k)); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
}

func mustHit(t *testing.T, sp runtime.Space, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok, err := sp.Get(context.Background(), []byte(k))
		if err != nil || !ok || string(v) != "v"+k {
			t.Fatalf("Get(%q) = %q, %v, %v; want a hit", k, v, ok, err)
		}
	}
}

func seqOf(t *testing.T, s *Store, n redisstore.Names) string {
	t.Helper()
	c := s.Client()
	v, err := c.Do(context.Background(), c.B().Get().Key(n.Seq).Build()).ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		t.Fatal(err)
	}
	return v
}

// TestHitIsARead: a hit of a bounded function changes nothing on the
// server; the next Set of the function from the process applies it in the
// same script as its eviction, which then evicts by exact LRU.
func TestHitIsARead(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	fn := batchFn(t, s)
	n := redisstore.NewNames(fn)
	sp := spaceOf(t, s, fn, lims(3, 0))
	mustSets(t, sp, "a", "b", "c")
	seq := seqOf(t, s, n)
	mustHit(t, sp, "a", "b", "a")
	if got := lruOrder(t, s, n); got != "a,b,c" {
		t.Errorf("after hits: lru = %s, want a,b,c unchanged (a hit is a read)", got)
	}
	if got := seqOf(t, s, n); got != seq {
		t.Errorf("after hits: seq = %s, want %s unchanged", got, seq)
	}
	mustSets(t, sp, "d") // applies b, a (in the order of their last hit), then evicts c
	if got := lruOrder(t, s, n); got != "b,a,d" {
		t.Errorf("after the Set: lru = %s, want b,a,d", got)
	}
	if _, ok, _ := sp.Get(context.Background(), []byte("c")); ok {
		t.Errorf("c survived the eviction; it was the least recently used")
	}
}

// TestTouchesWithinDelay: with flush=DURATION the hits reach the server
// within that delay, with no Set.
func TestTouchesWithinDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	s, err := Open(context.Background(), withQuery(layoutURL(), "flush=200ms"))
	if err != nil {
		testenv.Unavailable(t, "redis at "+layoutURL(), err)
	}
	t.Cleanup(func() { s.Close() })
	if s.delay != delay {
		t.Fatalf("flush=200ms: delay %v", s.delay)
	}
	fn := batchFn(t, s)
	n := redisstore.NewNames(fn)
	sp := spaceOf(t, s, fn, lims(2, 0))
	mustSets(t, sp, "a", "b")
	start := time.Now()
	mustHit(t, sp, "a")
	if got := lruOrder(t, s, n); got != "a,b" && time.Since(start) < delay/2 {
		t.Errorf("right after the hit: lru = %s, want a,b (applied later)", got)
	}
	for lruOrder(t, s, n) != "b,a" {
		if time.Since(start) > delay+2*time.Second {
			t.Fatalf("the hit of a did not reach the server within %v (flush delay %v)", time.Since(start), delay)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("applied %v after the hit (flush delay %v)", time.Since(start).Round(time.Millisecond), delay)
}

// TestCloseAppliesTouches: another process evicts by the hits of a store
// only once they are applied, here by Close.
func TestCloseAppliesTouches(t *testing.T) {
	other := openForLayout(t, WithFlushDelay(time.Hour))
	fn := batchFn(t, other)
	lim := lims(3, 0)
	a := openForLayout(t, WithFlushDelay(time.Hour))
	spA, spOther := spaceOf(t, a, fn, lim), spaceOf(t, other, fn, lim)

	// Unapplied, a's hit is not seen: the other store evicts a.
	mustSets(t, spA, "a", "b", "c")
	mustHit(t, spA, "a")
	mustSets(t, spOther, "d")
	if got := lruOrder(t, other, redisstore.NewNames(fn)); got != "b,c,d" {
		t.Errorf("with the hit pending in another store: lru = %s, want b,c,d", got)
	}

	// Applied by Close: the other store evicts d, not c.
	mustSets(t, spA, "a") // evicts b: c, d, a
	mustHit(t, spA, "c")
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mustSets(t, spOther, "e")
	if got := lruOrder(t, other, redisstore.NewNames(fn)); got != "a,c,e" {
		t.Errorf("after Close applied the hit of c: lru = %s, want a,c,e", got)
	}
}

// TestFlush: Flush applies every pending hit, of every function; after
// Close it fails with ErrClosed.
func TestFlush(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	fns := []string{batchFn(t, s), batchFn(t, s), batchFn(t, s)}
	for _, fn := range fns {
		sp := spaceOf(t, s, fn, lims(3, 0))
		mustSets(t, sp, "a", "b", "c")
		mustHit(t, sp, "b", "a")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for _, fn := range fns {
		if got := lruOrder(t, s, redisstore.NewNames(fn)); got != "c,b,a" {
			t.Errorf("after Flush: lru = %s, want c,b,a", got)
		}
	}
	s2 := openForLayout(t)
	s2.Close()
	if err := s2.Flush(context.Background()); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
}

// TestFullBatchAppliesItself: a full batch is applied at once, by the
// flusher (a hit never waits for a write), with no Set, Flush or Close.
func TestFullBatchAppliesItself(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	fn := batchFn(t, s)
	sp := spaceOf(t, s, fn, lims(1000, 0))
	// Keys of 32 KiB: a stripe of the batch holds 256 KiB, so one of the
	// 16 is full after at most 16*7+1 distinct keys.
	const keys = 120
	key := func(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("x", 32<<10) }
	for i := range keys {
		mustSets(t, sp, key(i))
	}
	for i := keys - 1; i >= 0; i-- {
		mustHit(t, sp, key(i))
	}
	c := s.Client()
	var members []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		members, err = c.Do(context.Background(), c.B().Zrange().Key(redisstore.NewNames(fn).LRU).Min("0").Max("-1").Build()).AsStrSlice()
		if err != nil || len(members) != keys {
			t.Fatalf("lru: %d members, %v", len(members), err)
		}
		if members[len(members)-1][:3] != "119" || time.Now().After(deadline) {
			break
		}
	}
	if last := members[len(members)-1][:3]; last == "119" {
		t.Errorf("the most recent entry is still %s, the last one set: no hit was applied", last)
	}
	if p, _ := s.core.Pending(fn); p >= keys {
		t.Errorf("%d hits pending, want fewer than %d", p, keys)
	}
}

// TestDanglingHit: an entry hit, then dropped behind the store's back (as
// by Redis's own maxmemory eviction), leaves the index with the next Set
// instead of being made the most recent: it does not count, and no live
// entry is evicted for it.
func TestDanglingHit(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	fn := batchFn(t, s)
	n := redisstore.NewNames(fn)
	sp := spaceOf(t, s, fn, lims(3, time.Hour))
	mustSets(t, sp, "a", "b", "c")
	mustHit(t, sp, "a")
	c := s.Client()
	c.Do(context.Background(), c.B().Del().Key(n.Entry+"a").Build())
	mustSets(t, sp, "d")
	if got := lruOrder(t, s, n); got != "b,c,d" {
		t.Errorf("lru = %s, want b,c,d (a gone, nothing evicted)", got)
	}
	if card, _ := c.Do(context.Background(), c.B().Zcard().Key(n.Exp).Build()).AsInt64(); card != 3 {
		t.Errorf("exp holds %d members, want 3", card)
	}
	mustHit(t, sp, "b")
}

// oldGetLua is the getScript of the clients before hits became reads: it
// read a value and made it the most recent in one script.
const oldGetLua = `
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
  return v
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return false
`

// TestOlderClients: entries written by clients that sent no batch with
// their Set are read back, and their script hits order evictions together
// with this store's batched ones.
func TestOlderClients(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	fn := batchFn(t, s)
	n := redisstore.NewNames(fn)
	c := s.Client()
	ctx := context.Background()
	oldGet := rueidis.NewLuaScript(oldGetLua)
	for _, k := range []string{"a", "b", "c"} {
		// An older client's Set: the same script but for the batch.
		err := lua[redisstore.SetScript].Exec(ctx, c, []string{n.Entry + k, n.LRU, n.Seq, n.Exp}, []string{"v" + k, k, "3", "0", n.Entry}).Error()
		if err != nil {
			t.Fatal(err)
		}
	}
	sp := spaceOf(t, s, fn, lims(3, 0))
	mustHit(t, sp, "b") // pending here
	if v, err := oldGet.Exec(ctx, c, []string{n.Entry + "a", n.LRU, n.Seq, n.Exp}, []string{"a"}).ToString(); err != nil || v != "va" {
		t.Fatalf("older client's Get of a: %q, %v", v, err)
	}
	mustSets(t, sp, "d") // applies b, then evicts c
	if got := lruOrder(t, s, n); got != "a,b,d" {
		t.Errorf("lru = %s, want a,b,d", got)
	}
	mustHit(t, sp, "a", "b", "d")
}

func TestFlushParameter(t *testing.T) {
	for _, bad := range []string{"abc", "0s", "-1s", ""} {
		if _, err := ParseURL("redis://127.0.0.1:1?flush=" + bad); err == nil || !strings.Contains(err.Error(), "flush") {
			t.Errorf("flush=%s: err = %v, want one naming flush", bad, err)
		}
	}
	if _, err := ParseURL("redis://127.0.0.1:1?flush=250ms&timeout=1s"); err != nil {
		t.Errorf("flush=250ms: %v", err)
	}
	if s := New(nil); s.delay != time.Second {
		t.Errorf("New: flush delay %v, want 1s", s.delay)
	}
	if s := New(nil, WithFlushDelay(-time.Second)); s.delay != time.Second {
		t.Errorf("WithFlushDelay(-1s): flush delay %v, want 1s", s.delay)
	}
	s := openForLayout(t) // the shared server's URL, without flush=
	s2, err := Open(context.Background(), withQuery(layoutURL(), "flush=5s"), WithFlushDelay(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s.delay != time.Second || s2.delay != 50*time.Millisecond {
		t.Errorf("flush delays %v, %v; want 1s, and the option's 50ms over the URL's 5s", s.delay, s2.delay)
	}
}
