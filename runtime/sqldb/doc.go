// Package sqldb is a picocache store in a SQL database a team already
// runs: PostgreSQL, or MySQL or MariaDB, through database/sql. (SQLite is
// runtime/sqlite's: this package opens no sqlite: URL.)
//
// Open a Store from a URL, or wrap an existing *sql.DB with New and a
// Dialect. Like database/sql itself, this package links no driver: the
// program imports the one its URL needs.
//
//	import (
//		_ "github.com/jackc/pgx/v5/stdlib"                  // postgres://, postgresql://
//		_ "github.com/go-sql-driver/mysql"                  // mysql://
//		"github.com/picocache/picocache/runtime/sqldb"
//	)
//
//	store, err := sqldb.Open(ctx, "postgres://app@db.internal/app?sslmode=require")
//	...
//	FibCache.Bind(store) // or runtime.SetDefaultStore(store)
//
// Importing the package also registers the URL schemes postgres,
// postgresql and mysql with runtime.RegisterScheme, so PICOCACHE_URL can
// name such a database.
//
// # Table
//
// Entries live in one table, "picocache" unless WithTable or the URL's
// table parameter names another; it is created when missing, safely when
// several processes start at once. Its rows are keyed by SHA-256 hashes of
// the function's namespace and of the key, so keys of any length fit every
// dialect's index limits; the full key is kept and compared on every read.
// The only SQL text built at run time is the validated table name (and
// placeholders): every namespace, key and value is a bind parameter.
//
// A table made by the stores before Runtime v2 keeps working: opening it
// adds what v2 needs (in PostgreSQL the functions NAME_set2 and
// NAME_touch, beside the older NAME_set, which it leaves for processes
// still running the older code), and processes of both versions can share
// it during a deploy.
//
// # Namespaces and pruning
//
// The table NAME_ns names each function (its namespace: name and
// version) with the time a process last used it, for runtime.Lister: the
// picocache command's ls, clear and prune, and runtime.Prune. A function
// is registered there by its first Space in each process (one upsert);
// later uses are recorded at most once a minute per process, by the
// flusher, so hits stay reads. Entries written before NAME_ns existed
// are listed once a process of this release uses their function.
// DeleteNamespace removes 1000 entries per transaction, each checking,
// under the lock of the function's NAME_ns row, that no process used it
// meanwhile.
//
// # Eviction, recency and expiry
//
// A function with a positive maxsize keeps its most recently used entries.
// Recency is a counter, never a clock: a PostgreSQL sequence, or MySQL's
// UUID_SHORT() (a server-wide counter; it assumes the server keeps its
// server_id and its clock does not go back across restarts, as MySQL
// documents).
//
// A hit is a read, one SELECT, bounded function or not. A bounded
// function's hits are recorded in the process (deduplicated, in order)
// and applied in batches, in the order of the hits, each batch in one
// transaction under the function's lock (below):
//
//   - by the next Set of the function from this process, in its own
//     transaction, before its upsert and eviction; so within one process
//     the eviction order is exact LRU;
//   - otherwise within the flush delay (WithFlushDelay, the URL's flush
//     parameter; DefaultFlushDelay, one second, by default), by a
//     goroutine of the Store that its first bounded hit starts and Close
//     stops;
//   - by Flush, and by Close;
//   - at once, by that goroutine, when a batch is full (the hit that
//     fills it does not wait for the write), so that it stays bounded.
//
// Until a process applies its hits, other processes' evictions do not see
// them: across processes eviction is LRU up to the flush delay. A batch
// that fails to apply is kept for the next attempt.
//
// Each Set of a bounded function runs in one transaction under the lock of
// that function's row in the companion table NAME_count — a row lock,
// taken in PostgreSQL inside a PL/pgSQL function the store creates,
// NAME_set2, so that a Set is one round trip. The row holds how many rows
// the function has; the Set keeps it and, when it exceeds maxsize,
// deletes that many least recently used rows by identity. So concurrent
// writers in any number of processes never leave more than maxsize
// entries, and eviction reads and deletes only the rows it evicts: its
// cost does not grow with maxsize. Applying hits outside a Set takes the
// same lock. The count row is made, by counting the function's rows once,
// at its first bounded Set (and its first after a Clear, which deletes
// the row with the entries, in one transaction). Unbounded Sets do not
// keep the count: a function whose Sets are bounded in one process and
// unbounded in another at the same time (a maxsize change deployed
// without a version change) can hold more than maxsize entries until it
// is cleared. Deadlocks and serialization failures are retried a bounded
// number of times.
//
// Expiry is absolute, in Unix nanoseconds taken from the writing process's
// clock; the clocks of processes sharing a database are assumed to agree to
// well within the TTLs used. An expired entry is a miss and is not counted
// by Len. A bounded function's expired entries are never hit again, so
// they become its least recently used and are the first evicted; until
// then they take a place among its maxsize rows. Unbounded functions
// delete expired rows on one TTL Set in 64.
//
// # Bounds
//
// Every operation (opening included, retries included) is bounded by the
// Store's timeout, DefaultTimeout unless WithTimeout says otherwise, so
// that a database that stops answering makes calls compute instead of
// wait; the Store is a runtime.Bounder. Errors never show the URL's
// password.
//
// This package must not import another store package (runtime/sqlite,
// runtime/redis) or any database driver outside its tests.
package sqldb
