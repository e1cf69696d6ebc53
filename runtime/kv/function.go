package kv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// function is what a Store keeps of one namespace, shared by its Spaces:
// its keys' common parts, its generation, and the keys this process
// tracks. It is safe for concurrent use.
type function struct {
	s      *Store
	ns     string
	head   []byte // what every envelope of the namespace begins with
	genKey string

	gen atomic.Pointer[genSnap] // the generation in use; nil until read
	// gate admits one reader of the generation at a time (a channel, so
	// that a waiter can give up with its context).
	gate       chan struct{}
	refreshing atomic.Bool // a background read of the generation runs

	// seq counts changes of the tracked keys, so that a Get that misses
	// does not forget a key stored again while it ran.
	seq atomic.Uint64

	mu    sync.Mutex
	track tracker // guarded by mu

	loggedOversize atomic.Bool
}

// genSnap is a generation of a function as read at a time of the Store's
// clock. It is immutable.
type genSnap struct {
	v  uint64
	at time.Duration
}

// envelopeTag begins every stored entry: format 1 of this package.
const envelopeTag = "K\x01"

func newFunction(s *Store, ns string) *function {
	head := append([]byte(envelopeTag), binary.AppendUvarint(nil, uint64(len(ns)))...)
	head = append(head, ns...)
	sum := sha256.Sum256(append([]byte("generation\x00"), ns...))
	return &function{
		s:      s,
		ns:     ns,
		head:   head,
		genKey: s.prefix + "g" + base64.RawURLEncoding.EncodeToString(sum[:])[:s.genLen],
		gate:   make(chan struct{}, 1),
		track:  newTracker(),
	}
}

// digest is the SHA-256 of an entry's namespace, generation and key,
// which names it in the cache and in the process.
type digest [sha256.Size]byte

// hashChars is the length of a digest in base64 without padding.
const hashChars = (sha256.Size*8 + 5) / 6

// digest sets d to the digest of key in generation gen.
func (fn *function) digest(d *digest, gen uint64, key []byte) {
	// The namespace's length is in head, so (namespace, generation, key)
	// maps to the hashed bytes injectively.
	var buf [256]byte
	b := append(buf[:0], fn.head[len(envelopeTag):]...)
	b = binary.BigEndian.AppendUint64(b, gen)
	if len(b)+len(key) <= len(buf) {
		b = append(b, key...)
		*d = sha256.Sum256(b)
		return
	}
	h := sha256.New()
	h.Write(b)
	h.Write(key)
	h.Sum(d[:0])
}

// entryKey is the cache key of the entry with digest d: the prefix, 'e',
// and the digest in base64url, cut to the Store's max key length.
func (fn *function) entryKey(d *digest) string {
	s := fn.s
	var buf [DefaultMaxKeyLen + 64]byte
	b := buf[:0]
	if len(s.prefix)+1+hashChars > len(buf) {
		b = make([]byte, 0, len(s.prefix)+1+hashChars)
	}
	b = append(b, s.prefix...)
	b = append(b, 'e')
	b = base64.RawURLEncoding.AppendEncode(b, d[:])
	return string(b[:len(s.prefix)+1+s.hashLen])
}

// The envelope of an entry, what the cache stores under its key:
//
//	"K\x01"  uvarint len(namespace)  namespace
//	generation (8 bytes, big endian)
//	expiry (8 bytes: Unix nanoseconds, big endian; 0: none)
//	uvarint len(key)  key
//	value
//
// A Get compares namespace, generation and key with its own, so that
// another entry whose key has the same hash (or a value another program
// wrote) is a miss, never a wrong value.

// sealedLen is the length of the envelope of key and value.
func (fn *function) sealedLen(key, value []byte) int {
	return len(fn.head) + 16 + uvarintLen(uint64(len(key))) + len(key) + len(value)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// seal returns the envelope of an entry; size is its sealedLen.
func (fn *function) seal(gen uint64, exp int64, key, value []byte, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, fn.head...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

// open returns the value and expiry in raw, an envelope, if it holds key
// of this namespace in generation gen.
func (fn *function) open(raw []byte, gen uint64, key []byte) (value []byte, exp int64, ok bool) {
	if !bytes.HasPrefix(raw, fn.head) {
		return nil, 0, false
	}
	rest := raw[len(fn.head):]
	if len(rest) < 16 || binary.BigEndian.Uint64(rest) != gen {
		return nil, 0, false
	}
	exp = int64(binary.BigEndian.Uint64(rest[8:]))
	rest = rest[16:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n != uint64(len(key)) || !bytes.HasPrefix(rest[w:], key) {
		return nil, 0, false
	}
	return rest[w+len(key):], exp, true
}

// generation returns the function's generation: the one in use while it
// is younger than the refresh interval (read again in the background from
// half of it on), else the cache's, read now.
func (fn *function) generation(ctx context.Context) (uint64, error) {
	s := fn.s
	g := fn.gen.Load()
	if g != nil {
		age := s.now() - g.at
		if age < s.refresh/2 {
			return g.v, nil
		}
		if age < s.refresh {
			fn.refreshSoon()
			return g.v, nil
		}
	}
	return fn.refresh(ctx, g)
}

// refresh reads the generation from the cache, unless another call did
// since old was in use.
func (fn *function) refresh(ctx context.Context, old *genSnap) (uint64, error) {
	select {
	case fn.gate <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-fn.gate }()
	if g := fn.gen.Load(); g != nil && g != old && fn.s.now()-g.at < fn.s.refresh {
		return g.v, nil
	}
	start := fn.s.now()
	v, err := fn.readGen(ctx)
	if err != nil {
		return 0, err
	}
	fn.install(v, start)
	return v, nil
}

// refreshSoon reads the generation in the background, unless a read runs.
func (fn *function) refreshSoon() {
	s := fn.s
	if fn.refreshing.Load() || !fn.refreshing.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		fn.refreshing.Store(false)
		return
	}
	s.refreshes.Add(1)
	s.mu.Unlock()
	old := fn.gen.Load()
	go func() {
		defer s.refreshes.Done()
		defer fn.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(s.life, s.timeout)
		defer cancel()
		fn.refresh(ctx, old) // on failure the next call past the interval reads it
	}()
}

// install makes v, read at the Store's time at, the generation in use,
// unless what is in use was read later; a new generation empties the
// tracked keys.
func (fn *function) install(v uint64, at time.Duration) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if g := fn.gen.Load(); g != nil && g.at > at {
		return
	}
	if fn.track.gen != v || !fn.track.known {
		fn.track.reset(v)
		fn.seq.Add(1)
	}
	fn.gen.Store(&genSnap{v: v, at: at})
}

// errGenRace is what reading a generation returns when other processes
// keep replacing it.
var errGenRace = errors.New("the function's generation key keeps changing")

// readGen reads the function's generation from the cache, creating it
// when absent (or not a number: written by other code).
func (fn *function) readGen(ctx context.Context) (uint64, error) {
	s := fn.s
	for range 3 {
		raw, ok, err := s.c.Get(ctx, fn.genKey)
		if err != nil {
			return 0, err
		}
		if ok {
			if v, ok := parseGen(raw); ok {
				return v, nil
			}
		}
		v := newGen()
		if s.inc == nil || ok {
			// Last writer wins; a Set over a damaged one likewise.
			return v, s.c.Set(ctx, fn.genKey, formatGen(v), 0)
		}
		stored, err := s.inc.Add(ctx, fn.genKey, formatGen(v), 0)
		if err != nil {
			return 0, err
		}
		if stored {
			return v, nil
		}
		// Another process created it meanwhile: read that one.
	}
	return 0, errGenRace
}

// bump starts a new generation of the function, for Clear, and makes it
// the one in use at once.
func (fn *function) bump(ctx context.Context) error {
	s := fn.s
	v, err := fn.nextGen(ctx)
	if err != nil {
		return err
	}
	fn.install(v, s.now())
	return nil
}

func (fn *function) nextGen(ctx context.Context) (uint64, error) {
	s := fn.s
	if s.inc == nil {
		v := newGen()
		return v, s.c.Set(ctx, fn.genKey, formatGen(v), 0)
	}
	for range 3 {
		v, ok, err := s.inc.Increment(ctx, fn.genKey, 1)
		if err != nil || ok {
			return v, err
		}
		// Absent (never read, or dropped by the cache): a new random
		// one is as good as an increment.
		v = newGen()
		stored, err := s.inc.Add(ctx, fn.genKey, formatGen(v), 0)
		if err != nil || stored {
			return v, err
		}
	}
	return 0, errGenRace
}

// newGen returns a random generation, for a function whose generation key
// is absent: one that no earlier generation of the function had, with
// overwhelming likelihood, so that entries older than a lost key stay
// unreachable. It leaves room for 2^62 increments.
func newGen() uint64 { return rand.Uint64()>>2 | 1 }

func formatGen(v uint64) []byte { return strconv.AppendUint(nil, v, 10) }

// parseGen parses a generation: decimal digits, which memcached may pad
// with spaces after an increment.
func parseGen(raw []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(bytes.TrimRight(raw, " \r\n")), 10, 64)
	return v, err == nil
}

// The tracked keys: see tracker.

// stored records that this process stored the entry with digest d in
// generation gen, as the most recently used, and returns the cache keys
// of the entries a function of maxsize max must evict for it.
func (fn *function) stored(gen uint64, d *digest, skey string, exp int64, max int64) []string {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if !fn.track.known || fn.track.gen != gen {
		return nil // cleared meanwhile: the entry is unreachable already
	}
	fn.track.put(d, skey, exp, fn.seq.Add(1))
	now := time.Now().UnixNano()
	if max > 0 {
		return fn.track.evict(int(min(max, int64(maxInt))), now)
	}
	fn.track.shed(fn.s.trackLimit)
	return nil
}

const maxInt = int(^uint(0) >> 1)

// touch records a hit of the entry with digest d: the most recently used.
// A bounded function tracks an entry it did not know (stored by another
// process) only while it has room, so that a read never evicts.
func (fn *function) touch(gen uint64, d *digest, skey string, exp int64, max int64) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	t := &fn.track
	if !t.known || t.gen != gen {
		return
	}
	if n := t.m[*d]; n != nil {
		t.moveToFront(n)
		return
	}
	if max > 0 && int64(t.n) >= max {
		return
	}
	t.put(d, skey, exp, fn.seq.Add(1))
	if max < 0 {
		t.shed(fn.s.trackLimit)
	}
}

// forget records that the entry with digest d is gone, unless it was
// stored again after seq.
func (fn *function) forget(gen uint64, d *digest, seq uint64) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	t := &fn.track
	if n := t.m[*d]; n != nil && t.gen == gen && n.seq <= seq {
		t.remove(n)
	}
}

// live counts the tracked entries of generation gen that have not expired.
func (fn *function) live(gen uint64) int64 {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if !fn.track.known || fn.track.gen != gen {
		return 0
	}
	fn.track.prune(time.Now().UnixNano())
	return int64(fn.track.n)
}
