package sqldb

import (
	"fmt"
	"regexp"
	"strconv"
)

// A Dialect is the SQL flavour of a database: it decides the schema, the
// statements and the locking that make eviction atomic.
type Dialect int

const (
	// Postgres is PostgreSQL (9.5 or later), through any database/sql
	// driver; Open uses "pgx" from github.com/jackc/pgx/v5/stdlib.
	Postgres Dialect = iota + 1
	// MySQL is MySQL 5.7 or later, or MariaDB 10.3 or later; Open uses
	// "mysql" from github.com/go-sql-driver/mysql.
	MySQL
	// SQLite is SQLite 3.35 or later; Open uses "sqlite" from
	// modernc.org/sqlite.
	SQLite
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// driverName and driverImport are the conventional database/sql driver for
// the dialect, which Open uses.
func (d Dialect) driverName() string {
	switch d {
	case Postgres:
		return "pgx"
	case MySQL:
		return "mysql"
	}
	return "sqlite"
}

func (d Dialect) driverImport() string {
	switch d {
	case Postgres:
		return "github.com/jackc/pgx/v5/stdlib"
	case MySQL:
		return "github.com/go-sql-driver/mysql"
	}
	return "modernc.org/sqlite"
}

// DefaultTable is the table a Store uses unless WithTable names another.
const DefaultTable = "picocache"

// tableName is what WithTable accepts: a plain identifier, short enough
// for the suffixes of the objects derived from it (index, sequence, lock
// table) to stay within every dialect's identifier length limit (63 bytes
// in PostgreSQL, 64 in MySQL).
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// queries holds a dialect's statements for one table. Only the validated
// table name is ever spliced into SQL text; every value is a bind
// parameter.
type queries struct {
	create []string // run in order, each idempotent

	// get reads a live value: args fh, kh, k, now.
	get string
	// touch reads a live value and makes it the most recently used, in one
	// statement (Postgres, SQLite): args vary, see Store.touch.
	touch string
	// bump makes a row the most recently used (MySQL, after get): args fh, kh, k.
	bump string
	// put upserts a row with a new recency: args vary, see Store.put.
	put string
	// lock serializes the Sets of one function within a transaction.
	lock string
	// setBounded is put, lock and evict in one statement (Postgres: args
	// fh, kh, k, v, expires, now, MaxSize, lock key).
	setBounded string
	// evict deletes fn's expired rows and its live rows beyond the
	// MaxSize most recently used (Postgres, SQLite: args fh, now, MaxSize),
	// or one row that victims returned (MySQL: args fh, kh).
	evict string
	// victims lists what evict deletes (MySQL: args fh, now, fh, now, MaxSize).
	victims string
	// sweep deletes fn's expired rows.
	sweep string
	clear string
	// forget deletes fn's lock row (MySQL), so Clear leaves nothing behind.
	forget string
	count  string
}

// Table layout, the same in every dialect:
//
//	fh      SHA-256 of fn (32 bytes)
//	kh      SHA-256 of the key (32 bytes); (fh, kh) is the primary key, so
//	        keys of any length fit MySQL's index limits
//	k       the key itself, compared on every read so that distinct keys
//	        never share an entry even if their hashes collided
//	v       the value
//	used    recency: a counter that grows with every Set and every Get that
//	        marks the entry used (a sequence in PostgreSQL, UUID_SHORT() in
//	        MySQL, MAX(used)+1 under SQLite's single writer)
//	expires absolute expiry in Unix nanoseconds; math.MaxInt64 for never
//
// and an index on (fh, used) for eviction and per-function counts.
func newQueries(d Dialect, table string) queries {
	switch d {
	case Postgres:
		t := `"` + table + `"`
		seq := `"` + table + `_used"`
		setFn := `"` + table + `_set"`
		return queries{
			create: []string{
				`CREATE TABLE IF NOT EXISTS ` + t + ` (
	fh BYTEA NOT NULL,
	kh BYTEA NOT NULL,
	k BYTEA NOT NULL,
	v BYTEA NOT NULL,
	used BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	PRIMARY KEY (fh, kh))`,
				`CREATE INDEX IF NOT EXISTS "` + table + `_lru" ON ` + t + ` (fh, used)`,
				`CREATE SEQUENCE IF NOT EXISTS ` + seq,
				// A bounded Set in one round trip: lock, upsert and evict in
				// one function call, its own transaction. Under READ
				// COMMITTED each statement of a volatile function takes a
				// new snapshot, so the DELETE sees every Set committed
				// before the lock was granted. The advisory lock's two-key
				// form keeps clear of applications' one-key locks: the key
				// spaces do not overlap.
				`CREATE OR REPLACE FUNCTION ` + setFn + `(p_fh BYTEA, p_kh BYTEA, p_k BYTEA, p_v BYTEA,
	p_expires BIGINT, p_now BIGINT, p_max BIGINT, p_lock INTEGER) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
	PERFORM pg_advisory_xact_lock(` + strconv.Itoa(int(lockClassSet)) + `, p_lock);
	INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES (p_fh, p_kh, p_k, p_v, nextval('` + seq + `'), p_expires)
	ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires;
	DELETE FROM ` + t + ` WHERE fh = p_fh AND (expires <= p_now OR kh IN (
		SELECT kh FROM ` + t + ` WHERE fh = p_fh AND expires > p_now ORDER BY used DESC OFFSET p_max));
END
$fn$`,
			},
			setBounded: `SELECT ` + setFn + `($1, $2, $3, $4, $5, $6, $7, $8)`,
			get:        `SELECT v FROM ` + t + ` WHERE fh = $1 AND kh = $2 AND k = $3 AND expires > $4`,
			touch:      `UPDATE ` + t + ` SET used = nextval('` + seq + `') WHERE fh = $1 AND kh = $2 AND k = $3 AND expires > $4 RETURNING v`,
			put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES ($1, $2, $3, $4, nextval('` + seq + `'), $5)
ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires`,
			sweep: `DELETE FROM ` + t + ` WHERE fh = $1 AND expires <= $2`,
			clear: `DELETE FROM ` + t + ` WHERE fh = $1`,
			count: `SELECT COUNT(*) FROM ` + t + ` WHERE fh = $1 AND expires > $2`,
		}
	case MySQL:
		t := "`" + table + "`"
		fns := "`" + table + "_fn`"
		return queries{
			create: []string{
				// One row per function, locked by its Sets.
				`CREATE TABLE IF NOT EXISTS ` + fns + ` (
	fh BINARY(32) NOT NULL PRIMARY KEY,
	sets BIGINT NOT NULL) ENGINE=InnoDB`,
				`CREATE TABLE IF NOT EXISTS ` + t + ` (
	fh BINARY(32) NOT NULL,
	kh BINARY(32) NOT NULL,
	k LONGBLOB NOT NULL,
	v LONGBLOB NOT NULL,
	used BIGINT UNSIGNED NOT NULL,
	expires BIGINT NOT NULL,
	PRIMARY KEY (fh, kh),
	KEY ` + "`" + table + "_lru`" + ` (fh, used)) ENGINE=InnoDB`,
			},
			get: `SELECT v FROM ` + t + ` WHERE fh = ? AND kh = ? AND k = ? AND expires > ?`,
			// UUID_SHORT() is a server-wide counter that grows by one per
			// call: exact recency without a hot counter row.
			bump: `UPDATE ` + t + ` SET used = UUID_SHORT() WHERE fh = ? AND kh = ? AND k = ?`,
			put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES (?, ?, ?, ?, UUID_SHORT(), ?)
ON DUPLICATE KEY UPDATE k = VALUES(k), v = VALUES(v), used = VALUES(used), expires = VALUES(expires)`,
			lock: `INSERT INTO ` + fns + ` (fh, sets) VALUES (?, 1) ON DUPLICATE KEY UPDATE sets = sets + 1`,
			// MySQL evicts in two steps: a plain (consistent, lock-free)
			// read of the rows to delete, then deletes by primary key. A
			// single DELETE ... IN (SELECT ...) would take shared locks on
			// every row of fn and deadlock with Gets bumping recency.
			victims: `(SELECT kh FROM ` + t + ` WHERE fh = ? AND expires <= ?)
UNION ALL
(SELECT kh FROM ` + t + ` WHERE fh = ? AND expires > ? ORDER BY used DESC LIMIT ?, 18446744073709551615)`,
			evict:  `DELETE FROM ` + t + ` WHERE fh = ? AND kh = ?`,
			sweep:  `DELETE FROM ` + t + ` WHERE fh = ? AND expires <= ?`,
			clear:  `DELETE FROM ` + t + ` WHERE fh = ?`,
			forget: `DELETE FROM ` + fns + ` WHERE fh = ?`,
			count:  `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ? AND expires > ?`,
		}
	}
	t := `"` + table + `"`
	return queries{
		create: []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
	fh BLOB NOT NULL,
	kh BLOB NOT NULL,
	k BLOB NOT NULL,
	v BLOB NOT NULL,
	used INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	PRIMARY KEY (fh, kh)) WITHOUT ROWID`,
			`CREATE INDEX IF NOT EXISTS "` + table + `_lru" ON ` + t + ` (fh, used)`,
		},
		get: `SELECT v FROM ` + t + ` WHERE fh = ?1 AND kh = ?2 AND k = ?3 AND expires > ?4`,
		// SQLite has one writer at a time, so MAX(used)+1 inside a write
		// statement is a race-free counter.
		touch: `UPDATE ` + t + ` SET used = (SELECT MAX(used) FROM ` + t + ` WHERE fh = ?1) + 1
WHERE fh = ?1 AND kh = ?2 AND k = ?3 AND expires > ?4 RETURNING v`,
		put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires)
VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(used), 0) + 1 FROM ` + t + ` WHERE fh = ?1), ?5)
ON CONFLICT (fh, kh) DO UPDATE SET k = excluded.k, v = excluded.v, used = excluded.used, expires = excluded.expires`,
		evict: `DELETE FROM ` + t + ` WHERE fh = ?1 AND (expires <= ?2 OR kh IN (
	SELECT kh FROM ` + t + ` WHERE fh = ?1 AND expires > ?2 ORDER BY used DESC LIMIT -1 OFFSET ?3))`,
		sweep: `DELETE FROM ` + t + ` WHERE fh = ?1 AND expires <= ?2`,
		clear: `DELETE FROM ` + t + ` WHERE fh = ?1`,
		count: `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ?1 AND expires > ?2`,
	}
}
