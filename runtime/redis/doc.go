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
// This is the layout that earlier versions of the package wrote and read:
// their entries stay readable, and processes of both versions may share a
// server. runtime/goredis, the store on a go-redis client, keeps exactly
// this layout and runs the same scripts: entries written through one are
// read through the other. Set, the eviction of least recently used entries beyond maxsize,
// and the TTL are one Lua script (EVALSHA), atomic across all clients. The lru set
// indexes every entry, bounded or not, so Len is exact: it prunes expired
// keys from the index (expiry comes from the server's clock) and counts the
// rest. Clear deletes the indexed entries in batches of 512 per script
// call, never scanning the keyspace, and removes the bookkeeping keys with
// the last batch.
//
// # What a hit costs
//
// A hit is one plain GET, bounded or not: it costs what a GET of the same
// value through rueidis costs, plus, for a bounded function (maxsize > 0),
// recording the key in the process (a hash and a lock of one of 16
// stripes, taken by no other key's hits). No hit writes to the server.
// BenchmarkHitPaired compares it with a raw GET of the same value on the
// same client: about 1.05x the time on one goroutine, and about 0.9x the
// throughput or better with 16 (a hit of a bounded function used to be a
// script that also wrote its recency: about 1.45x and 0.6x). Each call is
// bounded by the store's timeout; calls whose context can never be
// canceled (context.Background) share one deadline timer between them,
// others each start their own.
//
// The recency of those hits reaches the server in batches, each applied
// by a script in the function's slot: with the next Set of the function
// from this process, in the same script as its eviction, so that within
// one process eviction is exact LRU; otherwise within the flush delay
// (one second unless [WithFlushDelay] or flush=DURATION says otherwise);
// at once when a batch is full; on [Store.Flush]; and on [Store.Close].
//
// Recency across processes is therefore exact up to the hits that other
// processes have not applied yet: a process evicting may drop an entry
// that another process hit within the last flush delay (longer only while
// that process cannot reach the server: a batch that fails stays pending),
// but not one whose hit that process applied, by the delay, its next Set
// of the function, Flush or Close. maxsize is a hard limit whatever the
// processes do: after any Set returns, the function holds at most maxsize
// live entries.
//
// Redis itself may drop keys under a maxmemory policy that evicts
// (allkeys-* or volatile-*). Values are then simply misses; the index
// still counts such a key until a batch of this process meets it (the
// process records the keys its GETs missed, and applying a batch drops
// every key it names whose entry is gone), an eviction or Clear removes
// it. For exact counts give the server room (noeviction, or enough
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
// This package imports the runtime, rueidis and internal/redisstore, which
// holds the layout, the scripts and the batching of recency that it shares
// with runtime/goredis. It must not import another store package, and the
// runtime never imports it.
package redis
