package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
)

// redisDB is the database of the shared Redis where these tests list,
// clear and prune: one of this package's own, as prune deletes whatever
// the registry of its database says is unused, and the store packages'
// tests run at the same time (they use 11 to 13).
const redisDB = 14

// TestRedis runs the commands against plain Redis.
func TestRedis(t *testing.T) {
	addr := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	if strings.Contains(addr, "://") {
		t.Skipf("PICOCACHE_TEST_REDIS=%s: this test takes host:port", addr)
	}
	testRedisCommands(t, fmt.Sprintf("redis://%s/%d", addr, redisDB))
}

// TestRedisCluster runs the commands against a Redis Cluster of its own,
// named by its seeds in the URL.
func TestRedisCluster(t *testing.T) {
	cluster := &testenv.RedisCluster{Ports: "7131 7132 7133", Dir: "picocache-redis-cluster-cmd"}
	t.Cleanup(cluster.Stop)
	addrs := cluster.Addrs(t)
	testRedisCommands(t, "redis://"+addrs[0]+"?addr="+strings.Join(addrs[1:], "&addr="))
}

// testRedisCommands fills three namespaces of a fresh function pair at u
// (F in two versions, G in one) through a store that it then closes, as a
// process that ran and ended, ages F@v1 by 60 days in the registry, then
// runs ls, clear and prune on u.
func testRedisCommands(t *testing.T, u string) {
	ctx := context.Background()
	s, err := redis.Open(ctx, u)
	if err != nil {
		testenv.Unavailable(t, "redis at "+u, err)
	}
	defer s.Close()
	filler, err := redis.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	var b [6]byte
	rand.Read(b[:])
	pkg := "example.com/cmdtest" + hex.EncodeToString(b[:])
	fv1, fv2, gv1 := pkg+".F@v1", pkg+".F@v2", pkg+".G@v1"
	counts := map[string]int{fv1: 1200, fv2: 3, gv1: 2}
	c := s.Client()
	defer func() { // the entries and registrations left
		for ns := range counts {
			spaceOf(t, s, ns).Clear(ctx)
		}
		s.Flush(ctx) // the registrations of the Spaces just made
		for ns := range counts {
			c.Do(ctx, c.B().Hdel().Key("pc:ns").Field(ns).Build())
		}
	}()
	for ns, n := range counts {
		sp, err := filler.Space(ctx, runtime.Namespace{Name: ns, Limits: runtime.Limits{MaxSize: runtime.Unbounded}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := sp.Set(ctx, []byte{byte(i), byte(i >> 8)}, []byte("value")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Close records what the filler has not yet (its flusher registers
	// new namespaces at once, in the background), and nothing after.
	if err := filler.Close(); err != nil {
		t.Fatal(err)
	}
	// Age F@v1 in the registry, as 60 days without use would.
	old := time.Now().Add(-60 * 24 * time.Hour)
	if err := c.Do(ctx, c.B().Hset().Key("pc:ns").FieldValue().FieldValue(fv1, strconv.FormatInt(old.UnixMilli(), 10)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// ours returns the rows of ls -json of this test's namespaces, by name.
	ours := func() map[string]row {
		t.Helper()
		code, out, errOut := picocache(t, "ls", "-json", u)
		if code != 0 {
			t.Fatalf("ls -json %s: exit %d: %s", u, code, errOut)
		}
		var rows []row
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("ls -json is not JSON: %v\n%s", err, out)
		}
		m := map[string]row{}
		for _, r := range rows {
			if strings.HasPrefix(r.Namespace, pkg+".") {
				m[r.Namespace] = r
			}
		}
		return m
	}

	rows := ours()
	if len(rows) != 3 {
		t.Fatalf("ls -json lists %d of the test's namespaces, want 3: %+v", len(rows), rows)
	}
	if r := rows[fv1]; r.Function != pkg+".F" || r.Version != "v1" || r.Entries != 1200 || r.Bytes != int64(1200*(2+len("value"))) || r.LastUsed == nil || r.LastUsed.Sub(old).Abs() > time.Second {
		t.Errorf("ls -json: %s is %+v; want 1200 entries of %d bytes, last used 60 days ago", fv1, r, 2+len("value"))
	}
	if r := rows[gv1]; r.Entries != 2 || r.Bytes != int64(2*(2+len("value"))) || r.LastUsed == nil || time.Since(*r.LastUsed) > time.Minute {
		t.Errorf("ls -json: %s is %+v; want 2 entries of 7 bytes, just used", gv1, r)
	}
	if code, out, errOut := picocache(t, "ls", u); code != 0 || !strings.Contains(out, pkg+".F") || !strings.Contains(out, "60 days ago") {
		t.Errorf("ls: exit %d:\n%s%s", code, out, errOut)
	}

	if code, out, errOut := picocache(t, "clear", u, fv2); code != 0 || !strings.Contains(out, "1 namespaces, 3 entries") {
		t.Fatalf("clear %s: exit %d: %s%s", fv2, code, out, errOut)
	}
	if n, _ := spaceOf(t, s, fv2).Len(ctx); n != 0 {
		t.Errorf("after clear, %s has %d entries", fv2, n)
	}

	code, out, errOut := picocache(t, "prune", "-unused-for", "720h", "-dry-run", u)
	if code != 0 || !strings.Contains(out, "would prune "+fv1+" (1200 entries") {
		t.Fatalf("prune -dry-run: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = picocache(t, "prune", "-unused-for", "720h", u)
	if code != 0 || !strings.Contains(out, "pruned "+fv1+" (1200 entries") || strings.Contains(out, fv2) || strings.Contains(out, gv1) {
		t.Fatalf("prune: exit %d:\n%s%s", code, out, errOut)
	}

	rows = ours()
	if _, ok := rows[fv1]; ok {
		t.Errorf("after prune, ls still lists %s (its registration goes with it)", fv1)
	}
	if r, ok := rows[fv2]; !ok || r.Entries != 0 {
		t.Errorf("after clear and prune, %s is %+v, %v; want listed (just used) with no entries", fv2, r, ok)
	}
	if r, ok := rows[gv1]; !ok || r.Entries != 2 {
		t.Errorf("after prune, %s is %+v, %v; want its 2 entries", gv1, r, ok)
	}
	if n, _ := spaceOf(t, s, fv1).Len(ctx); n != 0 {
		t.Errorf("after prune, %s has %d entries", fv1, n)
	}
}

// spaceOf returns ns's unbounded Space in s.
func spaceOf(t *testing.T, s runtime.Store, ns string) runtime.Space {
	t.Helper()
	sp, err := s.Space(context.Background(), runtime.Namespace{Name: ns, Limits: runtime.Limits{MaxSize: runtime.Unbounded}})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
