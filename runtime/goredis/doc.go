// Package goredis is a picocache store on a github.com/redis/go-redis/v9
// client that the application already has: Redis, Redis Cluster, or Redis
// behind Sentinel, configured by the application, shared by every process
// of a fleet.
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "127.0.0.1:6379",
//		ContextTimeoutEnabled: true, // lets a hit cost one GET and nothing more
//	})
//	defer rdb.Close()
//
//	s := goredis.New(rdb) // reaches no server; never closes rdb
//	defer s.Close()       // applies the recency of hits still pending
//	runtime.SetDefaultStore(s)  // or FooCache.Bind(s) for one function
//
// [New] takes any redis.UniversalClient: redis.NewClient,
// redis.NewFailoverClient (Sentinel), redis.NewClusterClient,
// redis.NewUniversalClient. The package registers no URL scheme: redis://
// and rediss:// belong to runtime/redis, which opens its own rueidis
// client from a URL.
//
// # Layout on the server
//
// The store keeps exactly the layout and runs exactly the scripts of
// runtime/redis (both use the module's one implementation of them): each
// function's keys share the hash tag {tag}, the hex of the first 16 bytes
// of SHA-256 of its namespace, so they live in one Cluster slot, and
//
//	pc:{tag}:k:<key>  an entry: the value bytes, with PEXPIREAT when the function has a TTL
//	pc:{tag}:lru      sorted set of the function's keys, scored by recency
//	pc:{tag}:seq      counter that gives each use a strictly larger recency
//	pc:{tag}:exp      sorted set of the keys that expire, scored by expiry (unix ms)
//
// Processes using this package and processes using runtime/redis share a
// server as processes of one package do: each reads, counts, evicts by the
// recency of and clears what the others wrote. Set, the eviction beyond
// maxsize and the TTL are one Lua script (EVALSHA), atomic across all
// clients; Len prunes expired keys from the index and counts the rest;
// Clear deletes the indexed entries in batches, never scanning the
// keyspace. See runtime/redis for the details, and for what Redis's own
// maxmemory eviction does to the counts.
//
// One more key, per database, serves every function, as in runtime/redis:
//
//	pc:ns             the registry of namespaces: a hash of each namespace to its last use (unix ms)
//
// The Store is a runtime.Lister (runtime.Prune, the picocache command)
// through it, exactly as runtime/redis is, and the two list, delete and
// prune each other's namespaces: a background flusher registers a
// namespace as soon as the process makes its first Space of it (which
// still reaches no server), and records its later uses at most once per
// runtime.UseInterval, so a hit stays one GET. [Store.Namespaces] scans the registry and counts
// each namespace in its slot: its live entries as Len does, and the bytes
// of their keys and values, exact up to 32 entries and estimated from 32
// of them beyond. [Store.DeleteNamespace] deletes in batches of 512,
// checking the namespace's last use in the registry before each, and
// removes the namespace from the registry with its last entries unless it
// was used in the last UseInterval and a minute (a namespace cleared while
// in use stays listed, with no entries). In a Cluster the registry lives in
// a slot of its own, never written atomically with a function's keys: a use
// recorded between a check and its batch costs at most that batch, which
// is then computed again. runtime/redis's documentation says why that is
// safe. [WithPrune] makes a Store prune by itself, once a day.
//
// # What a hit costs
//
// A hit is one GET through the client, bounded or not; for a bounded
// function (maxsize > 0) the Store also records the key in the process
// (a hash and a lock of one of 16 stripes), and hands the recency of hits
// to the server in batches: with the next Set of the function from this
// process, in the same script as its eviction, so that within one
// process eviction is exact LRU; otherwise within the flush delay (one
// second unless [WithFlushDelay] says otherwise); when a batch is full; on
// [Store.Flush]; and on [Store.Close]. No hit writes to the server.
//
// With a *redis.Client whose ContextTimeoutEnabled is set, the Store calls
// the client directly, and a hit costs what the client's own GET of the
// same value costs, plus the key string and a clock reading (whether the
// function's use is due to be recorded, once a minute): BenchmarkHitPaired
// measured a 256-byte hit, bounded or not, at 0.97x to 1.02x the time of a raw GET on
// one goroutine (1.01x its CPU time) and 0.96x to 0.98x its throughput with
// 16 goroutines, against Redis 7 on loopback (a shared machine with 2
// CPUs; the ranges are across sessions).
// Calls whose context can never be canceled (context.Background) share one
// deadline timer between them, as in runtime/redis; others each start
// their own.
//
// With any other client (go-redis's default configuration among them, see
// Bounds) each call of the Store runs on a goroutine of its own, so that
// the Store can stop waiting at its bound: that goroutine, its wake-ups
// and four allocations made a hit 1.4x to 2.2x the time of a raw GET on
// one goroutine and 0.81x to 0.89x its throughput with 16 goroutines in
// the same runs: 10 to 30 microseconds on loopback, which matter less the
// farther the server is. Set ContextTimeoutEnabled to avoid them; the
// calls on a ClusterClient are always run so.
//
//	go test ./runtime/goredis -run '^$' -bench 'HitPaired' -benchtime 2s -count 5
//
// # Bounds
//
// Every operation of a Store (a Get, a Set with its eviction, a Clear, a
// Len, a flush of recency and of namespaces' uses, each server call of
// Namespaces and DeleteNamespace) waits at most its timeout (DefaultTimeout, 3s, unless [WithTimeout] says otherwise) for
// the server, retries included:
// that is its runtime.Bounder bound, and it holds however the client is
// configured. The Store gives every call of the client a context with
// that deadline (or the caller's, if sooner), and then:
//
//   - A *redis.Client (plain, or Sentinel's failover client) with
//     ContextTimeoutEnabled, and ReadTimeout and WriteTimeout not -2, ends
//     the call by that deadline itself, as go-redis v9.23 does: the
//     deadline of each socket read and write is the context's when it is
//     sooner than ReadTimeout or WriteTimeout, and the waits for a
//     connection of the pool (PoolTimeout), for a dial (DialTimeout, per
//     attempt), and between retries (MaxRetries) end with the context.
//     The Store calls it directly.
//   - Any other client may wait past the deadline. Without
//     ContextTimeoutEnabled (go-redis's default), go-redis ignores the
//     context's deadline on the socket: a read waits for ReadTimeout
//     (5s by default), the handshake of a new connection for several of
//     them; with ReadTimeout -1 or -2 it never stops by itself. A
//     *redis.ClusterClient, even with ContextTimeoutEnabled, waits under a
//     lock of its own, with a context of its own (5s), while it loads the
//     server's COMMAND table, on its first commands and again after that
//     failed. A Ring, or a client of the application's own making, the
//     Store cannot look into. For these the Store runs each call on a
//     goroutine and returns at the deadline, with an error, while the
//     call goes on: it ends when the client ends it (by its ReadTimeout or
//     WriteTimeout, the context's deadline for the waits go-redis always
//     bounds by it, or the server's answer). At most 256 such calls are
//     left running at once (plus those in progress when that count was
//     reached): beyond, a call fails at once, so that a long outage costs
//     bounded memory.
//
// What the Store relies on the client for: to end the calls it left
// running, eventually (a client without socket deadlines keeps them, and
// their connections, while a silent server keeps its connections open),
// and, for a client it calls directly, to keep go-redis's documented
// behaviour of ContextTimeoutEnabled. Hooks and a Limiter that the
// application added to the client run inside every call: the Store stops
// waiting for them at the bound in a guarded call, but a hook that blocks
// a direct call blocks it.
//
// A client called directly ends a call at its deadline, but not when its
// context is canceled sooner: the caller then waits for the server's reply,
// within the bound. A guarded call returns at once.
//
// A call that gives up leaves the server's state as it was or as the call
// made it: a Set that ran out of time may still be applied, and a batch of
// recency whose script timed out stays pending and is applied again
// (which only makes those keys a little more recent).
//
// New reaches no server, so creating a Store never waits; the client
// connects on its first call, within that call's bound.
//
// # Failures
//
// A call that fails (the server down, silent or slow, the client closed)
// makes the runtime compute the result and count the failure; caching
// resumes when the client reconnects, as go-redis does on later calls.
// Calls after [Store.Close] fail with an error that wraps
// runtime.ErrClosed. Close applies the recency of the hits not yet
// applied (within the bound), and never closes the client: the
// application closes it, after the Store.
//
// A *redis.Client reads each reply into memory of its own, which the
// Store hands to the runtime as it is. A client with a client-side cache
// (ClientSideCacheConfig or ClientSideCache) may serve a GET from the
// process instead, and other clients the Store cannot look into: it copies
// the values they return. Whether a hit from a client-side cache sees the
// latest write of another process is up to that cache and the server's
// invalidations; the tests of this package do not run with one.
//
// Requires Redis 5 or later (ZPOPMIN, scripts replicated by effects);
// tested with Redis 7 and go-redis v9.23.
//
// This package imports the runtime, go-redis and internal/redisstore, the
// layout, scripts and batching of recency it shares with runtime/redis.
// It must not import another store package, and the runtime never imports
// it.
package goredis
