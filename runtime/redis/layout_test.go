package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
)

func openForLayout(t *testing.T, opts ...Option) *Store {
	t.Helper()
	u := layoutURL()
	s, err := Open(context.Background(), u, opts...)
	if err != nil {
		testenv.Unavailable(t, "redis at "+u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// spaceOf opens fn's Space in s with lim.
func spaceOf(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(context.Background(), runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q, %+v): %v", fn, lim, err)
	}
	return sp
}

// TestServerKeys checks what the store leaves on the server: expiry times,
// the index, and nothing at all after Clear.
func TestServerKeys(t *testing.T) {
	s := openForLayout(t, WithFlushDelay(time.Hour))
	ctx := context.Background()
	c := s.Client()
	fn := "layout_test " + time.Now().Format(time.RFC3339Nano)
	n := redisstore.NewNames(fn)
	lim := lims(3, time.Hour)
	sp := spaceOf(t, s, fn, lim)
	defer sp.Clear(ctx)

	for _, k := range []string{"a", "b", "c", "d"} {
		if err := sp.Set(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	pttl, err := c.Do(ctx, c.B().Pttl().Key(n.Entry+"d").Build()).AsInt64()
	if err != nil || pttl <= 0 || pttl > int64(time.Hour/time.Millisecond) {
		t.Errorf("PTTL of an entry with a 1h TTL = %d, %v", pttl, err)
	}
	if ok, _ := c.Do(ctx, c.B().Exists().Key(n.Entry+"a").Build()).AsInt64(); ok != 0 {
		t.Errorf("evicted entry a still exists")
	}
	if got := lruOrder(t, s, n); got != "b,c,d" {
		t.Errorf("lru = %s, want b,c,d by recency", got)
	}
	if card, _ := c.Do(ctx, c.B().Zcard().Key(n.Exp).Build()).AsInt64(); card != 3 {
		t.Errorf("exp holds %d members, want 3", card)
	}

	// A sub-millisecond TTL is rounded up, not dropped.
	tiny := spaceOf(t, s, fn, lims(-1, time.Microsecond))
	if err := tiny.Set(ctx, []byte("tiny"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, ok, _ := tiny.Get(ctx, []byte("tiny")); ok {
		t.Errorf("an entry with a 1µs TTL is alive after 5ms")
	}

	// An entry that vanished behind the store's back (as under a
	// maxmemory policy): the Get that misses it writes nothing, and the
	// index drops it with the next batch (here Len's).
	c.Do(ctx, c.B().Del().Key(n.Entry+"b").Build())
	if _, ok, err := sp.Get(ctx, []byte("b")); ok || err != nil {
		t.Fatalf("Get of a deleted entry: %v, %v", ok, err)
	}
	if got := lruOrder(t, s, n); got != "b,c,d,tiny" {
		t.Errorf("after a Get that missed: lru = %s, want b,c,d,tiny (a miss is a read)", got)
	}
	if l, err := sp.Len(ctx); err != nil || l != 2 {
		t.Errorf("Len = %d, %v; want 2 (c, d)", l, err)
	}
	if card, _ := c.Do(ctx, c.B().Zcard().Key(n.Exp).Build()).AsInt64(); card != 2 {
		t.Errorf("exp holds %d members, want 2", card)
	}

	// Clear, with more entries than one batch, leaves nothing.
	big := redisstore.NewNames(fn + " big")
	bigSp := spaceOf(t, s, fn+" big", lims(-1, 0))
	for i := range redisstore.ClearBatch + 10 {
		if err := bigSp.Set(ctx, []byte{byte(i), byte(i >> 8)}, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range []runtime.Space{sp, bigSp} {
		if err := sp.Clear(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, nn := range []redisstore.Names{n, big} {
		keys, err := c.Do(ctx, c.B().Keys().Pattern(strings.TrimSuffix(nn.Entry, "k:")+"*").Build()).AsStrSlice()
		if err != nil || len(keys) != 0 {
			t.Errorf("after Clear: %d keys left (%v)", len(keys), err)
		}
	}
}

// lruOrder returns the members of n's lru, least recent first, joined by
// commas.
func lruOrder(t testing.TB, s *Store, n redisstore.Names) string {
	t.Helper()
	c := s.Client()
	members, err := c.Do(context.Background(), c.B().Zrange().Key(n.LRU).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		t.Fatalf("ZRANGE %s: %v", n.LRU, err)
	}
	return strings.Join(members, ",")
}

func lims(max int64, ttl time.Duration) runtime.Limits {
	return runtime.Limits{MaxSize: max, TTL: ttl}
}
