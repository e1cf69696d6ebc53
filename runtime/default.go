package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
)

// DefaultURL is the store used when nothing else is chosen: SQLite at
// ./picocache.db, relative to the working directory.
const DefaultURL = "sqlite:picocache.db"

// openRetryDelay is how long a failure to open the default store stands
// before a call tries again, in the background.
const openRetryDelay = 5 * time.Second

// openWait is the longest a call waits for the first opening of the
// default store; past it the call computes, counting a store failure,
// and the store goes on opening in the background.
const openWait = time.Second

// openTimeout bounds the context of a background opening. Every store of
// this module bounds its own opening well within it; it is there for
// openers that take a context but no timeout of their own.
const openTimeout = time.Minute

var defaults struct {
	mu     sync.Mutex
	set    Store // guarded by mu; from SetDefaultStore
	opened Store // guarded by mu; opened from PICOCACHE_URL or DefaultURL
	err    error // guarded by mu; the last failure to open
	retry  time.Time
	// opening is closed when the opening in progress ends; nil when none
	// is. No lock is held while a store opens.
	opening chan struct{} // guarded by mu
	// epoch changes with CloseDefault, so that an opening begun before
	// it does not install its store after it.
	epoch uint64 // guarded by mu
	// gen changes whenever the default store does, so that functions
	// resolve it again.
	gen atomic.Uint64
}

// SetDefaultStore makes s the store of every function not bound with
// Func.Bind, in place of PICOCACHE_URL and ./picocache.db. SetDefaultStore(nil)
// returns to those. It returns the store set before (nil if none), so
// that a caller can put it back. The caller keeps ownership of s.
func SetDefaultStore(s Store) (previous Store) {
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	previous, defaults.set = defaults.set, s
	defaults.gen.Add(1)
	return previous
}

// DefaultStore returns the store of functions not bound with Func.Bind:
// the one set with SetDefaultStore; else the store at the URL in the
// PICOCACHE_URL environment variable; else SQLite at ./picocache.db
// (DefaultURL). The last two are opened on first use, in the background,
// and stay open until CloseDefault.
//
// No call waits long for an opening: the first waits for it at most a
// second (less if ctx ends sooner), and returns an error if the store is
// not open by then. A failure to open is returned, and after a few seconds
// a later call starts opening again, in the background, without waiting
// for it; the store is used from the moment it is open. While a store
// opens, memoized calls compute their results and count a store failure;
// functions bound to other stores are never delayed.
func DefaultStore(ctx context.Context) (Store, error) {
	defaults.mu.Lock()
	if s := defaults.set; s != nil {
		defaults.mu.Unlock()
		return s, nil
	}
	if s := defaults.opened; s != nil {
		defaults.mu.Unlock()
		return s, nil
	}
	wait := defaults.opening
	failed := defaults.err
	switch {
	case wait != nil:
		// Opening already: after a failure, do not wait for the retry.
	case failed != nil && time.Now().Before(defaults.retry):
		defaults.mu.Unlock()
		return nil, failed
	default:
		wait = make(chan struct{})
		defaults.opening = wait
		go openDefault(wait, defaults.epoch)
	}
	defaults.mu.Unlock()
	if failed != nil {
		return nil, failed
	}
	timer := time.NewTimer(openWait)
	defer timer.Stop()
	select {
	case <-wait:
	case <-timer.C:
		return nil, errStillOpening(defaultSource())
	case <-ctx.Done():
		return nil, errStillOpening(defaultSource())
	}
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	switch {
	case defaults.set != nil:
		return defaults.set, nil
	case defaults.opened != nil:
		return defaults.opened, nil
	case defaults.err != nil:
		return nil, defaults.err
	}
	return nil, errStillOpening(defaultSource()) // closed by CloseDefault meanwhile
}

// defaultSource returns the URL of the default store and where it comes
// from, for messages.
func defaultSource() (raw, from string) {
	if raw := os.Getenv("PICOCACHE_URL"); raw != "" {
		return raw, "PICOCACHE_URL store"
	}
	return DefaultURL, "default store"
}

func errStillOpening(raw, from string) error {
	return fmt.Errorf("picocache: %s %s is still opening; calls compute meanwhile", from, storekit.Redact(raw))
}

// openDefault opens the default store and installs it, or records the
// failure, then closes done. An opening that CloseDefault overtook
// (epoch changed) closes what it opened.
func openDefault(done chan struct{}, epoch uint64) {
	raw, from := defaultSource()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	s, err := openURL(ctx, raw, from)
	cancel()
	defaults.mu.Lock()
	stale := defaults.epoch != epoch
	if !stale {
		if err != nil {
			defaults.err, defaults.retry = err, time.Now().Add(openRetryDelay)
		} else {
			defaults.opened, defaults.err = s, nil
		}
		defaults.opening = nil
		defaults.gen.Add(1)
	}
	defaults.mu.Unlock()
	close(done)
	if stale && s != nil {
		s.Close()
	}
}

// CloseDefault closes the store that DefaultStore opened from
// PICOCACHE_URL or DefaultURL, if any, and forgets a failure to open it:
// the next call opens it again. An opening in progress is abandoned; what
// it opens is closed. A store given to SetDefaultStore is the caller's to
// close.
func CloseDefault() error {
	defaults.mu.Lock()
	s := defaults.opened
	defaults.opened, defaults.err, defaults.opening = nil, nil, nil
	defaults.epoch++
	defaults.gen.Add(1)
	defaults.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

// storeTimeout bounds each store operation of a call when positive.
// It is off by default: every store in this module bounds its own
// operations (SQLite by its busy timeout, Redis by its dial and read
// timeouts, runtime/sqldb by its operation timeout), and a deadline here
// would cost every hit a timer and, in database/sql, a goroutine.
var storeTimeout atomic.Int64 // a time.Duration

// SetStoreTimeout bounds how long a call waits for each store operation
// (a Get, or the Set after a miss); zero, the default, leaves it to the
// store's own timeouts and the caller's context. Past the limit the call
// counts a store failure and goes on without the store: a slow store
// costs a call time, never its result. Use it with a store of your own
// that may block without bound.
func SetStoreTimeout(d time.Duration) { storeTimeout.Store(int64(max(d, 0))) }

// withStoreTimeout bounds ctx by the store timeout.
func withStoreTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := time.Duration(storeTimeout.Load()); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// logInterval is the least time between two logs of one function's store
// failures.
const logInterval = 10 * time.Second

// logLimiter lets one log line through per logInterval and counts the
// rest. It is safe for concurrent use.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time // guarded by mu
	suppressed int64     // guarded by mu
}

// allow reports whether to log now, and how many were suppressed since
// the last log.
func (l *logLimiter) allow(now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.next, l.suppressed = now.Add(logInterval), 0
	return true, n
}

// storeFailed counts a store failure and logs it, rate-limited.
func (f *Func[R]) storeFailed(op string, err error) {
	f.storeErrors.Add(1)
	if ok, suppressed := f.logs.allow(time.Now()); ok {
		slog.Warn("picocache: store failure; the result is computed, not cached",
			"func", f.cfg.Name, "op", op, "err", err, "suppressed", suppressed)
	}
}

// openURL opens the store at raw for DefaultStore; from says where raw
// came from.
func openURL(ctx context.Context, raw, from string) (Store, error) {
	s, err := OpenURL(ctx, raw)
	if err != nil {
		return nil, &openError{from: from, err: err}
	}
	return s, nil
}

// openError is a failure to open the default store. Its message says
// which store it is, then what failed, with one "picocache:" prefix:
//
//	picocache: PICOCACHE_URL store: store URL "garbage" has no scheme (...)
//	picocache: default store: sqlite: opening picocache.db: ...
type openError struct {
	from string
	err  error
}

func (e *openError) Error() string {
	return "picocache: " + e.from + ": " + strings.TrimPrefix(e.err.Error(), "picocache: ")
}

func (e *openError) Unwrap() error { return e.err }
