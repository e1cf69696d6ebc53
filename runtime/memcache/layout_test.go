package memcache_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
)

// The layout on the server, as the package documentation states it,
// computed here independently of runtime/kv: a change of it breaks
// sharing with processes of earlier versions, so it must be deliberate.

func genKey(fn string) string {
	sum := sha256.Sum256([]byte("generation\x00" + fn))
	return kv.DefaultPrefix + "g" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// entryKey returns the server key of fn's key in its current generation.
func entryKey(t *testing.T, raw *gomemcache.Client, s runtime.Store, fn, key string) string {
	t.Helper()
	it, err := raw.Get(genKey(fn))
	if err != nil {
		t.Fatalf("generation of %q: %v", fn, err)
	}
	gen, err := strconv.ParseUint(strings.TrimRight(string(it.Value), " "), 10, 64)
	if err != nil {
		t.Fatalf("generation %q: %v", it.Value, err)
	}
	b := binary.AppendUvarint(nil, uint64(len(fn)))
	b = append(b, fn...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = append(b, key...)
	sum := sha256.Sum256(b)
	return kv.DefaultPrefix + "e" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestLayout: the keys and the envelope are where the documentation
// says, a Clear increments the generation by one, and every key fits
// memcached's 250 bytes.
func TestLayout(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	raw := rawClient(t)
	fn := newFn(t, s) + strings.Repeat("long namespace ", 40)
	sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10})
	key := strings.Repeat("key\x00 ", 100)
	mustSet(t, sp, key, "value")
	ek := entryKey(t, raw, s, fn, key)
	if len(ek) > 250 || len(genKey(fn)) > 250 {
		t.Errorf("keys of %d and %d bytes", len(ek), len(genKey(fn)))
	}
	it, err := raw.Get(ek)
	if err != nil {
		t.Fatalf("entry %s: %v", ek, err)
	}
	v := it.Value
	if !strings.HasPrefix(string(v), "K\x01") || !strings.Contains(string(v), fn) || !strings.HasSuffix(string(v), key+"value") {
		t.Errorf("envelope %.80q: want K\\x01, the namespace, ..., the key and the value", v)
	}
	g1, _ := raw.Get(genKey(fn))
	if err := sp.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	g2, _ := raw.Get(genKey(fn))
	n1, _ := strconv.ParseUint(strings.TrimSpace(string(g1.Value)), 10, 64)
	n2, _ := strconv.ParseUint(strings.TrimSpace(string(g2.Value)), 10, 64)
	if n2 != n1+1 {
		t.Errorf("generation %d, then %d after Clear; want an increment of one", n1, n2)
	}
	if _, err := raw.Get(ek); err != nil {
		t.Errorf("Clear deleted the old entry (%v): it is meant to age out", err)
	}
}

// TestCollisionReadsAsMiss forges what two keys with the same hash would
// leave on the server: key a's server key holding key b's envelope. The
// full key in the envelope makes a read of a a miss, never b's value.
func TestCollisionReadsAsMiss(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	raw := rawClient(t)
	fn := newFn(t, s)
	sp := spaceOf(t, s, fn, runtime.Limits{MaxSize: 10})
	mustSet(t, sp, "a", "A")
	mustSet(t, sp, "b", "B")
	ka, kb := entryKey(t, raw, s, fn, "a"), entryKey(t, raw, s, fn, "b")
	it, err := raw.Get(kb)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(&gomemcache.Item{Key: ka, Value: it.Value}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, sp, "a"); got != "<absent>" {
		t.Errorf("Get(a) with b's envelope under a's key = %q, want absent", got)
	}
	if got := get(t, sp, "b"); got != "B" {
		t.Errorf("Get(b) = %q, want B", got)
	}
	if n, _ := sp.Len(ctx); n != 1 {
		t.Errorf("Len = %d after a's entry was found taken, want 1", n)
	}
	// Another function's envelope, and garbage, under a's key: misses.
	other := newFn(t, s)
	mustSet(t, spaceOf(t, s, other, unbounded), "a", "other")
	it, _ = raw.Get(entryKey(t, raw, s, other, "a"))
	for _, v := range [][]byte{it.Value, []byte("garbage"), nil} {
		raw.Set(&gomemcache.Item{Key: ka, Value: v})
		if got := get(t, sp, "a"); got != "<absent>" {
			t.Errorf("Get(a) with %.20q under its key = %q, want absent", v, got)
		}
	}
	mustSet(t, sp, "a", "A again") // overwritten
	if got := get(t, sp, "a"); got != "A again" {
		t.Errorf("Get(a) = %q after Set", got)
	}
}
