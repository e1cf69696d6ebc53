package storekit

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Touches collects the keys of one namespace that this process hit, for a
// store that applies their recency in batches so that a hit is a read. It
// is safe for concurrent use: Add takes the lock of one of 16 stripes,
// chosen by the key, never a lock that hits of other keys take, and
// allocates nothing once the stripe's buffers have grown. Keys are
// deduplicated (a key hit again moves to its latest place) and the batch
// is bounded: Add reports when it is full, and the store then applies it.
// The zero value is ready.
type Touches struct {
	seq     atomic.Uint64
	stripes [16]touchStripe
}

// Limits of a batch, per stripe: a full stripe asks for a flush.
const (
	stripeKeys  = 1024
	stripeBytes = 256 << 10
)

var touchSeed = maphash.MakeSeed()

type touchStripe struct {
	mu    sync.Mutex
	arena []byte           // guarded by mu; the keys, back to back
	ents  []touchEnt       // guarded by mu
	index map[uint64]int32 // guarded by mu; key hash -> ents index
	_     [64]byte
}

type touchEnt struct {
	off, n int32
	seq    uint64
}

// Add records a hit of key and reports whether the batch is full and
// should be applied now. Add does not retain key.
func (t *Touches) Add(key []byte) (full bool) {
	h := maphash.Bytes(touchSeed, key)
	st := &t.stripes[h>>60]
	seq := t.seq.Add(1)
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.index[h]; ok {
		if e := &st.ents[i]; bytes.Equal(st.arena[e.off:e.off+e.n], key) {
			e.seq = seq
			return false
		}
		// Another key with the same hash: keep both (applying a key
		// twice is harmless); the index names the later one.
	}
	if len(st.ents) >= 2*stripeKeys || len(st.arena)+len(key) > 2*stripeBytes {
		// The store has not applied a full batch (it keeps failing):
		// drop this hit's recency rather than grow without bound.
		return true
	}
	if st.index == nil {
		st.index = make(map[uint64]int32)
	}
	st.index[h] = int32(len(st.ents))
	st.ents = append(st.ents, touchEnt{off: int32(len(st.arena)), n: int32(len(key)), seq: seq})
	st.arena = append(st.arena, key...)
	return len(st.ents) >= stripeKeys || len(st.arena) >= stripeBytes
}

// Len reports how many keys are pending.
func (t *Touches) Len() int {
	n := 0
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		n += len(st.ents)
		st.mu.Unlock()
	}
	return n
}

// Take removes every pending key and returns them in the order of their
// last hit, the least recent first; nil when none is pending. The keys
// are the caller's.
func (t *Touches) Take() [][]byte {
	type taken struct {
		key []byte
		seq uint64
	}
	var all []taken
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		if len(st.ents) > 0 {
			buf := slices.Clone(st.arena)
			for _, e := range st.ents {
				all = append(all, taken{buf[e.off : e.off+e.n : e.off+e.n], e.seq})
			}
			st.arena, st.ents = st.arena[:0], st.ents[:0]
			clear(st.index)
		}
		st.mu.Unlock()
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b taken) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	keys := make([][]byte, len(all))
	for i, a := range all {
		keys[i] = a.key
	}
	return keys
}

// Put adds keys back, in order, after a flush failed to apply them, so
// that nothing is lost while the batch has room (twice its size: past
// that, hits are dropped, so a store that keeps failing costs bounded
// memory, and only recency). They land after the hits pending now: only
// their order among those becomes inexact.
func (t *Touches) Put(keys [][]byte) {
	for _, k := range keys {
		t.Add(k)
	}
}

// DefaultFlushDelay is how long a hit's recency may stay in the process
// before a store applies it, unless a Set of its namespace applies it
// sooner.
const DefaultFlushDelay = time.Second

// Flusher calls a store's flush function within a delay of being kicked,
// from one goroutine that it starts when first kicked and that Close
// stops. It is safe for concurrent use.
type Flusher struct {
	delay time.Duration
	flush func()

	// kicked says a flush is due; Kick reads it first, so that the hits
	// that follow the first one take no lock.
	kicked atomic.Bool

	wake chan struct{} // Now's nudge; capacity 1

	mu      sync.Mutex
	running bool          // guarded by mu; the goroutine runs
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine ends
	closed  bool          // guarded by mu
}

// NewFlusher returns a Flusher that calls flush at most delay after a
// Kick.
func NewFlusher(delay time.Duration, flush func()) *Flusher {
	if delay <= 0 {
		delay = DefaultFlushDelay
	}
	return &Flusher{delay: delay, flush: flush, stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Kick asks for a flush within the delay. It is cheap when one is due
// already.
func (f *Flusher) Kick() {
	if f.kicked.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.kicked.Load() {
		return
	}
	f.kicked.Store(true)
	if !f.running {
		f.running = true
		go f.loop()
	}
}

// Now asks for a flush as soon as the goroutine can: a batch is full.
// Hits call it instead of applying the batch themselves, so that no hit
// waits for a write (another process's lock, say). Flushes that Now asks
// for come at most eight per delay, so that a store that keeps failing
// them costs one goroutine's occasional work, not a busy loop.
func (f *Flusher) Now() {
	f.Kick()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Flusher) loop() {
	defer close(f.done)
	timer := time.NewTimer(f.delay)
	defer timer.Stop()
	minGap := f.delay / 8
	var last time.Time
	for {
		select {
		case <-f.stop:
			return
		case <-timer.C:
		case <-f.wake:
			if wait := minGap - time.Since(last); wait > 0 {
				select {
				case <-f.stop:
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		if f.kicked.Swap(false) {
			f.flush()
		}
		timer.Reset(f.delay)
	}
}

// Close stops the goroutine, waiting for a flush in progress. It does not
// flush: the store flushes what remains itself, once.
func (f *Flusher) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	running := f.running
	f.mu.Unlock()
	close(f.stop)
	if running {
		<-f.done
	}
}
