package runtime

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
)

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("picocache: store is closed")

// Memory is an in-process Store with least-recently-used eviction. It is
// safe for concurrent use by multiple goroutines. Its zero value is not
// ready; use NewMemory.
//
// Functions bound to a Memory keep their results as Go values (its Spaces
// are Values): a hit involves no encoding or copying. A hit takes no lock
// that hits of other keys take: it reads the entry under a read lock of
// one of 16 shards and records its recency in a buffer; the buffers are
// applied, in the order of the hits, before every eviction decision, so
// LRU order is exact. Entries live only as long as the process; Memory is
// for tests, for short-lived programs and for results that are not worth
// persisting.
type Memory struct {
	mu     sync.Mutex
	spaces map[string]*memSpace // guarded by mu
	closed atomic.Bool          // set once, under mu
	// maxSize caps every function's entries (0: no cap); from the URL.
	maxSize int64
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{spaces: make(map[string]*memSpace)}
}

var _ Store = (*Memory)(nil)

func init() { RegisterScheme("memory", openMemory) }

// openMemory opens a Memory from a URL: "memory:", or
// "memory:?maxsize=N" to keep at most N entries per function (an
// unbounded function then holds N, a bounded one the smaller of its
// maxsize and N), so that a test or a one-off run can use the memory store
// through PICOCACHE_URL without growing without bound. Each URL opened is
// a new, empty store.
func openMemory(ctx context.Context, rawURL string) (Store, error) {
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("picocache: memory store: %w", err)
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return nil, fmt.Errorf("picocache: memory store URL %q: want memory: or memory:?maxsize=N", storekit.Redact(rawURL))
	}
	m := NewMemory()
	for k, vs := range u.Query() {
		switch k {
		case "maxsize":
			n, err := strconv.ParseInt(vs[len(vs)-1], 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("picocache: memory store URL %q: maxsize=%q is not a count of entries", storekit.Redact(rawURL), vs[len(vs)-1])
			}
			m.maxSize = n
		default:
			return nil, fmt.Errorf("picocache: memory store URL %q: unknown parameter %q (known: maxsize)", storekit.Redact(rawURL), k)
		}
	}
	return m, nil
}

// Space implements Store. Every Space for one namespace name shares its
// entries; each enforces the limits it was asked with.
func (m *Memory) Space(ctx context.Context, ns Namespace) (Space, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrClosed
	}
	s := m.spaces[ns.Name]
	if s == nil {
		s = newMemSpace(m)
		m.spaces[ns.Name] = s
	}
	lim := ns.Limits
	if m.maxSize > 0 && (lim.MaxSize == Unbounded || lim.MaxSize > m.maxSize) {
		lim.MaxSize = m.maxSize
	}
	return &memView{s: s, lim: lim}, nil
}

// Close implements Store: it drops every entry, and later calls fail
// with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	for _, s := range m.spaces {
		s.mu.Lock()
		s.clearLocked()
		s.mu.Unlock()
	}
	clear(m.spaces)
	return nil
}

// memView is a Space of a Memory: one namespace's entries, with the
// limits it was opened with.
type memView struct {
	s   *memSpace
	lim Limits
}

var _ Values = (*memView)(nil)

// memBytes marks a value set through the byte contract, so that it is
// never taken for a Go value set by a Func, nor the other way round.
type memBytes []byte

// Get implements Space. The value is a copy.
func (v *memView) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	x, ok, err := v.s.get(key, v.lim.MaxSize > 0)
	if b, isBytes := x.(memBytes); ok && isBytes {
		return append([]byte{}, b...), true, nil
	}
	return nil, false, err
}

// Set implements Space.
func (v *memView) Set(ctx context.Context, key, value []byte) error {
	return v.s.set(key, memBytes(append([]byte{}, value...)), v.lim)
}

// Value implements Values.
func (v *memView) Value(key []byte) (any, bool, error) {
	x, ok, err := v.s.get(key, v.lim.MaxSize > 0)
	if _, isBytes := x.(memBytes); isBytes {
		return nil, false, err
	}
	return x, ok, err
}

// SetValue implements Values.
func (v *memView) SetValue(key []byte, x any) error { return v.s.set(key, x, v.lim) }

// Clear implements Space.
func (v *memView) Clear(ctx context.Context) error {
	if v.s.owner.closed.Load() {
		return ErrClosed
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	v.s.clearLocked()
	return nil
}

// Len implements Space.
func (v *memView) Len(ctx context.Context) (int64, error) {
	if v.s.owner.closed.Load() {
		return 0, ErrClosed
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	return v.s.lenLocked(time.Now()), nil
}

// memSpace is one namespace's entries: maps in shards by key, each with
// its own lock, and an LRU list over all of them under mu. A hit of a
// bounded function records its recency in its shard's buffer, under the
// lock its lookup takes anyway; the next eviction decision applies every
// buffer first, in hit order.
//
// Lock order: mu, then a shard's lock. Every method ending in Locked
// expects mu held.
type memSpace struct {
	owner *Memory

	shards [stripes]memShard

	// seq orders hits across shards.
	seq atomic.Uint64

	mu   sync.Mutex
	root memEntry // guarded by mu; sentinel: root.next is most recent
	n    int64    // guarded by mu; entries in the list, expired or not
	// hits and order are applyLocked's scratch space, kept between calls.
	hits  []used      // guarded by mu
	order []*memEntry // guarded by mu
}

// memShard is a part of a memSpace's map, with the hits of its entries
// whose recency is not applied yet. Entries with keys of exactly 8 bytes
// (one integer argument, the commonest key) are in items8, whose uint64
// hashing is several times cheaper than a string's.
//
// Hits hold mu's read lock: they look up, and append to t at the index
// they take from n, each its own slot. Whoever applies the buffer holds
// the write lock, so it sees every append that finished.
type memShard struct {
	mu     sync.RWMutex
	items  map[string]*memEntry // guarded by mu
	items8 map[uint64]*memEntry // guarded by mu
	n      atomic.Int32         // slots of t taken; more than readBufLen when full
	t      [readBufLen]used     // written under mu's read lock, one slot per hit; read under its write lock
	_      [40]byte
}

// readBufLen is how many hits a shard buffers; the hit that fills the
// buffer applies every shard's.
const readBufLen = 128

type used struct {
	e   *memEntry
	seq uint64
}

// memEntry is an entry of a memSpace. key and expires never change; val
// is guarded by the shard's lock, the links and gone by memSpace.mu.
type memEntry struct {
	key        string
	val        any
	expires    int64 // UnixNano; 0 means never
	prev, next *memEntry
	gone       bool // removed from the space
}

func newMemSpace(owner *Memory) *memSpace {
	s := &memSpace{owner: owner}
	for i := range s.shards {
		s.shards[i].items = make(map[string]*memEntry)
		s.shards[i].items8 = make(map[uint64]*memEntry)
	}
	s.root.next, s.root.prev = &s.root, &s.root
	return s
}

func (sh *memShard) lookupLocked(key []byte) *memEntry {
	if len(key) == 8 {
		return sh.items8[binary.LittleEndian.Uint64(key)]
	}
	return sh.items[string(key)]
}

// get returns the live value under key; with touch, it records the hit's
// recency.
func (s *memSpace) get(key []byte, touch bool) (any, bool, error) {
	if s.owner.closed.Load() {
		return nil, false, ErrClosed
	}
	sh := &s.shards[stripe(key)]
	for {
		sh.mu.RLock()
		e := sh.lookupLocked(key)
		if e == nil || e.expires != 0 && time.Now().UnixNano() >= e.expires {
			sh.mu.RUnlock()
			return nil, false, nil
		}
		val := e.val
		if !touch {
			sh.mu.RUnlock()
			return val, true, nil
		}
		if i := sh.n.Add(1) - 1; i < readBufLen {
			sh.t[i] = used{e, s.seq.Add(1)}
			sh.mu.RUnlock()
			if i == readBufLen-1 {
				s.apply()
			}
			return val, true, nil
		}
		// Full, and not applied yet: apply, then look up again.
		sh.mu.RUnlock()
		s.apply()
	}
}

func (s *memSpace) apply() {
	s.mu.Lock()
	s.applyLocked()
	s.mu.Unlock()
}

// applyLocked applies the recency of every buffered hit, oldest first.
//
// Every hit takes the next seq, so the seqs of the buffered hits are
// nearly consecutive (a hit between taking its seq and buffering it
// leaves a gap): placing each at seq-min orders them in linear time.
func (s *memSpace) applyLocked() {
	hits := s.hits[:0]
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := min(int(sh.n.Load()), readBufLen)
		hits = append(hits, sh.t[:n]...)
		clear(sh.t[:n])
		sh.n.Store(0)
		sh.mu.Unlock()
	}
	if len(hits) == 0 {
		return
	}
	lo, hi := hits[0].seq, hits[0].seq
	for _, u := range hits[1:] {
		lo, hi = min(lo, u.seq), max(hi, u.seq)
	}
	if hi-lo >= uint64(4*len(hits)+stripes*readBufLen) {
		// A hit buffered long after it took its seq (its goroutine was
		// descheduled in between) left a wide gap: sort instead.
		slices.SortFunc(hits, func(a, b used) int { return cmp.Compare(a.seq, b.seq) })
		for _, u := range hits {
			if !u.e.gone && s.root.next != u.e {
				u.e.unlink()
				s.pushFrontLocked(u.e)
			}
		}
		clear(hits)
		s.hits = hits[:0]
		return
	}
	order := s.order[:0]
	order = slices.Grow(order, int(hi-lo+1))[:hi-lo+1]
	for _, u := range hits {
		order[u.seq-lo] = u.e
	}
	for _, e := range order {
		if e != nil && !e.gone && s.root.next != e {
			e.unlink()
			s.pushFrontLocked(e)
		}
	}
	clear(hits)
	clear(order)
	s.hits, s.order = hits[:0], order[:0]
}

// set stores val under key as the most recent entry and evicts the least
// recent ones beyond lim.MaxSize, after applying the buffered hits.
func (s *memSpace) set(key []byte, val any, lim Limits) error {
	if lim.MaxSize == 0 {
		return nil
	}
	var expires int64
	if lim.TTL > 0 {
		expires = time.Now().Add(lim.TTL).UnixNano()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.closed.Load() {
		return ErrClosed
	}
	if lim.MaxSize > 0 {
		s.applyLocked()
	}
	sh := &s.shards[stripe(key)]
	sh.mu.Lock()
	old := sh.lookupLocked(key)
	e := &memEntry{key: string(key), val: val, expires: expires}
	if len(key) == 8 {
		sh.items8[binary.LittleEndian.Uint64(key)] = e
	} else {
		sh.items[e.key] = e
	}
	sh.mu.Unlock()
	if old != nil {
		old.gone = true
		old.unlink()
		s.n--
	}
	s.pushFrontLocked(e)
	s.n++
	if lim.MaxSize > 0 {
		for s.n > lim.MaxSize {
			s.removeLocked(s.root.prev)
		}
	}
	return nil
}

func (s *memSpace) pushFrontLocked(e *memEntry) {
	e.prev, e.next = &s.root, s.root.next
	s.root.next.prev = e
	s.root.next = e
}

func (e *memEntry) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// removeLocked removes e from the list and from its shard.
func (s *memSpace) removeLocked(e *memEntry) {
	e.unlink()
	e.gone = true
	s.n--
	sh := &s.shards[stripe([]byte(e.key))]
	sh.mu.Lock()
	if len(e.key) == 8 {
		k := binary.LittleEndian.Uint64([]byte(e.key))
		if sh.items8[k] == e {
			delete(sh.items8, k)
		}
	} else if sh.items[e.key] == e {
		delete(sh.items, e.key)
	}
	sh.mu.Unlock()
}

func (s *memSpace) clearLocked() {
	for e := s.root.next; e != &s.root; e = e.next {
		e.gone = true
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		// New maps, not clear: a cleared map keeps its buckets.
		sh.items = make(map[string]*memEntry)
		sh.items8 = make(map[uint64]*memEntry)
		clear(sh.t[:])
		sh.n.Store(0)
		sh.mu.Unlock()
	}
	s.hits, s.order = nil, nil
	s.root.next, s.root.prev = &s.root, &s.root
	s.n = 0
}

// lenLocked counts live entries, dropping expired ones on the way.
func (s *memSpace) lenLocked(now time.Time) int64 {
	for e := s.root.next; e != &s.root; {
		next := e.next
		if e.expires != 0 && now.UnixNano() >= e.expires {
			s.removeLocked(e)
		}
		e = next
	}
	return s.n
}
