package kv

// tracker is the keys of one function that this process knows in the
// cache, in least-recently-used order, for one generation: what a Store
// counts for Len and evicts beyond maxsize. It is not safe for concurrent
// use; function.mu guards it.
type tracker struct {
	gen   uint64
	known bool // gen is set: the generation was read or made
	m     map[digest]*node
	root  node // root.next is the most recently used, root.prev the least
	n     int  // len(m)
	timed int  // nodes with an expiry
}

// node is one tracked entry.
type node struct {
	d          digest
	key        string // its cache key, for Delete
	exp        int64  // Unix nanoseconds; 0: never
	seq        uint64 // function.seq when it was stored or first found
	prev, next *node
}

func newTracker() tracker {
	t := tracker{m: make(map[digest]*node)}
	t.root.next, t.root.prev = &t.root, &t.root
	return t
}

// reset forgets every key and tracks generation gen.
func (t *tracker) reset(gen uint64) {
	clear(t.m)
	t.root.next, t.root.prev = &t.root, &t.root
	t.n, t.timed = 0, 0
	t.gen, t.known = gen, true
}

// put tracks an entry as the most recently used, replacing what was
// tracked under its digest.
func (t *tracker) put(d *digest, key string, exp int64, seq uint64) {
	if n := t.m[*d]; n != nil {
		if n.exp != 0 {
			t.timed--
		}
		if exp != 0 {
			t.timed++
		}
		n.key, n.exp, n.seq = key, exp, seq
		t.moveToFront(n)
		return
	}
	n := &node{d: *d, key: key, exp: exp, seq: seq}
	t.m[*d] = n
	t.n++
	if exp != 0 {
		t.timed++
	}
	t.pushFront(n)
}

func (t *tracker) pushFront(n *node) {
	n.prev, n.next = &t.root, t.root.next
	n.prev.next, n.next.prev = n, n
}

func (t *tracker) unlink(n *node) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (t *tracker) moveToFront(n *node) {
	if t.root.next == n {
		return
	}
	t.unlink(n)
	t.pushFront(n)
}

// remove stops tracking n.
func (t *tracker) remove(n *node) {
	t.unlink(n)
	delete(t.m, n.d)
	t.n--
	if n.exp != 0 {
		t.timed--
	}
}

// prune removes the entries expired at now (Unix nanoseconds).
func (t *tracker) prune(now int64) {
	if t.timed == 0 {
		return
	}
	for n := t.root.next; n != &t.root; {
		next := n.next
		if n.exp != 0 && n.exp <= now {
			t.remove(n)
		}
		n = next
	}
}

// evict removes entries until at most max are tracked, the expired
// first, then the least recently used, and returns the cache keys of the
// live ones removed, which the caller deletes.
func (t *tracker) evict(max int, now int64) []string {
	if t.n <= max {
		return nil
	}
	t.prune(now)
	var keys []string
	for t.n > max {
		n := t.root.prev
		t.remove(n)
		keys = append(keys, n.key)
	}
	return keys
}

// shed stops tracking the least recently used entries beyond limit,
// leaving them in the cache.
func (t *tracker) shed(limit int) {
	for t.n > limit {
		t.remove(t.root.prev)
	}
}
