package memcache_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/memcache"
)

var ctx = context.Background()

// memcachedAddr is the shared server of the tests: PICOCACHE_TEST_MEMCACHE,
// as host:port, default 127.0.0.1:11211 (scripts/services-memcached.sh
// starts one there).
func memcachedAddr() string {
	return strings.TrimPrefix(testenv.Env("PICOCACHE_TEST_MEMCACHE", "127.0.0.1:11211"), "memcache://")
}

func memcachedURL() string { return "memcache://" + memcachedAddr() }

// needServer skips (or fails under PICOCACHE_REQUIRE_SERVICES=1) when the
// shared server does not answer.
func needServer(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", memcachedAddr(), 2*time.Second)
	if err != nil {
		testenv.Unavailable(t, "memcached at "+memcachedAddr(), err)
	}
	c.Close()
}

// openShared opens the shared server, skipping (or failing) when it is
// unreachable.
func openShared(t testing.TB) *memcache.Store {
	t.Helper()
	needServer(t)
	s, err := memcache.Open(ctx, memcachedURL())
	if err != nil {
		testenv.Unavailable(t, "memcached at "+memcachedAddr(), err)
	}
	return s
}

// rawClient is a plain gomemcache client of the shared server.
func rawClient(t testing.TB) *gomemcache.Client {
	t.Helper()
	needServer(t)
	c := gomemcache.New(memcachedAddr())
	c.MaxIdleConns = 16
	t.Cleanup(func() { c.Close() })
	return c
}

var unbounded = runtime.Limits{MaxSize: runtime.Unbounded}

// newFn returns a fresh namespace with awkward bytes in it, cleared when
// the test ends.
func newFn(t testing.TB, s runtime.Store) string {
	var b [6]byte
	rand.Read(b[:])
	fn := "memcache_test/" + t.Name() + " {}\x00\r\né" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if sp, err := s.Space(context.Background(), runtime.Namespace{Name: fn, Limits: unbounded}); err == nil {
			sp.Clear(context.Background())
		}
	})
	return fn
}

func spaceOf(t testing.TB, s runtime.Store, fn string, lim runtime.Limits) runtime.Space {
	t.Helper()
	sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
	if err != nil {
		t.Fatalf("Space(%q, %+v): %v", fn, lim, err)
	}
	return sp
}

func mustSet(t testing.TB, sp runtime.Space, k, v string) {
	t.Helper()
	if err := sp.Set(ctx, []byte(k), []byte(v)); err != nil {
		t.Fatalf("Set(%.20q): %v", k, err)
	}
}

func get(t testing.TB, sp runtime.Space, k string) string {
	t.Helper()
	v, ok, err := sp.Get(ctx, []byte(k))
	if err != nil {
		t.Fatalf("Get(%.20q): %v", k, err)
	}
	if !ok {
		return "<absent>"
	}
	return string(v)
}

var intCodec = runtime.Codec[int]{
	Type:   "int/varint",
	Append: func(dst []byte, v int) []byte { return binary.AppendVarint(dst, int64(v)) },
	Decode: func(src []byte) (int, error) {
		v, n := binary.Varint(src)
		if n <= 0 || n != len(src) {
			return 0, errors.New("bad varint")
		}
		return int(v), nil
	},
}
