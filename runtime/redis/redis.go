package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	"github.com/redis/rueidis"
	"golang.org/x/sync/semaphore"
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
//
// A hit is a plain GET. For a bounded function the Store records in the
// process which keys its reads hit (and missed), and hands them to the
// server in batches (see scripts.go): with the next Set of the function
// from this process, in the same script as its eviction; within the flush
// delay (WithFlushDelay) otherwise; when a batch is full; on Flush and on
// Close.
type Store struct {
	c       rueidis.Client
	own     bool          // Close closes c
	timeout time.Duration // bounds each operation
	delay   time.Duration // how long a read's recency may wait in the process
	closed  atomic.Bool   // set by Close, under mu

	flusher  *storekit.Flusher
	deadline atomic.Pointer[deadline] // see bound
	// life ends with Close, and with it a background flush in progress.
	life context.Context
	end  context.CancelFunc

	mu      sync.Mutex
	spaces  map[spaceKey]*space  // guarded by mu
	fns     map[string]*function // guarded by mu; by namespace name
	tracked []*function          // guarded by mu; those with a bounded Space, in order
}

var (
	_ runtime.Store   = (*Store)(nil)
	_ runtime.Bounder = (*Store)(nil)
	_ runtime.Flusher = (*Store)(nil)
)

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

func newNames(fn string) names {
	sum := sha256.Sum256([]byte(fn))
	base := "pc:{" + hex.EncodeToString(sum[:nameLen/2]) + "}:"
	return names{entry: base + "k:", lru: base + "lru", seq: base + "seq", exp: base + "exp"}
}

// function is what a Store keeps of one namespace, shared by its Spaces:
// its keys, and the reads of its bounded Spaces not yet applied. It is
// safe for concurrent use.
type function struct {
	names
	hits   storekit.Touches // keys whose GET found an entry
	misses storekit.Touches // keys whose GET found none
	// gate orders the batches of this process: a Set or a flush
	// (touchScript) holds all of it from taking the pending batch until
	// its script has run. So this process's Sets and flushes of one
	// function reach the server in the order they took their batches, and
	// every Set's eviction sees every read this process made before it.
	// (With Sets in parallel, a Set that took a batch could reach the
	// server after another Set had evicted an entry the batch touched.)
	gate *semaphore.Weighted
}

// gateAll is the weight of a flush in function.gate: more than any number
// of concurrent Sets.
const gateAll = 1 << 40

// pending reports whether fn has reads not yet applied.
func (fn *function) pending() bool { return fn.hits.Len()+fn.misses.Len() > 0 }

// take removes fn's pending reads, cut into batches for scripts. A miss
// of setting, the key a Set is about to store, is left out: the Set
// indexes it afresh.
func (fn *function) take(setting []byte) []batch {
	misses := fn.misses.Take()
	if setting != nil {
		misses = slices.DeleteFunc(misses, func(k []byte) bool { return bytes.Equal(k, setting) })
	}
	return split(fn.hits.Take(), misses)
}

// put returns batches that could not be applied to fn's pending reads.
func (fn *function) put(bs []batch) {
	for _, b := range bs {
		fn.hits.Put(b.hits)
		fn.misses.Put(b.misses)
	}
}

// touchBatch is the most members one script call carries, so that no
// call blocks the server for long.
const touchBatch = 512

// batch is part of a function's pending reads, small enough for one
// script call.
type batch struct{ hits, misses [][]byte }

// split cuts a function's pending reads into batches of at most touchBatch
// keys: the misses first, then the hits in the order given, so that the
// last batch holds the latest hits.
func split(hits, misses [][]byte) []batch {
	n := len(hits) + len(misses)
	if n == 0 {
		return nil
	}
	bs := make([]batch, 0, (n+touchBatch-1)/touchBatch)
	for i := 0; i < n; i += touchBatch {
		j := min(i+touchBatch, n)
		var b batch
		if i < len(misses) {
			b.misses = misses[i:min(j, len(misses))]
		}
		if j > len(misses) {
			b.hits = hits[max(i-len(misses), 0) : j-len(misses)]
		}
		bs = append(bs, b)
	}
	return bs
}

// appendArgs appends b as the scripts take a batch: the number of hits,
// the hits, the misses.
func (b batch) appendArgs(args []string) []string {
	args = append(args, strconv.Itoa(len(b.hits)))
	for _, k := range b.hits {
		args = append(args, string(k))
	}
	for _, k := range b.misses {
		args = append(args, string(k))
	}
	return args
}

// New returns a Store that uses an existing client, standalone or Cluster.
// The caller keeps ownership: Close does not close c. Configure c so that
// a server that is down fails calls promptly (see ParseURL for the
// settings Open uses); a rueidis client with default options retries
// read-only commands until the context ends.
func New(c rueidis.Client, opts ...Option) *Store {
	s := &Store{
		c:       c,
		timeout: DefaultTimeout,
		delay:   storekit.DefaultFlushDelay,
		spaces:  make(map[spaceKey]*space),
		fns:     make(map[string]*function),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.flusher = storekit.NewFlusher(s.delay, s.flushPending)
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

// Bound implements runtime.Bounder: no operation of the Store, retries
// included, waits longer than its timeout (DefaultTimeout unless
// WithTimeout says otherwise) for the server.
func (s *Store) Bound() time.Duration { return s.timeout }

// bound applies the Store's timeout to ctx, unless ctx ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= s.timeout {
		return ctx, noCancel
	}
	if ctx.Done() == nil {
		// A context that is never canceled, as most calls pass: share a
		// deadline with the calls of the last few milliseconds rather
		// than start a timer for each (a hit's cost is mostly that).
		d := s.shared()
		if ctx == context.Background() || ctx == context.TODO() {
			return d, noCancel
		}
		return &valuesCtx{d, ctx}, noCancel
	}
	return context.WithTimeout(ctx, s.timeout)
}

func noCancel() {}

// sharedEvery is how long calls share one deadline: each of them gets
// between timeout-sharedEvery and timeout.
const sharedEvery = 10 * time.Millisecond

// deadline is a context with a deadline, shared by the calls that began
// in the sharedEvery after start.
type deadline struct {
	context.Context
	cancel context.CancelFunc
	start  time.Time
}

// shared returns the deadline for a call that begins now: at most the
// Store's timeout from now, and no less than sharedEvery (or a 16th of the
// timeout) short of it. A deadline no longer handed out ends, and frees
// its timer, at its time.
func (s *Store) shared() context.Context {
	d := s.deadline.Load()
	now := time.Now()
	if d != nil && now.Sub(d.start) < min(sharedEvery, s.timeout/16) {
		return d
	}
	nd := &deadline{start: now}
	nd.Context, nd.cancel = context.WithDeadline(context.Background(), now.Add(s.timeout))
	s.deadline.CompareAndSwap(d, nd) // or another call renewed it: nd serves this one
	return nd
}

// valuesCtx is a shared deadline with the values of a call's own
// context, which is never canceled.
type valuesCtx struct {
	context.Context                 // the deadline
	values          context.Context // the call's
}

func (c *valuesCtx) Value(key any) any { return c.values.Value(key) }

// failed names the operation in err, and says so when it ran out of the
// Store's bound, whose bare "context deadline exceeded" tells little.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return ErrClosed // the connection closed under the call
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("redis: %s: no answer in time (the store waits at most %v): %w", op, s.timeout, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

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
	s := New(nil, append([]Option{WithTimeout(timeout), WithFlushDelay(delay)}, opts...)...)
	s.own = true
	if s.c, err = connect(ctx, opt, s.timeout); err != nil {
		return nil, fmt.Errorf("redis: connecting to %s: %w", storekit.Redact(rawURL), err)
	}
	return s, nil
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
// the store's own timeout=DURATION (WithTimeout) and flush=DURATION
// (WithFlushDelay), which Open reads and rueidis ignores.
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
	for _, name := range []string{"timeout", "flush"} {
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

// Client returns the rueidis client the Store uses.
func (s *Store) Client() rueidis.Client { return s.c }

// spaceKey names a Space among a Store's: a namespace with its limits.
type spaceKey struct {
	name string
	lim  runtime.Limits
}

// Space implements runtime.Store. It reaches no server: the Space of a
// namespace and limits is made once and kept until Close, and every
// Space of one namespace shares the reads not yet applied.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	k := spaceKey{ns.Name, ns.Limits}
	if sp := s.spaces[k]; sp != nil {
		return sp, nil
	}
	fn := s.fns[ns.Name]
	if fn == nil {
		fn = &function{names: newNames(ns.Name), gate: semaphore.NewWeighted(gateAll)}
		s.fns[ns.Name] = fn
	}
	sp := &space{s: s, fn: fn, lim: ns.Limits, bounded: ns.MaxSize > 0, max: strconv.FormatInt(ns.MaxSize, 10), ttl: "0"}
	if ns.TTL > 0 {
		sp.ttl = strconv.FormatInt(int64((ns.TTL+time.Millisecond-1)/time.Millisecond), 10)
	}
	if sp.bounded && !slices.Contains(s.tracked, fn) {
		s.tracked = append(s.tracked, fn)
	}
	s.spaces[k] = sp
	return sp, nil
}

// space is a runtime.Space of a Store: one function's entries, with the
// limits it was opened with. It is safe for concurrent use.
type space struct {
	s       *Store
	fn      *function
	lim     runtime.Limits
	bounded bool   // lim.MaxSize > 0: reads are recorded
	max     string // lim.MaxSize, as setScript takes it
	ttl     string // lim.TTL in ms, rounded up, as setScript takes it
}

// Get implements runtime.Space: one GET. For a bounded function it records
// the key, hit or missed, to be applied later (see Store). A hit asks for
// a flush within the delay; a miss waits for the next batch, which is
// almost always the Set of the result that follows it.
func (sp *space) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// The reply's string is fresh and referenced by nothing else, so
	// AsBytes's view of it can be handed to the caller without a copy.
	v, err := s.c.Do(ctx, s.c.B().Get().Key(fn.entry+string(key)).Build()).AsBytes()
	if err != nil {
		if !rueidis.IsRedisNil(err) {
			return nil, false, s.failed(ctx, "get", err)
		}
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

// apply applies fn's pending reads on the server, through touchScript.
// What cannot be applied stays pending.
func (s *Store) apply(ctx context.Context, fn *function) error {
	if err := fn.gate.Acquire(ctx, gateAll); err != nil {
		return err
	}
	defer fn.gate.Release(gateAll)
	return s.touch(ctx, fn, fn.take(nil))
}

// touch runs touchScript for each batch of fn in turn; from the first that
// fails on, the batches go back to fn's pending reads.
func (s *Store) touch(ctx context.Context, fn *function, bs []batch) error {
	keys := []string{fn.lru, fn.seq, fn.exp}
	for i, b := range bs {
		args := b.appendArgs(append(make([]string, 0, 2+len(b.hits)+len(b.misses)), fn.entry))
		if err := touchScript.Exec(ctx, s.c, keys, args).Error(); err != nil {
			fn.put(bs[i:])
			return err
		}
	}
	return nil
}

// Set implements runtime.Space: one script stores the value, applies the
// function's pending reads and evicts beyond its maxsize. (A batch larger
// than one script call takes goes first, but for its latest part,
// through touchScript.)
func (sp *space) Set(ctx context.Context, key, value []byte) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return ErrClosed
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
	args = append(args, string(value), member, sp.max, sp.ttl, fn.entry)
	if sp.bounded {
		args = last.appendArgs(args)
	}
	err := setScript.Exec(ctx, s.c, []string{fn.entry + member, fn.lru, fn.seq, fn.exp}, args).Error()
	if err != nil {
		fn.put([]batch{last})
		return s.failed(ctx, "set", err)
	}
	return nil
}

// Clear implements runtime.Space: batches of script calls that each delete
// up to 512 indexed entries; the keyspace is never scanned. The
// function's reads not yet applied are dropped.
func (sp *space) Clear(ctx context.Context) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	fn.take(nil)
	keys := []string{fn.lru, fn.exp, fn.seq}
	args := []string{fn.entry, strconv.Itoa(clearBatch)}
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

// Len implements runtime.Space: it applies the function's pending reads
// (so that entries this process found gone are not counted), prunes the
// expired entries from the index and counts the rest.
func (sp *space) Len(ctx context.Context) (int64, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return 0, ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if fn.pending() {
		if err := s.apply(ctx, fn); err != nil {
			return 0, s.failed(ctx, "len", err)
		}
	}
	keys := []string{fn.lru, fn.exp}
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

// Flush implements runtime.Flusher: it applies the reads of every bounded
// function recorded so far.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.flush(ctx)
}

// flushPending is the Flusher's flush: within the Store's bound, and
// ended by Close, which flushes what remains itself.
func (s *Store) flushPending() {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	s.flush(ctx) // what fails stays pending, for the next flush
}

// flush applies the pending reads of every bounded function, one function
// at a time, and returns the first failure.
func (s *Store) flush(ctx context.Context) error {
	s.mu.Lock()
	fns := slices.Clone(s.tracked)
	s.mu.Unlock()
	var first error
	for _, fn := range fns {
		if !fn.pending() {
			continue
		}
		if err := s.apply(ctx, fn); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return s.failed(ctx, "flush", first)
	}
	return nil
}

// Close implements runtime.Store: it makes later calls fail with
// ErrClosed, applies the reads not yet applied (within the Store's bound;
// its error is Close's) and, for a Store from Open, closes its
// connections. Closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.end() // a background flush in progress gives up, its reads pending
	s.flusher.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	err := s.flush(ctx)
	cancel()
	if d := s.deadline.Load(); d != nil {
		d.cancel()
	}
	if s.own {
		s.c.Close()
	}
	return err
}
