// Package memcache is a picocache store on memcached, through
// github.com/bradfitz/gomemcache: memoized results shared by every process
// that reaches the same servers. It is a kv.Store (package
// github.com/picocache/picocache/runtime/kv) over a gomemcache client, so
// the layout, generations and promises below are kv's; this package adds
// the client adapter ([Adapt]), memcached's limits and the URL.
//
// Importing the package registers the memcache:// URL scheme with the
// runtime, so PICOCACHE_URL can name servers:
//
//	import _ "github.com/picocache/picocache/runtime/memcache"
//
//	PICOCACHE_URL=memcache://127.0.0.1:11211
//	PICOCACHE_URL=memcache://10.0.0.1:11211?addr=10.0.0.2:11211&timeout=1s
//
// or a program opens servers ([Open]) or wraps a client it already has
// ([New]) and binds the store to functions or makes it the default:
//
//	s, err := memcache.Open(ctx, "memcache://127.0.0.1:11211")
//	if err != nil { ... }
//	defer s.Close()
//	runtime.SetDefaultStore(s)
//
// # What memcached can and cannot promise
//
// memcached cannot list or count keys, and evicts on its own, so the
// store keeps what it must count in the process (runtime.Promises):
//
//   - maxsize: an in-process LRU of the function's keys on top, as
//     Django's cache backends do, with the server's own eviction beneath.
//     A Set beyond maxsize deletes the least recently used keys this
//     process knows: LRU order is exact within one process; n processes
//     may keep up to n×maxsize entries of a function, and one process's
//     hits do not protect an entry from another's eviction.
//   - Info.CurrSize (Space.Len) is how many live entries of the function
//     this process knows of: those it stored or read since it started or
//     since the function's last Clear, less those it evicted, found
//     missing or saw expire. For a bounded function that is at most
//     maxsize; for an unbounded one at most 16384 keys are tracked
//     (kv.WithTrackLimit). It does not count other processes' entries it
//     has not read, nor notice the server's own evictions until a read
//     misses. Within one process it is exact.
//   - Clear starts a new generation of the function: one atomic incr of a
//     counter stored in memcached. Keys include the generation, so older
//     entries become unreachable at once for this process and age out of
//     the server. Other processes read the generation at most one refresh
//     interval (1s, URL refresh=) after they last did, so they see a Clear
//     within it; from half of it on, a call reads it in the background.
//   - TTL is memcached's, given in whole seconds (rounded up, plus one);
//     the stored envelope carries the exact expiry, which reads check, so
//     sub-second TTLs hold on one machine, and across machines up to
//     their clocks' skew.
//   - Values: an item of memcached holds at most 1 MiB by default (its -I
//     option; URL item_size=). An entry (namespace, key and value) larger
//     than the item size less 386 bytes is not stored: the Set returns
//     nil, so the call returns its result and counts no failure, the
//     store counts it (Stats().Oversize) and logs it with log/slog once
//     per function. A value the server refuses for its size is treated
//     alike.
//
// # Layout on the server
//
// Keys are at most 250 bytes, memcached's limit, whatever the function's
// namespace and arguments:
//
//	picocache:g<43 chars>  a function's generation: a decimal counter, no expiry
//	picocache:e<43 chars>  an entry: base64url of SHA-256(namespace, generation, key)
//
// The prefix ("picocache:", URL prefix=) keeps applications sharing
// servers apart. An entry's value is an envelope holding the namespace,
// generation and key in full, its expiry and the value, so that two keys
// whose hashes met would read as misses, never as each other's values. A
// lost generation key (evicted under memory pressure) is replaced by a
// random one: the function's older entries become unreachable, as after a
// Clear.
//
// # Bounded waits
//
// Every operation of a Store waits at most its bound (Bound: 2s from
// Open, URL timeout=; see New for a given client), opening included: a
// server that is down, silent or slow costs a call that long at most,
// after which it computes its result and counts a store failure. See
// [Adapt] for how that is kept without gomemcache taking a context.
//
// This package imports the runtime, runtime/kv and gomemcache. It must
// not import another store package, and the runtime never imports it.
package memcache
