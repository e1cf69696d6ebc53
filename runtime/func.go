package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// GeneratedV2 is referenced by picogen's output. A build error naming it
// means the generated code and this runtime come from different picocache
// versions: update both and re-run go generate.
const GeneratedV2 = true

// Config describes one memoized function. picogen fills it in.
type Config struct {
	// Name is the function's identity: "import/path.Func",
	// "import/path.Type.Method", or the annotation's name=.
	Name string
	// Version changes whenever cached results of the old code must not be
	// read: picogen derives it from the function's source and signature.
	Version string
	// MaxSize is the most entries the function keeps in its store:
	// Unbounded, 0 (store nothing: every call is a miss) or a positive count.
	MaxSize int64
	// TTL is how long an entry lives; zero means forever.
	TTL time.Duration
}

// Codec turns a function's results into the bytes a Store keeps, and back.
// Generated code supplies one per function; the runtime adds a header
// (format, a fingerprint of Type, a checksum) around what Append writes,
// so a value written by other code, or damaged, is a miss.
type Codec[R any] struct {
	// Type names the result type and its encoding; values written under
	// another Type are misses.
	Type string
	// Append appends the encoding of v to dst.
	Append func(dst []byte, v R) []byte
	// Decode decodes what Append wrote. It must reject anything else with
	// an error and must not panic.
	Decode func(src []byte) (R, error)
}

// Info is a function's statistics, after Python's cache_info().
type Info struct {
	Hits   int64 // calls in this process that returned a value they did not compute
	Misses int64 // calls in this process that ran the function or failed
	// MaxSize is the function's entry limit: Unbounded, 0 or positive.
	MaxSize int64
	// CurrSize is how many live entries the store holds for the
	// function, across every process sharing the store.
	CurrSize int64
	// StoreErrors counts store failures seen by this process: errors,
	// corrupt or foreign entries, an unopenable store.
	StoreErrors int64
}

// PanicError is what callers waiting on a panicking computation panic
// with. The caller that ran the computation re-panics with the original
// value.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the goroutine that panicked
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("picocache: memoized function panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Func is the handle of one memoized function: picogen declares one per
// annotated function (FibCache for Fib). It is safe for concurrent use by
// multiple goroutines, and recursion through Do is allowed: no lock is
// held while the function runs.
//
// Concurrent calls with the same key share one computation (single
// flight); calls with different keys run in parallel. Results whose
// computation returned an error or panicked are never stored.
type Func[R any] struct {
	cfg   Config
	codec Codec[R]
	ns    string // the store namespace: Name@Version
	lim   Limits
	fp    [fingerprintLen]byte
	nsCRC uint32 // the CRC-32C of the namespace, where every entry's checksum starts

	hits, misses, storeErrors atomic.Int64

	bound atomic.Pointer[binding] // set by Bind
	dflt  atomic.Pointer[binding] // the default store, as last resolved

	mu      sync.Mutex
	flights map[string]*flight // guarded by mu; calls in flight on a non-memory store
	spaces  []*memSpace        // guarded by mu; every Memory space used, whose hits are ours

	logs logLimiter
}

// binding is a Func's view of a store.
type binding struct {
	store Store
	space *memSpace     // the function's namespace when store is a *Memory
	bound time.Duration // the store's Bound, when it is a Bounder
	gen   uint64        // the default-store generation it was resolved at
	err   error         // the default store could not be opened
	retry time.Time     // with err: when to try opening again
}

// flight is one computation in progress, shared by the calls waiting on
// it. Its fields are written before done is closed and read after.
type flight struct {
	done  chan struct{}
	val   any
	err   error
	panic *PanicError
	// goexit reports that the computation called runtime.Goexit.
	goexit bool
	// retry reports that the error came from the leader's own context
	// ending, so a waiter with a live context computes again.
	retry bool
}

// New returns the handle of a memoized function. It panics if cfg is
// invalid: generated code calls it with checked values.
func New[R any](cfg Config, codec Codec[R]) *Func[R] {
	if cfg.Name == "" {
		panic("picocache: Config.Name is empty")
	}
	if cfg.MaxSize < Unbounded {
		panic(fmt.Sprintf("picocache: Config.MaxSize %d is invalid", cfg.MaxSize))
	}
	if cfg.TTL < 0 {
		panic(fmt.Sprintf("picocache: Config.TTL %v is negative", cfg.TTL))
	}
	if codec.Append == nil || codec.Decode == nil {
		panic("picocache: Codec.Append and Codec.Decode are required")
	}
	return &Func[R]{
		cfg:   cfg,
		codec: codec,
		ns:    cfg.Name + "@" + cfg.Version,
		lim:   Limits{MaxSize: cfg.MaxSize, TTL: cfg.TTL},
		fp:    fingerprint(codec.Type),
		nsCRC: namespaceCRC(cfg.Name + "@" + cfg.Version),
	}
}

// Config returns the function's configuration.
func (f *Func[R]) Config() Config { return f.cfg }

// Namespace returns the namespace under which the function's entries are
// kept in its store.
func (f *Func[R]) Namespace() string { return f.ns }

// Bind makes the function use s instead of the default store. Bind(nil)
// returns it to the default. Bind does not close the previous store.
func (f *Func[R]) Bind(s Store) {
	if s == nil {
		f.bound.Store(nil)
		return
	}
	f.bound.Store(f.newBinding(s, nil))
}

func (f *Func[R]) newBinding(s Store, err error) *binding {
	b := &binding{store: s, err: err}
	if bd, ok := s.(Bounder); ok {
		b.bound = bd.Bound()
	}
	if m, ok := s.(*Memory); ok {
		// A closed Memory gives no space: calls then go through the
		// Store methods, which fail and are counted.
		b.space, _ = m.space(f.ns)
	}
	if b.space != nil {
		f.mu.Lock()
		if !slices.Contains(f.spaces, b.space) {
			f.spaces = append(f.spaces, b.space)
		}
		f.mu.Unlock()
	}
	return b
}

// hitCount returns the hits counted by f and by the memory spaces it used,
// resetting them when reset is set.
func (f *Func[R]) hitCount(reset bool) int64 {
	n := f.hits.Load()
	if reset {
		n = f.hits.Swap(0)
	}
	f.mu.Lock()
	spaces := slices.Clone(f.spaces)
	f.mu.Unlock()
	for _, s := range spaces {
		s.mu.Lock()
		n += s.hits
		if reset {
			s.hits = 0
		}
		s.mu.Unlock()
	}
	return n
}

// binding returns the store the function uses now.
func (f *Func[R]) binding(ctx context.Context) *binding {
	if b := f.bound.Load(); b != nil {
		return b
	}
	gen := defaults.gen.Load()
	if b := f.dflt.Load(); b != nil && b.gen == gen && (b.err == nil || time.Now().Before(b.retry)) {
		return b
	}
	s, err := DefaultStore(ctx)
	b := f.newBinding(s, err)
	b.gen = gen
	if err != nil {
		b.retry = time.Now().Add(openRetryDelay)
	}
	f.dflt.Store(b)
	return b
}

// Do returns the result for key: from the store when present, else by
// running compute once for all concurrent callers with that key, storing
// a successful result. Generated wrappers call it with the encoded
// arguments as key; Do does not retain key.
//
// A caller whose ctx ends while it waits for another caller's computation
// returns ctx.Err() at once. If the computing caller's own context ends
// and compute fails, waiters with live contexts compute again. A panic in
// compute reaches the computing caller with its original value and every
// waiter as a *PanicError; runtime.Goexit in compute makes waiters exit too.
// Store failures are counted in Info.StoreErrors and logged with log/slog
// (rate-limited); they never change the result.
func (f *Func[R]) Do(ctx context.Context, key []byte, compute func(context.Context) (R, error)) (R, error) {
	b := f.binding(ctx)
	if b.space != nil {
		return f.doMemory(ctx, b, key, compute)
	}
	return f.doStore(ctx, b, key, compute)
}

// memValue wraps a Func's results in a Memory, so that bytes stored
// through the Store methods are never mistaken for results.
type memValue[R any] struct{ v R }

func (f *Func[R]) doMemory(ctx context.Context, b *binding, key []byte, compute func(context.Context) (R, error)) (R, error) {
	s := b.space
	s.mu.Lock()
	if s.closed {
		// The Memory was closed: its Store methods fail, and are counted.
		s.mu.Unlock()
		return f.doStore(ctx, b, key, compute)
	}
	if e := s.getLocked(key, time.Time{}); e != nil {
		if v, ok := e.val.(memValue[R]); ok {
			s.hits++
			s.mu.Unlock()
			return v.v, nil
		}
		s.removeLocked(e) // a foreign value: a miss, replaced below
	}
	if fl := s.flights[string(key)]; fl != nil {
		s.mu.Unlock()
		return f.wait(ctx, fl, key, compute)
	}
	k := string(key)
	fl := &flight{done: make(chan struct{})}
	s.flights[k] = fl
	s.mu.Unlock()

	f.misses.Add(1)
	r, err := f.lead(ctx, fl, compute, func() {
		s.mu.Lock()
		delete(s.flights, k)
		s.mu.Unlock()
	})
	s.mu.Lock()
	if err == nil {
		s.putLocked(k, memValue[R]{r}, f.lim, time.Time{})
	}
	delete(s.flights, k)
	s.mu.Unlock()
	close(fl.done)
	return r, err
}

func (f *Func[R]) doStore(ctx context.Context, b *binding, key []byte, compute func(context.Context) (R, error)) (R, error) {
	k := string(key)
	f.mu.Lock()
	if fl := f.flights[k]; fl != nil {
		f.mu.Unlock()
		return f.wait(ctx, fl, key, compute)
	}
	fl := &flight{done: make(chan struct{})}
	if f.flights == nil {
		f.flights = make(map[string]*flight)
	}
	f.flights[k] = fl
	f.mu.Unlock()
	removeFlight := func() {
		f.mu.Lock()
		delete(f.flights, k)
		f.mu.Unlock()
	}

	kb := []byte(k)
	// store is whether the result is to be stored after a miss: not when
	// the store failed to open or to read (it is down, or slow: a call
	// waits on it once, not twice).
	store := b.err == nil && f.lim.MaxSize != 0
	var getTook time.Duration
	if b.err != nil {
		f.storeFailed("open", b.err)
	} else {
		var start time.Time
		if b.bound > 0 {
			start = time.Now()
		}
		raw, ok, err := f.storeGet(ctx, b.store, kb)
		if b.bound > 0 {
			getTook = time.Since(start)
		}
		switch {
		case err != nil:
			store = false
			if ctx.Err() == nil {
				f.storeFailed("get", err)
			}
		case ok:
			r, err := f.decode(kb, raw)
			if err == nil {
				f.hits.Add(1)
				fl.val = r
				removeFlight()
				close(fl.done)
				return r, nil
			}
			if !errors.Is(err, errOldFormat) {
				f.storeFailed("decode", err) // corrupt or foreign: a miss, overwritten below
			}
		}
	}

	f.misses.Add(1)
	r, err := f.lead(ctx, fl, compute, removeFlight)
	if err != nil || !store {
		removeFlight()
		close(fl.done)
		return r, err
	}
	// Waiters need not wait for the store, but the flight stays until the
	// value is stored, so that callers arriving meanwhile share it
	// instead of missing in the store and computing again.
	close(fl.done)
	f.storeSet(ctx, b, kb, r, getTook)
	removeFlight()
	return r, nil
}

// errBudget is the store failure of a Set skipped because the Get before
// it took the whole of its store's Bound.
var errBudget = errors.New("picocache: the store's bound was spent on the read; result not stored")

// storeSet stores r under key after a miss. It is stored even if the
// caller's context has ended (others want it), within what remains of the
// store's Bound after the Get, which took getTook.
func (f *Func[R]) storeSet(ctx context.Context, b *binding, key []byte, r R, getTook time.Duration) {
	sctx := context.WithoutCancel(ctx)
	if b.bound > 0 {
		left := b.bound - getTook
		if left <= 0 {
			f.storeFailed("set", errBudget)
			return
		}
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, left)
		defer cancel()
	}
	sctx, cancel := withStoreTimeout(sctx)
	defer cancel()
	if err := b.store.Set(sctx, f.ns, key, f.encode(key, r), f.lim); err != nil {
		f.storeFailed("set", err)
	}
}

// storeGet is s.Get bounded by the store timeout.
func (f *Func[R]) storeGet(ctx context.Context, s Store, key []byte) ([]byte, bool, error) {
	ctx, cancel := withStoreTimeout(ctx)
	defer cancel()
	return s.Get(ctx, f.ns, key, f.lim)
}

// lead runs compute for the callers sharing fl and records its outcome
// in fl. If compute panics or calls runtime.Goexit, lead calls
// removeFlight, wakes the waiters and lets the panic or Goexit continue;
// otherwise the caller publishes the outcome by closing fl.done.
func (f *Func[R]) lead(ctx context.Context, fl *flight, compute func(context.Context) (R, error), removeFlight func()) (r R, err error) {
	normal, recovered := false, false
	defer func() {
		if !normal && !recovered { // runtime.Goexit: no panic to recover
			fl.goexit = true
			removeFlight()
			close(fl.done)
		}
	}()
	func() {
		defer func() {
			if !normal {
				if p := recover(); p != nil {
					fl.panic = &PanicError{Value: p, Stack: debug.Stack()}
				}
			}
		}()
		r, err = compute(ctx)
		normal = true
	}()
	if !normal {
		recovered = true
		removeFlight()
		close(fl.done)
		panic(fl.panic.Value)
	}
	fl.val, fl.err = r, err
	fl.retry = err != nil && ctx.Err() != nil
	return r, err
}

// wait returns the outcome of another caller's computation.
func (f *Func[R]) wait(ctx context.Context, fl *flight, key []byte, compute func(context.Context) (R, error)) (R, error) {
	var zero R
	select {
	case <-fl.done:
	case <-ctx.Done():
		f.misses.Add(1)
		return zero, ctx.Err()
	}
	switch {
	case fl.panic != nil:
		f.misses.Add(1)
		panic(fl.panic)
	case fl.goexit:
		f.misses.Add(1)
		runtime.Goexit()
	case fl.err != nil:
		if fl.retry && ctx.Err() == nil {
			return f.Do(ctx, key, compute)
		}
		f.misses.Add(1)
		return zero, fl.err
	}
	f.hits.Add(1)
	return fl.val.(R), nil
}

// Info returns the function's statistics. Hits, Misses and StoreErrors
// count this process's calls; CurrSize asks the store. When the store
// fails, Info returns the local counts with the error.
func (f *Func[R]) Info(ctx context.Context) (Info, error) {
	info := Info{
		Hits:        f.hitCount(false),
		Misses:      f.misses.Load(),
		MaxSize:     f.cfg.MaxSize,
		StoreErrors: f.storeErrors.Load(),
	}
	b := f.binding(ctx)
	if b.err != nil {
		return info, b.err
	}
	n, err := b.store.Len(ctx, f.ns)
	info.CurrSize = n
	return info, err
}

// Clear removes the function's entries from its store, for every process
// sharing it, and resets this process's counters. Entries of other
// functions are untouched.
func (f *Func[R]) Clear(ctx context.Context) error {
	b := f.binding(ctx)
	if b.err != nil {
		return b.err
	}
	err := b.store.Clear(ctx, f.ns)
	f.hitCount(true)
	f.misses.Store(0)
	f.storeErrors.Store(0)
	return err
}
