package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
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
	Hits int64 // calls in this process that returned a value they did not compute
	// MemoryHits counts the hits, of Hits, found in a store that keeps Go
	// values in the process (the memory store); the others were read from
	// a store of bytes, or shared another call's computation.
	MemoryHits int64
	Misses     int64 // calls in this process that ran the function or failed
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
//
// A call that calls its own function with the same key would wait for
// itself. Do detects that, and panics with a *RecursionError, when the
// inner call is given a context derived from the one Do passed to the
// computation (as wrappers of functions that take a context.Context do);
// a function that reaches its own wrapper without passing its context on
// blocks for ever, as it would with any single-flight cache.
type Func[R any] struct {
	cfg   Config
	codec Codec[R]
	ns    Namespace
	fp    [fingerprintLen]byte
	nsCRC uint32 // the CRC-32C of the namespace, where every entry's checksum starts

	hits, memHits       counter
	misses, storeErrors atomic.Int64
	// completed counts finished flights, so that a miss can tell whether
	// another caller's flight for its key may have ended, and stored its
	// result, between the miss's read and its own flight.
	completed atomic.Uint64
	flights   flightGroup

	bound atomic.Pointer[boundStore] // set by Bind
	cur   atomic.Pointer[view]       // the store and space in use, as last resolved
	// resolveMu serializes resolving a view, so that concurrent first
	// calls open the function's space once.
	resolveMu sync.Mutex

	logs logLimiter
}

// boundStore is the store given to Bind.
type boundStore struct{ s Store }

// view is a Func's resolved store and space. It is immutable.
type view struct {
	bind   *boundStore // what Bind had set when it was resolved (nil: the default store)
	gen    uint64      // with bind == nil, the default-store generation resolved at
	store  Store
	space  Space
	values Values        // space, when it keeps Go values
	mem    *memView      // space, when it is the memory store's (see Func.value)
	bound  time.Duration // the store's Bound, when it is a Bounder
	err    error         // the store or the space could not be opened
	retry  time.Time     // with err: when to try again
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
	name := cfg.Name + "@" + cfg.Version
	f := &Func[R]{
		cfg:   cfg,
		codec: codec,
		ns:    Namespace{Name: name, Limits: Limits{MaxSize: cfg.MaxSize, TTL: cfg.TTL}},
		fp:    fingerprint(codec.Type),
		nsCRC: namespaceCRC(name),
	}
	register(f)
	return f
}

// Config returns the function's configuration.
func (f *Func[R]) Config() Config { return f.cfg }

// Namespace returns the name under which the function's entries are kept
// in its store: its identity and version.
func (f *Func[R]) Namespace() string { return f.ns.Name }

// Bind makes the function use s instead of the default store. Bind(nil)
// returns it to the default. Bind does not close the previous store, and
// keeps nothing of it.
func (f *Func[R]) Bind(s Store) {
	if s == nil {
		f.bound.Store(nil)
	} else {
		f.bound.Store(&boundStore{s})
	}
	f.cur.Store(nil) // let the old space go
}

// view returns the store and space the function uses now.
func (f *Func[R]) view(ctx context.Context) *view {
	b := f.bound.Load()
	if v := f.cur.Load(); v != nil && v.fresh(b) {
		return v
	}
	return f.resolve(ctx, b)
}

// fresh reports whether v still stands for binding b.
func (v *view) fresh(b *boundStore) bool {
	if v.bind != b || b == nil && v.gen != defaults.gen.Load() {
		return false
	}
	return v.err == nil || time.Now().Before(v.retry)
}

// resolve opens the function's space in the store it is bound to, or in
// the default store, and makes it the current view. Only calls of this
// function wait for it, each at most the store's bound (and the default
// store's opening wait).
func (f *Func[R]) resolve(ctx context.Context, b *boundStore) *view {
	f.resolveMu.Lock()
	defer f.resolveMu.Unlock()
	if v := f.cur.Load(); v != nil && v.fresh(b) {
		return v // resolved by another call meanwhile
	}
	v := &view{bind: b, gen: defaults.gen.Load()}
	if b != nil {
		v.store = b.s
	} else {
		v.store, v.err = DefaultStore(ctx)
	}
	if v.err == nil {
		sctx := ctx
		if bd, ok := v.store.(Bounder); ok {
			v.bound = bd.Bound()
			var cancel context.CancelFunc
			sctx, cancel = context.WithTimeout(ctx, v.bound)
			defer cancel()
		}
		v.space, v.err = v.store.Space(sctx, f.ns)
		if v.err == nil {
			v.values, _ = v.space.(Values)
			v.mem, _ = v.space.(*memView)
		}
	}
	if v.err != nil {
		v.store, v.space = nil, nil
		v.retry = time.Now().Add(openRetryDelay)
	}
	f.cur.Store(v)
	return v
}

// Do returns the result for key: from the store when present, else by
// running compute once for all concurrent callers with that key, storing
// a successful result. Generated wrappers call it with the encoded
// arguments as key; Do does not retain key.
//
// A hit is one read of the store: it takes no lock shared with other
// keys and allocates nothing beyond what the store's read does.
//
// A caller whose ctx ends while it waits for another caller's computation
// returns ctx.Err() at once. If the computing caller's own context ends
// and compute fails, waiters with live contexts compute again. A panic in
// compute reaches the computing caller with its original value and every
// waiter as a *PanicError; runtime.Goexit in compute makes waiters exit too.
// Store failures are counted in Info.StoreErrors and logged with log/slog
// (rate-limited); they never change the result.
func (f *Func[R]) Do(ctx context.Context, key []byte, compute func(context.Context) (R, error)) (R, error) {
	v := f.view(ctx)
	if v.err != nil {
		f.storeFailed("open", v.err)
		return f.miss(ctx, v, key, compute, false, 0, 0)
	}
	if v.values != nil {
		x, ok, err := f.value(v, key)
		if ok {
			if r, ok := x.(R); ok {
				f.memHits.add(key)
				return r, nil
			}
		}
		if err != nil {
			f.storeFailed("get", err)
			return f.miss(ctx, v, key, compute, false, 0, 0)
		}
		return f.miss(ctx, v, key, compute, true, 0, 0)
	}
	seen := f.completed.Load()
	obs := currentObserver()
	var start time.Time
	if v.bound > 0 || obs != nil {
		start = time.Now()
	}
	raw, ok, err := f.get(ctx, v.space, key)
	var took time.Duration
	if v.bound > 0 || obs != nil {
		took = time.Since(start)
	}
	if obs != nil {
		obs.StoreRead(f, took, err)
	}
	switch {
	case err != nil:
		if ctx.Err() == nil {
			f.storeFailed("get", err)
		}
		// A store that failed to read is down or slow: a call waits on
		// it once, not twice, so the result is not stored.
		return f.miss(ctx, v, key, compute, false, seen, took)
	case ok:
		r, err := f.decode(key, raw)
		if err == nil {
			f.hits.add(key)
			return r, nil
		}
		if !errors.Is(err, errOldFormat) {
			f.storeFailed("decode", err) // corrupt or foreign: a miss, overwritten below
		}
	}
	return f.miss(ctx, v, key, compute, true, seen, took)
}

// The key that generated code passes is on its stack. Passed to a method
// of an interface, it would escape to the heap, and every call would
// allocate it: calls through an interface pass a pooled copy instead, and
// the memory store, whose hits must cost next to nothing, is called
// directly (its methods keep nothing of the key).
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64); return &b }}

func heapKey(key []byte) *[]byte {
	p := keyBufs.Get().(*[]byte)
	*p = append((*p)[:0], key...)
	return p
}

func putKey(p *[]byte) {
	if cap(*p) <= 4<<10 {
		keyBufs.Put(p)
	}
}

// value reads key from a space that keeps Go values.
func (f *Func[R]) value(v *view, key []byte) (any, bool, error) {
	if v.mem != nil {
		return v.mem.Value(key)
	}
	k := heapKey(key)
	defer putKey(k)
	return v.values.Value(*k)
}

// setValue stores r under key in a space that keeps Go values.
func (f *Func[R]) setValue(v *view, key []byte, r R) error {
	if v.mem != nil {
		return v.mem.SetValue(key, r)
	}
	k := heapKey(key)
	defer putKey(k)
	return v.values.SetValue(*k, r)
}

// get is space.Get bounded by the store timeout.
func (f *Func[R]) get(ctx context.Context, sp Space, key []byte) ([]byte, bool, error) {
	if storeTimeout.Load() > 0 {
		var cancel context.CancelFunc
		ctx, cancel = withStoreTimeout(ctx)
		defer cancel()
	}
	k := heapKey(key)
	defer putKey(k)
	return sp.Get(ctx, *k)
}

// miss joins or leads the key's flight after a read that found nothing.
// store says whether to store the result; seen is f.completed before the
// read, took how long the read took.
func (f *Func[R]) miss(ctx context.Context, v *view, key []byte, compute func(context.Context) (R, error), store bool, seen uint64, took time.Duration) (R, error) {
	fl, sh, k, leader := f.flights.join(key)
	if !leader {
		return f.wait(ctx, fl, key, compute)
	}
	removeFlight := func() {
		sh.remove(k)
		f.completed.Add(1)
	}
	// Another caller's flight for this key may have ended, its result
	// stored, since this caller's read: read once more rather than
	// compute again. (The memory store's read costs next to nothing.)
	if store {
		if r, ok := f.reread(ctx, v, key, seen, &took); ok {
			if v.values != nil {
				f.memHits.add(key)
			} else {
				f.hits.add(key)
			}
			fl.val = r
			removeFlight()
			close(fl.done)
			return r, nil
		}
	}
	f.misses.Add(1)
	r, err := f.lead(ctx, fl, compute, removeFlight)
	if err != nil || !store || f.ns.MaxSize == 0 {
		removeFlight()
		close(fl.done)
		return r, err
	}
	// Waiters need not wait for the store, but the flight stays until the
	// value is stored, so that callers arriving meanwhile share it
	// instead of missing in the store and computing again.
	close(fl.done)
	if v.values != nil {
		if err := f.setValue(v, key, r); err != nil {
			f.storeFailed("set", err)
		}
	} else {
		f.storeSet(ctx, v, key, r, took)
	}
	removeFlight()
	return r, nil
}

// reread reads key again for the leader of its flight, when a flight may
// have stored it since the first read.
//
// The read counts against the store's Bound like the first: it gets what
// the first left (took), and adds its own time to took.
func (f *Func[R]) reread(ctx context.Context, v *view, key []byte, seen uint64, took *time.Duration) (r R, ok bool) {
	if v.values != nil {
		if x, ok, _ := f.value(v, key); ok {
			r, ok = x.(R)
			return r, ok
		}
		return r, false
	}
	if f.completed.Load() == seen {
		return r, false
	}
	if v.bound > 0 {
		left := v.bound - *took
		if left <= 0 {
			return r, false
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, left)
		defer cancel()
		start := time.Now()
		defer func() { *took += time.Since(start) }()
	}
	raw, ok, err := f.get(ctx, v.space, key)
	if err != nil || !ok {
		return r, false
	}
	r, err = f.decode(key, raw)
	return r, err == nil
}

// errBudget is the store failure of a Set skipped because the Get before
// it took the whole of its store's Bound.
var errBudget = errors.New("picocache: the store's bound was spent on the read; result not stored")

// storeSet stores r under key after a miss. It is stored even if the
// caller's context has ended (others want it), within what remains of the
// store's Bound after the Get, which took getTook.
func (f *Func[R]) storeSet(ctx context.Context, v *view, key []byte, r R, getTook time.Duration) {
	sctx := context.WithoutCancel(ctx)
	if v.bound > 0 {
		left := v.bound - getTook
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
	k := heapKey(key)
	defer putKey(k)
	if err := v.space.Set(sctx, *k, f.encode(key, r)); err != nil {
		f.storeFailed("set", err)
	}
}

// leadingKey is the context key under which a computation's context
// carries the flights it leads, to detect a call waiting for itself.
type leadingKey struct{}

// leading is one flight led by a computation, and the flights its
// callers lead.
type leading struct {
	fl     *flight
	parent *leading
}

// RecursionError is what a call panics with when it would wait for its
// own computation: a memoized function that calls itself, directly or
// not, with the same arguments.
type RecursionError struct {
	Func string // the function's namespace
}

func (e *RecursionError) Error() string {
	return "picocache: " + e.Func + " calls itself with the same arguments, and would wait for itself for ever"
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
	parent, _ := ctx.Value(leadingKey{}).(*leading)
	cctx := context.WithValue(ctx, leadingKey{}, &leading{fl: fl, parent: parent})
	obs := currentObserver()
	var start time.Time
	if obs != nil {
		start = time.Now()
	}
	func() {
		defer func() {
			if !normal {
				if p := recover(); p != nil {
					fl.panic = &PanicError{Value: p, Stack: debug.Stack()}
				}
			}
		}()
		r, err = compute(cctx)
		normal = true
	}()
	if obs != nil {
		switch {
		case normal:
			obs.Computed(f, time.Since(start), err)
		case fl.panic != nil:
			obs.Computed(f, time.Since(start), fl.panic)
		}
	}
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
	default:
		for l, _ := ctx.Value(leadingKey{}).(*leading); l != nil; l = l.parent {
			if l.fl == fl {
				panic(&RecursionError{Func: f.ns.Name})
			}
		}
		select {
		case <-fl.done:
		case <-ctx.Done():
			f.misses.Add(1)
			return zero, ctx.Err()
		}
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
	f.hits.add(key)
	return fl.val.(R), nil
}

// Info returns the function's statistics. Hits, Misses and StoreErrors
// count this process's calls; CurrSize asks the store. When the store
// fails, Info returns the local counts with the error.
func (f *Func[R]) Info(ctx context.Context) (Info, error) {
	info := f.Counts()
	v := f.view(ctx)
	if v.err != nil {
		return info, v.err
	}
	n, err := v.space.Len(ctx)
	info.CurrSize = n
	return info, err
}

// Counts returns the function's statistics in this process, without
// asking the store: Info with CurrSize zero.
func (f *Func[R]) Counts() Info {
	mem := f.memHits.sum()
	return Info{
		Hits:        f.hits.sum() + mem,
		MemoryHits:  mem,
		Misses:      f.misses.Load(),
		MaxSize:     f.cfg.MaxSize,
		StoreErrors: f.storeErrors.Load(),
	}
}

// Clear removes the function's entries from its store, for every process
// sharing it, and resets this process's counters. Entries of other
// functions are untouched.
func (f *Func[R]) Clear(ctx context.Context) error {
	v := f.view(ctx)
	if v.err != nil {
		return v.err
	}
	err := v.space.Clear(ctx)
	f.hits.reset()
	f.memHits.reset()
	f.misses.Store(0)
	f.storeErrors.Store(0)
	return err
}
