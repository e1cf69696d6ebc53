package runtime

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// stripes is the number of parts of a flight group and of a counter:
// calls with different keys rarely meet on one.
const stripes = 16

// stripe picks one of the stripes for key from a cheap hash of its last
// 8 bytes and its length; a hit must not pay for a full hash.
func stripe(key []byte) int {
	x := uint64(len(key))
	if len(key) >= 8 {
		x ^= binary.LittleEndian.Uint64(key[len(key)-8:])
	} else {
		for _, b := range key {
			x = x<<8 | uint64(b)
		}
	}
	return int((x * 0x9e3779b97f4a7c15) >> 60) // the top 4 bits: stripes = 16
}

// flightGroup is the calls in flight of one function, in stripes by key
// so that misses of different keys rarely share a lock. It is safe for
// concurrent use; its zero value is ready.
type flightGroup struct {
	shards [stripes]flightShard
}

type flightShard struct {
	mu sync.Mutex
	m  map[string]*flight // guarded by mu
	_  [40]byte           // a cache line each
}

// join returns key's flight and whether the caller leads it: a new flight
// when there is none. k is the key as the shard's map holds it.
func (g *flightGroup) join(key []byte) (fl *flight, sh *flightShard, k string, leader bool) {
	sh = &g.shards[stripe(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if fl := sh.m[string(key)]; fl != nil {
		return fl, sh, "", false
	}
	if sh.m == nil {
		sh.m = make(map[string]*flight)
	}
	k = string(key)
	fl = &flight{done: make(chan struct{})}
	sh.m[k] = fl
	return fl, sh, k, true
}

func (sh *flightShard) remove(k string) {
	sh.mu.Lock()
	delete(sh.m, k)
	sh.mu.Unlock()
}

// counter is a count that many goroutines add to at once, in stripes so
// that they do not all write one cache line. It is safe for concurrent
// use; its zero value is ready.
type counter struct {
	s [stripes]struct {
		n atomic.Int64
		_ [56]byte
	}
}

func (c *counter) add(key []byte) { c.s[stripe(key)].n.Add(1) }

func (c *counter) sum() int64 {
	var n int64
	for i := range c.s {
		n += c.s[i].n.Load()
	}
	return n
}

func (c *counter) reset() {
	for i := range c.s {
		c.s[i].n.Store(0)
	}
}
