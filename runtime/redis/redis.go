package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	"github.com/redis/rueidis"
)

func init() {
	runtime.RegisterScheme("redis", openURL)
	runtime.RegisterScheme("rediss", openURL)
}

func openURL(ctx context.Context, rawURL string) (runtime.Store, error) {
	return Open(ctx, rawURL)
}

// ErrClosed is returned by calls on a Store after Close. It wraps
// runtime.ErrClosed.
var ErrClosed = fmt.Errorf("redis: %w", runtime.ErrClosed)

// Defaults that Open and ParseURL apply where the URL does not say
// otherwise. A cache must not make a call wait long for a server that is
// down: the call then computes its result and counts a store failure.
const (
	// DefaultDialTimeout bounds connecting to a node (URL: dial_timeout).
	DefaultDialTimeout = 2 * time.Second
	// DefaultWriteTimeout bounds waiting for a reply on a connection
	// (URL: write_timeout); rueidis then closes the connection.
	DefaultWriteTimeout = 3 * time.Second
	// DefaultRetries is how many times a read-only command is retried
	// after a network error (URL: max_retries=N; 0 disables retries),
	// within DefaultTimeout.
	DefaultRetries = 2
	// DefaultTimeout bounds each operation of a Store, retries included,
	// and its opening: past it a call gives up on the store and computes.
	// It is the Store's runtime.Bounder bound.
	DefaultTimeout = 3 * time.Second
)

// Store is a runtime.Store on Redis or Redis Cluster. It is safe for
// concurrent use by multiple goroutines, and several processes may share one
// server: every write and every eviction is one server-side script.
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
	c    rueidis.Client
	// What the Options set, for start to give the core.
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

// New returns a Store that uses an existing client, standalone or Cluster.
// The caller keeps ownership: Close does not close c. Configure c so that
// a server that is down fails calls promptly (see ParseURL for the
// settings Open uses); a rueidis client with default options retries
// read-only commands until the context ends.
func New(c rueidis.Client, opts ...Option) *Store {
	return newStore(opts).start(c, false)
}

// newStore returns a Store with opts applied, to start.
func newStore(opts []Option) *Store {
	s := &Store{timeout: DefaultTimeout, delay: storekit.DefaultFlushDelay}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// start makes s use c, which Close closes if own.
func (s *Store) start(c rueidis.Client, own bool) *Store {
	s.c = c
	cfg := redisstore.Config{Name: "redis", ErrClosed: ErrClosed, Timeout: s.timeout, FlushDelay: s.delay, Prune: s.prune}
	if own {
		cfg.Release = func() { c.Close() }
	}
	s.core = redisstore.New(&client{c}, cfg)
	return s
}

// An Option changes a Store made by New or Open.
type Option func(*Store)

// WithTimeout sets the longest any operation of the Store waits for the
// server, retries included: its runtime.Bounder bound (DefaultTimeout if
// not given; URL: timeout=DURATION). A d that is not positive leaves
// DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithFlushDelay sets how long the recency of a hit may stay in the
// process before the Store applies it on the server, unless a Set of the
// same function applies it sooner (storekit's default of 1s if not given;
// URL: flush=DURATION). Other processes see this process's hits in their
// evictions at most that late. A d that is not positive leaves the
// default.
func WithFlushDelay(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.delay = d
		}
	}
}

// WithPrune makes the Store delete, by itself, the namespaces (functions
// and versions) that no process used for unusedFor: about a minute after
// it is made, then once a day, in the background, as runtime.Prune does;
// Close stops it first. Off by default. 720h (30 days) suits most
// programs: every deploy that changes a function starts a new version,
// and the old one's entries go a month after the last process used it.
// URL: prune=DURATION. A unusedFor that is not positive changes nothing.
func WithPrune(unusedFor time.Duration) Option {
	return func(s *Store) {
		if unusedFor > 0 {
			s.prune = unusedFor
		}
	}
}

// Bound implements runtime.Bounder: no operation of the Store, retries
// included, waits longer than its timeout (DefaultTimeout unless
// WithTimeout says otherwise) for the server.
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
// sorted by name. See the package documentation.
func (s *Store) Namespaces(ctx context.Context) ([]runtime.NamespaceInfo, error) {
	return s.core.Namespaces(ctx)
}

// DeleteNamespace implements runtime.Lister: it deletes the namespace's
// entries in batches of 512, checking its last use in the registry before
// each one when unusedSince is not zero. See the package documentation for
// what happens to its registration.
func (s *Store) DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (bool, error) {
	return s.core.DeleteNamespace(ctx, name, unusedSince)
}

// Close implements runtime.Store: it stops WithPrune's pruning, makes
// later calls fail with ErrClosed, applies the reads and records the uses
// not yet applied (within the Store's bound; its error is Close's) and,
// for a Store from Open, closes its connections. Closing twice is a
// no-op.
func (s *Store) Close() error { return s.core.Close() }

// Client returns the rueidis client the Store uses.
func (s *Store) Client() rueidis.Client { return s.c }

// Open connects to the server or Cluster named by a redis:// or rediss://
// URL, in the form that [ParseURL] describes, and returns a Store that owns
// the connection: Close closes it. Options given here override the URL's.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	opt, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// Checked by ParseURL.
	timeout, _ := urlDuration(rawURL, "timeout")
	delay, _ := urlDuration(rawURL, "flush")
	prune, _ := urlDuration(rawURL, "prune")
	s := newStore(append([]Option{WithTimeout(timeout), WithFlushDelay(delay), WithPrune(prune)}, opts...))
	c, err := connect(ctx, opt, s.timeout)
	if err != nil {
		return nil, fmt.Errorf("redis: connecting to %s: %w", storekit.Redact(rawURL), err)
	}
	return s.start(c, true), nil
}

// urlDuration returns the URL's parameter name, a positive duration, or
// zero when absent.
func urlDuration(rawURL, name string) (time.Duration, error) {
	u, err := storekit.ParseURL(rawURL)
	if err != nil || !u.Query().Has(name) {
		return 0, err
	}
	v := u.Query().Get(name)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q is not a positive duration such as 3s", name, v)
	}
	return d, nil
}

// connect is rueidis.NewClient, which dials and greets the server before
// it returns, bounded by timeout and ctx: rueidis bounds the dial and the
// greeting each, not the two together, nor a Cluster's discovery. A
// client that connects after connect gave up is closed.
func connect(ctx context.Context, opt rueidis.ClientOption, timeout time.Duration) (rueidis.Client, error) {
	type result struct {
		c   rueidis.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := rueidis.NewClient(opt)
		done <- result{c, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case r := <-done:
		return r.c, r.err
	case <-timer.C:
		err = fmt.Errorf("no answer within %v", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	go func() {
		if r := <-done; r.c != nil {
			r.c.Close()
		}
	}()
	return nil, err
}

// ParseURL returns the rueidis options that Open uses for rawURL, for a
// caller who wants to adjust them, create the client with
// rueidis.NewClient and pass it to New.
//
// The URL is parsed by rueidis.ParseURL:
//
//	redis://[user[:password]@]host[:port][/db][?option=value&...]
//	rediss://...                   TLS (skip_verify=true to skip certificate checks)
//	redis://h1:p1?addr=h2:p2&addr=h3:p3   several seed nodes of a Cluster
//
// A single address that runs in cluster mode is detected as a Cluster too.
// Options: db, dial_timeout, write_timeout, max_retries, protocol=2,
// client_name, master_set (Sentinel: the hosts are then sentinels), and
// the store's own timeout=DURATION (WithTimeout), flush=DURATION
// (WithFlushDelay) and prune=DURATION (WithPrune, such as 720h), which
// Open reads and rueidis ignores.
//
// ParseURL then applies the store's defaults where the URL sets none:
// DefaultDialTimeout, DefaultWriteTimeout, DefaultRetries retries of
// read-only commands, and no client-side caching (the store does not use it).
//
// Its errors name the URL without its password, and come with zero
// options, which would hold it.
func ParseURL(rawURL string) (rueidis.ClientOption, error) {
	// storekit.ParseURL, not url.Parse: url.Parse's error repeats the
	// whole URL, password included.
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("redis: bad URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return rueidis.ClientOption{}, fmt.Errorf("redis: URL scheme %q is not redis or rediss", u.Scheme)
	}
	opt, err := rueidis.ParseURL(rawURL)
	if err != nil {
		// rueidis.ParseURL returns url.Parse's error as it is, URL and
		// password included. It cannot fail there on a URL that parsed
		// above, but keep only the reason should it ever do; its own
		// errors quote a path or a query value, never the userinfo.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return rueidis.ClientOption{}, fmt.Errorf("redis: bad URL %s: %w", storekit.Redact(rawURL), err)
	}
	q := u.Query()
	// rueidis.ParseURL (v1.0.79) turns addr=host, without a port, into the
	// URL's own host: give such seeds the default port instead.
	if extra := q["addr"]; len(extra) > 0 && len(opt.InitAddress) == 1+len(extra) {
		for i, a := range extra {
			if _, _, err := net.SplitHostPort(a); err != nil && a != "" && !strings.Contains(a, "]") {
				opt.InitAddress[1+i] = net.JoinHostPort(a, "6379")
			}
		}
	}
	if !q.Has("dial_timeout") {
		opt.Dialer.Timeout = DefaultDialTimeout
	}
	if !q.Has("write_timeout") {
		opt.ConnWriteTimeout = DefaultWriteTimeout
	}
	for _, name := range []string{"timeout", "flush", "prune"} {
		if _, err := urlDuration(rawURL, name); err != nil {
			return rueidis.ClientOption{}, fmt.Errorf("redis: bad URL %s: %w", storekit.Redact(rawURL), err)
		}
	}
	retries := DefaultRetries
	if q.Has("max_retries") {
		if retries, err = strconv.Atoi(q.Get("max_retries")); err != nil || retries < 0 {
			return rueidis.ClientOption{}, fmt.Errorf("redis: bad URL %s: max_retries %q is not a count", storekit.Redact(rawURL), q.Get("max_retries"))
		}
	}
	opt.RetryDelay = retryDelay(retries)
	opt.DisableCache = true
	return opt, nil
}

// retryDelay retries a read-only command n times, shortly, then gives up.
// rueidis's default retries until the context ends, which would make every
// call wait while the server is down.
func retryDelay(n int) rueidis.RetryDelayFn {
	return func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts >= n {
			return -1
		}
		return time.Duration(attempts+1) * 10 * time.Millisecond
	}
}
