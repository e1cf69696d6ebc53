// Package sqlite is PicoCache's embedded default store: a runtime.Store in
// a SQLite database file, on modernc.org/sqlite (pure Go, no cgo). The
// runtime uses it, at ./picocache.db, when nothing else is chosen.
//
// Open a store with [Open], or by URL with runtime.OpenURL once this
// package is imported (its init registers the "sqlite" scheme):
//
//	sqlite:picocache.db                      ./picocache.db (the runtime's DefaultURL)
//	sqlite:relative/path.db                  relative to the working directory at open
//	sqlite:/abs/path.db, sqlite:///abs/path.db, sqlite://localhost/abs/path.db
//	sqlite:cache.db?table=memo&busy_timeout=10s&readers=8
//
// See [ParseURL] for the query parameters and [Option] for their Go form.
//
// # Sharing a file
//
// Several processes may use one file at once. The store puts it in WAL
// journal mode (readers never block the writer, nor it them), with
// synchronous=NORMAL (a commit is durable against a process crash; a
// power loss may lose the last commits, never corrupt the file) and a busy
// timeout (5s by default) for which a write waits on another process's
// write. Opening creates the schema idempotently in one IMMEDIATE
// transaction, so processes racing on a fresh file are safe. The file must
// be on a local file system: WAL needs shared memory between processes.
//
// # Schema and semantics
//
// Entries live in one table (default "picocache", see [WithTable]) keyed
// by (fn, key) with the value, an absolute expiry (Unix nanoseconds) and a
// recency number seq. Every Set of a bounded function (Limits.MaxSize >
// 0), and every hit of one on an entry that is not already its most
// recent, gives the entry its function's largest seq plus one inside a
// write transaction: LRU order is exact across goroutines and processes,
// whatever the clock. A Get of an unbounded function is a plain read. Set,
// the purge of its function's expired entries and the eviction of its
// least recently used entries beyond MaxSize are one BEGIN IMMEDIATE
// transaction. Row counts of functions that were ever bounded are kept by
// triggers in the table's "_fn" companion, so eviction does not count
// rows; Len of a never-bounded function counts its rows. Expired entries
// are misses and are not counted by Len; they are deleted by the next Set
// of their function that has a TTL, and by one Set in 256 otherwise.
//
// An unbounded Set of a function that was never bounded keeps no recency:
// it stores seq NULL, outside the partial index on (fn, seq), so it
// writes the table's b-tree only, as a plain INSERT would. If such a
// function later gets a bounded Set (its maxsize changed), that Set gives
// its NULL-seq entries, in key order, seqs below all its others: they are
// its least recently used and are evicted first, by key. From then on the
// function is counted, and its unbounded Sets keep recency too.
//
// # Costs
//
// An unbounded hit is one read, about as costly as a raw SELECT of the
// value. A call that misses, unbounded, is that read plus one
// single-statement upsert that writes one b-tree, about 1.45 times the CPU
// of a raw INSERT OR REPLACE (the read is most of the difference; each
// read transaction takes and drops a WAL lock). A bounded hit on an entry
// that is not the most recent, and every bounded Set, is a write
// transaction (two b-trees, and the eviction), several times a raw
// statement: the price of LRU order that is exact across processes. See
// the benchmarks in bench_test.go.
//
// Reads go to the writer connection when it is idle (its page cache
// survives this process's commits), else to a pool of reader connections
// ([WithReaders]).
//
// # Imports
//
// This package imports runtime and modernc.org/sqlite. It must not import
// another store package (runtime/redis, runtime/sqldb), and runtime must
// not import it.
package sqlite
