package goredis

import (
	"context"
	"fmt"
	"time"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	"github.com/redis/go-redis/v9"
)

// ErrClosed is returned by calls on a Store after Close. It wraps
// runtime.ErrClosed.
var ErrClosed = fmt.Errorf("goredis: %w", runtime.ErrClosed)

// DefaultTimeout bounds each operation of a Store, retries included: past
// it a call gives up on the store and computes. It is the Store's
// runtime.Bounder bound unless WithTimeout says otherwise.
const DefaultTimeout = 3 * time.Second

// Store is a runtime.Store on a go-redis client: Redis, Redis Cluster, or
// Redis behind Sentinel. It is safe for concurrent use by multiple
// goroutines, and several processes may share one server, through this
// package or runtime/redis: every write and every eviction is one
// server-side script.
//
// A hit is a plain GET. For a bounded function the Store records in the
// process which keys its reads hit (and missed), and hands them to the
// server in batches: with the next Set of the function from this process,
// in the same script as its eviction; within the flush delay
// (WithFlushDelay) otherwise; when a batch is full; on Flush and on Close.
//
// A Store is a runtime.Lister: it lists its namespaces with their entries,
// bytes and last use, from a registry on the server, and deletes them (see
// the package documentation, and WithPrune).
type Store struct {
	core *redisstore.Store // the layout, the scripts, the batches
	c    redis.UniversalClient
	cl   *client
	rc   redisstore.Client // cl, or a guard around it
	// guarded: each call on c runs on a goroutine of its own, which the
	// Store stops waiting for at its bound (see guard).
	guarded bool
	// What the Options set, for New to give the core.
	timeout time.Duration
	delay   time.Duration
	prune   time.Duration
}

var (
	_ runtime.Store   = (*Store)(nil)
	_ runtime.Bounder = (*Store)(nil)
	_ runtime.Flusher = (*Store)(nil)
	_ runtime.Lister  = (*Store)(nil)
)

// New returns a Store on c, a client the application has configured:
// a *redis.Client (redis.NewClient, or redis.NewFailoverClient for
// Sentinel), a *redis.ClusterClient, or any other redis.UniversalClient.
// New reaches no server; the first call of a memoized function is the
// first use of c. The caller keeps ownership of c: Close never closes it.
//
// How the Store keeps each call within its bound depends on c; see the
// package documentation. A *redis.Client with ContextTimeoutEnabled set
// ends every call at the Store's deadline by itself, and a hit then costs
// one GET and nothing more.
func New(c redis.UniversalClient, opts ...Option) *Store {
	s := &Store{c: c, timeout: DefaultTimeout, delay: storekit.DefaultFlushDelay}
	for _, opt := range opts {
		opt(s)
	}
	s.cl = &client{c: c, copy: !freshReplies(c)}
	s.rc = s.cl
	if !contextBound(c) {
		s.guarded = true
		s.rc = &guard{client: s.cl}
	}
	s.core = redisstore.New(s.rc, redisstore.Config{Name: "goredis", ErrClosed: ErrClosed, Timeout: s.timeout, FlushDelay: s.delay, Prune: s.prune})
	return s
}

// An Option changes a Store made by New.
type Option func(*Store)

// WithTimeout sets the longest any operation of the Store waits for the
// server, retries included: its runtime.Bounder bound (DefaultTimeout if
// not given). A d that is not positive leaves DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithFlushDelay sets how long the recency of a hit may stay in the
// process before the Store applies it on the server, unless a Set of the
// same function applies it sooner (one second if not given). Other
// processes see this process's hits in their evictions at most that late.
// A d that is not positive leaves the default.
func WithFlushDelay(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.delay = d
		}
	}
}

// WithPrune makes the Store delete, by itself, the namespaces (functions
// and versions) that no process used for unusedFor: about a minute after
// New, then once a day, in the background, as runtime.Prune does; Close
// stops it first. Off by default. 720h (30 days) suits most programs:
// every deploy that changes a function starts a new version, and the old
// one's entries go a month after the last process used it. A unusedFor
// that is not positive changes nothing.
func WithPrune(unusedFor time.Duration) Option {
	return func(s *Store) {
		if unusedFor > 0 {
			s.prune = unusedFor
		}
	}
}

// Bound implements runtime.Bounder: no operation of the Store waits longer
// than its timeout (DefaultTimeout unless WithTimeout says otherwise) for
// the server, however the client is configured (see the package
// documentation for how).
func (s *Store) Bound() time.Duration { return s.core.Bound() }

// Space implements runtime.Store. It reaches no server: the Space of a
// namespace and limits is made once and kept until Close, and every
// Space of one namespace shares the reads not yet applied. The first
// Space of a namespace in the process has the flusher register it, with
// its use now, in the registry of namespaces (pc:ns) at once, in the
// background.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	return s.core.Space(ctx, ns)
}

// Flush implements runtime.Flusher: it applies the reads of every bounded
// function recorded so far, and records the uses of namespaces not
// recorded yet.
func (s *Store) Flush(ctx context.Context) error { return s.core.Flush(ctx) }

// Namespaces implements runtime.Lister: every namespace in the registry,
// with its live entries, about the bytes of their keys and values (exact
// up to 32 entries, estimated from 32 of them beyond), and its last use,
// sorted by name, as runtime/redis lists them.
func (s *Store) Namespaces(ctx context.Context) ([]runtime.NamespaceInfo, error) {
	return s.core.Namespaces(ctx)
}

// DeleteNamespace implements runtime.Lister: it deletes the namespace's
// entries in batches of 512, checking its last use in the registry before
// each one when unusedSince is not zero, as runtime/redis does.
func (s *Store) DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (bool, error) {
	return s.core.DeleteNamespace(ctx, name, unusedSince)
}

// Close implements runtime.Store: it stops WithPrune's pruning, makes
// later calls fail with ErrClosed and applies the reads and records the
// uses not yet applied (within the Store's bound; its error is Close's).
// It does not close the client, which stays the caller's. Closing twice
// is a no-op.
func (s *Store) Close() error { return s.core.Close() }

// Client returns the go-redis client the Store uses.
func (s *Store) Client() redis.UniversalClient { return s.c }
