// Package runtime is what picogen's generated wrappers call: a handle per
// memoized function ([Func]) with single flight per key, hit and miss
// statistics and store failure handling; the [Store] contract over bytes;
// the built-in in-memory store ([Memory]); and the choice of a function's
// store (bound with [Func.Bind], the process default from
// [SetDefaultStore], the URL in PICOCACHE_URL, else SQLite at
// ./picocache.db).
//
// This package must not import a store package, golang.org/x/tools or
// github.com/dave/jennifer: drivers are linked only when their store
// package is imported, which registers its URL schemes ([RegisterScheme]).
package runtime
