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

// Store keeps memoized results as bytes, for many functions. It is the
// contract every backend implements; runtime/storetest checks it. A Store
// must be safe for concurrent use by multiple goroutines, and a shared
// backend (a database file, a server) must stay correct when several
// processes use it at once.
//
// A Store is asked once per function for its view of that function's
// entries, a Space, given the function's namespace and limits; every
// operation then goes through the Space. Optional abilities are small
// interfaces beside Store and Space, discovered by type assertion; see
// Bounder, Flusher, Values, Promiser and Lister.
type Store interface {
	// Space returns the store's view of the entries of the function
	// named ns.Name, kept within ns.Limits. The runtime calls it once per
	// function (again only after a failure or a new binding) and keeps
	// the Space as long as the function uses the store. Space may reach
	// the backend (to register the namespace, say), bounded as any
	// operation is; it must be safe to call concurrently and repeatedly
	// for one namespace, in any number of processes.
	Space(ctx context.Context, ns Namespace) (Space, error)

	// Close applies what the store has buffered (see Flusher), then
	// releases its resources. Every call after Close, on the Store or
	// on its Spaces, fails with an error for which
	// errors.Is(err, ErrClosed) holds.
	Close() error
}

// Namespace names one function's entries in a store and gives the limits
// the store enforces on them.
type Namespace struct {
	// Name is the function's identity and version, opaque to stores:
	// "example.com/pkg.Fib@1a2b3c4d". Two functions never share a Name.
	Name string
	Limits
}

// Space is one function's entries in a Store. It is safe for concurrent
// use by multiple goroutines.
//
// key and value are arbitrary bytes (zero bytes included). A Space must not
// retain key or value after a call returns, and the slice that Get
// returns belongs to the caller.
//
// Least-recently-used order: for a bounded function (MaxSize > 0) a Get
// that finds an entry makes it the most recently used. A store may apply
// that lazily, as the stores of this module do so that a hit is a read:
// it records the touch in the process and applies the touches in batches,
// at the latest within the next Set of this Space from this process
// (whose eviction then sees them), within a bounded delay otherwise, and
// on Close. Across processes eviction order is then exact up to the
// touches other processes have not applied yet; MaxSize is a hard limit
// regardless.
type Space interface {
	// Get returns the live value stored under key. An absent or expired
	// entry is reported as ok == false with a nil error.
	Get(ctx context.Context, key []byte) (value []byte, ok bool, err error)

	// Set stores value under key, replacing any previous value, as the
	// most recently used entry. In the same atomic step, as seen by
	// every client of the backend, it evicts the least recently used
	// entries so that the namespace holds at most MaxSize live entries.
	// With MaxSize 0 Set stores nothing; with Unbounded it never evicts.
	// A positive TTL makes the entry expire that long after this Set.
	Set(ctx context.Context, key, value []byte) error

	// Clear removes every entry of the namespace, for every process, and
	// no other namespace's.
	Clear(ctx context.Context) error

	// Len reports how many live (stored, unexpired) entries the namespace
	// holds, across every process.
	Len(ctx context.Context) (int64, error)
}

// The optional abilities of a store, each a small interface checked by
// type assertion (the conformance suite checks each one a store has):
// Bounder, Flusher, Values; Promiser, by which a store that cannot keep
// some of the promises above in full (a cache that cannot list or count
// its keys) says which weaker form it keeps; and Lister (namespaces.go),
// which lists namespaces with their counts, sizes and last use and
// deletes one. Later abilities will sit beside these: a cross-process
// lock per key; notification of changes.

// A Promiser is a Store that keeps some of Space's promises in a weaker
// form, and says which, so that its users and the conformance suite know
// what to expect. A Store that is not a Promiser keeps every promise in
// full, and so does one whose Promises are the zero value.
type Promiser interface {
	Store
	// Promises reports the weaker promises the store keeps. It does not
	// change while the store is open.
	Promises() Promises
}

// Promises are the weaker forms of Space's promises that a Promiser
// keeps. Each field weakens one promise; its zero value keeps the promise
// in full.
type Promises struct {
	// LenInProcess: Len counts the live entries that this process
	// knows of (stored or found by this process's Spaces of the
	// function), not those of other processes. Within one process it
	// is exact.
	LenInProcess bool
	// LRUInProcess: MaxSize and least-recently-used order hold among
	// the entries that this process knows of, not across processes:
	// each of n processes evicts only what it knows, so together they
	// may keep up to n×MaxSize live entries of a function, and one
	// process's hits never reach another's evictions.
	LRUInProcess bool
	// ClearDelay is how long after a Clear returns other processes may
	// still read the entries it removed and count them in Len; zero:
	// they see it at once. The process that cleared sees it at once
	// either way.
	ClearDelay time.Duration
	// MaxEntry, when positive, is the most bytes of namespace, key and
	// value together that Set stores. A larger entry is not stored: Set
	// returns nil, the key reads as absent (any earlier value of it
	// included), and the store counts and reports it as it documents.
	MaxEntry int
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

// A Flusher is a Store that buffers work in the process (the recency of
// hits, see Space) and can be told to apply it now. Close flushes too.
type Flusher interface {
	Store
	// Flush applies everything buffered so far.
	Flush(ctx context.Context) error
}

// Values is a Space that keeps Go values in the process, so that a hit
// costs no decoding or copying: the memory store's. A Func bound to a
// store whose Spaces are Values keeps its results through them; byte
// values set through Space.Set and Go values set through SetValue never
// see each other.
type Values interface {
	Space
	// Value returns the live Go value stored under key by SetValue. It
	// makes the entry the most recently used, as Get does.
	Value(key []byte) (v any, ok bool, err error)
	// SetValue stores v under key, as Set stores bytes.
	SetValue(key []byte, v any) error
}

// Limits are a function's options that a store enforces.
type Limits struct {
	// MaxSize is the most entries the function may hold: Unbounded, 0
	// (store nothing) or a positive count.
	MaxSize int64
	// TTL is how long an entry lives; zero means it never expires.
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
	case "memcache":
		return "memcache"
	}
	return "sqlite"
}
