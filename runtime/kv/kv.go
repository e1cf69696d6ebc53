package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// ErrClosed is wrapped by the error of every call on a Store, or on its
// Spaces, after Close. It wraps runtime.ErrClosed.
var ErrClosed = fmt.Errorf("kv: %w", runtime.ErrClosed)

// Defaults of a Store made by New, where no Option says otherwise.
const (
	// DefaultTimeout bounds each operation of a Store: its
	// runtime.Bounder bound.
	DefaultTimeout = 2 * time.Second
	// DefaultRefresh is how long a Store uses a function's generation
	// before reading it again: a Clear in another process is seen
	// within it.
	DefaultRefresh = time.Second
	// DefaultPrefix begins every key the Store writes.
	DefaultPrefix = "picocache:"
	// DefaultMaxKeyLen is the longest key the Store writes: memcached's
	// limit.
	DefaultMaxKeyLen = 250
	// DefaultTrackLimit is how many keys of an unbounded function a Store
	// tracks in the process, for Len.
	DefaultTrackLimit = 1 << 14
)

// minHash is the fewest base64 characters of hash (132 bits) a key may
// keep: New panics when the prefix leaves fewer within the max key length.
const minHash = 22

// Store is a runtime.Store on any key-value cache reached through a
// Client. It is safe for concurrent use by multiple goroutines, and several
// processes may share one cache; see the package documentation for what
// each promise becomes there (runtime.Promises).
type Store struct {
	c       Client
	inc     Incrementer // c, when it is one
	name    string      // in messages: "kv", "memcache"
	prefix  string
	maxKey  int
	hashLen int // base64 characters of an entry key's hash
	genLen  int // base64 characters of a generation key's hash
	// maxValue is the longest value (envelope included) the client
	// stores; 0: no limit.
	maxValue   int
	timeout    time.Duration
	refresh    time.Duration
	trackLimit int

	epoch     time.Time // the Store's clock starts here (monotonic)
	errClosed error
	closed    atomic.Bool // set by Close, under mu
	oversize  atomic.Int64
	deadlines storekit.Deadlines // see bound

	// life ends with Close, and with it a refresh of a generation in
	// the background; refreshes counts those running.
	life      context.Context
	end       context.CancelFunc
	refreshes sync.WaitGroup

	mu     sync.Mutex
	spaces map[spaceKey]*space  // guarded by mu
	fns    map[string]*function // guarded by mu; by namespace name
}

var (
	_ runtime.Store    = (*Store)(nil)
	_ runtime.Bounder  = (*Store)(nil)
	_ runtime.Promiser = (*Store)(nil)
)

// An Option changes a Store made by New.
type Option func(*Store)

// WithTimeout sets the longest any operation of the Store waits for the
// cache: its runtime.Bounder bound (DefaultTimeout if not given). A d that
// is not positive leaves the default.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithRefresh sets how long the Store uses a function's generation before
// reading it from the cache again (DefaultRefresh if not given), which is
// how late other processes may see a Clear of this one (runtime.Promises
// ClearDelay). From half of d on, the next call reads it in the background.
// A d that is not positive leaves the default.
func WithRefresh(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.refresh = d
		}
	}
}

// WithPrefix sets what every key the Store writes begins with
// (DefaultPrefix if not given), so that applications sharing a cache keep
// apart: stores with different prefixes never see each other's entries.
// The Client must accept it in its keys.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithMaxKeyLen sets the longest key the Store writes (DefaultMaxKeyLen if
// not given): keys hold a hash of the namespace, generation and key, cut
// to fit, and stored values hold the whole of them, so a long key works
// however short this is. New panics if the prefix leaves less than 22
// characters (132 bits) of hash. A n that is not positive leaves the
// default.
func WithMaxKeyLen(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxKey = n
		}
	}
}

// WithMaxValueLen sets the longest value, in bytes, that the Client
// stores. What the Store writes for an entry is its namespace, key and
// value together plus at most EnvelopeOverhead bytes, so it stores entries
// of up to n-EnvelopeOverhead bytes (runtime.Promises MaxEntry) and
// writes no larger one: such a Set is counted and logged as an
// ErrTooLarge from the Client is. Zero, the default, sets no limit: the
// Client's ErrTooLarge alone tells.
func WithMaxValueLen(n int) Option {
	return func(s *Store) {
		if n >= 0 {
			s.maxValue = n
		}
	}
}

// WithTrackLimit sets how many keys of each unbounded function the Store
// tracks in the process for Len (DefaultTrackLimit if not given); beyond
// it the least recently used leave the count, not the cache. Bounded
// functions track their maxsize. A n that is not positive leaves the
// default.
func WithTrackLimit(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.trackLimit = n
		}
	}
}

// WithName sets the name that begins the Store's error messages and logs
// ("kv" if not given), such as the name of the cache it adapts.
func WithName(name string) Option {
	return func(s *Store) {
		if name != "" {
			s.name = name
		}
	}
}

// New returns a Store on the cache that c reaches. Close does not close c.
// It panics if c is nil, if the prefix holds a space or a character that
// is not printable ASCII, or if the prefix and max key length leave less
// than 22 characters of hash in a key.
func New(c Client, opts ...Option) *Store {
	if c == nil {
		panic("kv: New with a nil Client")
	}
	s := &Store{
		c:          c,
		name:       "kv",
		prefix:     DefaultPrefix,
		maxKey:     DefaultMaxKeyLen,
		timeout:    DefaultTimeout,
		refresh:    DefaultRefresh,
		trackLimit: DefaultTrackLimit,
		epoch:      time.Now(),
		spaces:     make(map[spaceKey]*space),
		fns:        make(map[string]*function),
	}
	s.inc, _ = c.(Incrementer)
	for _, opt := range opts {
		opt(s)
	}
	if !validPrefix(s.prefix) {
		panic(fmt.Sprintf("kv: prefix %q holds a space or a character that is not printable ASCII", s.prefix))
	}
	room := s.maxKey - len(s.prefix) - 1 // one letter says what the key holds
	if room < minHash {
		panic(fmt.Sprintf("kv: prefix %q leaves %d characters of hash in keys of at most %d bytes; want %d", s.prefix, room, s.maxKey, minHash))
	}
	s.hashLen = min(room, hashChars)
	s.genLen = s.hashLen
	if s.name != "kv" {
		s.errClosed = fmt.Errorf("%s: %w", s.name, ErrClosed)
	} else {
		s.errClosed = ErrClosed
	}
	s.deadlines.Timeout = s.timeout
	s.life, s.end = context.WithCancel(context.Background())
	return s
}

// EnvelopeOverhead is the most bytes a stored value adds to its entry's
// namespace, key and value: a format tag, their lengths, the generation
// and the expiry.
const EnvelopeOverhead = 40

// Promises implements runtime.Promiser: a cache that cannot list or count
// keys keeps counts and LRU order in the process, and other processes see
// a Clear within the refresh interval.
func (s *Store) Promises() runtime.Promises {
	return runtime.Promises{LenInProcess: true, LRUInProcess: true, ClearDelay: s.refresh, MaxEntry: s.maxEntry()}
}

// maxEntry is the most bytes of namespace, key and value that Set stores,
// given the Client's limit; 0: no limit.
func (s *Store) maxEntry() int {
	if s.maxValue == 0 {
		return 0
	}
	return max(s.maxValue-EnvelopeOverhead, 1)
}

// Bound implements runtime.Bounder: no operation of the Store waits
// longer than its timeout for the cache, provided the Client returns by
// its context's deadline.
func (s *Store) Bound() time.Duration { return s.timeout }

// Stats are a Store's counts of what it did not store.
type Stats struct {
	// Oversize counts Sets whose value was too large for the cache
	// (WithMaxValueLen, or an ErrTooLarge from the Client), so not stored.
	Oversize int64
}

// Stats returns the Store's counts since New.
func (s *Store) Stats() Stats { return Stats{Oversize: s.oversize.Load()} }

// Client returns the Client the Store uses.
func (s *Store) Client() Client { return s.c }

// now is the time since the Store began, on the monotonic clock.
func (s *Store) now() time.Duration { return time.Since(s.epoch) }

// spaceKey names a Space among a Store's: a namespace with its limits.
type spaceKey struct {
	name string
	lim  runtime.Limits
}

// Space implements runtime.Store. It reaches no cache: the Space of a
// namespace and limits is made once and kept until Close, and every Space
// of one namespace shares its generation and tracked keys.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, s.errClosed
	}
	k := spaceKey{ns.Name, ns.Limits}
	if sp := s.spaces[k]; sp != nil {
		return sp, nil
	}
	fn := s.fns[ns.Name]
	if fn == nil {
		fn = newFunction(s, ns.Name)
		s.fns[ns.Name] = fn
	}
	sp := &space{s: s, fn: fn, lim: ns.Limits}
	s.spaces[k] = sp
	return sp, nil
}

// Close implements runtime.Store: later calls fail with an error wrapping
// ErrClosed, and a read of a generation in the background is told to end
// (Close waits for it, at most the Store's bound). Nothing is buffered, so
// nothing is written; the Client stays open. Closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.end()
	s.refreshes.Wait()
	s.deadlines.Stop()
	return nil
}

// failed names the operation in err, and says so when it ran out of the
// Store's bound, whose bare "context deadline exceeded" tells little.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return s.errClosed
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: no answer in time (the store waits at most %v): %w", s.name, op, s.timeout, err)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

// tooLarge counts a value not stored for its size and logs it, once per
// function.
func (s *Store) tooLarge(fn *function, size int, err error) {
	s.oversize.Add(1)
	if fn.loggedOversize.Swap(true) {
		return
	}
	attrs := []any{"store", s.name, "func", fn.ns, "size", size}
	if s.maxValue > 0 {
		attrs = append(attrs, "limit", s.maxEntry())
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	slog.Warn("picocache: a value is too large for the cache and is not stored; the call returns it all the same (logged once per function)", attrs...)
}

// space is a runtime.Space of a Store: one function's entries, with the
// limits it was opened with. It is safe for concurrent use.
type space struct {
	s   *Store
	fn  *function
	lim runtime.Limits
}

// Get implements runtime.Space: one Get of the client (and, at most once a
// refresh interval, of the function's generation). A hit makes the entry
// the most recently used in the process.
func (sp *space) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return nil, false, s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	gen, err := fn.generation(ctx)
	if err != nil {
		return nil, false, s.failed(ctx, "get", err)
	}
	var d digest
	fn.digest(&d, gen, key)
	skey := fn.entryKey(&d)
	seq := fn.seq.Load()
	raw, ok, err := s.c.Get(ctx, skey)
	if err != nil {
		return nil, false, s.failed(ctx, "get", err)
	}
	if !ok {
		fn.forget(gen, &d, seq)
		return nil, false, nil
	}
	v, exp, ok := fn.open(raw, gen, key)
	if !ok || exp != 0 && exp <= time.Now().UnixNano() {
		// Expired, damaged, foreign, or another key with the same hash.
		fn.forget(gen, &d, seq)
		return nil, false, nil
	}
	if sp.lim.MaxSize != 0 {
		fn.touch(gen, &d, skey, exp, sp.lim.MaxSize)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Set implements runtime.Space: one Set of the client, then, for a
// bounded function whose process holds more than maxsize entries, one
// Delete of each least recently used.
func (sp *space) Set(ctx context.Context, key, value []byte) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return s.errClosed
	}
	if sp.lim.MaxSize == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	gen, err := fn.generation(ctx)
	if err != nil {
		return s.failed(ctx, "set", err)
	}
	var d digest
	fn.digest(&d, gen, key)
	skey := fn.entryKey(&d)
	var exp int64
	var ttl time.Duration
	if sp.lim.TTL > 0 {
		exp = time.Now().Add(sp.lim.TTL).UnixNano()
		ttl = sp.lim.TTL + time.Second
	}
	if entry := len(fn.ns) + len(key) + len(value); s.maxValue > 0 && entry > s.maxEntry() {
		return sp.notStored(ctx, gen, &d, skey, entry, nil)
	}
	size := fn.sealedLen(key, value)
	err = s.c.Set(ctx, skey, fn.seal(gen, exp, key, value, size), ttl)
	if errors.Is(err, ErrTooLarge) {
		return sp.notStored(ctx, gen, &d, skey, len(fn.ns)+len(key)+len(value), err)
	}
	if err != nil {
		return s.failed(ctx, "set", err)
	}
	evicted := fn.stored(gen, &d, skey, exp, sp.lim.MaxSize)
	for _, k := range evicted {
		if err := s.c.Delete(ctx, k); err != nil {
			return s.failed(ctx, "set: evicting the least recently used entry", err)
		}
	}
	return nil
}

// notStored handles a value too large for the cache: counted, logged
// once, and any earlier value of the key removed (as memcached does when
// it refuses one), so that the key reads as absent.
func (sp *space) notStored(ctx context.Context, gen uint64, d *digest, skey string, size int, cause error) error {
	s, fn := sp.s, sp.fn
	s.tooLarge(fn, size, cause)
	fn.forget(gen, d, fn.seq.Load())
	if err := s.c.Delete(ctx, skey); err != nil {
		return s.failed(ctx, "set: removing the earlier value of an oversize one", err)
	}
	return nil
}

// Clear implements runtime.Space: one atomic increment of the function's
// generation (a Set of a new random one, for a Client that is not an
// Incrementer). Entries of older generations are never read again, and the
// cache drops them in its own time; this process forgets them at once,
// others within the refresh interval.
func (sp *space) Clear(ctx context.Context) error {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := fn.bump(ctx); err != nil {
		return s.failed(ctx, "clear", err)
	}
	return nil
}

// Len implements runtime.Space: the function's live entries that this
// process knows of (runtime.Promises LenInProcess): those it stored or
// found, less those it evicted, found gone or expired, in the current
// generation (read again once the refresh interval has passed, so that a
// Clear of another process empties the count).
func (sp *space) Len(ctx context.Context) (int64, error) {
	s, fn := sp.s, sp.fn
	if s.closed.Load() {
		return 0, s.errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	gen, err := fn.generation(ctx)
	if err != nil {
		return 0, s.failed(ctx, "len", err)
	}
	return fn.live(gen), nil
}

// validPrefix reports whether p is printable ASCII without spaces, which
// every cache takes in keys.
func validPrefix(p string) bool {
	return !strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r >= 0x7f })
}
