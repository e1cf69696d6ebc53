package sqldb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
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
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// driverName and driverImport are the conventional database/sql driver for
// the dialect, which Open uses.
func (d Dialect) driverName() string {
	if d == MySQL {
		return "mysql"
	}
	return "pgx"
}

func (d Dialect) driverImport() string {
	if d == MySQL {
		return "github.com/go-sql-driver/mysql"
	}
	return "github.com/jackc/pgx/v5/stdlib"
}

// DefaultTable is the table a Store uses unless WithTable names another.
const DefaultTable = "picocache"

// queries holds a dialect's statements for one table. Only the validated
// table name is ever spliced into SQL text; every value is a bind
// parameter.
type queries struct {
	create []string // run in order, each idempotent

	// get reads a value and its expiry: args fh, kh, k. It is the whole
	// of a hit, bounded or not. (The caller compares the expiry: one
	// parameter less is measurably cheaper than expires > $4.)
	get string
	// put upserts a row with a new recency: args fh, kh, k, v, expires.
	put string
	// setBounded is a whole bounded Set in one statement (Postgres: args
	// fh, kh, k, v, expires, MaxSize, touched), touched being the key
	// hashes of the hits to apply first (pgArray).
	setBounded string
	// touch applies hits in one statement (Postgres: args fh, touched).
	touch string
	// bump makes one row the most recently used (MySQL: args fh, kh);
	// bumpsMySQL does it for many in one statement.
	bump string
	// lock reads fn's count row and, in MySQL, locks it for the rest of the
	// transaction: arg fh. No row: the function is not counted yet.
	lock string
	// initCount creates fn's count row from a count of its rows (MySQL):
	// args fh, fh.
	initCount string
	// victims lists fn's n least recently used rows (MySQL: args fh, n),
	// which evict then deletes by primary key (MySQL: args fh, kh).
	victims, evict string
	// setCount stores fn's row count: args n, fh.
	setCount string
	// sweep deletes fn's expired rows.
	sweep string
	// forget deletes fn's count row; clear deletes its entries. Clear runs
	// both in one transaction, forget first, under the lock of the row.
	forget, clear string
	count         string

	// Namespaces (NAME_ns): register upserts fn's name and last use
	// (args fh, name, used in Unix milliseconds), used records a use
	// (args used, fh), list lists them (arg now, Unix nanoseconds),
	// nsUsed reads and locks one's last use (arg fh), deleteBatch deletes
	// up to n of fn's entries (args fh, n).
	register, used, list, nsUsed, deleteBatch string
}

// Table layout, the same in every dialect:
//
//	fh      SHA-256 of fn (32 bytes)
//	kh      SHA-256 of the key (32 bytes); (fh, kh) is the primary key, so
//	        keys of any length fit MySQL's index limits
//	k       the key itself, compared on every read so that distinct keys
//	        never share an entry even if their hashes collided
//	v       the value
//	used    recency: a counter that grows with every Set and every applied
//	        hit of a bounded function (a sequence in PostgreSQL,
//	        UUID_SHORT() in MySQL)
//	expires absolute expiry in Unix nanoseconds; math.MaxInt64 for never
//
// and an index on (fh, used) for eviction. NAME_ns names the functions:
// fh, the function's namespace (name and version, as bytes: a namespace
// may hold any), and used, when a
// process last read or wrote its entries (Unix milliseconds, recorded at
// most once per runtime.UseInterval per process), for runtime.Lister; a
// function is registered there by its first Space in each process, so
// the entries of a function that no process of this release has used are
// not listed. The companion table NAME_count
// holds one row per function that was ever bounded: n, how many rows
// (expired ones included) the function holds, or -1 for "count them at
// the next Set". Bounded Sets lock that row, apply the hits they carry,
// keep n and evict the n - MaxSize least recently used rows, so eviction
// reads and deletes only the rows it evicts, whatever MaxSize is. The row
// is created, from a count of the function's rows, by the function's
// first bounded Set (or its first after a Clear, which deletes it).
// Applying hits outside a Set (the flusher) takes the same lock.
//
// Upgrading: the schema is the one of the stores before Runtime v2, whose
// Gets bumped recency themselves. In PostgreSQL their NAME_set function
// took no touched keys, and CREATE OR REPLACE cannot change a function's
// signature: so the v2 Set is a function of another name, NAME_set2, and
// hits are applied by NAME_touch. Opening an existing pre-v2 table just
// creates those two beside NAME_set, which is left alone, so processes of
// both versions can share the table during a rolling deploy (they take
// the same lock); DROP FUNCTION "NAME_set" once none of the old remains.
func newQueries(d Dialect, table string) queries {
	if d == MySQL {
		return mysqlQueries(table)
	}
	t := `"` + table + `"`
	cnt := `"` + table + `_count"`
	seq := `"` + table + `_used"`
	ns := `"` + table + `_ns"`
	// lockCount is the head of both functions: it locks fn's count row
	// (FOR UPDATE), inserting it as "not counted" (-1) when missing;
	// concurrent inserters wait on its unique index, then find it.
	lockCount := `	LOOP
		SELECT n INTO c FROM ` + cnt + ` WHERE fh = p_fh FOR UPDATE;
		EXIT WHEN FOUND;
		INSERT INTO ` + cnt + ` (fh, n) VALUES (p_fh, -1) ON CONFLICT (fh) DO NOTHING;
	END LOOP;
`
	// applyTouched makes the rows of the touched key hashes the most
	// recently used, in array order (a FOREACH loop, so nextval runs in
	// that order), skipping those no longer stored.
	applyTouched := `	FOREACH h IN ARRAY COALESCE(p_touched, '{}') LOOP
		UPDATE ` + t + ` SET used = nextval('` + seq + `') WHERE fh = p_fh AND kh = h;
	END LOOP;
`
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
			`CREATE TABLE IF NOT EXISTS ` + ns + ` (
	fh BYTEA NOT NULL PRIMARY KEY,
	name BYTEA NOT NULL,
	used BIGINT NOT NULL)`,
			// A bounded Set in one round trip: lock, apply the hits,
			// upsert and evict in one function call, its own transaction.
			// Under READ COMMITTED each statement of a volatile function
			// takes a new snapshot, so the count and the eviction see
			// every Set committed before the lock was granted. (xmax = 0)
			// tells an inserted row from an updated one: the usual idiom,
			// as ON CONFLICT has no flag of its own.
			`CREATE OR REPLACE FUNCTION "` + table + `_set2"(p_fh BYTEA, p_kh BYTEA, p_k BYTEA, p_v BYTEA,
	p_expires BIGINT, p_max BIGINT, p_touched BYTEA[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
	c BIGINT;
	c0 BIGINT;
	ins BOOLEAN;
	d BIGINT;
	h BYTEA;
BEGIN
` + lockCount + `	c0 := c;
	IF c < 0 THEN
		SELECT COUNT(*) INTO c FROM ` + t + ` WHERE fh = p_fh;
	END IF;
` + applyTouched + `	INSERT INTO ` + t + ` AS e (fh, kh, k, v, used, expires) VALUES (p_fh, p_kh, p_k, p_v, nextval('` + seq + `'), p_expires)
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
			// The hits of a bounded function, applied outside a Set (by
			// the flusher, Flush and Close), under the Sets' lock.
			`CREATE OR REPLACE FUNCTION "` + table + `_touch"(p_fh BYTEA, p_touched BYTEA[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
	c BIGINT;
	h BYTEA;
BEGIN
` + lockCount + applyTouched + `END
$fn$`,
		},
		register: `INSERT INTO ` + ns + ` AS n (fh, name, used) VALUES ($1, $2, $3)
ON CONFLICT (fh) DO UPDATE SET used = GREATEST(n.used, EXCLUDED.used)`,
		used: `UPDATE ` + ns + ` SET used = GREATEST(used, $1) WHERE fh = $2`,
		list: `SELECT n.name, n.used,
	(SELECT COUNT(*) FROM ` + t + ` e WHERE e.fh = n.fh AND e.expires > $1),
	(SELECT COALESCE(SUM(LENGTH(e.k) + LENGTH(e.v)), 0) FROM ` + t + ` e WHERE e.fh = n.fh)
FROM ` + ns + ` n`,
		nsUsed:      `SELECT used FROM ` + ns + ` WHERE fh = $1 FOR UPDATE`,
		deleteBatch: `DELETE FROM ` + t + ` WHERE fh = $1 AND kh IN (SELECT kh FROM ` + t + ` WHERE fh = $1 LIMIT $2)`,
		// The touched hashes travel as the text of a BYTEA[] (pgArray),
		// which any driver sends as a string.
		setBounded: `SELECT "` + table + `_set2"($1, $2, $3, $4, $5, $6, $7::text::bytea[])`,
		touch:      `SELECT "` + table + `_touch"($1, $2::text::bytea[])`,
		get:        `SELECT v, expires FROM ` + t + ` WHERE fh = $1 AND kh = $2 AND k = $3`,
		put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES ($1, $2, $3, $4, nextval('` + seq + `'), $5)
ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires`,
		sweep:  `DELETE FROM ` + t + ` WHERE fh = $1 AND expires <= $2`,
		forget: `DELETE FROM ` + cnt + ` WHERE fh = $1`,
		clear:  `DELETE FROM ` + t + ` WHERE fh = $1`,
		count:  `SELECT COUNT(*) FROM ` + t + ` WHERE fh = $1 AND expires > $2`,
	}
}

func mysqlQueries(table string) queries {
	t := "`" + table + "`"
	cnt := "`" + table + "_count`"
	ns := "`" + table + "_ns`"
	return queries{
		create: []string{
			`CREATE TABLE IF NOT EXISTS ` + ns + ` (
	fh BINARY(32) NOT NULL PRIMARY KEY,
	name LONGBLOB NOT NULL,
	used BIGINT NOT NULL) ENGINE=InnoDB`,
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
		get: `SELECT v, expires FROM ` + t + ` WHERE fh = ? AND kh = ? AND k = ?`,
		// UUID_SHORT() is a server-wide counter that grows by one per
		// call: exact recency without a hot counter row.
		bump: `UPDATE ` + t + ` SET used = UUID_SHORT() WHERE fh = ? AND kh = ?`,
		put: `INSERT INTO ` + t + ` (fh, kh, k, v, used, expires) VALUES (?, ?, ?, ?, UUID_SHORT(), ?)
ON DUPLICATE KEY UPDATE k = VALUES(k), v = VALUES(v), used = VALUES(used), expires = VALUES(expires)`,
		// A missing row takes a gap lock: two first Sets of a function
		// then deadlock on initCount, and one is retried.
		lock:      `SELECT n FROM ` + cnt + ` WHERE fh = ? FOR UPDATE`,
		initCount: `INSERT INTO ` + cnt + ` (fh, n) SELECT ?, COUNT(*) FROM ` + t + ` WHERE fh = ?`,
		// Eviction is a plain (consistent, lock-free) read of the rows
		// to delete, then deletes by primary key: a DELETE ... ORDER BY
		// used LIMIT n would lock the (fh, used) index before the rows
		// and could deadlock with a pre-v2 process's Gets, which bump
		// rows without the lock. The read's snapshot starts after the
		// lock is held (the lock's read is a locking one), so it sees
		// every Set committed before, and the transaction's own bumps.
		victims:  `SELECT kh FROM ` + t + ` WHERE fh = ? ORDER BY used LIMIT ?`,
		evict:    `DELETE FROM ` + t + ` WHERE fh = ? AND kh = ?`,
		setCount: `UPDATE ` + cnt + ` SET n = ? WHERE fh = ?`,
		sweep:    `DELETE FROM ` + t + ` WHERE fh = ? AND expires <= ?`,
		forget:   `DELETE FROM ` + cnt + ` WHERE fh = ?`,
		clear:    `DELETE FROM ` + t + ` WHERE fh = ?`,
		count:    `SELECT COUNT(*) FROM ` + t + ` WHERE fh = ? AND expires > ?`,
		register: `INSERT INTO ` + ns + ` (fh, name, used) VALUES (?, ?, ?)
ON DUPLICATE KEY UPDATE used = GREATEST(used, VALUES(used))`,
		used: `UPDATE ` + ns + ` SET used = GREATEST(used, ?) WHERE fh = ?`,
		list: `SELECT n.name, n.used,
	(SELECT COUNT(*) FROM ` + t + ` e WHERE e.fh = n.fh AND e.expires > ?),
	(SELECT COALESCE(SUM(LENGTH(e.k) + LENGTH(e.v)), 0) FROM ` + t + ` e WHERE e.fh = n.fh)
FROM ` + ns + ` n`,
		nsUsed:      `SELECT used FROM ` + ns + ` WHERE fh = ? FOR UPDATE`,
		deleteBatch: `DELETE FROM ` + t + ` WHERE fh = ? LIMIT ?`,
	}
}

// bumpsMySQL is the statement that makes the rows of n key hashes the most
// recently used, in the order given: args fh, then the n hashes twice
// (the IN list, then the ORDER BY). A single-table UPDATE with ORDER BY
// updates its rows in that order, each calling UUID_SHORT() in turn.
func bumpsMySQL(table string, n int) string {
	list := "?" + strings.Repeat(", ?", n-1)
	return "UPDATE `" + table + "` SET used = UUID_SHORT() WHERE fh = ? AND kh IN (" + list + ") ORDER BY FIELD(kh, " + list + ")"
}

// pgArray returns key hashes as the text of a PostgreSQL BYTEA[], in
// order: {"\\x0a1b...","\\x..."}.
func pgArray(khs [][sha256.Size]byte) string {
	var b strings.Builder
	b.Grow(2 + len(khs)*(2*sha256.Size+7))
	b.WriteByte('{')
	for i, kh := range khs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"\\x`)
		b.WriteString(hex.EncodeToString(kh[:]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
