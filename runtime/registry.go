package runtime

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// A Handle is a memoized function's handle whatever its result type: what
// every *Func[R] offers to code that walks the functions of a process (an
// operator's tool, a metrics exporter). See Funcs.
type Handle interface {
	Config() Config
	Namespace() string
	// Info returns the function's statistics, asking the store for
	// CurrSize.
	Info(ctx context.Context) (Info, error)
	// Counts returns the function's statistics in this process without
	// asking the store: Info with CurrSize zero. It is cheap.
	Counts() Info
	Clear(ctx context.Context) error
}

var _ Handle = (*Func[int])(nil)

// registry is every Func of the process that is still reachable, by an
// id of its own. It holds them weakly: a handle that nothing else refers
// to (a test's) is collected, and leaves the registry.
var registry struct {
	mu    sync.Mutex
	funcs map[uint64]registered // guarded by mu
	next  uint64                // guarded by mu
}

// registered is a weak reference to a Func of any result type.
type registered interface{ handle() Handle }

type weakFunc[R any] struct{ p weak.Pointer[Func[R]] }

func (w weakFunc[R]) handle() Handle {
	if f := w.p.Value(); f != nil {
		return f
	}
	return nil
}

func register[R any](f *Func[R]) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.funcs == nil {
		registry.funcs = make(map[uint64]registered)
	}
	registry.next++
	id := registry.next
	registry.funcs[id] = weakFunc[R]{weak.Make(f)}
	runtime.AddCleanup(f, unregister, id)
}

func unregister(id uint64) {
	registry.mu.Lock()
	delete(registry.funcs, id)
	registry.mu.Unlock()
}

// Funcs returns the handle of every memoized function of the process,
// sorted by namespace: the handles that generated code declares (every
// FCache of every linked package), and any other Func made with New that
// is still in use.
func Funcs() []Handle {
	registry.mu.Lock()
	list := make([]Handle, 0, len(registry.funcs))
	for _, r := range registry.funcs {
		if h := r.handle(); h != nil {
			list = append(list, h)
		}
	}
	registry.mu.Unlock()
	sort.SliceStable(list, func(i, j int) bool { return list[i].Namespace() < list[j].Namespace() })
	return list
}

// An Observer is told how long memoized calls wait on their stores and
// spend computing, for metrics (package otelpicocache is one). Its methods
// are called on the calling goroutine, at the end of what they measure;
// they must be fast and safe for concurrent use, and must not call the
// function they are told about.
type Observer interface {
	// StoreRead reports a read of a store that keeps bytes (a hit or a
	// miss), its duration, and its error if it failed. Reads of a store
	// that keeps Go values (the memory store) are not reported: timing
	// them would cost more than they do.
	StoreRead(h Handle, d time.Duration, err error)
	// Computed reports a run of the function, its duration, and the
	// error it returned; a panic is reported as a *PanicError.
	Computed(h Handle, d time.Duration, err error)
}

var observer atomic.Pointer[observerBox]

type observerBox struct{ o Observer }

// SetObserver makes o the process's observer of memoized calls; nil stops
// observing. It returns the observer set before (nil if none).
func SetObserver(o Observer) (previous Observer) {
	var box *observerBox
	if o != nil {
		box = &observerBox{o}
	}
	if old := observer.Swap(box); old != nil {
		return old.o
	}
	return nil
}

func currentObserver() Observer {
	if b := observer.Load(); b != nil {
		return b.o
	}
	return nil
}
