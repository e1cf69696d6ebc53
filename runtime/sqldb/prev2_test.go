package sqldb_test

import (
	"crypto/sha256"
	"math"
	"strings"
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// preV2Postgres is the schema that stores before Runtime v2 created in
// PostgreSQL ({{T}} stands for the table's name): the v2 NAME_set2 takes
// one more parameter than this NAME_set. Its statements are separated by
// blank lines. In MySQL the schema did not change.
const preV2Postgres = `CREATE TABLE "{{T}}" (
	fh BYTEA NOT NULL,
	kh BYTEA NOT NULL,
	k BYTEA NOT NULL,
	v BYTEA NOT NULL,
	used BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	PRIMARY KEY (fh, kh))

CREATE INDEX "{{T}}_lru" ON "{{T}}" (fh, used)

CREATE SEQUENCE "{{T}}_used"

CREATE TABLE "{{T}}_count" (
	fh BYTEA NOT NULL PRIMARY KEY,
	n BIGINT NOT NULL)

CREATE FUNCTION "{{T}}_set"(p_fh BYTEA, p_kh BYTEA, p_k BYTEA, p_v BYTEA,
	p_expires BIGINT, p_max BIGINT) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
	c BIGINT;
	c0 BIGINT;
	ins BOOLEAN;
	d BIGINT;
BEGIN
	LOOP
		SELECT n INTO c FROM "{{T}}_count" WHERE fh = p_fh FOR UPDATE;
		EXIT WHEN FOUND;
		INSERT INTO "{{T}}_count" (fh, n) VALUES (p_fh, -1) ON CONFLICT (fh) DO NOTHING;
	END LOOP;
	c0 := c;
	IF c < 0 THEN
		SELECT COUNT(*) INTO c FROM "{{T}}" WHERE fh = p_fh;
	END IF;
	INSERT INTO "{{T}}" AS e (fh, kh, k, v, used, expires) VALUES (p_fh, p_kh, p_k, p_v, nextval('"{{T}}_used"'), p_expires)
	ON CONFLICT (fh, kh) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, used = EXCLUDED.used, expires = EXCLUDED.expires
	RETURNING (e.xmax = 0) INTO ins;
	IF ins THEN
		c := c + 1;
	END IF;
	IF c > p_max THEN
		DELETE FROM "{{T}}" WHERE fh = p_fh AND kh IN (
			SELECT kh FROM "{{T}}" WHERE fh = p_fh ORDER BY used LIMIT c - p_max);
		GET DIAGNOSTICS d = ROW_COUNT;
		c := c - d;
	END IF;
	IF c <> c0 THEN
		UPDATE "{{T}}_count" SET n = c WHERE fh = p_fh;
	END IF;
END
$fn$`

// TestOpenPreV2Table opens a table made by a pre-v2 store and holding its
// entries, while a pre-v2 process keeps using it (its Sets call NAME_set,
// its hits bump recency themselves): both see one LRU order and one
// maxsize.
func TestOpenPreV2Table(t *testing.T) {
	srv := servers[0]
	base := srv.open(t, srv.url(t)) // skip when absent
	db := base.DB()
	table := randomName("pc_prev2_")
	t.Cleanup(func() {
		for _, q := range []string{`DROP TABLE IF EXISTS "` + table + `", "` + table + `_count"`, `DROP SEQUENCE IF EXISTS "` + table + `_used"`,
			`DROP FUNCTION IF EXISTS "` + table + `_set"`, `DROP FUNCTION IF EXISTS "` + table + `_set2"`, `DROP FUNCTION IF EXISTS "` + table + `_touch"`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	for _, q := range strings.Split(strings.ReplaceAll(preV2Postgres, "{{T}}", table), "\n\n") {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	fn := randomName("fn")
	const maxSize = 3
	oldSet := func(key string) {
		t.Helper()
		kh := sha256.Sum256([]byte(key))
		if _, err := db.ExecContext(ctx, `SELECT "`+table+`_set"($1, $2, $3, $4, $5, $6)`, fnHash(fn), kh[:], []byte(key), []byte(key), int64(math.MaxInt64), maxSize); err != nil {
			t.Fatalf("pre-v2 Set(%q): %v", key, err)
		}
	}
	oldHit := func(key string) {
		t.Helper()
		kh := sha256.Sum256([]byte(key))
		var v []byte
		if err := db.QueryRowContext(ctx, `UPDATE "`+table+`" SET used = nextval('"`+table+`_used"') WHERE fh = $1 AND kh = $2 AND k = $3 RETURNING v`,
			fnHash(fn), kh[:], []byte(key)).Scan(&v); err != nil {
			t.Fatalf("pre-v2 Get(%q): %v", key, err)
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		oldSet(k)
	}
	oldHit("a") // order: b, c, a

	s := srv.open(t, srv.url(t), sqldb.WithTable(table))
	srv.open(t, srv.url(t), sqldb.WithTable(table)).Close() // opening again changes nothing
	sp := space(t, s, fn, runtime.Limits{MaxSize: maxSize})
	mustSet(t, sp, "d", "d") // evicts b
	get(t, sp, "c")          // order: a, d, c
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	oldSet("e") // the pre-v2 process evicts a
	for k, want := range map[string]string{"a": "<absent>", "b": "<absent>", "c": "c", "d": "d", "e": "e"} {
		if got := get(t, sp, k); got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	wantLen(t, sp, maxSize)
	var fns []string
	rows, err := db.QueryContext(ctx, `SELECT proname || '/' || pronargs FROM pg_proc WHERE proname LIKE $1 ORDER BY proname`, table+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		rows.Scan(&f)
		fns = append(fns, strings.TrimPrefix(f, table))
	}
	if got := strings.Join(fns, " "); got != "_set/6 _set2/7 _touch/2" {
		t.Errorf("functions of the table: %s, want the pre-v2 _set/6 beside _set2/7 and _touch/2", got)
	}
}
