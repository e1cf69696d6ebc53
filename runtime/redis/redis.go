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

// ErrClosed is returned by calls on a Store after Close.
var ErrClosed = errors.New("picocache/redis: store is closed")

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
	// after a network error (URL: max_retries=N; 0 disables retries).
	DefaultRetries = 2
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
	c      rueidis.Client
	own    bool        // Close closes c
	closed atomic.Bool // set by Close

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
func New(c rueidis.Client) *Store {
	return &Store{c: c}
}

// Open connects to the server or Cluster named by a redis:// or rediss://
// URL, in the form that [ParseURL] describes, and returns a Store that owns
// the connection: Close closes it.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	opt, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("picocache/redis: connect to %s: %w", redact(rawURL), err)
	}
	return &Store{c: c, own: true}, nil
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
// client_name, master_set (Sentinel: the hosts are then sentinels).
//
// ParseURL then applies the store's defaults where the URL sets none:
// DefaultDialTimeout, DefaultWriteTimeout, DefaultRetries retries of
// read-only commands, and no client-side caching (the store does not use it).
func ParseURL(rawURL string) (rueidis.ClientOption, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return rueidis.ClientOption{}, fmt.Errorf("picocache/redis: bad URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return rueidis.ClientOption{}, fmt.Errorf("picocache/redis: URL scheme %q is not redis or rediss", u.Scheme)
	}
	opt, err := rueidis.ParseURL(rawURL)
	if err != nil {
		return opt, fmt.Errorf("picocache/redis: bad URL %s: %w", u.Redacted(), err)
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
	retries := DefaultRetries
	if q.Has("max_retries") {
		if retries, err = strconv.Atoi(q.Get("max_retries")); err != nil || retries < 0 {
			return opt, fmt.Errorf("picocache/redis: bad URL %s: max_retries %q is not a count", u.Redacted(), q.Get("max_retries"))
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

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
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
		return nil, false, fmt.Errorf("picocache/redis: get: %w", err)
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
	n := s.namesOf(fn)
	member := string(key)
	err := setScript.Exec(ctx, s.c,
		[]string{n.entry + member, n.lru, n.seq, n.exp},
		[]string{string(value), member, strconv.FormatInt(lim.MaxSize, 10), strconv.FormatInt(ttl, 10), n.entry},
	).Error()
	if err != nil {
		return fmt.Errorf("picocache/redis: set: %w", err)
	}
	return nil
}

// Clear removes every entry of fn, in batches of script calls that each
// delete up to 512 indexed entries; the keyspace is never scanned.
func (s *Store) Clear(ctx context.Context, fn string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	n := s.namesOf(fn)
	keys := []string{n.lru, n.exp, n.seq}
	args := []string{n.entry, strconv.Itoa(clearBatch)}
	for {
		left, err := clearScript.Exec(ctx, s.c, keys, args).AsInt64()
		if err != nil {
			return fmt.Errorf("picocache/redis: clear: %w", err)
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
	n := s.namesOf(fn)
	keys := []string{n.lru, n.exp}
	args := []string{strconv.Itoa(lenBatch)}
	for {
		c, err := lenScript.Exec(ctx, s.c, keys, args).AsInt64()
		if err != nil {
			return 0, fmt.Errorf("picocache/redis: len: %w", err)
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
