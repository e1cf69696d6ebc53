package sqldb_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// The multi-process test re-runs this test binary as its workers: a
// worker is TestMultiProcessWorker with these variables set.
const (
	envWorkerURL = "PICOCACHE_SQLDB_WORKER_URL"
	envWorkerFn  = "PICOCACHE_SQLDB_WORKER_FN"
)

const (
	mpProcesses  = 4
	mpGoroutines = 8
	mpOps        = 120 // Get, then Set on a miss, per goroutine
	mpKeys       = 40
	mpMaxSize    = 12
)

// mpValue is the one correct value of key k: its length varies with k, so
// a value read for the wrong key, or torn, shows.
func mpValue(k int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("value of %d;", k)), 1+k%7)
}

// TestMultiProcess runs 4 processes of 8 goroutines each on overlapping
// keys of one bounded function in each database: every value read must be
// the right one, no call may fail, and the function must end with at most
// maxsize entries.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			url := srv.url(t)
			s := srv.open(t, url)
			fn := randomName("multiprocess/")
			clearFn(t, s, fn)

			c, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			outs := make([][]byte, mpProcesses)
			errs := make([]error, mpProcesses)
			for p := range mpProcesses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.CommandContext(c, os.Args[0], "-test.run=^TestMultiProcessWorker$", "-test.count=1", "-test.v")
					// A short flush delay: the workers' flushes race with the
					// others' Sets.
					cmd.Env = append(os.Environ(), envWorkerURL+"="+withParam(url, "flush=20ms"), envWorkerFn+"="+fn)
					outs[p], errs[p] = cmd.CombinedOutput()
				}()
			}
			wg.Wait()
			for p := range mpProcesses {
				if errs[p] != nil || !bytes.Contains(outs[p], []byte("--- PASS: TestMultiProcessWorker")) {
					t.Errorf("worker %d: %v\n%s", p, errs[p], outs[p])
					continue
				}
				if i := bytes.Index(outs[p], []byte("pid ")); i >= 0 {
					line, _, _ := bytes.Cut(outs[p][i:], []byte("\n"))
					t.Logf("worker %d: %s", p, line)
				}
			}
			sp := space(t, s, fn, runtime.Limits{MaxSize: mpMaxSize})
			n, err := sp.Len(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n > mpMaxSize || n == 0 {
				t.Errorf("after the run: Len = %d, want 1..%d", n, mpMaxSize)
			}
			for k := range mpKeys {
				v, ok, err := sp.Get(ctx, []byte(strconv.Itoa(k)))
				if err != nil || (ok && !bytes.Equal(v, mpValue(k))) {
					t.Errorf("after the run: Get(%d) = %q, %v, %v", k, v, ok, err)
				}
			}
		})
	}
}

// TestMultiProcessWorker is one process of TestMultiProcess; run alone it
// skips.
func TestMultiProcessWorker(t *testing.T) {
	url, fn := os.Getenv(envWorkerURL), os.Getenv(envWorkerFn)
	if url == "" || fn == "" {
		t.Skip("a worker process of TestMultiProcess")
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := sqldb.Open(c, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	sp, err := s.Space(c, runtime.Namespace{Name: fn, Limits: runtime.Limits{MaxSize: mpMaxSize}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var hits, sets int
	for g := range mpGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			for i := range mpOps {
				k := r.IntN(mpKeys)
				key := []byte(strconv.Itoa(k))
				v, ok, err := sp.Get(c, key)
				if err != nil {
					t.Errorf("Get(%d): %v", k, err)
					return
				}
				if ok {
					if !bytes.Equal(v, mpValue(k)) {
						t.Errorf("Get(%d) = %q, want %q", k, v, mpValue(k))
					}
					mu.Lock()
					hits++
					mu.Unlock()
					continue
				}
				if err := sp.Set(c, key, mpValue(k)); err != nil {
					t.Errorf("Set(%d): %v", k, err)
					return
				}
				mu.Lock()
				sets++
				mu.Unlock()
				if i%10 == 0 {
					if n, err := sp.Len(c); err != nil || n > mpMaxSize {
						t.Errorf("Len = %d, %v; want at most %d", n, err, mpMaxSize)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("pid %d: %d hits, %d sets, %d transient failures retried", os.Getpid(), hits, sets, sqldb.Retries(s))
}
