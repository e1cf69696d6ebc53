package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultURL is the store used when nothing else is chosen: SQLite at
// ./picocache.db, relative to the working directory.
const DefaultURL = "sqlite:picocache.db"

// openRetryDelay is how long a failure to open the default store stands
// before the next call tries again.
const openRetryDelay = 5 * time.Second

var defaults struct {
	mu     sync.Mutex
	set    Store // guarded by mu; from SetDefaultStore
	opened Store // guarded by mu; opened from PICOCACHE_URL or DefaultURL
	err    error // guarded by mu; the last failure to open
	retry  time.Time
	// gen changes whenever the default store does, so that functions
	// resolve it again.
	gen atomic.Uint64
}

// SetDefaultStore makes s the store of every function not bound with
// Func.Bind, in place of PICOCACHE_URL and ./picocache.db. SetDefaultStore(nil)
// returns to those. The caller keeps ownership of s.
func SetDefaultStore(s Store) {
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	defaults.set = s
	defaults.gen.Add(1)
}

// DefaultStore returns the store of functions not bound with Func.Bind:
// the one set with SetDefaultStore; else the store at the URL in the
// PICOCACHE_URL environment variable; else SQLite at ./picocache.db
// (DefaultURL). The last two are opened on first use and stay open until
// CloseDefault. A failure to open is returned, and retried by a later
// call after a few seconds.
func DefaultStore(ctx context.Context) (Store, error) {
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	if defaults.set != nil {
		return defaults.set, nil
	}
	if defaults.opened != nil {
		return defaults.opened, nil
	}
	if defaults.err != nil && time.Now().Before(defaults.retry) {
		return nil, defaults.err
	}
	raw, from := os.Getenv("PICOCACHE_URL"), "PICOCACHE_URL"
	if raw == "" {
		raw, from = DefaultURL, "default store"
	}
	s, err := OpenURL(context.WithoutCancel(ctx), raw)
	if err != nil {
		defaults.err = fmt.Errorf("picocache: opening %s %s: %w", from, redactRaw(raw), err)
		defaults.retry = time.Now().Add(openRetryDelay)
		return nil, defaults.err
	}
	defaults.opened, defaults.err = s, nil
	defaults.gen.Add(1)
	return s, nil
}

// CloseDefault closes the store that DefaultStore opened from
// PICOCACHE_URL or DefaultURL, if any, and forgets a failure to open it:
// the next call opens it again. A store given to SetDefaultStore is the
// caller's to close.
func CloseDefault() error {
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	s := defaults.opened
	defaults.opened, defaults.err = nil, nil
	defaults.gen.Add(1)
	if s == nil {
		return nil
	}
	return s.Close()
}

func redactRaw(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
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
