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
	"sync/atomic"
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
		v, ok, err := spaceOf(t, s, procFn, unbounded).Get(ctx, []byte("from parent"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\nRESULT %v %s\n", ok, hex.EncodeToString(v))
		if err := spaceOf(t, s, procFn, unbounded).Set(ctx, []byte("from child"), []byte("child\x00value")); err != nil {
			t.Fatal(err)
		}
	case "writer":
		// What the runtime does on a call: Get, and Set on a miss.
		seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
		r := rand.New(rand.NewPCG(seed, seed))
		lim := runtime.Limits{MaxSize: procMaxSize}
		for i := range procOps {
			k := strconv.Itoa(r.IntN(procKeys))
			v, ok, err := spaceOf(t, s, procFn, lim).Get(ctx, []byte(k))
			if err != nil {
				t.Fatalf("op %d: Get: %v", i, err)
			}
			if ok && string(v) != "value of "+k {
				t.Fatalf("op %d: Get(%s) = %q", i, k, v)
			}
			if !ok {
				if err := spaceOf(t, s, procFn, lim).Set(ctx, []byte(k), []byte("value of "+k)); err != nil {
					t.Fatalf("op %d: Set: %v", i, err)
				}
			}
			n, err := spaceOf(t, s, procFn, unboundedLim).Len(ctx)
			if err != nil {
				t.Fatalf("op %d: Len: %v", i, err)
			}
			if n > procMaxSize {
				t.Fatalf("op %d: Len = %d > maxsize %d", i, n, procMaxSize)
			}
		}
		fmt.Printf("\nWRITER DONE %d\n", procOps)
	case "hitter":
		// Hit the first half of TestChildHitsSpareEntries's entries, then
		// close: Close applies the hits' recency.
		f := runtime.New(runtime.Config{Name: "proc.Hit", Version: "v1", MaxSize: procMaxSize}, testIntCodec)
		f.Bind(s)
		computed := 0
		for n := range procMaxSize / 2 {
			v, err := f.Do(ctx, intKey(n), func(context.Context) (int, error) { computed++; return 10 * n, nil })
			if v != 10*n || err != nil {
				t.Fatalf("F(%d) = %d, %v", n, v, err)
			}
		}
		info, _ := f.Info(ctx)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\nRESULT hits=%d computed=%d errors=%d\n", info.Hits, computed, info.StoreErrors)
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
	if err := spaceOf(t, s, procFn, unbounded).Set(ctx, []byte("from parent"), stored); err != nil {
		t.Fatal(err)
	}
	// Warm the reader pool, so that a stale reader would show.
	if _, ok, err := spaceOf(t, s, procFn, unbounded).Get(ctx, []byte("from child")); ok || err != nil {
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
	v, ok, err := spaceOf(t, s, procFn, unbounded).Get(ctx, []byte("from child"))
	if err != nil || !ok || string(v) != "child\x00value" {
		t.Errorf("parent read the child's entry: %q, %v, %v", v, ok, err)
	}
}

// TestChildHitsSpareEntries has a child process hit the least recently
// used half of a full bounded function's entries and close; hits are
// reads, and the child's Close applies their recency, so the parent's
// next Sets evict the other half, and the entries the child hit stay.
func TestChildHitsSpareEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "hits.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := runtime.New(runtime.Config{Name: "proc.Hit", Version: "v1", MaxSize: procMaxSize}, testIntCodec)
	f.Bind(s)
	var runs atomic.Int64
	call := func(n int) {
		t.Helper()
		v, err := f.Do(ctx, intKey(n), func(context.Context) (int, error) { runs.Add(1); return 10 * n, nil })
		if v != 10*n || err != nil {
			t.Fatalf("F(%d) = %d, %v", n, v, err)
		}
	}
	for n := range procMaxSize { // 0 is the least recently used
		call(n)
	}
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := child(t, c, "hitter", path).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, want := resultLine(out), fmt.Sprintf("hits=%d computed=0 errors=0", procMaxSize/2); got != want {
		t.Fatalf("child: %q, want %q; output:\n%s", got, want, out)
	}
	for n := procMaxSize; n < procMaxSize*3/2; n++ { // evicts half
		call(n)
	}
	sp := spaceOf(t, s, f.Namespace(), unboundedLim) // looks without recording hits
	for n := range procMaxSize {
		_, ok, err := sp.Get(ctx, intKey(n))
		if err != nil {
			t.Fatal(err)
		}
		if hit := n < procMaxSize/2; ok != hit {
			t.Errorf("F(%d) stored: %v; want %v (the child hit it: %v)", n, ok, hit, hit)
		}
	}
	if n, err := sp.Len(ctx); n != procMaxSize || err != nil {
		t.Errorf("Len = %d, %v; want %d", n, err, procMaxSize)
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
	n, err := spaceOf(t, s, procFn, unboundedLim).Len(ctx)
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
