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
//	sqlite:cache.db?table=memo&busy_timeout=10s&readers=8&recovery=false
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
// # Bounded waiting
//
// No operation waits longer than the busy timeout ([WithBusyTimeout]),
// which [Store.Bound] reports to the runtime (the store is a
// runtime.Bounder). The wait for this process's single writer connection,
// while other goroutines use it, and SQLite's wait for another process's
// write lock share that budget: an operation that finds the writer taken
// waits for it until the budget is spent, then sets the writer
// connection's busy timeout to what remains. A context deadline earlier
// than the budget shortens it the same way; SQLite's busy handler does
// not heed the interrupt that a context's end sets off, so the deadline
// alone would not end that wait. The runtime gives the Set after a miss,
// as its deadline, what remains of the bound after the Get, so a call
// waits on the store for no longer than the busy timeout in all.
//
// The bound counts waiting, to the millisecond (SQLite's resolution). An
// operation adds the time its statements take to run once it has the
// lock: microseconds for a hit, more for a Set that evicts many entries,
// and the opening of a fresh file when it recovers a damaged one (see
// below). Reads take no lock that a writer holds (WAL); they wait only in
// rare cases, such as another process rebuilding the WAL index after a
// crash, and then for at most the busy timeout. Opening waits for other
// processes' locks (to put a fresh file in WAL mode, to create the schema)
// for at most the busy timeout too, twice when it moves a damaged file
// aside. An operation that finds the writer free, with a context without
// deadline, runs no statement, starts no timer and no goroutine for all
// this.
//
// # Damaged files
//
// A file that is not a SQLite database (SQLITE_NOTADB) or is malformed
// (SQLITE_CORRUPT) would fail every run until someone deleted it. Unless
// recovery is off ([WithRecovery](false), recovery=false in a URL), the
// store moves it aside, with its -wal and -shm files, to
// PATH.corrupt-TIME (TIME in UTC, such as 20250102T150405.123Z), logs
// one warning with log/slog naming both paths, and starts a fresh file.
// Open does so when the damage shows at once (a truncated file shows it
// there). Damage may show only later, on a query (pages damaged inside a
// file whose header and schema are intact): then the store recovers when
// an operation meets it, and retries that operation once on the fresh
// file. Operations running on the damaged file at that moment fail
// (the runtime counts store failures and computes; no value is wrong).
// A damaged file is moved at most once: before renaming it, the store
// checks that the path still names the file it opened.
//
// With recovery off, Open of a damaged file fails with an error that names
// the file and says to delete it or move it aside, and so does every
// operation on a file that turns out damaged later. Any error of Open
// names the path and, where the file system tells, what is wrong: a
// directory at the path, a missing directory, permission denied, a
// read-only file system.
//
// Other processes sharing the file keep their connections to the damaged
// file, now under its .corrupt name: their reads of it may hit or fail,
// but return no wrong value, and what they write there is lost to the
// others. Each moves to the fresh file, without moving anything aside,
// when it meets the damage itself, when it opens a new connection, or within
// 256 Sets, whichever comes first; a store whose file was deleted (say
// with rm picocache.db* to empty the cache) does the same. Closing a
// connection to a file moved or deleted leaves alone the -wal and -shm
// now at its path: SQLite checks that its file has not moved before it
// deletes them. Where an open file cannot be renamed (Windows), Open moves
// a damaged file aside only when no other process has it open, and a
// store that meets damage later fails until the file is removed.
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
