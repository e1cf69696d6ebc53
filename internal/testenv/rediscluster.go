package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RedisCluster is a throwaway 3-node Redis Cluster for the tests of one
// package, started by scripts/redis-cluster.sh at most once per test
// binary. Packages whose tests run at the same time (go test ./... runs
// packages in parallel) give theirs different Ports and Dir. Addrs is
// safe for concurrent use; Stop is for TestMain, once the tests are done.
//
//	var cluster = testenv.RedisCluster{Ports: "7111 7112 7113", Dir: "picocache-redis-cluster-goredis"}
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		cluster.Stop()
//		os.Exit(code)
//	}
type RedisCluster struct {
	// Ports are the nodes' ports, separated by spaces; empty for the
	// script's default ("7101 7102 7103").
	Ports string
	// Dir is the script's working directory, under os.TempDir() when
	// relative; empty for the script's default, which
	// "scripts/redis-cluster.sh stop" then also cleans up.
	Dir string

	once  sync.Once
	addrs []string
	err   error
	stop  func()
}

// Addrs returns the seed addresses of the cluster: those of
// PICOCACHE_TEST_REDIS_CLUSTER (comma-separated) when it is set, else the
// nodes that it starts with scripts/redis-cluster.sh, found from the
// package directory of the test upwards. Without redis-server it ends the
// test as Unavailable does; when the cluster does not start, it fails.
func (c *RedisCluster) Addrs(t testing.TB) []string {
	t.Helper()
	if v := os.Getenv("PICOCACHE_TEST_REDIS_CLUSTER"); v != "" {
		return strings.Split(v, ",")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "redis-server binary", err)
	}
	c.once.Do(c.start)
	if c.err != nil {
		t.Fatalf("starting a Redis Cluster with scripts/redis-cluster.sh: %v", c.err)
	}
	return c.addrs
}

func (c *RedisCluster) start() {
	script, err := findScript()
	if err != nil {
		c.err = err
		return
	}
	env := os.Environ()
	if c.Ports != "" {
		env = append(env, "PICOCACHE_REDIS_CLUSTER_PORTS="+c.Ports)
	}
	if c.Dir != "" {
		dir := c.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(os.TempDir(), dir)
		}
		env = append(env, "PICOCACHE_REDIS_CLUSTER_DIR="+dir)
	}
	cmd := exec.Command("bash", script, "start")
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.err = &clusterError{err: err, stderr: stderr.String()}
		return
	}
	c.stop = func() {
		stop := exec.Command("bash", script, "stop")
		stop.Env = env
		stop.Run()
	}
	line := strings.TrimSpace(string(out))
	c.addrs = strings.Split(strings.TrimPrefix(line, "PICOCACHE_TEST_REDIS_CLUSTER="), ",")
}

// Stop stops the nodes that Addrs started, if any. TestMain calls it after
// the tests have run.
func (c *RedisCluster) Stop() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}

// findScript returns the path of scripts/redis-cluster.sh, looking from
// the working directory (a test's package directory) upwards.
func findScript() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		p := filepath.Join(dir, "scripts", "redis-cluster.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no scripts/redis-cluster.sh in %s or above", wd)
		}
		dir = parent
	}
}

type clusterError struct {
	err    error
	stderr string
}

func (e *clusterError) Error() string { return e.err.Error() + ": " + e.stderr }
