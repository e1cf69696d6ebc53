// Package redisstore is the client-independent half of the picocache stores
// on Redis: the layout of a function's keys on the server (Names) and the
// registry of namespaces (Registry), the Lua scripts that write, evict,
// count, clear, list and register them (Script), the batching of hits'
// recency with storekit, and the Store whose Spaces implement the
// runtime's contract, and which is a runtime.Lister, on top of a Client,
// the calls it needs of a Redis client library (a GET of one key, and the
// run of a script, replying an integer or an array of strings).
//
// It exists once so that the stores on different client libraries keep
// exactly the same server-side layout and protocol, and so read and write
// each other's entries on one server: runtime/redis adapts
// github.com/redis/rueidis to Client, runtime/goredis adapts
// github.com/redis/go-redis/v9. Each store package keeps its own options,
// URL handling and client configuration, and decides how a call of its
// library is bounded by the deadline the Store gives it.
//
// It is internal to the module; users never import it. It imports the
// runtime, storekit and golang.org/x/sync, and no Redis client library or
// store package.
package redisstore
