package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// clearBatch and lenBatch bound the work of one Clear or Len script call,
// so that no call blocks the server for long.
const (
	clearBatch = 512
	lenBatch   = 1024
)

// Store is a runtime.Store on Redis or Redis Cluster. It is safe for
// concurrent use by multiple goroutines, and several processes may share one
// server: every write and every eviction is one server-side script.
type Store struct {
	c       rueidis.Client
	own     bool          // Close closes c
	timeout time.Duration // bounds each operation
	closed  atomic.Bool   // set by Close

	names sync.Map // fn string -> *names, derived once per function
}

var _ runtime.Store = (*Store)(nil)

// names are the Redis keys of one function; see scripts.go for the layout.
type names struct {
	entry string // prefix of entry keys: "pc:{tag}:k:"
	lru   string
	seq   string
	exp   string
}

// nameLen is the number of hex digits of the hash tag: 128 bits of
// SHA-256(fn), so two functions sharing a namespace is not a practical
// concern.
const nameLen = 32

func newNames(fn string) *names {
	sum := sha256.Sum256([]byte(fn))
	base := "pc:{" + hex.EncodeToString(sum[:nameLen/2]) + "}:"
	return &names{entry: base + "k:", lru: base + "lru", seq: base + "seq", exp: base + "exp"}
}

func (s *Store) namesOf(fn string) *names {
	if n, ok := s.names.Load(fn); ok {
		return n.(*names)
	}
	n, _ := s.names.LoadOrStore(fn, newNames(fn))
	return n.(*names)
}

// New returns a Store that uses an existing client, standalone or Cluster.
// The caller keeps ownership: Close does not close c. Configure c so that
// a server that is down fails calls promptly (see ParseURL for the
// settings Open uses); a rueidis client with default options retries
// read-only commands until the context ends.
func New(c rueidis.Client, opts ...Option) *Store {
	s := &Store{c: c, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(s)
	}
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

// Bound implements runtime.Bounder: no operation of the Store, retries
// included, waits longer than DefaultTimeout for the server.
func (s *Store) Bound() time.Duration { return s.timeout }

// bound applies the Store's timeout to ctx, unless ctx ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// failed names the operation in err, and says so when it ran out of the
// Store's bound, whose bare "context deadline exceeded" tells little.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("redis: %s: no answer in time (the store waits at most %v): %w", op, s.timeout, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// Open connects to the server or Cluster named by a redis:// or rediss://
// URL, in the form that [ParseURL] describes, and returns a Store that owns
// the connection: Close closes it.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	opt, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	timeout, _ := urlTimeout(rawURL) // checked by ParseURL
	s := New(nil, append([]Option{WithTimeout(timeout)}, opts...)...)
	s.own = true
	if s.c, err = connect(ctx, opt, s.timeout); err != nil {
		return nil, fmt.Errorf("redis: connecting to %s: %w", storekit.Redact(rawURL), err)
	}
	return s, nil
}

// urlTimeout returns the URL's timeout parameter, zero when absent.
func urlTimeout(rawURL string) (time.Duration, error) {
	u, err := storekit.ParseURL(rawURL)
	if err != nil || !u.Query().Has("timeout") {
		return 0, err
	}
	d, err := time.ParseDuration(u.Query().Get("timeout"))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout %q is not a positive duration such as 3s", u.Query().Get("timeout"))
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
// the store's own timeout (WithTimeout; Open reads it, rueidis ignores it).
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
	if _, err := urlTimeout(rawURL); err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("redis: bad URL %s: %w", storekit.Redact(rawURL), err)
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

// Client returns the rueidis client the Store uses.
func (s *Store) Client() rueidis.Client { return s.c }

// Get returns the live value of key in fn. For a bounded function
// (lim.MaxSize > 0) one script reads the value and marks it most recently
// used; otherwise it is a plain GET.
func (s *Store) Get(ctx context.Context, fn string, key []byte, lim runtime.Limits) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := s.namesOf(fn)
	k := n.entry + string(key)
	var r rueidis.RedisResult
	if lim.MaxSize > 0 {
		r = getScript.Exec(ctx, s.c, []string{k, n.lru, n.seq, n.exp}, []string{string(key)})
	} else {
		r = s.c.Do(ctx, s.c.B().Get().Key(k).Build())
	}
	// The reply's string is fresh and referenced by nothing else, so
	// AsBytes's view of it can be handed to the caller without a copy.
	v, err := r.AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, false, nil
		}
		return nil, false, s.failed(ctx, "get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Set stores value under key in fn, makes it the most recently used entry
// and evicts beyond lim.MaxSize, in one atomic script.
func (s *Store) Set(ctx context.Context, fn string, key, value []byte, lim runtime.Limits) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if lim.MaxSize == 0 {
		return nil
	}
	var ttl int64
	if lim.TTL > 0 {
		ttl = int64((lim.TTL + time.Millisecond - 1) / time.Millisecond)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := s.namesOf(fn)
	member := string(key)
	err := setScript.Exec(ctx, s.c,
		[]string{n.entry + member, n.lru, n.seq, n.exp},
		[]string{string(value), member, strconv.FormatInt(lim.MaxSize, 10), strconv.FormatInt(ttl, 10), n.entry},
	).Error()
	if err != nil {
		return s.failed(ctx, "set", err)
	}
	return nil
}

// Clear removes every entry of fn, in batches of script calls that each
// delete up to 512 indexed entries; the keyspace is never scanned.
func (s *Store) Clear(ctx context.Context, fn string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := s.namesOf(fn)
	keys := []string{n.lru, n.exp, n.seq}
	args := []string{n.entry, strconv.Itoa(clearBatch)}
	for {
		left, err := clearScript.Exec(ctx, s.c, keys, args).AsInt64()
		if err != nil {
			return s.failed(ctx, "clear", err)
		}
		if left == 0 {
			return nil
		}
	}
}

// Len reports how many live entries fn holds, after pruning the expired
// ones from its index.
func (s *Store) Len(ctx context.Context, fn string) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := s.namesOf(fn)
	keys := []string{n.lru, n.exp}
	args := []string{strconv.Itoa(lenBatch)}
	for {
		c, err := lenScript.Exec(ctx, s.c, keys, args).AsInt64()
		if err != nil {
			return 0, s.failed(ctx, "len", err)
		}
		if c >= 0 {
			return c, nil
		}
	}
}

// Close makes later calls fail with ErrClosed and, for a Store from Open,
// closes its connections. Closing twice is a no-op.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.own {
		s.c.Close()
	}
	return nil
}
