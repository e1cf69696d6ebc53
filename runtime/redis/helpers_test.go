package redis_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime/redis"
)

// redisURL is the shared server of the tests: PICOCACHE_TEST_REDIS, as
// host:port or a redis:// URL, default 127.0.0.1:6379.
func redisURL() string {
	v := testenv.Env("PICOCACHE_TEST_REDIS", "127.0.0.1:6379")
	if strings.Contains(v, "://") {
		return v
	}
	return "redis://" + v
}

// openShared opens the shared server, skipping (or failing under
// PICOCACHE_REQUIRE_SERVICES=1) when it is unreachable.
func openShared(t testing.TB) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), redisURL())
	if err != nil {
		testenv.Unavailable(t, "redis at "+redisURL(), err)
	}
	return s
}

// needRedisServer skips (or fails) when redis-server is not installed.
func needRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Unavailable(t, "redis-server binary", err)
	}
}

// server is a private redis-server that a test starts on a loopback port.
type server struct {
	t    testing.TB
	port int
	conf string // the configuration file given to redis-server
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// startServer starts redis-server on 127.0.0.1:port with extra lines of
// configuration, and stops it when the test ends.
func startServer(t testing.TB, port int, conf ...string) *server {
	t.Helper()
	needRedisServer(t)
	s := &server{t: t, port: port, dir: t.TempDir()}
	s.conf = filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(s.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	if c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond); err == nil {
		c.Close()
		s.t.Fatalf("a server already listens on %s; set another port", s.addr())
	}
	cmd := exec.Command("redis-server", s.conf, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			deadline = time.Time{} // exited: give up at once
			continue
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	s.stop()
	s.t.Fatalf("redis-server on %s did not start:\n%s", s.addr(), log)
}

// stop kills the server (as a crash would) and waits for it to exit.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// portEnv returns the port in environment variable key, or def.
func portEnv(t testing.TB, key string, def int) int {
	v := testenv.Env(key, strconv.Itoa(def))
	p, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q is not a port", key, v)
	}
	return p
}

// cluster is the Redis Cluster of these tests, on the default ports and
// directory of scripts/redis-cluster.sh, so that
// "scripts/redis-cluster.sh stop" also ends nodes left by a test binary
// that was killed before TestMain could stop them.
var cluster testenv.RedisCluster

// clusterAddrs returns the seed addresses of a Redis Cluster: those in
// PICOCACHE_TEST_REDIS_CLUSTER (comma-separated), else a 3-node cluster
// that scripts/redis-cluster.sh starts for this test binary and TestMain
// stops.
func clusterAddrs(t testing.TB) []string {
	t.Helper()
	return cluster.Addrs(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	sweepRegistry()
	os.Exit(code)
}

// sweepRegistry removes from the shared server's registry of namespaces
// (pc:ns, in the database of redisURL) the namespaces that the tests
// registered and cleared, which would otherwise pile up run after run:
// the tests' namespaces have random names under these prefixes, and
// none of the tests that run meanwhile reads that database's registry.
func sweepRegistry() {
	s, err := redis.Open(context.Background(), redisURL())
	if err != nil {
		return
	}
	defer s.Close()
	c := s.Client()
	for _, match := range []string{"storetest/*", "storetest.*", "faulttest/*", "redis_test/*", "batch_test/*", "layout_test *"} {
		var cursor uint64
		for {
			e, err := c.Do(context.Background(), c.B().Hscan().Key("pc:ns").Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
			if err != nil {
				return
			}
			for i := 0; i+1 < len(e.Elements); i += 2 {
				c.Do(context.Background(), c.B().Hdel().Key("pc:ns").Field(e.Elements[i]).Build())
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
}

// clusterURL is the redis:// URL naming every seed address.
func clusterURL(addrs []string) string {
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + a
	}
	return u
}
