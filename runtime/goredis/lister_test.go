package goredis_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/goredis"
	"github.com/picocache/picocache/runtime/storetest"
	"github.com/redis/go-redis/v9"
)

// listerDB is the database of the shared server where these tests list,
// age and prune namespaces: one of this package's own, as Prune deletes
// whatever the registry of its database says is unused, and the other
// packages' tests run at the same time (runtime/redis uses 11,
// internal/redisstore 13, cmd/picocache 14).
const listerDB = 12

// inListerDB configures a client of the shared server for listerDB, then
// as conf does.
func inListerDB(conf func(o *redis.Options)) func(o *redis.Options) {
	return func(o *redis.Options) {
		o.DB = listerDB
		if conf != nil {
			conf(o)
		}
	}
}

// forgetRegistered removes from the registry of c's database the
// namespaces that begin with one of prefixes, when the test ends (before
// the cleanups registered earlier, such as closing c): the tests leave no
// field behind.
func forgetRegistered(t *testing.T, c redis.UniversalClient, prefixes ...string) {
	t.Cleanup(func() {
		m, err := c.HGetAll(ctx, "pc:ns").Result()
		if err != nil {
			t.Logf("cleaning the registry: %v", err)
			return
		}
		for name := range m {
			for _, p := range prefixes {
				if strings.HasPrefix(name, p) {
					c.HDel(ctx, "pc:ns", name)
				}
			}
		}
	})
}

// TestListerPlain runs the suite of runtime.Lister on plain Redis, through
// a client the Store calls directly and through one it guards.
func TestListerPlain(t *testing.T) {
	for _, cf := range configs {
		t.Run(cf.name, func(t *testing.T) {
			forgetRegistered(t, newClient(t, inListerDB(nil)), "storetest/"+t.Name()+"/")
			storetest.RunLister(t, openWith(config{cf.name, inListerDB(cf.conf), cf.guarded}))
		})
	}
}

func TestListerCluster(t *testing.T) {
	forgetRegistered(t, newClusterClient(t), "storetest/"+t.Name()+"/")
	storetest.RunLister(t, func(t *testing.T) runtime.Store { return goredis.New(newClusterClient(t)) })
}

func TestLastUse(t *testing.T) {
	t.Run("Plain", func(t *testing.T) { testLastUse(t, newClient(t, inListerDB(configs[0].conf))) })
	t.Run("Cluster", func(t *testing.T) { testLastUse(t, newClusterClient(t)) })
}

// testLastUse checks that a hit, a read, records its namespace's use
// through the flusher and not by itself, and that Prune removes what no
// process used for the duration, entries (more than one batch) and
// registration, and only that.
func testLastUse(t *testing.T, c redis.UniversalClient) {
	s := goredis.New(c, goredis.WithFlushDelay(time.Hour))
	t.Cleanup(func() { s.Close() }) // after forgetRegistered's
	var b [6]byte
	rand.Read(b[:])
	prefix := "goredis_test/" + t.Name() + "/" + hex.EncodeToString(b[:]) + "."
	forgetRegistered(t, c, prefix)
	hotName, coldName := prefix+"Hot@1", prefix+"Cold@1"
	used := func(name string) (time.Time, bool) {
		t.Helper()
		ms, err := c.HGet(ctx, "pc:ns", name).Int64()
		if errors.Is(err, redis.Nil) {
			return time.Time{}, false
		}
		if err != nil {
			t.Fatalf("HGET pc:ns %q: %v", name, err)
		}
		return time.UnixMilli(ms), true
	}
	age := func(name string, d time.Duration) {
		t.Helper()
		if err := c.HSet(ctx, "pc:ns", name, strconv.FormatInt(time.Now().Add(-d).UnixMilli(), 10)).Err(); err != nil {
			t.Fatal(err)
		}
		goredis.ForgetUse(s, name)
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
	if _, ok := used(hotName); !ok {
		t.Errorf("the registry does not name a namespace in use")
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

// TestPruneOption checks that Close stops WithPrune's pruning at once.
func TestPruneOption(t *testing.T) {
	s := goredis.New(newClient(t, inListerDB(nil)), goredis.WithPrune(720*time.Hour))
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close of a store that prunes took %v", d)
	}
}
