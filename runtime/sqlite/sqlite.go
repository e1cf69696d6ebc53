package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// Store is a runtime.Store in a SQLite database file. It is safe for
// concurrent use by multiple goroutines, and several processes (each with
// its own Store) may share one file.
//
// A hit is one read, on the writer connection when it is free, else on a
// small pool of reader connections. Writes go through the single writer
// connection, since SQLite admits one writer at a time (across
// processes, the busy timeout arbitrates). For a bounded function the
// Store records each hit in the process and applies its recency later, in
// a batch: inside the next Set of that function from this process, in
// the same transaction as its upsert and eviction; otherwise within the
// flush delay (WithFlushDelay); when the batch is full; and by Flush and
// Close. No operation waits longer than the busy timeout in all, for this
// writer connection and for other processes' locks (see Bound).
// Open a Store with Open, OpenContext or runtime.OpenURL; its zero value
// is not usable.
type Store struct {
	path string // as given to Open
	abs  string // absolute, resolved at Open
	o    options

	// h is the current handle on the file: replaced, under wsem, when the
	// file turns out damaged or replaced (see recoverLocked).
	h atomic.Pointer[handle]
	// wsem holds a token while the writer connection of h, and its
	// statements, are in use, and while h is replaced.
	wsem chan struct{}
	// closed is set once by Close, under mu; later calls fail with
	// ErrClosed.
	closed atomic.Bool

	sets uint64 // Sets so far; guarded by wsem

	// flusher applies the recency of hits within the flush delay, and
	// at once when a batch is full.
	flusher *storekit.Flusher
	// stopPrune ends WithPrune's pruning; nil without it.
	stopPrune func()

	mu     sync.Mutex
	spaces map[spaceKey]*space // guarded by mu
	nss    map[string]*nsState // guarded by mu; what the spaces of one name share
}

// purgeEvery is how often a Set without TTL purges expired entries, and
// checks that the store's path still names its file.
const purgeEvery = 256

// ErrClosed is what a Store's methods return after Close. It wraps
// runtime.ErrClosed.
var ErrClosed = fmt.Errorf("sqlite: %w", runtime.ErrClosed)

var (
	_ runtime.Store   = (*Store)(nil)
	_ runtime.Bounder = (*Store)(nil)
	_ runtime.Flusher = (*Store)(nil)
)

// Open opens (creating it if needed) the SQLite store in the file at
// path, relative to the working directory unless absolute. It puts the
// file in WAL journal mode and creates the store's tables if they are
// missing; this is safe when several processes open a fresh file at
// once. Waiting for other processes' locks, it takes at most the busy
// timeout (twice that when it moves a damaged file aside).
//
// A file that is not a SQLite database, or is damaged, is moved aside
// and replaced by a fresh one unless WithRecovery(false) is given; see
// the package documentation. An error opening the file names the path and
// what is wrong with it.
func Open(path string, opts ...Option) (*Store, error) {
	return OpenContext(context.Background(), path, opts...)
}

// OpenContext is Open with a context that bounds the opening.
func OpenContext(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if path == ":memory:" {
		return nil, fmt.Errorf("sqlite: path %q: want a file path; for an in-process cache use runtime.NewMemory", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: path %q: %w", path, err)
	}
	s := &Store{path: path, abs: abs, o: o, wsem: make(chan struct{}, 1),
		spaces: make(map[spaceKey]*space), nss: make(map[string]*nsState)}
	h, err := openHandle(ctx, abs, o, s.deadline(ctx, time.Now()))
	if err != nil && isDamaged(err) && o.recovery {
		// Move the damaged file aside, then open a fresh one. The damaged
		// file's connections close after the move, so that they leave its
		// -wal and -shm (which moved with it) alone.
		cause := err
		var dst string
		var merr error
		if h == nil || h.namesFile() {
			dst, merr = moveAside(abs)
		}
		h.close() // the damaged file's; its errors say nothing new
		if merr != nil {
			// Where an open file cannot be renamed (Windows), a closed one
			// can.
			dst, merr = moveAside(abs)
		}
		if merr != nil {
			return nil, fmt.Errorf("sqlite: opening %s: %w; moving the damaged file aside failed: %w", path, cause, merr)
		}
		if dst != "" {
			warnMoved(abs, dst, cause)
		}
		h, err = openHandle(ctx, abs, o, s.deadline(ctx, time.Now()))
	}
	if err != nil {
		h.close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, explainOpen(abs, err, o.recovery))
	}
	s.h.Store(h)
	s.flusher = storekit.NewFlusher(o.flushDelay, func() {
		s.flush(context.Background(), nil) // what fails is put back, for the next flush
	})
	if o.prune > 0 {
		s.stopPrune = runtime.PruneEvery(s, o.prune, pruneInterval)
	}
	return s, nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Bound implements runtime.Bounder: it returns the busy timeout
// (WithBusyTimeout, DefaultBusyTimeout by default). No operation of the
// store waits longer than that, in all, for this process's writer
// connection and for other processes' locks on the file, and a context
// deadline makes the wait shorter. To that, an operation adds the time
// its statements take to run once it has the lock: microseconds for a
// hit, more for a Set that evicts many entries, and the time to open a
// fresh file when the store recovers from a damaged one.
func (s *Store) Bound() time.Duration { return s.o.busyTimeout }

// deadline returns when the wait of an operation that started at start
// must end: after the busy timeout, or at ctx's deadline if earlier.
func (s *Store) deadline(ctx context.Context, start time.Time) time.Time {
	d := start.Add(s.o.busyTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		return dl
	}
	return d
}

var empty = []byte{}

// nonNil returns b, or an empty slice for nil: key and value columns are
// NOT NULL, and modernc binds a nil []byte as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return empty
	}
	return b
}

// lockWriter takes the writer token for an operation that started at
// start, and returns the store's handle, whose writer connection is the
// caller's until unlockWriter. It waits for the token until the
// operation's deadline (see deadline), then fits the writer's busy
// timeout to what remains, so that the wait for the token and SQLite's
// wait for other processes' locks share one budget.
//
// The uncontended path, the token free at once and ctx without a
// deadline, runs no statement and starts no timer.
func (s *Store) lockWriter(ctx context.Context, start time.Time) (*handle, error) {
	select {
	case s.wsem <- struct{}{}:
	default:
		return s.lockWriterSlow(ctx, start)
	}
	if s.closed.Load() {
		<-s.wsem
		return nil, ErrClosed
	}
	h := s.h.Load()
	var err error
	if _, ok := ctx.Deadline(); ok {
		err = h.fitBusyLocked(time.Until(s.deadline(ctx, start)))
	} else {
		err = h.restoreBusyLocked()
	}
	if err != nil {
		<-s.wsem
		return nil, err
	}
	return h, nil
}

// lockWriterSlow is lockWriter when the token is taken.
func (s *Store) lockWriterSlow(ctx context.Context, start time.Time) (*handle, error) {
	deadline := start.Add(s.o.busyTimeout)
	var expired <-chan time.Time
	if dl, ok := ctx.Deadline(); ok && !dl.After(deadline) {
		deadline = dl // ctx.Done() is closed then
	} else {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-expired:
		return nil, s.errWriterBusy()
	}
	if s.closed.Load() {
		<-s.wsem
		return nil, ErrClosed
	}
	h := s.h.Load()
	left := time.Until(deadline)
	if left <= 0 {
		<-s.wsem
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, s.errWriterBusy()
	}
	if err := h.fitBusyLocked(left); err != nil {
		<-s.wsem
		return nil, err
	}
	return h, nil
}

func (s *Store) errWriterBusy() error {
	return fmt.Errorf("waited the busy timeout (%v) for the writer connection, in use by another operation of this process", s.o.busyTimeout)
}

func (s *Store) unlockWriter() { <-s.wsem }

// mayRecover reports whether err, from an operation on h, calls for
// recoverLocked: h is no longer the store's handle, or its file is damaged
// (and recovery is on), or the path names another file.
func (s *Store) mayRecover(h *handle, err error) bool {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return false
	}
	return s.h.Load() != h || errors.Is(err, errReplaced) || s.o.recovery && isDamaged(err)
}

// retryHandleLocked is recoverLocked for an operation that started at
// start: it returns the handle to try again on, its writer's busy timeout
// fitted to what remains of the operation's budget. The writer must be
// held.
func (s *Store) retryHandleLocked(ctx context.Context, h *handle, cause error, start time.Time) (*handle, error) {
	deadline := s.deadline(ctx, start)
	nh, err := s.recoverLocked(ctx, h, cause, deadline)
	if err != nil {
		return nil, err
	}
	if err := nh.fitBusyLocked(time.Until(deadline)); err != nil {
		return nil, err
	}
	return nh, nil
}

// retryHandle is retryHandleLocked for an operation that does not hold
// the writer.
func (s *Store) retryHandle(ctx context.Context, h *handle, cause error, start time.Time) (*handle, error) {
	if cur := s.h.Load(); cur != h {
		return cur, nil
	}
	if _, err := s.lockWriter(ctx, start); err != nil {
		return nil, cause
	}
	defer s.unlockWriter()
	return s.retryHandleLocked(ctx, h, cause, start)
}

// wrap names the store and the operation in err, and reports a use after
// Close as ErrClosed.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if isDamaged(err) && !s.o.recovery {
		return fmt.Errorf("sqlite: %s %s: %w: %s", op, s.path, err, damagedHint)
	}
	return fmt.Errorf("sqlite: %s %s: %w", op, s.path, err)
}
