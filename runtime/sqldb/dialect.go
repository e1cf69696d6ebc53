package sqldb

import (
	"fmt"
	"regexp"
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
	// statement (Postgres, SQLite): args fh, kh, k, now.
	touch string
	// bump makes a row the most recently used (MySQL, after get): args fh, kh, k.
	bump string
	// put upserts a row with a new recency: args fh, kh, k, v, expires.
	put string
	// setBounded is a whole bounded Set in one statement (Postgres: args
	// fh, kh, k, v, expires, MaxSize).
	setBounded string
	// lock reads fn's count row and, in MySQL, locks it for the rest of the
	// transaction: arg fh. No row: the function is not counted yet.
	lock string
	// initCount creates fn's count row from a count of its rows (MySQL,
	// SQLite): args fh (twice in MySQL).
	initCount string
	// exists reports whether fn holds a row for the key, live or not
	// (SQLite, before put; MySQL reads that from put's affected rows):
	// args fh, kh.
	exists string
	// victims lists fn's n least recently used rows (MySQL: args fh, n),
	// which evict then deletes by primary key (MySQL: args fh, kh). In
	// SQLite evict does both: args fh, n.
	victims, evict string
	// setCount stores fn's row count: args n, fh.
	setCount string
	// sweep deletes fn's expired rows.
	sweep string
	// forget deletes fn's count row; clear deletes its entries. Clear runs
	// both in one transaction, forget first, under the lock of the row.
	forget, clear string
	count         string
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
// and an index on (fh, used) for eviction. The companion table NAME_count
// holds one row per function that was ever bounded: n, how many rows
// (expired ones included) the function holds. Bounded Sets lock that row,
// keep n and evict the n - MaxSize least recently used rows, so eviction
// reads and deletes only the rows it evicts, whatever MaxSize is. The row
// is created, from a count of the function's rows, by the function's
// first bounded Set (or its first after a Clear, which deletes it).
func newQueries(d Dialect, table string) queries {
	switch d {
	case Postgres:
		t := `"` + table + `"`
		cnt := `"` + table + `_count"`
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
				`CREATE TABLE IF NOT EXISTS ` + cnt + ` (
	fh BYTEA NOT NULL PRIMARY KEY,
	n BIGINT NOT NULL)`,
				// A bounded Set in one round trip: lock, upsert and evict in
				// one function call, its own transaction. The lock is fn's
				// count row (FOR UPDATE); a missing row is inserted, and
				// concurrent inserters wait on its unique index, then find
				// it. Under READ COMMITTED each statement of a volatile
				// function takes a new snapshot, so the count and the
				// eviction see every Set committed before the lock was
				// granted. (xmax = 0) tells an inserted row from an updated
				// one: the usual idiom, as ON CONFLICT has no flag of its own.
				`CREATE OR REPLACE FUNCTION ` + setFn + `(p_fh BYTEA, p_kh BYTEA, p_k BYTEA, p_v BYTEA,
	p_expires BIGINT, p_max BIGINT) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
	c BIGINT;
	c0 BIGINT;
	ins BOOLEAN;
	d BIGINT;
BEGIN
	LOOP
		SELECT n INTO c FROM ` + cnt + ` WHERE fh = p_fh FOR UPDATE;
		EXIT WHEN FOUND;
		INSERT INTO ` + cnt + ` (fh, n) VALUES (p_fh, -1) ON CONFLICT (fh) DO NOTHING;
	END LOOP;
	c0 := c;
	IF c < 0 THEN
		SELECT COUNT(*) INTO c FROM ` + t + ` WHERE fh = p_fh;
	END IF;
	INSERT INTO ` + t + ` AS e (fh, kh, k, v, used, expires) VALUES (p_fh, p_kh, p_k, p_v, nextval('` + seq + `'), p_expires)
	ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires
	RETURNING (e.xmax = 0) INTO ins;
	IF ins THEN
		c := c + 1;
	END IF;
	IF c > p_max THEN
		DELETE FROM ` + t + ` WHERE fh = p_fh AND kh IN (
			SELECT kh FROM ` + t + ` WHERE fh = p_fh ORDER BY used LIMIT c - p_max);
		GET DIAGNOSTICS d = ROW_COUNT;
		c := c - d;
	END IF;
	IF c <> c0 THEN
		UPDATE ` + cnt + ` SET n = c WHERE fh = p_fh;
	END IF;
END
$fn$`,
			},
			setBounded: `SELECT ` + setFn + `($1, $2, $3, $4, $5, $6)`,
			get:        `SELECT v FROM ` + t + ` WHERE fh = $1 AND kh = $2 AND k = $3 AND expires > $4`,
			touch:      `UPDATE ` + t + ` SET used = nextval('` + seq + `') WHERE fh = $1 AND kh = $2 AND k = $3 AND expires > $4 RETURNING v`,
			put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES ($1, $2, $3, $4, nextval('` + seq + `'), $5)
ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires`,
			sweep:  `DELETE FROM ` + t + ` WHERE fh = $1 AND expires <= $2`,
			forget: `DELETE FROM ` + cnt + ` WHERE fh = $1`,
			clear:  `DELETE FROM ` + t + ` WHERE fh = $1`,
			count:  `SELECT COUNT(*) FROM ` + t + ` WHERE fh = $1 AND expires > $2`,
		}
	case MySQL:
		t := "`" + table + "`"
		cnt := "`" + table + "_count`"
		return queries{
			create: []string{
				`CREATE TABLE IF NOT EXISTS ` + cnt + ` (
	fh BINARY(32) NOT NULL PRIMARY KEY,
	n BIGINT NOT NULL) ENGINE=InnoDB`,
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
			// A missing row takes a gap lock: two first Sets of a function
			// then deadlock on initCount, and one is retried.
			lock:      `SELECT n FROM ` + cnt + ` WHERE fh = ? FOR UPDATE`,
			initCount: `INSERT INTO ` + cnt + ` (fh, n) SELECT ?, COUNT(*) FROM ` + t + ` WHERE fh = ?`,
			// Eviction is a plain (consistent, lock-free) read of the rows
			// to delete, then deletes by primary key: a DELETE ... ORDER BY
			// used LIMIT n would lock the (fh, used) index before the rows
			// and deadlock with Gets bumping the same rows. The read's
			// snapshot starts after the lock is held (the lock's read is a
			// locking one), so it sees every Set committed before.
			victims:  `SELECT kh FROM ` + t + ` WHERE fh = ? ORDER BY used LIMIT ?`,
			evict:    `DELETE FROM ` + t + ` WHERE fh = ? AND kh = ?`,
			setCount: `UPDATE ` + cnt + ` SET n = ? WHERE fh = ?`,
			sweep:    `DELETE FROM ` + t + ` WHERE fh = ? AND expires <= ?`,
			forget:   `DELETE FROM ` + cnt + ` WHERE fh = ?`,
			clear:    `DELETE FROM ` + t + ` WHERE fh = ?`,
			count:    `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ? AND expires > ?`,
		}
	}
	t := `"` + table + `"`
	cnt := `"` + table + `_count"`
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
			`CREATE TABLE IF NOT EXISTS ` + cnt + ` (
	fh BLOB NOT NULL PRIMARY KEY,
	n INTEGER NOT NULL) WITHOUT ROWID`,
		},
		get: `SELECT v FROM ` + t + ` WHERE fh = ?1 AND kh = ?2 AND k = ?3 AND expires > ?4`,
		// SQLite has one writer at a time, so MAX(used)+1 inside a write
		// statement is a race-free counter.
		touch: `UPDATE ` + t + ` SET used = (SELECT MAX(used) FROM ` + t + ` WHERE fh = ?1) + 1
WHERE fh = ?1 AND kh = ?2 AND k = ?3 AND expires > ?4 RETURNING v`,
		put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires)
VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(used), 0) + 1 FROM ` + t + ` WHERE fh = ?1), ?5)
ON CONFLICT (fh, kh) DO UPDATE SET k = excluded.k, v = excluded.v, used = excluded.used, expires = excluded.expires`,
		// The transaction is the lock: it begins IMMEDIATE (Open's
		// _txlock), so it holds the write lock from the start.
		lock:      `SELECT n FROM ` + cnt + ` WHERE fh = ?1`,
		initCount: `INSERT INTO ` + cnt + ` (fh, n) SELECT ?1, COUNT(*) FROM ` + t + ` WHERE fh = ?1`,
		exists:    `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ?1 AND kh = ?2`,
		evict: `DELETE FROM ` + t + ` WHERE fh = ?1 AND kh IN (
	SELECT kh FROM ` + t + ` WHERE fh = ?1 ORDER BY used LIMIT ?2)`,
		setCount: `UPDATE ` + cnt + ` SET n = ?1 WHERE fh = ?2`,
		sweep:    `DELETE FROM ` + t + ` WHERE fh = ?1 AND expires <= ?2`,
		forget:   `DELETE FROM ` + cnt + ` WHERE fh = ?1`,
		clear:    `DELETE FROM ` + t + ` WHERE fh = ?1`,
		count:    `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ?1 AND expires > ?2`,
	}
}
