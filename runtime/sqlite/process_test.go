package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// The multi-process tests re-run this test binary with -test.run
// selecting TestChildProcess and the environment variables below telling
// the child what to do.
const (
	envRole  = "PICOCACHE_SQLITE_TEST_CHILD" // the child's role; unset in the parent
	envPath  = "PICOCACHE_SQLITE_TEST_PATH"
	envStart = "PICOCACHE_SQLITE_TEST_START" // Unix nanoseconds at which to start, so children race
	envSeed  = "PICOCACHE_SQLITE_TEST_SEED"
)

const (
	procFn      = "proc/fn\x00é"
	procMaxSize = 20
	procKeys    = 60
	procOps     = 400
)

// child runs this test binary as a child process in role, bounded in time.
func child(t *testing.T, ctx context.Context, role, path string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), envRole+"="+role, envPath+"="+path)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestChildProcess is not a test: it is what a child process runs.
func TestChildProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		t.Skip("runs only as a child of the multi-process tests")
	}
	path := os.Getenv(envPath)
	if role == "permission" {
		// Run by TestOpenPermissionDenied as a user who may not write.
		checkPermissionDenied(t, filepath.SplitList(path))
		if !t.Failed() {
			fmt.Printf("\nPERMISSION CHECKED\n")
		}
		return
	}
	if start, err := strconv.ParseInt(os.Getenv(envStart), 10, 64); err == nil {
		time.Sleep(time.Until(time.Unix(0, start)))
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	switch role {
	case "readwrite":
		// Print what the parent stored, then store an answer.
		v, ok, err := s.Get(ctx, procFn, []byte("from parent"), unbounded)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\nRESULT %v %s\n", ok, hex.EncodeToString(v))
		if err := s.Set(ctx, procFn, []byte("from child"), []byte("child\x00value"), unbounded); err != nil {
			t.Fatal(err)
		}
	case "writer":
		// What the runtime does on a call: Get, and Set on a miss.
		seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
		r := rand.New(rand.NewPCG(seed, seed))
		lim := runtime.Limits{MaxSize: procMaxSize}
		for i := range procOps {
			k := strconv.Itoa(r.IntN(procKeys))
			v, ok, err := s.Get(ctx, procFn, []byte(k), lim)
			if err != nil {
				t.Fatalf("op %d: Get: %v", i, err)
			}
			if ok && string(v) != "value of "+k {
				t.Fatalf("op %d: Get(%s) = %q", i, k, v)
			}
			if !ok {
				if err := s.Set(ctx, procFn, []byte(k), []byte("value of "+k), lim); err != nil {
					t.Fatalf("op %d: Set: %v", i, err)
				}
			}
			n, err := s.Len(ctx, procFn)
			if err != nil {
				t.Fatalf("op %d: Len: %v", i, err)
			}
			if n > procMaxSize {
				t.Fatalf("op %d: Len = %d > maxsize %d", i, n, procMaxSize)
			}
		}
		fmt.Printf("\nWRITER DONE %d\n", procOps)
	case "funchit":
		// Call TestRecoverDamagedFile's function, and say whether it hit.
		f := runtime.New(runtime.Config{Name: "recover.F", Version: "v1", MaxSize: runtime.Unbounded}, testIntCodec)
		f.Bind(s)
		computed := false
		v, err := f.Do(ctx, intKey(7), func(context.Context) (int, error) { computed = true; return 70, nil })
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\nRESULT %d computed=%v\n", v, computed)
	default:
		t.Fatalf("unknown role %q", role)
	}
}

// TestSecondProcess checks that a second process reads what the first
// stored, and the first reads what the second stored, while both keep
// the file open.
func TestSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	unbounded := runtime.Limits{MaxSize: runtime.Unbounded}
	stored := []byte("parent\x00\xffvalue")
	if err := s.Set(ctx, procFn, []byte("from parent"), stored, unbounded); err != nil {
		t.Fatal(err)
	}
	// Warm the reader pool, so that a stale reader would show.
	if _, ok, err := s.Get(ctx, procFn, []byte("from child"), unbounded); ok || err != nil {
		t.Fatalf("Get before the child = %v, %v", ok, err)
	}
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := child(t, c, "readwrite", path).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var got string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			got = rest
		}
	}
	if want := "true " + hex.EncodeToString(stored); got != want {
		t.Errorf("child read %q, want %q; output:\n%s", got, want, out)
	}
	v, ok, err := s.Get(ctx, procFn, []byte("from child"), unbounded)
	if err != nil || !ok || string(v) != "child\x00value" {
		t.Errorf("parent read the child's entry: %q, %v, %v", v, ok, err)
	}
}

// TestConcurrentProcesses starts several processes at the same instant
// on a file that does not exist yet: they race to create it and its
// schema, then Get and Set one bounded function, each checking after
// every step that Len never exceeds maxsize. At the end the function
// holds exactly maxsize entries, and the trigger-kept count matches.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "fresh.db")
	const procs = 4
	c, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := strconv.FormatInt(time.Now().Add(300*time.Millisecond).UnixNano(), 10)
	var wg sync.WaitGroup
	for i := range procs {
		cmd := child(t, c, "writer", path, envStart+"="+start, envSeed+"="+strconv.Itoa(i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("WRITER DONE")) {
				t.Errorf("child %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Len(ctx, procFn)
	if err != nil {
		t.Fatal(err)
	}
	if n != procMaxSize {
		t.Errorf("after %d processes: Len = %d, want %d", procs, n, procMaxSize)
	}
	checkCount(t, s, procFn)
	keys := order(t, s, procFn)
	if len(keys) != procMaxSize {
		t.Errorf("%d rows, want %d", len(keys), procMaxSize)
	}
}
