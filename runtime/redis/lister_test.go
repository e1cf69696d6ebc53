package redis_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
	"github.com/picocache/picocache/runtime/storetest"
	"github.com/redis/rueidis"
)

// listerDB is the database of the shared server where these tests list,
// age and prune namespaces: one of this package's own, as Prune deletes
// whatever the registry of its database says is unused, and the other
// packages' tests run at the same time (runtime/goredis uses 12,
// internal/redisstore 13, cmd/picocache 14).
const listerDB = 11

// listerURL is the shared server's URL, in database listerDB.
func listerURL(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(redisURL())
	if err != nil {
		t.Fatalf("PICOCACHE_TEST_REDIS: %v", err)
	}
	u.Path = "/" + strconv.Itoa(listerDB)
	q := u.Query()
	q.Del("db")
	u.RawQuery = q.Encode()
	return u.String()
}

// openLister opens u, skipping (or failing under
// PICOCACHE_REQUIRE_SERVICES=1) when the server is unreachable.
func openLister(t *testing.T, u string, opts ...redis.Option) *redis.Store {
	t.Helper()
	s, err := redis.Open(ctx, u, opts...)
	if err != nil {
		testenv.Unavailable(t, "redis at "+u, err)
	}
	return s
}

// forgetRegistered removes from the registry of c's database the
// namespaces that begin with one of prefixes, when the test ends (before
// the cleanups registered earlier, such as closing c): the tests leave no
// field behind.
func forgetRegistered(t *testing.T, c rueidis.Client, prefixes ...string) {
	t.Cleanup(func() {
		m, err := c.Do(ctx, c.B().Hgetall().Key("pc:ns").Build()).AsStrMap()
		if err != nil {
			t.Logf("cleaning the registry: %v", err)
			return
		}
		for name := range m {
			for _, p := range prefixes {
				if strings.HasPrefix(name, p) {
					c.Do(ctx, c.B().Hdel().Key("pc:ns").Field(name).Build())
				}
			}
		}
	})
}

func TestListerPlain(t *testing.T) {
	u := listerURL(t)
	s := openLister(t, u)
	t.Cleanup(func() { s.Close() }) // after forgetRegistered's
	forgetRegistered(t, s.Client(), "storetest/"+t.Name()+"/")
	storetest.RunLister(t, func(t *testing.T) runtime.Store { return openLister(t, u) })
}

func TestListerCluster(t *testing.T) {
	u := clusterURL(clusterAddrs(t))
	s := openLister(t, u)
	t.Cleanup(func() { s.Close() }) // after forgetRegistered's
	forgetRegistered(t, s.Client(), "storetest/"+t.Name()+"/")
	storetest.RunLister(t, func(t *testing.T) runtime.Store { return openLister(t, u) })
}

func TestLastUse(t *testing.T) {
	t.Run("Plain", func(t *testing.T) { testLastUse(t, listerURL(t)) })
	t.Run("Cluster", func(t *testing.T) { testLastUse(t, clusterURL(clusterAddrs(t))) })
}

// testLastUse checks that a hit, a read, records its namespace's use
// through the flusher and not by itself, and that Prune removes what no
// process used for the duration, entries (more than one batch) and
// registration, and only that.
func testLastUse(t *testing.T, u string) {
	s := openLister(t, u, redis.WithFlushDelay(time.Hour))
	t.Cleanup(func() { s.Close() }) // after forgetRegistered's
	c := s.Client()
	var b [6]byte
	rand.Read(b[:])
	prefix := "redis_test/" + t.Name() + "/" + hex.EncodeToString(b[:]) + "."
	forgetRegistered(t, c, prefix)
	hotName, coldName := prefix+"Hot@1", prefix+"Cold@1"
	used := func(name string) (time.Time, bool) {
		t.Helper()
		ms, err := c.Do(ctx, c.B().Hget().Key("pc:ns").Field(name).Build()).AsInt64()
		if rueidis.IsRedisNil(err) {
			return time.Time{}, false
		}
		if err != nil {
			t.Fatalf("HGET pc:ns %q: %v", name, err)
		}
		return time.UnixMilli(ms), true
	}
	age := func(name string, d time.Duration) {
		t.Helper()
		if err := c.Do(ctx, c.B().Hset().Key("pc:ns").FieldValue().FieldValue(name, strconv.FormatInt(time.Now().Add(-d).UnixMilli(), 10)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		redis.ForgetUse(s, name)
	}
	hot, cold := spaceOf(t, s, hotName, unbounded), spaceOf(t, s, coldName, unbounded)
	t.Cleanup(func() { hot.Clear(ctx); cold.Clear(ctx) })
	if err := hot.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if err := cold.Set(ctx, []byte(strconv.Itoa(i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil { // the registrations, sent already or now
		t.Fatal(err)
	}
	if at, ok := used(hotName); !ok || time.Since(at) > time.Minute {
		t.Errorf("after its first Space, the registry has %v, %v for the namespace; want now", at, ok)
	}

	age(hotName, 48*time.Hour)
	if _, ok, err := hot.Get(ctx, []byte("k")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if at, _ := used(hotName); time.Since(at) < 47*time.Hour {
		t.Errorf("a hit wrote its use to the registry itself (%v ago); the flusher should", time.Since(at))
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if at, _ := used(hotName); time.Since(at) > time.Minute {
		t.Errorf("after a hit and a flush, the last use is %v ago, want now", time.Since(at))
	}

	age(coldName, 48*time.Hour)
	pruned, err := runtime.Prune(ctx, s, 24*time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pruned {
		names = append(names, p.Name)
		if p.Name == coldName && p.Entries != 1500 {
			t.Errorf("Prune: %s had %d entries, want 1500", p.Name, p.Entries)
		}
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{coldName}) {
		t.Errorf("Prune pruned %q; want %q alone", names, coldName)
	}
	if n, _ := cold.Len(ctx); n != 0 {
		t.Errorf("cold has %d entries after Prune", n)
	}
	if n, _ := hot.Len(ctx); n != 1 {
		t.Errorf("hot has %d entries after Prune, want 1", n)
	}
	if _, ok := used(coldName); ok {
		t.Errorf("the registry still names the pruned namespace")
	}
	if _, ok := used(hotName); !ok {
		t.Errorf("the registry lost the namespace in use")
	}

	// A process that uses the pruned namespace again registers it again,
	// with its next flush.
	if err := cold.Set(ctx, []byte("again"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if at, ok := used(coldName); !ok || time.Since(at) > time.Minute {
		t.Errorf("after a Set and a flush, the pruned namespace's registration is %v, %v; want now", at, ok)
	}
}

// TestRegisteredAtFirstSpace: the first Space of a namespace, which
// reaches no server, has the flusher register it at once, with the time
// of the Space, long before the flush delay.
func TestRegisteredAtFirstSpace(t *testing.T) {
	s := openLister(t, listerURL(t), redis.WithFlushDelay(time.Minute))
	t.Cleanup(func() { s.Close() }) // after forgetRegistered's
	var b [6]byte
	rand.Read(b[:])
	name := "redis_test/" + t.Name() + "/" + hex.EncodeToString(b[:]) + ".F@1"
	forgetRegistered(t, s.Client(), name)
	c := s.Client()
	before := time.Now()
	spaceOf(t, s, name, unbounded)
	if d := time.Since(before); d > 50*time.Millisecond {
		t.Errorf("Space took %v", d)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ms, err := c.Do(ctx, c.B().Hget().Key("pc:ns").Field(name).Build()).AsInt64()
		if err == nil {
			if at := time.UnixMilli(ms); at.Before(before.Add(-time.Millisecond)) || time.Since(at) > 10*time.Second {
				t.Errorf("registered with %v, want the time of the Space (%v)", at, before)
			}
			return
		}
		if !rueidis.IsRedisNil(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the namespace of a new Space is not registered after 10s (flush delay 1m)")
		}
	}
}

// TestPruneOption checks WithPrune's URL form, and that Close stops the
// pruning at once.
func TestPruneOption(t *testing.T) {
	for _, bad := range []string{"abc", "0s", "-1h"} {
		if _, err := redis.ParseURL("redis://127.0.0.1:1?prune=" + bad); err == nil || !strings.Contains(err.Error(), "prune") {
			t.Errorf("prune=%s: err = %v, want one naming prune", bad, err)
		}
	}
	s := openLister(t, withPrune(listerURL(t), "720h"), redis.WithPrune(time.Hour))
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close of a store that prunes took %v", d)
	}
}

func withPrune(u, d string) string {
	if strings.Contains(u, "?") {
		return u + "&prune=" + d
	}
	return u + "?prune=" + d
}
