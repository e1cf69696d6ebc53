// Package kv makes a picocache store of any key-value cache: a client
// with get, set-with-TTL and delete (a [Client]), and optionally an atomic
// increment (an [Incrementer]), is all it needs, as Django's cache
// backends were all Python's memoizers needed. Plug in what you already
// run (an eko/gocache store, a bespoke client) with an adapter of a few
// lines; runtime/memcache is this package over gomemcache.
//
//	type myCache struct{ c *bespoke.Client }
//
//	func (m myCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
//		v, err := m.c.Get(ctx, key)
//		if errors.Is(err, bespoke.ErrNotFound) {
//			return nil, false, nil
//		}
//		return v, err == nil, err
//	}
//	func (m myCache) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
//		return m.c.Set(ctx, key, v, ttl)
//	}
//	func (m myCache) Delete(ctx context.Context, key string) error { return m.c.Del(ctx, key) }
//
//	s := kv.New(myCache{c})
//	defer s.Close()
//	runtime.SetDefaultStore(s)
//
// # Layout in the cache
//
// Every key is at most 250 bytes (WithMaxKeyLen), whatever the
// function's namespace and arguments:
//
//	<prefix>g<hash>  a function's generation: a decimal number, no expiry
//	<prefix>e<hash>  an entry: base64url of SHA-256(namespace, generation, key)
//
// The prefix is "picocache:" unless WithPrefix says otherwise; the hash is
// 43 characters, cut to fit a shorter max key length. The value of an
// entry is an envelope with the namespace, generation and key in full,
// the entry's expiry and its value, so that two keys whose hashes meet
// (or a value other code wrote) read as misses, never as each other's
// values.
//
// # What the promises of runtime.Store become
//
// A key-value cache cannot list or count its keys and evicts on its own,
// so a Store keeps what it must count in the process and declares so
// ([Store.Promises], runtime.Promises):
//
//   - Clear starts a new generation of the function: keys carry it, so
//     older entries become unreachable, and the cache drops them in its
//     own time (by their TTL or its eviction). With an Incrementer the
//     generation is a counter incremented atomically; without, Clear sets
//     a new random one, and of two Clears at once the last write wins
//     (both hide every entry written before them). A generation the cache
//     lost is replaced by a random one, which hides the older entries
//     too. The process that clears sees it at once; other processes read
//     the generation again at most a refresh interval after they last did
//     (one second, WithRefresh; from half of it on the next call reads it
//     in the background, so a hit rarely waits for it), and so see the
//     Clear within it.
//   - maxsize: an in-process LRU of the function's keys on top, with the
//     cache's own eviction beneath. Keys enter it when this process stores
//     them or finds them (a read of a bounded function adds a key only
//     while there is room: a read never evicts); a Set beyond maxsize
//     deletes the least recently used keys from the cache. So LRU order
//     and maxsize are exact within one process; n processes may keep up
//     to n×maxsize entries of a function, and one process's hits do not
//     protect an entry from another's eviction.
//   - Len, and so Info.CurrSize, is how many live entries of the function
//     this process knows of: those in its LRU that have not expired, less
//     those a read found missing (evicted by the cache, by another
//     process, or replaced by a key with the same hash). For an unbounded
//     function up to 16384 keys are tracked (WithTrackLimit), the least
//     recently used leaving the count but not the cache. It does not count
//     entries other processes stored that this one has not read; a Clear
//     of another process empties it within the refresh interval.
//   - TTL: the cache's, given as the entry's TTL plus a second (a client
//     may round it up to whole seconds, as memcached's does); the envelope
//     carries the exact expiry, which reads check, so a TTL holds to the
//     clock of the machine that stored the entry.
//   - Values: with WithMaxValueLen, an entry larger than the cache takes
//     is not stored, nor is one the Client refuses with ErrTooLarge: the
//     Set returns nil (the memoized call keeps its result, with no store
//     failure), [Store.Stats] counts it, and it is logged with log/slog
//     once per function.
//
// # Bounded waits
//
// Each operation of a Store gives the Client a context whose deadline is
// the Store's bound (WithTimeout, 2s by default) and waits no longer, as
// long as the Client returns by it; a Client that cannot take a context
// bounds its calls itself (see runtime/memcache's Adapt). A hit is one Get
// of the Client; a refresh of the generation adds one, at most once an
// interval per function.
//
// This package imports the runtime only. It must not import a store
// package, and the runtime never imports it.
package kv
