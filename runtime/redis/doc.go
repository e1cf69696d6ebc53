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
// One more key, per database, serves every function:
//
//	pc:ns             the registry of namespaces: a hash of each namespace to its last use (unix ms)
//
// A function's keys are named by a hash of its namespace, which cannot be
// read back, so the registry is what lists them: the Store is a
// runtime.Lister, for runtime.Prune and the picocache command (ls, clear,
// prune). A background flusher of the Store registers a namespace, with
// the time of the process's first Space of it, as soon as that Space is
// made (at once, or within an eighth of a second when many namespaces
// start together: a Space still reaches no server, so a function's first
// call waits no longer), and then records the namespace's later uses (each
// Get or Set) at most once per runtime.UseInterval, a minute, per process,
// within a second, off the calls' path: a hit stays one GET. What fails is
// sent again with the next flush, and Close sends what is left. A recorded use only ever moves a namespace's last
// use forward, whatever the processes' clocks say.
//
// [Store.Namespaces] scans the registry (HSCAN) and counts each namespace
// in its own slot, one script call each, up to 8 at once: its entries as
// Len counts them (ZCARD of pc:{tag}:lru, once expired keys are pruned
// from it), and the bytes of their keys and values (the key bytes and the
// STRLEN of the value), exactly up to 32 entries, and beyond as the mean
// of 32 entries taken evenly along the lru order times the count: 32
// STRLENs whatever the namespace's size. An exact figure beyond would need
// a byte counter kept by every Set and eviction, which entries that expire
// or that Redis drops under maxmemory would make drift. Bytes does not
// count what Redis spends around them (key prefixes, the index, its
// allocator), which MEMORY USAGE shows.
//
// [Store.DeleteNamespace] deletes a namespace's entries in batches of 512,
// by Clear's script, and reads the namespace's last use in the registry
// before every batch: given a time unusedSince, it stops, reporting false,
// as soon as a use since then is recorded. Once the entries are gone, the
// namespace leaves the registry too if its last use is older than
// UseInterval and a minute (so a pruned namespace is no longer listed);
// a process that uses it again records that use with its next flush, and
// it is listed again. A namespace used more recently, as one that picocache clear
// empties while it is in use, stays registered and is listed with no
// entries. Processes that use a deleted namespace keep working either way.
//
// In a Cluster the registry lives in the slot of "pc:ns", on one node,
// apart from each function's slot, so it is never written atomically with
// a function's keys, and deleting is two calls per batch (the check, the
// batch), each atomic on its own. That is safe because the registry only
// decides what to delete, never what a read returns: a use recorded
// between a check and its batch costs at most that batch of 512 entries,
// which the processes using them compute again; a use reaches the
// registry up to UseInterval late, which runtime.Prune allows for; and the
// entries a process writes into a namespace just pruned are unregistered
// only until its next flush. Entries written by releases before the
// registry are not listed, counted or pruned until a process of this
// release uses their namespace. [WithPrune] (URL: prune=720h) makes a
// Store prune by itself, once a day.
//
// # What a hit costs
//
// A hit is one plain GET, bounded or not: it costs what a GET of the same
// value through rueidis costs, plus, for a bounded function (maxsize > 0),
// recording the key in the process (a hash and a lock of one of 16
// stripes, taken by no other key's hits), plus reading the clock to see
// whether the function's use is due to be recorded (at most once a
// minute; the flusher records it). No hit writes to the server.
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
