package sqlite

import "strings"

// tables names the store's tables in one file: entries and namespaces.
// Indexes and triggers are named after the entries table.
type tables struct {
	entries, ns string
}

// newTables returns the names of a store whose entries are in table t.
func newTables(t string) tables { return tables{entries: t, ns: t + "_ns"} }

// objects returns the names of every object of the schema.
func (n tables) objects() [8]string {
	e := n.entries
	return [8]string{e, n.ns, e + "_lru", e + "_exp", e + "_ins", e + "_del", e + "_put", e + "_put_do"}
}

// connPragmas are run on every new connection (see connector.Connect);
// the busy timeout is in the DSN, the journal mode is the file's and set
// once by Open. synchronous=NORMAL makes a commit durable against a
// process crash; a power loss may lose the last ones, never corrupt the
// file. The package documentation says why the store sets no other
// (page cache size, memory map, page size): the benchmarks in
// bench_test.go measured them.
var connPragmas = []string{"PRAGMA synchronous = NORMAL"}

// schema returns the DDL of a store in the tables n.
//
// Namespaces: each function's name gets a small id, once, in n.ns, so
// that its entries repeat 1 to 3 bytes instead of the name. AUTOINCREMENT
// keeps ids from being reused: an id cached by a process never comes to
// name another function. n counts the namespace's rows (expired ones
// included), kept by triggers, for the namespaces that were ever bounded
// ("counted"; n is NULL for the others), so that eviction need not count
// rows on every Set. used is when a process last used the namespace, in
// Unix milliseconds, recorded at most once per runtime.UseInterval per
// process (see nsState.use); a file of an earlier release gets the column
// when it is opened (usedColumn), with the time of that opening.
//
// Entries live in n.entries, keyed by (ns, key), in a WITHOUT ROWID table
// so that the key is stored once. seq orders a namespace's entries by
// recency: every Set of a bounded function, and every touch (a hit's
// recency, applied in a batch; see space.Get), gives the entry its
// namespace's largest seq plus one, in a write transaction, so recency is
// exact whatever the clock says. expires is the absolute expiry in Unix
// nanoseconds, 0 for never (SQLite stores a 0 in no bytes). Upserts use
// ON CONFLICT DO UPDATE, which fires no insert or delete trigger; INSERT
// OR REPLACE must not be used on the table.
//
// An unbounded Set of a namespace that is not counted stores seq NULL:
// nothing is evicted for size, so its recency is not kept, and the row
// stays out of the partial index _lru (the Set writes one b-tree).
// NULL-seq rows are the namespace's least recently used, ordered by key
// among themselves: the Set that counts a namespace gives them, in that
// order, seqs below all others (see convertQuery). A counted namespace
// has no NULL-seq rows, since an unbounded Set gives its entry a seq.
func schema(n tables) string {
	next := `coalesce((SELECT seq FROM "{E}" WHERE ns = NEW.ns AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1), 0) + 1`
	return strings.NewReplacer("{E}", n.entries, "{N}", n.ns).Replace(strings.NewReplacer("{NEXT}", next).Replace(`
CREATE TABLE IF NOT EXISTS "{N}" (
	id   INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT    NOT NULL UNIQUE,
	n    INTEGER,
	used INTEGER
);
CREATE TABLE IF NOT EXISTS "{E}" (
	ns      INTEGER NOT NULL,
	key     BLOB    NOT NULL,
	value   BLOB    NOT NULL,
	seq     INTEGER,
	expires INTEGER NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{E}_lru" ON "{E}" (ns, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS "{E}_exp" ON "{E}" (ns, expires) WHERE expires > 0;
CREATE TRIGGER IF NOT EXISTS "{E}_ins" AFTER INSERT ON "{E}" BEGIN
	UPDATE "{N}" SET n = n + 1 WHERE id = NEW.ns AND n IS NOT NULL;
END;
CREATE TRIGGER IF NOT EXISTS "{E}_del" AFTER DELETE ON "{E}" BEGIN
	UPDATE "{N}" SET n = n - 1 WHERE id = OLD.ns AND n IS NOT NULL;
END;
CREATE VIEW IF NOT EXISTS "{E}_put" (ns, key, value, expires, max) AS SELECT NULL, NULL, NULL, NULL, NULL WHERE 0;
CREATE TRIGGER IF NOT EXISTS "{E}_put_do" INSTEAD OF INSERT ON "{E}_put" BEGIN
	UPDATE "{E}" SET value = NEW.value, expires = NEW.expires, seq = {NEXT}
		WHERE ns = NEW.ns AND key = NEW.key;
	UPDATE "{E}" SET key = NEW.key, value = NEW.value, expires = NEW.expires, seq = {NEXT}
		WHERE ns = NEW.ns
		AND key = (SELECT key FROM "{E}" WHERE ns = NEW.ns AND seq IS NOT NULL ORDER BY seq LIMIT 1)
		AND (SELECT n FROM "{N}" WHERE id = NEW.ns) >= NEW.max
		AND NOT EXISTS (SELECT 1 FROM "{E}" WHERE ns = NEW.ns AND key = NEW.key);
	INSERT INTO "{E}" (ns, key, value, seq, expires)
		SELECT NEW.ns, NEW.key, NEW.value, {NEXT}, NEW.expires
		WHERE NOT EXISTS (SELECT 1 FROM "{E}" WHERE ns = NEW.ns AND key = NEW.key);
	DELETE FROM "{E}" WHERE ns = NEW.ns AND key IN (
		SELECT key FROM "{E}" WHERE ns = NEW.ns AND seq IS NOT NULL ORDER BY seq
		LIMIT max(0, (SELECT n FROM "{N}" WHERE id = NEW.ns) - NEW.max))
		AND (SELECT n FROM "{N}" WHERE id = NEW.ns) > NEW.max;
END;
`))
}

// usedColumn adds the column used to a namespace table of an earlier
// release, with ?1 (now, in Unix milliseconds) as every namespace's last
// use.
func usedColumn(n tables) string {
	return strings.NewReplacer("{N}", n.ns).Replace(`
ALTER TABLE "{N}" ADD COLUMN used INTEGER;
UPDATE "{N}" SET used = ?1;
`)
}

type queryText struct {
	get, nsID, nsCreate, touch, put, upsertUnbounded, count, convert, purge, len, clear string
	// Namespaces: record a use, list, and delete in batches.
	used, list, nsUsed, deleteBatch string
}

// deleteBatch is how many entries one transaction of DeleteNamespace
// removes: a few milliseconds of the file's write lock.
const deleteBatch = 1000

// queries returns the store's statements on the tables n. ?1 is always
// the namespace: its id, or for nsID and nsCreate its name. Every query
// on seq says seq IS NOT NULL, so that it may use the partial index _lru.
func queries(n tables) queryText {
	r := strings.NewReplacer("{E}", n.entries, "{N}", n.ns)
	last := `(SELECT seq FROM "{E}" WHERE ns = ?1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1)`
	next := `coalesce(` + last + `, 0) + 1`
	upsert := `INSERT INTO "{E}" (ns, key, value, seq, expires) VALUES (?1, ?2, ?3, {SEQ}, ?4)
			ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, seq = excluded.seq, expires = excluded.expires`
	return queryText{
		// A hit's statement has positional parameters: modernc allocates
		// the names of numbered ones at every call.
		get:      r.Replace(`SELECT value FROM "{E}" WHERE ns = ? AND key = ? AND (expires = 0 OR expires > ?)`),
		nsID:     r.Replace(`SELECT id FROM "{N}" WHERE name = ?1`),
		nsCreate: r.Replace(`INSERT INTO "{N}" (name, used) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING`),
		// ?2 is a JSON array of the keys in hex, least recent first: the
		// i-th gets the namespace's largest seq (read once) plus i+1. A
		// key given twice gets its last place; absent keys are skipped.
		// ns comes from t, so that the plan reads t and looks each key
		// up (see TestQueryPlans).
		touch: r.Replace(`UPDATE "{E}" SET seq = coalesce(` + last + `, 0) + t.i
			FROM (SELECT ?1 AS ns, unhex(value) AS key, max(key) + 1 AS i FROM json_each(?2) GROUP BY 2) AS t
			WHERE "{E}".ns = t.ns AND "{E}".key = t.key`),
		put: r.Replace(`INSERT INTO "{E}_put" (ns, key, value, expires, max) VALUES (?1, ?2, ?3, ?4, ?5)`),
		// An unbounded Set keeps recency only for a counted namespace.
		upsertUnbounded: r.Replace(strings.Replace(upsert, "{SEQ}",
			`CASE WHEN (SELECT n FROM "{N}" WHERE id = ?1) IS NOT NULL THEN `+next+` END`, 1)),
		count:   r.Replace(`UPDATE "{N}" SET n = (SELECT count(*) FROM "{E}" WHERE ns = ?1) WHERE id = ?1 AND n IS NULL`),
		convert: convertQuery(n),
		purge:   r.Replace(`DELETE FROM "{E}" WHERE ns = ?1 AND expires > 0 AND expires <= ?2`),
		len: r.Replace(`SELECT coalesce((SELECT n FROM "{N}" WHERE id = ?1), (SELECT count(*) FROM "{E}" WHERE ns = ?1)) -
			(SELECT count(*) FROM "{E}" WHERE ns = ?1 AND expires > 0 AND expires <= ?2)`),
		clear: r.Replace(`DELETE FROM "{E}" WHERE ns = ?1`),
		used:  r.Replace(`UPDATE "{N}" SET used = max(coalesce(used, 0), ?2) WHERE id = ?1`),
		// ?1 is now (Unix nanoseconds).
		list: r.Replace(`SELECT n.name, n.used,
			(SELECT count(*) FROM "{E}" WHERE ns = n.id AND (expires = 0 OR expires > ?1)),
			(SELECT coalesce(sum(length(key) + length(value)), 0) FROM "{E}" WHERE ns = n.id)
			FROM "{N}" AS n ORDER BY n.name`),
		nsUsed:      r.Replace(`SELECT id, used FROM "{N}" WHERE name = ?1`),
		deleteBatch: r.Replace(`DELETE FROM "{E}" WHERE ns = ?1 AND key IN (SELECT key FROM "{E}" WHERE ns = ?1 LIMIT ?2)`),
	}
}

// convertQuery returns the statement that runs right after a namespace is
// counted, in the same transaction: it gives the namespace's N NULL-seq
// rows, in key order, the seqs m-N ... m-1, where m is the smallest seq it
// has (1 if none), so that they are its least recently used and evicted
// first, in key order. Seqs may go negative.
func convertQuery(n tables) string {
	return strings.ReplaceAll(`UPDATE "{E}" SET seq = r.seq FROM (
			SELECT key, row_number() OVER (ORDER BY key)
				- (SELECT count(*) FROM "{E}" WHERE ns = ?1 AND seq IS NULL)
				+ coalesce((SELECT seq FROM "{E}" WHERE ns = ?1 AND seq IS NOT NULL ORDER BY seq LIMIT 1), 1) - 1 AS seq
			FROM "{E}" WHERE ns = ?1 AND seq IS NULL) AS r
		WHERE "{E}".ns = ?1 AND "{E}".key = r.key`, "{E}", n.entries)
}
