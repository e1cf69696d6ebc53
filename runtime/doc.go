// Package runtime is what a program with picogen's memoized functions
// calls at run time. For each annotated function F, picogen declares a
// handle FCache, a [*Func], with [Func.Info] (hits, misses, sizes, like
// Python's cache_info), [Func.Clear] and [Func.Bind]. A function's results
// are kept in a [Store]: the one bound with Bind, else the process default
// set with [SetDefaultStore], else the store [OpenURL] opens from the URL in
// PICOCACHE_URL, else SQLite at ./picocache.db ([DefaultURL]); [NewMemory]
// is the built-in in-process store. Store packages (runtime/sqlite,
// runtime/sqldb, runtime/redis) register their URL schemes when imported.
//
// Generated code also imports package
// [github.com/picocache/picocache/runtime/codec], for the key and value
// encodings; programs never call it.
package runtime

// This package must not import a store package, golang.org/x/tools or
// github.com/dave/jennifer: drivers are linked only when their store
// package is imported, which registers its URL schemes (RegisterScheme).
