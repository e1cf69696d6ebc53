package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

func namespaces() []string {
	var list []string
	for _, h := range runtime.Funcs() {
		list = append(list, h.Namespace())
	}
	return list
}

// TestFuncs checks that the registry lists every live handle, sorted, with
// its configuration and counts, and lets go of handles nothing uses.
func TestFuncs(t *testing.T) {
	b := runtime.New(runtime.Config{Name: "registry_test.B", Version: "2", MaxSize: 3}, intCodec)
	a := runtime.New(runtime.Config{Name: "registry_test.A", Version: "1", MaxSize: runtime.Unbounded}, intCodec)
	a.Bind(runtime.NewMemory())
	var runs atomic.Int64
	call(a, &runs, 1)
	call(a, &runs, 1)

	list := namespaces()
	ia, ib := slices.Index(list, "registry_test.A@1"), slices.Index(list, "registry_test.B@2")
	if ia < 0 || ib < 0 || ia > ib || !slices.IsSorted(list) {
		t.Fatalf("Funcs() = %q: want both handles, sorted", list)
	}
	for _, h := range runtime.Funcs() {
		switch h.Namespace() {
		case "registry_test.A@1":
			if c := h.Counts(); c.Hits != 1 || c.MemoryHits != 1 || c.Misses != 1 {
				t.Errorf("A's counts %+v: want 1 hit (a memory hit) and 1 miss", c)
			}
			if info, err := h.Info(context.Background()); err != nil || info.CurrSize != 1 {
				t.Errorf("A's Info = %+v, %v: want CurrSize 1", info, err)
			}
		case "registry_test.B@2":
			if h.Config().MaxSize != 3 {
				t.Errorf("B's Config = %+v", h.Config())
			}
		}
	}

	// A handle nothing refers to leaves the registry.
	func() {
		runtime.New(runtime.Config{Name: "registry_test.Gone", Version: "1"}, intCodec)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for slices.Contains(namespaces(), "registry_test.Gone@1") {
		if time.Now().After(deadline) {
			t.Fatal("a handle nothing refers to is still listed after GC")
		}
		goruntime.GC()
		time.Sleep(time.Millisecond)
	}
	goruntime.KeepAlive(a)
	goruntime.KeepAlive(b)
}

type recorder struct {
	mu       sync.Mutex
	reads    []error
	computed []error
	fns      []string
}

func (r *recorder) StoreRead(h runtime.Handle, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, err)
	r.fns = append(r.fns, h.Namespace())
}

func (r *recorder) Computed(h runtime.Handle, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.computed = append(r.computed, err)
	r.fns = append(r.fns, h.Namespace())
}

// TestObserver checks what an Observer is told: each read of a byte store
// and each computation, with their errors and panics; no read of the
// memory store.
func TestObserver(t *testing.T) {
	rec := &recorder{}
	prev := runtime.SetObserver(rec)
	defer runtime.SetObserver(prev)

	f := newFunc(t, runtime.Unbounded)
	f.Bind(bytesOnly{runtime.NewMemory()})
	var runs atomic.Int64
	call(f, &runs, 1) // read (miss), computed
	call(f, &runs, 1) // read (hit)
	boom := errors.New("boom")
	key := []byte{9}
	f.Do(context.Background(), key, func(context.Context) (int, error) { return 0, boom })
	func() {
		defer func() { recover() }()
		f.Do(context.Background(), []byte{10}, func(context.Context) (int, error) { panic("p") })
	}()

	rec.mu.Lock()
	if len(rec.reads) != 4 || slices.ContainsFunc(rec.reads, func(err error) bool { return err != nil }) {
		t.Errorf("reads observed: %v; want 4 successful ones", rec.reads)
	}
	if len(rec.computed) != 3 || rec.computed[0] != nil || !errors.Is(rec.computed[1], boom) {
		t.Errorf("computations observed: %v; want nil, boom, a panic", rec.computed)
	} else if _, ok := rec.computed[2].(*runtime.PanicError); !ok {
		t.Errorf("a panic was observed as %v, want a *PanicError", rec.computed[2])
	}
	for _, fn := range rec.fns {
		if fn != f.Namespace() {
			t.Errorf("observed for %q, want %q", fn, f.Namespace())
		}
	}
	rec.reads, rec.computed = nil, nil
	rec.mu.Unlock()

	m := newFunc(t, runtime.Unbounded)
	m.Bind(runtime.NewMemory())
	call(m, &runs, 1)
	call(m, &runs, 1)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reads) != 0 || len(rec.computed) != 1 {
		t.Errorf("on the memory store: %d reads and %d computations observed; want 0 and 1", len(rec.reads), len(rec.computed))
	}
	if got := runtime.SetObserver(prev); got != rec {
		t.Errorf("SetObserver returned %v, want the recorder", got)
	}
}
