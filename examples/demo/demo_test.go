package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the demo, so that the test can run
// it as real separate processes.
func TestMain(m *testing.M) {
	if os.Getenv("PICOCACHE_DEMO_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runDemo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PICOCACHE_DEMO_AS_MAIN=1", "PICOCACHE_URL=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestSecondProcessFindsResults runs the demo twice in one directory: the
// second process must compute nothing, reading the first one's results
// from ./picocache.db.
func TestSecondProcessFindsResults(t *testing.T) {
	dir := t.TempDir()
	first := runDemo(t, dir, "-small")
	if got := strings.Count(first, "computed"); got != 4 {
		t.Errorf("first run: %d calls computed, want 4:\n%s", got, first)
	}
	if _, err := os.Stat(dir + "/picocache.db"); err != nil {
		t.Errorf("first run left no ./picocache.db: %v", err)
	}
	second := runDemo(t, dir, "-small")
	if got := strings.Count(second, "from the cache"); got != 4 {
		t.Errorf("second run: %d calls from the cache, want 4:\n%s", got, second)
	}
	for _, want := range []string{
		`CountPrimesCache.Info:\s+hits=3\s+misses=0\s+maxsize=256\s+currsize=3`,
		`FibCache.Info:\s+hits=1\s+misses=0\s+maxsize=none\s+currsize=91`,
	} {
		if !regexp.MustCompile(want).MatchString(second) {
			t.Errorf("second run's output does not match %q:\n%s", want, second)
		}
	}
	third := runDemo(t, dir, "-small", "-clear")
	if got := strings.Count(third, "computed"); got != 4 {
		t.Errorf("run with -clear: %d calls computed, want 4:\n%s", got, third)
	}
}
