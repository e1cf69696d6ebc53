// Package redis is a picocache store on Redis or Redis Cluster, through
// github.com/redis/rueidis: memoized results shared by every process of a
// fleet.
//
// Importing the package registers the redis:// and rediss:// URL schemes
// with the runtime, so PICOCACHE_URL can name a server:
//
//	import _ "github.com/picocache/picocache/runtime/redis"
//
//	PICOCACHE_URL=redis://127.0.0.1:6379/0
//	PICOCACHE_URL=rediss://user:password@cache.example.com:6380/2
//	PICOCACHE_URL=redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000   (Cluster seeds)
//
// or a program opens one ([Open]) or wraps a client it already has ([New])
// and binds it to functions or makes it the default store.
//
// # Layout on the server
//
// Each function's keys carry the hash tag {tag}, where tag is the hex of
// the first 16 bytes of SHA-256 of the function's namespace, so all of a
// function's entries and bookkeeping live in one Cluster slot, and a
// namespace may contain any bytes, braces included:
//
//	pc:{tag}:k:<key>  an entry: the value bytes, with PEXPIREAT when the function has a TTL
//	pc:{tag}:lru      sorted set of the function's keys, scored by recency
//	pc:{tag}:seq      counter that gives each use a strictly larger recency
//	pc:{tag}:exp      sorted set of the keys that expire, scored by expiry (unix ms)
//
// Set, the eviction of least recently used entries beyond maxsize, and the
// TTL are one Lua script (EVALSHA), atomic across all clients. A Get of a
// bounded function is a script too (GET and a recency update); a Get of an
// unbounded function is a plain GET. The lru set indexes every entry,
// bounded or not, so Len is exact: it prunes expired keys from the index
// (expiry comes from the server's clock) and counts the rest. Clear deletes
// the indexed entries in batches of 512 per script call, never scanning the
// keyspace, and removes the bookkeeping keys with the last batch.
//
// Redis itself may drop keys under a maxmemory policy that evicts
// (allkeys-* or volatile-*). Values are then simply misses; the index still
// counts such a key until a Get of a bounded function, an eviction or Clear
// removes it. For exact counts give the server room (noeviction, or enough
// maxmemory): maxsize and ttl already bound what picocache keeps.
//
// # Failures
//
// Open configures the client so that a server that is down fails a call
// promptly instead of waiting: the runtime then computes the result and
// counts the failure. Connections are re-established on later calls, so
// caching resumes when the server is back. See [ParseURL] for the defaults.
//
// Requires Redis 5 or later (ZPOPMIN, scripts replicated by effects);
// tested with Redis 7.
//
// This package imports the runtime and rueidis. It must not import another
// store package, and the runtime never imports it.
package redis
