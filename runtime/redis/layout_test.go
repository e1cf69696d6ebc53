package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
)

func openForLayout(t *testing.T) *Store {
	t.Helper()
	u := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	if !strings.Contains(u, "://") {
		u = "redis://" + u
	}
	s, err := Open(context.Background(), u)
	if err != nil {
		testenv.Unavailable(t, "redis at "+u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNames(t *testing.T) {
	a, b := newNames("pkg.F@v1"), newNames("pkg.F@v1}{")
	if a.entry == b.entry {
		t.Fatalf("two namespaces share %q", a.entry)
	}
	for _, n := range []*names{a, b} {
		// One hash tag, the first {...} of every key, shared by all keys.
		tag := n.lru[strings.Index(n.lru, "{") : strings.Index(n.lru, "}")+1]
		for _, k := range []string{n.entry + "{key}", n.lru, n.seq, n.exp} {
			if i, j := strings.Index(k, "{"), strings.Index(k, "}"); k[i:j+1] != tag {
				t.Errorf("key %q: hash tag %q, want %q", k, k[i:j+1], tag)
			}
		}
		if len(tag) != nameLen+2 {
			t.Errorf("tag %q: want %d hex digits", tag, nameLen)
		}
	}
}

// TestServerKeys checks what the store leaves on the server: expiry times,
// the index, and nothing at all after Clear.
func TestServerKeys(t *testing.T) {
	s := openForLayout(t)
	ctx := context.Background()
	c := s.Client()
	fn := "layout_test " + time.Now().Format(time.RFC3339Nano)
	n := s.namesOf(fn)
	defer s.Clear(ctx, fn)

	lim := lims(3, time.Hour)
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := s.Set(ctx, fn, []byte(k), []byte("v"), lim); err != nil {
			t.Fatal(err)
		}
	}
	pttl, err := c.Do(ctx, c.B().Pttl().Key(n.entry+"d").Build()).AsInt64()
	if err != nil || pttl <= 0 || pttl > int64(time.Hour/time.Millisecond) {
		t.Errorf("PTTL of an entry with a 1h TTL = %d, %v", pttl, err)
	}
	if ok, _ := c.Do(ctx, c.B().Exists().Key(n.entry+"a").Build()).AsInt64(); ok != 0 {
		t.Errorf("evicted entry a still exists")
	}
	members, err := c.Do(ctx, c.B().Zrange().Key(n.lru).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil || strings.Join(members, ",") != "b,c,d" {
		t.Errorf("lru = %q, %v; want b,c,d by recency", members, err)
	}
	if card, _ := c.Do(ctx, c.B().Zcard().Key(n.exp).Build()).AsInt64(); card != 3 {
		t.Errorf("exp holds %d members, want 3", card)
	}

	// A sub-millisecond TTL is rounded up, not dropped.
	if err := s.Set(ctx, fn, []byte("tiny"), []byte("v"), lims(-1, time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, ok, _ := s.Get(ctx, fn, []byte("tiny"), lims(-1, time.Microsecond)); ok {
		t.Errorf("an entry with a 1µs TTL is alive after 5ms")
	}

	// An entry that vanished behind the store's back (as under a
	// maxmemory policy) leaves the index on a bounded Get.
	c.Do(ctx, c.B().Del().Key(n.entry+"b").Build())
	if _, ok, err := s.Get(ctx, fn, []byte("b"), lim); ok || err != nil {
		t.Fatalf("Get of a deleted entry: %v, %v", ok, err)
	}
	if l, err := s.Len(ctx, fn); err != nil || l != 2 {
		t.Errorf("Len = %d, %v; want 2 (c, d)", l, err)
	}

	// Clear, with more entries than one batch, leaves nothing.
	big := newNames(fn + " big")
	for i := range clearBatch + 10 {
		if err := s.Set(ctx, fn+" big", []byte{byte(i), byte(i >> 8)}, []byte("v"), lims(-1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{fn, fn + " big"} {
		if err := s.Clear(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, nn := range []*names{n, big} {
		keys, err := c.Do(ctx, c.B().Keys().Pattern(strings.TrimSuffix(nn.entry, "k:")+"*").Build()).AsStrSlice()
		if err != nil || len(keys) != 0 {
			t.Errorf("after Clear: %d keys left (%v)", len(keys), err)
		}
	}
}

func lims(max int64, ttl time.Duration) runtime.Limits {
	return runtime.Limits{MaxSize: max, TTL: ttl}
}
