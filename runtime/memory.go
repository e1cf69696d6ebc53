package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("picocache: store is closed")

// Memory is an in-process Store with least-recently-used eviction. It is
// safe for concurrent use by multiple goroutines. Its zero value is not
// ready; use NewMemory.
//
// Functions bound to a Memory keep their results as Go values: a hit
// involves no encoding or copying. Entries live only as long as the
// process; Memory is for tests, for short-lived programs and for results
// that are not worth persisting.
type Memory struct {
	mu     sync.Mutex
	spaces map[string]*memSpace // guarded by mu; a space is never removed, so handles may keep it
	closed atomic.Bool          // set once, under mu
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{spaces: make(map[string]*memSpace)}
}

// space returns fn's namespace, creating it when needed.
func (m *Memory) space(fn string) (*memSpace, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrClosed
	}
	s := m.spaces[fn]
	if s == nil {
		s = newMemSpace(m)
		m.spaces[fn] = s
	}
	return s, nil
}

// Get implements Store. The value is a copy.
func (m *Memory) Get(ctx context.Context, fn string, key []byte, lim Limits) ([]byte, bool, error) {
	s, err := m.space(fn)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.getLocked(key, time.Time{})
	if e == nil {
		return nil, false, nil
	}
	b, ok := e.val.([]byte)
	if !ok {
		// A value stored as a Go value by a Func: not bytes, so not ours
		// to hand out through the byte contract.
		return nil, false, nil
	}
	return append([]byte(nil), b...), true, nil
}

// Set implements Store.
func (m *Memory) Set(ctx context.Context, fn string, key, value []byte, lim Limits) error {
	s, err := m.space(fn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(string(key), append([]byte(nil), value...), lim, time.Time{})
	return nil
}

// Clear implements Store.
func (m *Memory) Clear(ctx context.Context, fn string) error {
	s, err := m.space(fn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	return nil
}

// Len implements Store.
func (m *Memory) Len(ctx context.Context, fn string) (int64, error) {
	s, err := m.space(fn)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lenLocked(time.Now()), nil
}

// Close implements Store: it drops every entry, and later calls fail
// with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil
	}
	m.closed.Store(true)
	for _, s := range m.spaces {
		s.mu.Lock()
		s.clearLocked()
		s.closed = true
		s.mu.Unlock()
	}
	return nil
}

// memSpace is one function's entries: an LRU list over a map, plus the
// calls in flight for it. It is not safe for concurrent access; every
// method ending in Locked expects mu held.
type memSpace struct {
	owner *Memory

	mu sync.Mutex
	// items holds the entries: keys of exactly 8 bytes (one integer
	// argument, the commonest key) in items8, whose uint64 hashing is
	// several times cheaper than a string's; all others in items.
	items   map[string]*memEntry // guarded by mu
	items8  map[uint64]*memEntry // guarded by mu
	root    memEntry             // guarded by mu; sentinel: root.next is most recent
	flights map[string]*flight   // guarded by mu; calls in flight, used by Func
	// hits counts Func hits served here. Counting under mu, which a hit
	// holds anyway, spares it an atomic add: a third of its cost.
	hits int64 // guarded by mu
	// closed mirrors the owner's Close, so that a hit, holding mu, need
	// not read the owner's cache line.
	closed bool // guarded by mu
}

// memEntry is an entry of a memSpace's LRU list.
type memEntry struct {
	key        string
	val        any
	expires    int64 // UnixNano; 0 means never
	prev, next *memEntry
}

func newMemSpace(owner *Memory) *memSpace {
	s := &memSpace{
		owner:   owner,
		items:   make(map[string]*memEntry),
		items8:  make(map[uint64]*memEntry),
		flights: make(map[string]*flight),
	}
	s.root.next, s.root.prev = &s.root, &s.root
	return s
}

// getLocked returns the live entry for key and makes it the most recent,
// or nil. now is read lazily (zero means "not read yet") so that entries
// without a TTL cost no clock read.
func (s *memSpace) getLocked(key []byte, now time.Time) *memEntry {
	var e *memEntry
	if len(key) == 8 {
		e = s.items8[binary.LittleEndian.Uint64(key)]
	} else {
		e = s.items[string(key)]
	}
	if e == nil {
		return nil
	}
	if e.expires != 0 {
		if now.IsZero() {
			now = time.Now()
		}
		if now.UnixNano() >= e.expires {
			s.removeLocked(e)
			return nil
		}
	}
	if s.root.next != e {
		e.unlink()
		s.pushFrontLocked(e)
	}
	return e
}

// putLocked stores val under key as the most recent entry and evicts the
// least recent ones beyond lim.MaxSize.
func (s *memSpace) putLocked(key string, val any, lim Limits, now time.Time) {
	if lim.MaxSize == 0 {
		return
	}
	var expires int64
	if lim.TTL > 0 {
		if now.IsZero() {
			now = time.Now()
		}
		expires = now.Add(lim.TTL).UnixNano()
	}
	if e := s.getLocked([]byte(key), now); e != nil {
		e.val, e.expires = val, expires // getLocked made it the most recent
	} else {
		e = &memEntry{key: key, val: val, expires: expires}
		if len(key) == 8 {
			s.items8[binary.LittleEndian.Uint64([]byte(key))] = e
		} else {
			s.items[key] = e
		}
		s.pushFrontLocked(e)
	}
	if lim.MaxSize > 0 {
		for s.lenAllLocked() > lim.MaxSize {
			s.removeLocked(s.root.prev)
		}
	}
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

func (s *memSpace) removeLocked(e *memEntry) {
	e.unlink()
	if len(e.key) == 8 {
		delete(s.items8, binary.LittleEndian.Uint64([]byte(e.key)))
	} else {
		delete(s.items, e.key)
	}
}

func (s *memSpace) clearLocked() {
	clear(s.items)
	clear(s.items8)
	s.root.next, s.root.prev = &s.root, &s.root
}

// lenAllLocked counts entries, expired or not.
func (s *memSpace) lenAllLocked() int64 { return int64(len(s.items) + len(s.items8)) }

// lenLocked counts live entries, dropping expired ones on the way.
func (s *memSpace) lenLocked(now time.Time) int64 {
	for e := s.root.next; e != &s.root; {
		next := e.next
		if e.expires != 0 && now.UnixNano() >= e.expires {
			s.removeLocked(e)
		}
		e = next
	}
	return s.lenAllLocked()
}
