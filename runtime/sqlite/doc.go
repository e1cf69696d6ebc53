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
//	sqlite:cache.db?table=memo&busy_timeout=10s&readers=8&recovery=false&flush=250ms
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
// below). Reads take no lock that a writer holds (WAL), hits of bounded
// functions included; they wait only in rare cases, such as another
// process rebuilding the WAL index after a crash, and then for at most the
// busy timeout. Opening waits for other processes' locks (to put a fresh
// file in WAL mode, to create the schema) for at most the busy timeout
// too, twice when it moves a damaged file aside; so does [Store.Space]
// when it registers a namespace new to the file. Applying the recency of
// hits (see below) is bounded the same way: by the flusher in the
// background (at once when a batch is full: no hit waits for a write),
// by Flush and by Close. An
// operation that finds the writer free, with a context without deadline,
// runs no statement, starts no timer and no goroutine for all this.
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
// Each function (a namespace: its name and version) gets a small integer
// id, once per file, in the table "picocache_ns" (the [WithTable] name
// plus "_ns"): id INTEGER PRIMARY KEY AUTOINCREMENT (never reused, so an
// id a process has cached never comes to name another function), name
// TEXT UNIQUE, and n, the function's row count. [Store.Space] looks the id
// up, or registers the name (INSERT ... ON CONFLICT DO NOTHING, which
// waits for the file's write lock, so processes registering one name at
// once get one id). Entries live in "picocache", a WITHOUT ROWID table
// keyed by (ns, key), with the value, an absolute expiry (Unix
// nanoseconds, 0 for never) and a recency number seq; the key and the id
// are stored once per entry, not the function's name. Later releases may
// add per-namespace columns (bytes, last use) with ALTER TABLE ADD
// COLUMN; they are not kept now, since keeping them would make every
// Set of an unbounded function write the namespace's row as well as its
// entry.
//
// seq orders a bounded function's entries: every Set of one
// (Limits.MaxSize > 0), and every applied hit (see below), gives the
// entry its function's largest seq plus one inside a write transaction, so
// LRU order is exact across goroutines and processes, whatever the
// clock. The partial index on (ns, seq) finds the least recently used
// entry. A bounded Set is one INSERT into the view "picocache_put",
// whose INSTEAD OF trigger overwrites the entry, or, when the function is
// full, turns its least recently used entry into the new one (which
// leaves the count alone), or inserts it, then evicts whatever exceeds
// MaxSize (after a smaller MaxSize); one statement is one atomic step, as
// seen by every process. It is wrapped in a BEGIN IMMEDIATE transaction
// with what must be atomic with it: the recency of this process's hits of
// the function, applied first, the purge of the function's expired
// entries, and the start of its count. Row counts (n) of functions that
// were ever bounded are kept by triggers, so eviction does not count
// rows; Len of a never-bounded function counts its rows. Expired entries
// are misses and are not counted by Len; they are deleted by the next Set
// of their function that has a TTL, and by one Set in 256 otherwise.
//
// An unbounded Set of a function that was never bounded keeps no recency:
// it stores seq NULL, outside the partial index, so it writes the table's
// b-tree only, as a plain INSERT would. If such a function later gets a
// bounded Set (its maxsize changed), that Set gives its NULL-seq entries,
// in key order, seqs below all its others: they are its least recently
// used and are evicted first, by key. From then on the function is
// counted, and its unbounded Sets keep recency too.
//
// # The recency of hits
//
// A hit is a read, for every function: no write transaction, no lock
// that another process's write holds. A hit of a bounded function also
// records its key in the process, in memory; the store applies the recorded keys, in the order of their last hit, to the
// file later, in one statement per function (an UPDATE that gives them
// seqs above all others, skipping keys no longer stored):
//
//   - inside the next Set of that function from this process, in its
//     transaction, before its upsert and eviction, so that within one
//     process eviction order is exact LRU;
//   - otherwise within the flush delay, 1 s by default ([WithFlushDelay],
//     flush= in a URL), from a goroutine that Close stops, for every
//     function of the store in one transaction;
//   - by the hit that finds the batch full (some 10 000 distinct keys),
//     within the busy timeout; after a failure, hits leave it to the
//     flusher for a flush delay;
//   - by [Store.Flush] and by Close.
//
// Keys whose application fails (another process holds the write lock past
// the busy timeout, say) are kept for the next try. So across processes
// eviction sees another process's hits once that process has applied
// them: after its next Set of the function, within its flush delay, or
// when it closes. MaxSize holds regardless: after any Set returns, the
// function has at most MaxSize live entries, for any number of
// processes. A store on a file that became read-only after it was opened
// (a file system remounted read-only) still serves hits of every
// function; their recency stays in the process.
//
// # Files of earlier releases
//
// Releases before namespaces had ids kept entries in a "picocache" table
// keyed by (fn, key), fn the function's name, with a "picocache_fn"
// table of counts. Their entries are misses for this release anyway (the
// runtime's value format changed too). In a file that has such a table
// the store leaves it untouched and uses tables of other names, from
// "picocache_v2" (entries) and "picocache_v2_ns" on, for good: a process
// opening the file later uses them too, even once the old tables are
// gone. To reclaim their space, once no process of an earlier release
// uses the file:
//
//	sqlite3 picocache.db 'DROP TABLE picocache; DROP TABLE picocache_fn; VACUUM'
//
// (with WithTable(NAME), the tables NAME and NAME_fn). Dropping a table
// drops its indexes and triggers.
//
// # Pragmas
//
// The store sets journal_mode=WAL (on the file, once), synchronous=NORMAL
// and the busy timeout (on each connection), and leaves SQLite's defaults
// for the rest, as the benchmarks in bench_test.go chose (BenchmarkScale
// fills 10^3 and 10^6 entries of an int function, 8-byte keys and 23-byte
// values):
//
//   - cache_size stays 2 MiB per connection (the writer and each reader,
//     [WithReaders]). A hit at random among 10^6 entries, whose file
//     (45 bytes per entry) is 20 times that, costs 1.1 to 1.3 times a hit
//     among 10^3 entries, as it does for a raw key-value table: a page the
//     connection does not cache comes from the operating system's page
//     cache, in microseconds. 8 or 64 MiB made no difference that noise
//     did not cover, for memory paid by every connection of every process.
//   - mmap_size stays 0: reading through a memory map measured no faster
//     at 10^6 entries, and a file truncated while it is mapped (say by cp
//     over it, or "> picocache.db") kills the process with SIGBUS on its
//     next read, where without the map the store reads the damage and heals
//     (see Damaged files).
//   - page_size stays 4096. 16 KiB pages make an evicting Set of a small
//     function (a few hundred entries) write 2 pages rather than 4, but
//     every other commit writes 4 times the bytes: a raw single-row write
//     measured 33% dearer, an unbounded Set 8%, for about 5% off the
//     evicting Set. A file keeps the page size it was created with.
//
// # Costs
//
// Measured by the benchmarks in bench_test.go (the store alone) and
// bench (through generated code), each against raw prepared
// statements on a key-value table in the same file, with the same
// pragmas, in alternating chunks, with an 8-byte key and a 23-byte value:
//
//   - A hit is one read: 1.17 times a raw SELECT of the value for a
//     function of maxsize 256, 1.14 for an unbounded one (1.2 for both
//     through the generated wrapper). A bounded hit adds a hash and a
//     striped lock in the process; its recency costs an UPDATE of the entry
//     later, shared with the other hits of a batch, and a key hit again
//     before then costs nothing more. Reads go to the writer connection
//     when it is idle (its page cache survives this process's commits),
//     else to a pool of reader connections ([WithReaders]).
//   - Among 10^6 entries hit at random, a hit of an unbounded function
//     costs 1.12 times one among 10^3, as a raw SELECT does. For a bounded
//     function every such hit is a distinct key whose recency must be
//     written: the UPDATE rewrites the entry's page and its place in the
//     recency index, two pages at random, and that makes the hit about 3
//     times one among 10^3 (40 µs here, where a hit that wrote cost 165).
//   - A file holds 46 bytes per entry of an unbounded function, 1.08
//     times a raw key-value table's 42; a bounded function's recency index
//     adds 27 (the entry's key, its seq and SQLite's overhead).
//   - A miss that stores, unbounded, is the read that misses plus one
//     upsert that writes one b-tree: 1.4 times a raw INSERT OR REPLACE
//     alone (1.8 through the wrapper).
//   - A miss that stores into a full bounded function is the read plus one
//     statement that turns the least recently used entry into the new one:
//     it writes four pages (the entries' b-tree and the recency index,
//     each where the entry leaves and where it arrives) where a raw insert
//     writes one, and each page a commit writes costs it two write calls.
//     That makes it 3.8 times a raw INSERT OR REPLACE (4 times through the
//     wrapper), where it was 4.7 (5.6).
//   - Space is a read, once per function and file; a write the first time
//     the file sees the function.
//
// Four processes of 8 goroutines hitting one function of maxsize 256 on
// one file get 0.99 times the hits per second they get from an unbounded
// function, with no store error, where hits that wrote got 0.05 times.
//
// # Imports
//
// This package imports runtime, internal/storekit and modernc.org/sqlite.
// It must not import another store package (runtime/redis, runtime/sqldb),
// and runtime must not import it.
package sqlite
