package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// Client is the little of a Redis client library that a Store uses: a GET
// of one key and the run of a script. Every call that the Store makes on
// the server is one of these: a GET, or a script, whose reply is an
// integer (Run) or, for the scripts whose Script.List reports true, an
// array of strings (RunList). A Client must be safe for concurrent use by
// multiple goroutines.
//
// The Store gives every call a context whose deadline is at most its
// bound (Config.Timeout) away. The Store's Bound is honest only if each
// call returns by that deadline, whatever the server does: a Client whose
// library may wait past its context's deadline must see to it itself.
type Client interface {
	// Get returns the value of key. A key that does not exist is
	// reported as ok == false with a nil error. The returned slice is the
	// caller's, referenced by nothing else.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)

	// Run runs the script sc with keys and args, by EVALSHA, or EVAL
	// when the server does not have the script yet, on the node serving
	// the slot of keys[0] (all keys of one call share a slot), and
	// returns its integer reply.
	Run(ctx context.Context, sc Script, keys, args []string) (int64, error)

	// RunList runs the script sc as Run does, and returns its reply, an
	// array of (binary) strings.
	RunList(ctx context.Context, sc Script, keys, args []string) ([]string, error)
}

// Config is what a store package tells New besides its Client.
type Config struct {
	// Name is the store package's name, which begins every error
	// message: "redis" gives "redis: get: ...".
	Name string
	// ErrClosed is the error of every call after Close. It must wrap
	// runtime.ErrClosed.
	ErrClosed error
	// Timeout bounds each operation of the Store, retries included: its
	// runtime.Bounder bound. It must be positive.
	Timeout time.Duration
	// FlushDelay is how long the recency of a hit may stay in the process
	// (storekit.DefaultFlushDelay if not positive).
	FlushDelay time.Duration
	// Release, if not nil, is called by the first Close after its final
	// flush: a store package closes there a client it owns.
	Release func()
	// Prune, if positive, makes the Store delete by itself the
	// namespaces that no process used for that long, as runtime.Prune
	// does: about a minute after New, then once a day (runtime.PruneEvery),
	// until Close.
	Prune time.Duration
}

// pruneInterval is how often a Store told to prune does so.
const pruneInterval = 24 * time.Hour

// ClearBatch and lenBatch bound the work of one Clear or Len script call,
// so that no call blocks the server for long.
const (
	ClearBatch = 512
	lenBatch   = 1024
)

// Store is a runtime.Store on Redis or Redis Cluster, through a Client. It
// is safe for concurrent use by multiple goroutines, and several processes
// may share one server: every write and every eviction is one server-side
// script.
//
// A hit is a plain GET. For a bounded function the Store records in the
// process which keys its reads hit (and missed), and hands them to the
// server in batches (see scripts.go): with the next Set of the function
// from this process, in the same script as its eviction; within the flush
// delay otherwise; when a batch is full; on Flush and on Close.
//
// A Store is a runtime.Lister: a flusher of its own registers a namespace
// in the registry of namespaces (see Registry) as soon as the process
// makes its first Space of it, and records its later uses at most once
// per runtime.UseInterval.
type Store struct {
	c         Client
	name      string
	errClosed error
	release   func()
	timeout   time.Duration // bounds each operation
	delay     time.Duration // how long a read's recency may wait in the process
	closed    atomic.Bool   // set by Close, under mu

	flusher *storekit.Flusher
	// uses records the uses of namespaces in the registry, apart from
	// flusher so that registrations never spend the rate of the
	// flushes that full batches ask for (see storekit.Flusher.Now).
	uses      *storekit.Flusher
	deadlines storekit.Deadlines // see bound
	// life ends with Close, and with it a background flush in progress.
	life context.Context
	end  context.CancelFunc
	// stopPrune ends Config.Prune's pruning; nil without it.
	stopPrune func()

	mu      sync.Mutex
	spaces  map[spaceKey]*space  // guarded by mu
	fns     map[string]*function // guarded by mu; by namespace name
	tracked []*function          // guarded by mu; those with a bounded Space, in order
}

var (
	_ runtime.Store   = (*Store)(nil)
	_ runtime.Bounder = (*Store)(nil)
	_ runtime.Flusher = (*Store)(nil)
	_ runtime.Lister  = (*Store)(nil)
)

// New returns a Store on c. It reaches no server: Spaces are made in the
// process, and the first call of one (or the flusher's registration of
// its namespace, or with Config.Prune the first pruning, about a minute
// later) is the first use of c.
func New(c Client, cfg Config) *Store {
	if cfg.Timeout <= 0 {
		panic("redisstore: Config.Timeout is not positive")
	}
	if !errors.Is(cfg.ErrClosed, runtime.ErrClosed) {
		panic("redisstore: Config.ErrClosed does not wrap runtime.ErrClosed")
	}
	s := &Store{
		c:         c,
		name:      cfg.Name,
		errClosed: cfg.ErrClosed,
		release:   cfg.Release,
		timeout:   cfg.Timeout,
		delay:     cfg.FlushDelay,
		spaces:    make(map[spaceKey]*space),
		fns:       make(map[string]*function),
	}
	if s.delay <= 0 {
		s.delay = storekit.DefaultFlushDelay
	}
	s.deadlines.Timeout = s.timeout
	s.life, s.end = context.WithCancel(context.Background())
	s.flusher = storekit.NewFlusher(s.delay, s.flushPending)
	s.uses = storekit.NewFlusher(min(s.delay, useFlushDelay), s.recordPending)
	if cfg.Prune > 0 {
		s.stopPrune = runtime.PruneEvery(s, cfg.Prune, pruneInterval)
	}
	return s
}

// Bound implements runtime.Bounder: no operation of the Store waits longer
// than its timeout for the server, provided its Client returns by the
// deadline of the context it is given.
func (s *Store) Bound() time.Duration { return s.timeout }

// FlushDelay reports how long the recency of a hit may stay in the
// process before the Store applies it on the server.
func (s *Store) FlushDelay() time.Duration { return s.delay }

// Pending reports how many hit and missed keys of the namespace ns the
// process holds, not yet applied on the server: for tests and diagnostics.
func (s *Store) Pending(ns string) (hits, misses int) {
	s.mu.Lock()
	fn := s.fns[ns]
	s.mu.Unlock()
	if fn == nil {
		return 0, 0
	}
	return fn.hits.Len(), fn.misses.Len()
}

// bound applies the Store's timeout to ctx, unless ctx ends sooner (see
// storekit.Deadlines: calls that can never be canceled share a deadline).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.deadlines.Bound(ctx)
}

// failed names the operation in err, and says so when it ran out of the
// Store's bound, whose bare "context deadline exceeded" tells little.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return s.errClosed // the connection closed under the call
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: no answer in time (the store waits at most %v): %w", s.name, op, s.timeout, err)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

// spaceKey names a Space among a Store's: a namespace with its limits.
type spaceKey struct {
	name string
	lim  runtime.Limits
}

// Space implements runtime.Store. It reaches no server: the Space of a
// namespace and limits is made once and kept until Close, and every
// Space of one namespace shares the reads not yet applied. The first
// Space of a namespace in the process notes its use then and has it
// registered in the registry of namespaces at once, in the background
// (within a few milliseconds, or useFlushDelay/8 when many namespaces
// start at once), off the caller's path: a registration in Space would add
// a round trip, and its own bound, to the first call of every function.
// What fails is tried again with the next flush.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, created, err := s.space(ns)
	if err != nil {
		return nil, err
	}
	if created {
		s.uses.Now()
	}
	return sp, nil
}

// space returns the Space of ns, made in the process, and reports whether
// it made the namespace's function, whose use is then to be registered.
func (s *Store) space(ns runtime.Namespace) (sp *space, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, false, s.errClosed
	}
	k := spaceKey{ns.Name, ns.Limits}
	if sp := s.spaces[k]; sp != nil {
		return sp, false, nil
	}
	fn := s.fns[ns.Name]
	if fn == nil {
		fn = newFunction(ns.Name)
		fn.use(time.Now().UnixNano())
		s.fns[ns.Name] = fn
		created = true
	}
	sp = &space{s: s, fn: fn, lim: ns.Limits, bounded: ns.MaxSize > 0, max: strconv.FormatInt(ns.MaxSize, 10), ttl: "0"}
	if ns.TTL > 0 {
		sp.ttl = strconv.FormatInt(int64((ns.TTL+time.Millisecond-1)/time.Millisecond), 10)
	}
	if sp.bounded && !slices.Contains(s.tracked, fn) {
		s.tracked = append(s.tracked, fn)
	}
	s.spaces[k] = sp
	return sp, created, nil
}

// space is a runtime.Space of a Store: one function's entries, with the
// limits it was opened with. It is safe for concurrent use.
type space struct {
	s       *Store
	fn      *function
	lim     runtime.Limits
	bounded bool   // lim.MaxSize > 0: reads are recorded
	max     string // lim.MaxSize, as SetScript takes it
	ttl     string // lim.TTL in ms, rounded up, as SetScript takes it
}

// Get implements runtime.Space: one GET. For a bounded function it records
// the key, hit or missed, to be applied later (see Store). A hit asks for
// a flush within the delay; a miss waits for the next batch, which is
// almost always the Set of the result that follows it. Once per
// runtime.UseInterval it has the namespace's use recorded, in the
// background.
func (sp *space) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return nil, false, s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, ok, err := s.c.Get(ctx, fn.Entry+string(key))
	if err != nil {
		return nil, false, s.failed(ctx, "get", err)
	}
	if fn.use(time.Now().UnixNano()) {
		s.uses.Kick()
	}
	if !ok {
		// A full batch goes to the flusher at once: a read never waits
		// for a write (the function's gate, held by a Set).
		if sp.bounded && fn.misses.Add(key) {
			s.flusher.Now()
		}
		return nil, false, nil
	}
	if sp.bounded {
		if fn.hits.Add(key) {
			s.flusher.Now()
		}
		s.flusher.Kick()
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// apply applies fn's pending reads on the server, through TouchScript.
// What cannot be applied stays pending.
func (s *Store) apply(ctx context.Context, fn *function) error {
	if err := fn.gate.Acquire(ctx, gateAll); err != nil {
		return err
	}
	defer fn.gate.Release(gateAll)
	return s.touch(ctx, fn, fn.take(nil))
}

// touch runs TouchScript for each batch of fn in turn; from the first that
// fails on, the batches go back to fn's pending reads.
func (s *Store) touch(ctx context.Context, fn *function, bs []batch) error {
	keys := []string{fn.LRU, fn.Seq, fn.Exp}
	for i, b := range bs {
		args := b.appendArgs(append(make([]string, 0, 2+len(b.hits)+len(b.misses)), fn.Entry))
		if _, err := s.c.Run(ctx, TouchScript, keys, args); err != nil {
			fn.put(bs[i:])
			return err
		}
	}
	return nil
}

// Set implements runtime.Space: one script stores the value, applies the
// function's pending reads and evicts beyond its maxsize. (A batch larger
// than one script call takes goes first, but for its latest part,
// through TouchScript.)
func (sp *space) Set(ctx context.Context, key, value []byte) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return s.errClosed
	}
	if sp.lim.MaxSize == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var last batch
	if sp.bounded {
		if err := fn.gate.Acquire(ctx, gateAll); err != nil {
			return s.failed(ctx, "set", err)
		}
		defer fn.gate.Release(gateAll)
		if bs := fn.take(key); len(bs) > 0 {
			if err := s.touch(ctx, fn, bs[:len(bs)-1]); err != nil {
				fn.put(bs[len(bs)-1:])
				return s.failed(ctx, "set", err)
			}
			last = bs[len(bs)-1]
		}
	}
	member := string(key)
	args := make([]string, 0, 6+len(last.hits)+len(last.misses))
	args = append(args, string(value), member, sp.max, sp.ttl, fn.Entry)
	if sp.bounded {
		args = last.appendArgs(args)
	}
	if _, err := s.c.Run(ctx, SetScript, []string{fn.Entry + member, fn.LRU, fn.Seq, fn.Exp}, args); err != nil {
		fn.put([]batch{last})
		return s.failed(ctx, "set", err)
	}
	if fn.use(time.Now().UnixNano()) {
		s.uses.Kick()
	}
	return nil
}

// Clear implements runtime.Space: batches of script calls that each delete
// up to ClearBatch indexed entries; the keyspace is never scanned. The
// function's reads not yet applied are dropped.
func (sp *space) Clear(ctx context.Context) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	fn.take(nil)
	keys := []string{fn.LRU, fn.Exp, fn.Seq}
	args := []string{fn.Entry, strconv.Itoa(ClearBatch)}
	for {
		left, err := s.c.Run(ctx, ClearScript, keys, args)
		if err != nil {
			return s.failed(ctx, "clear", err)
		}
		if left == 0 {
			return nil
		}
	}
}

// Len implements runtime.Space: it applies the function's pending reads
// (so that entries this process found gone are not counted), prunes the
// expired entries from the index and counts the rest.
func (sp *space) Len(ctx context.Context) (int64, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return 0, s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if fn.pending() {
		if err := s.apply(ctx, fn); err != nil {
			return 0, s.failed(ctx, "len", err)
		}
	}
	keys := []string{fn.LRU, fn.Exp}
	args := []string{strconv.Itoa(lenBatch)}
	for {
		c, err := s.c.Run(ctx, LenScript, keys, args)
		if err != nil {
			return 0, s.failed(ctx, "len", err)
		}
		if c >= 0 {
			return c, nil
		}
	}
}

// Flush implements runtime.Flusher: it applies the reads of every bounded
// function recorded so far, and records the uses of namespaces not
// recorded yet.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.flush(ctx)
}

// useFlushDelay is the longest a use of a namespace waits in the process
// to be recorded, when the flush delay is longer.
const useFlushDelay = time.Second

// recordPending is the uses Flusher's flush: within the Store's bound,
// and ended by Close, which records what remains itself.
func (s *Store) recordPending() {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	s.recordUses(ctx) // what fails stays pending, for the next flush
}

// flushPending is the Flusher's flush: within the Store's bound, and
// ended by Close, which flushes what remains itself.
func (s *Store) flushPending() {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	s.flush(ctx) // what fails stays pending, for the next flush
}

// flush records the pending uses of namespaces, then applies the pending
// reads of every bounded function, one function at a time, and returns
// the first failure.
func (s *Store) flush(ctx context.Context) error {
	if err := s.applyPending(ctx); err != nil {
		return s.failed(ctx, "flush", err)
	}
	return nil
}

// applyPending is flush, its error not wrapped.
func (s *Store) applyPending(ctx context.Context) error {
	first := s.recordUses(ctx)
	s.mu.Lock()
	fns := slices.Clone(s.tracked)
	s.mu.Unlock()
	for _, fn := range fns {
		if !fn.pending() {
			continue
		}
		if err := s.apply(ctx, fn); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close implements runtime.Store: it stops the pruning of Config.Prune
// (a deletion in progress stops at its next batch), makes later calls
// fail with the Config's ErrClosed, applies the reads and records the
// uses not yet applied (within the Store's bound; its error is Close's)
// and calls the Config's Release. Closing twice is a no-op.
func (s *Store) Close() error {
	if s.stopPrune != nil {
		s.stopPrune() // before closed is set: its batch in progress may finish
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.end() // a background flush in progress gives up, its reads pending
	s.flusher.Close()
	s.uses.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	err := s.flush(ctx)
	cancel()
	s.deadlines.Stop()
	if s.release != nil {
		s.release()
	}
	return err
}
