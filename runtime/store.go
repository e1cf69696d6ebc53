package runtime

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/picocache/picocache/internal/storekit"
)

// Unbounded is the MaxSize of a function whose entries are never evicted
// for size (maxsize=none, or no maxsize option).
const Unbounded = -1

// Store keeps memoized results as bytes, namespaced by function. It is the
// contract every backend implements; runtime/storetest checks it.
//
// A Store must be safe for concurrent use by multiple goroutines, and a
// shared backend (a database file, a server) must stay correct when several
// processes use it at once.
//
// fn is an opaque namespace: the function's identity and version, chosen by
// the runtime. key and value are arbitrary bytes (zero bytes included). A
// Store must not retain key or value after a call returns, and the slice
// that Get returns belongs to the caller.
type Store interface {
	// Get returns the live value stored under key in fn. When lim.MaxSize
	// is positive it also marks the entry as fn's most recently used, in
	// the same atomic step; for other limits a store may skip that
	// bookkeeping, since nothing is evicted for size. An absent or expired
	// entry is reported as ok == false with a nil error.
	Get(ctx context.Context, fn string, key []byte, lim Limits) (value []byte, ok bool, err error)

	// Set stores value under key in fn, replacing any previous value, and
	// makes it fn's most recently used entry (for limits other than a
	// positive MaxSize a store may skip that bookkeeping, as for Get). In
	// the same atomic step, as seen by every client of the backend, it
	// evicts fn's least recently used entries so that fn holds at most
	// lim.MaxSize live entries.
	// With lim.MaxSize == 0 Set stores nothing; with Unbounded it never
	// evicts. A positive lim.TTL makes the entry expire that long after
	// this Set.
	Set(ctx context.Context, fn string, key, value []byte, lim Limits) error

	// Clear removes every entry of fn, and no other.
	Clear(ctx context.Context, fn string) error

	// Len reports how many live (stored, unexpired) entries fn holds.
	Len(ctx context.Context, fn string) (int64, error)

	// Close releases the store's resources. Calls after Close fail.
	Close() error
}

// A Bounder is a Store that promises a bound on how long one memoized
// call waits on it, whatever the backend does: down, silent, partitioned,
// slow or locked by another process. Every store of this module is one.
//
// The store bounds each of its operations by Bound itself. A call that
// makes two (the Get that misses, then the Set of the computed result)
// gives the Set only what remains of Bound after the Get, as the
// deadline of its context; the Set is skipped when nothing remains or the
// Get failed. So no call waits on a Bounder longer than Bound in all.
type Bounder interface {
	Store
	// Bound reports the longest time one call waits on the store.
	Bound() time.Duration
}

// Limits are a function's options that a store enforces: the runtime
// passes the same Limits to every Get and Set of one function.
type Limits struct {
	// MaxSize is the most entries fn may hold: Unbounded, 0 (store
	// nothing) or a positive count.
	MaxSize int64
	// TTL is how long the entry lives; zero means it never expires.
	TTL time.Duration
}

// An Opener opens a store from a URL whose scheme it was registered for.
type Opener func(ctx context.Context, rawURL string) (Store, error)

var (
	schemesMu sync.RWMutex
	schemes   = map[string]Opener{} // guarded by schemesMu
)

// RegisterScheme makes OpenURL open URLs of the given scheme with open.
// Store packages call it from init, as database/sql drivers do; importing
// a store package is what links its driver. It panics if the scheme is
// registered twice or open is nil.
func RegisterScheme(scheme string, open Opener) {
	schemesMu.Lock()
	defer schemesMu.Unlock()
	if open == nil {
		panic("picocache: RegisterScheme opener is nil")
	}
	scheme = strings.ToLower(scheme)
	if _, dup := schemes[scheme]; dup {
		panic("picocache: RegisterScheme called twice for scheme " + scheme)
	}
	schemes[scheme] = open
}

// Schemes returns the sorted list of registered URL schemes.
func Schemes() []string {
	schemesMu.RLock()
	defer schemesMu.RUnlock()
	list := make([]string, 0, len(schemes))
	for s := range schemes {
		list = append(list, s)
	}
	sort.Strings(list)
	return list
}

// OpenURL opens a store from a URL such as "sqlite:///var/cache/app.db",
// "redis://localhost:6379/0" or "postgres://localhost/app", using the
// opener registered for its scheme. The package that registers a scheme
// must be imported, usually for its side effect:
//
//	import _ "github.com/picocache/picocache/runtime/redis"
func OpenURL(ctx context.Context, rawURL string) (Store, error) {
	// storekit.ParseURL, not url.Parse: url.Parse's error repeats the
	// whole URL, password included.
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("picocache: bad store URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	schemesMu.RLock()
	open := schemes[scheme]
	schemesMu.RUnlock()
	if open == nil {
		if scheme == "" {
			return nil, fmt.Errorf("picocache: store URL %q has no scheme (registered: %s)", storekit.Redact(rawURL), strings.Join(Schemes(), ", "))
		}
		return nil, fmt.Errorf("picocache: no store registered for scheme %q (registered: %s); import its package, for example _ \"github.com/picocache/picocache/runtime/%s\"",
			scheme, strings.Join(Schemes(), ", "), packageFor(scheme))
	}
	return open(ctx, rawURL)
}

func packageFor(scheme string) string {
	switch scheme {
	case "redis", "rediss", "redis+sentinel", "unix":
		return "redis"
	case "postgres", "postgresql", "mysql":
		return "sqldb"
	}
	return "sqlite"
}
