// Package sqldb is a picocache store in a SQL database a team already
// runs: PostgreSQL, MySQL or MariaDB, or SQLite, through database/sql.
//
// Open a Store from a URL, or wrap an existing *sql.DB with New and a
// Dialect. Like database/sql itself, this package links no driver: the
// program imports the one its URL needs.
//
//	import (
//		_ "github.com/jackc/pgx/v5/stdlib"                  // postgres://, postgresql://
//		_ "github.com/go-sql-driver/mysql"                  // mysql://
//		_ "modernc.org/sqlite"                              // sqlite:
//		"github.com/picocache/picocache/runtime/sqldb"
//	)
//
//	store, err := sqldb.Open(ctx, "postgres://app@db.internal/app?sslmode=require")
//	...
//	FibCache.Bind(store) // or runtime.SetDefaultStore(store)
//
// Importing the package also registers the URL schemes postgres,
// postgresql and mysql with runtime.RegisterScheme, so PICOCACHE_URL can
// name such a database. (The sqlite scheme belongs to runtime/sqlite;
// Open still accepts sqlite URLs.)
//
// # Table
//
// Entries live in one table, "picocache" unless WithTable or the URL's
// table parameter names another; it is created when missing, safely when
// several processes start at once. Its rows are keyed by SHA-256 hashes of
// the function's namespace and of the key, so keys of any length fit every
// dialect's index limits; the full key is kept and compared on every read.
// The only SQL text built at run time is the validated table name: every
// namespace, key and value is a bind parameter.
//
// # Eviction, recency and expiry
//
// A function with a positive maxsize keeps its most recently used entries.
// Recency is a counter, never a clock: a PostgreSQL sequence, MySQL's
// UUID_SHORT() (a server-wide counter; it assumes the server keeps its
// server_id and its clock does not go back across restarts, as MySQL
// documents), or MAX(used)+1 under SQLite's single writer. Get bumps it
// only for bounded functions; for others a hit is a plain SELECT.
//
// Each Set of a bounded function runs in one transaction under the lock of
// that function's row in the companion table NAME_count — a row lock in
// PostgreSQL (taken inside a PL/pgSQL function the store creates,
// NAME_set, so a Set is one round trip) and MySQL, the database's write
// lock in SQLite. The row holds how many rows the function has; the Set
// keeps it and, when it exceeds maxsize, deletes that many least recently
// used rows by identity. So concurrent writers in any number of processes
// never leave more than maxsize entries, and eviction reads and deletes
// only the rows it evicts: its cost does not grow with maxsize. The count
// row is made, by counting the function's rows once, at its first bounded
// Set (and its first after a Clear, which deletes the row with the
// entries, in one transaction). Unbounded Sets do not keep the count: a
// function whose Sets are bounded in one process and unbounded in another
// at the same time (a maxsize change deployed without a version change)
// can hold more than maxsize entries until it is cleared. Deadlocks,
// serialization failures and a busy SQLite database are retried a bounded
// number of times.
//
// Expiry is absolute, in Unix nanoseconds taken from the writing process's
// clock; the clocks of processes sharing a database are assumed to agree to
// well within the TTLs used. An expired entry is a miss and is not counted
// by Len. A bounded function's expired entries are never used again, so
// they become its least recently used and are the first evicted; until
// then they take a place among its maxsize rows. Unbounded functions
// delete expired rows on one TTL Set in 64.
//
// This package must not import another store package (runtime/sqlite,
// runtime/redis) or any database driver outside its tests.
package sqldb
