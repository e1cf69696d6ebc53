package memcache_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// TestMain lets the test binary act as a program with a memoized
// function, so that tests can run it as real separate processes.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PICOCACHE_MEMCACHE_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("PICOCACHE_MEMCACHE_FUNC")))
	}
	os.Exit(m.Run())
}

// child calls the function named fn through the default store (from
// PICOCACHE_URL) for 0..4, or clears it, and prints what it saw.
func child(mode, fn string) int {
	ctx := context.Background()
	f := runtime.New(runtime.Config{Name: fn, Version: "1", MaxSize: 10}, intCodec)
	var runs atomic.Int64
	switch mode {
	case "call":
		for n := range 5 {
			v, err := f.Do(ctx, []byte(fmt.Sprint(n)), func(context.Context) (int, error) { runs.Add(1); return n * n, nil })
			if err != nil || v != n*n {
				fmt.Printf("call(%d) = %d, %v\n", n, v, err)
				return 1
			}
		}
	case "clear":
		// The first call opens the default store; Clear then reaches it.
		f.Do(ctx, []byte("warm"), func(context.Context) (int, error) { return 0, nil })
		if err := f.Clear(ctx); err != nil {
			fmt.Println("clear:", err)
			return 1
		}
	}
	info, err := f.Info(ctx)
	fmt.Printf("runs=%d hits=%d currsize=%d storeerrors=%d err=%v\n", runs.Load(), info.Hits, info.CurrSize, info.StoreErrors, err)
	runtime.CloseDefault()
	return 0
}

func runChild(t *testing.T, mode, fn string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PICOCACHE_MEMCACHE_CHILD="+mode, "PICOCACHE_MEMCACHE_FUNC="+fn, "PICOCACHE_URL="+memcachedURL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSecondProcessFindsResults runs the program twice: the second
// process computes nothing, finding the first one's results on the
// server; after a third process clears the function, a fourth (started
// later than the refresh interval, as any new process reads the
// generation first) computes again.
func TestSecondProcessFindsResults(t *testing.T) {
	needServer(t)
	fn := fmt.Sprintf("memcache_test.Square.%d", time.Now().UnixNano())
	if got, want := runChild(t, "call", fn), "runs=5 hits=0 currsize=5 storeerrors=0 err=<nil>"; got != want {
		t.Errorf("first process: %s, want %s", got, want)
	}
	if got, want := runChild(t, "call", fn), "runs=0 hits=5 currsize=5 storeerrors=0 err=<nil>"; got != want {
		t.Errorf("second process: %s, want %s", got, want)
	}
	if got := runChild(t, "clear", fn); !strings.Contains(got, "storeerrors=0 err=<nil>") {
		t.Errorf("clearing process: %s", got)
	}
	if got, want := runChild(t, "call", fn), "runs=5 hits=0 currsize=5 storeerrors=0 err=<nil>"; got != want {
		t.Errorf("process after the Clear: %s, want %s", got, want)
	}
	s := openShared(t)
	defer s.Close()
	sp := spaceOf(t, s, fn+"@1", runtime.Limits{MaxSize: 10})
	sp.Clear(ctx)
}
