package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/picocache/picocache/runtime"
)

// Store is a runtime.Store in a SQLite database file. It is safe for
// concurrent use by multiple goroutines, and several processes (each with
// its own Store) may share one file.
//
// Reads run in parallel on a small pool of connections; writes, and Gets
// that mark recency, go through a single connection, since SQLite admits
// one writer at a time (across processes, the busy timeout arbitrates).
// Open a Store with Open, OpenContext or runtime.OpenURL; its zero value
// is not usable.
type Store struct {
	path string
	db   *sql.DB
	// wsem holds a token while the writer connection w and its
	// statements are in use.
	wsem chan struct{}
	w    *sql.Conn // guarded by wsem
	// closed is set once by Close; later calls fail with ErrClosed.
	closed atomic.Bool

	rGet, rLen *sql.Stmt // on the pool
	wGet       *sql.Stmt // on w; guarded by wsem
	wGetStale  *sql.Stmt // on w; guarded by wsem

	wBegin, wCommit, wRollback      *sql.Stmt // on w; guarded by wsem
	wTouch, wUpsert, wPurge, wEvict *sql.Stmt // on w; guarded by wsem
	wUpsertUnbounded                *sql.Stmt // on w; guarded by wsem
	wCount, wConvert                *sql.Stmt // on w; guarded by wsem
	wClear                          *sql.Stmt // on w; guarded by wsem

	// counted holds functions known to have a count row in table_fn, so
	// that their Sets skip the statement that makes one; guarded by wsem.
	counted map[string]struct{}
	sets    uint64 // Sets so far; guarded by wsem
}

const (
	// purgeEvery is how often a Set without TTL purges expired entries.
	purgeEvery = 256
	// maxCounted bounds Store.counted; it starts over when full.
	maxCounted = 4096
)

// ErrClosed is what a Store's methods return after Close. It wraps
// runtime.ErrClosed.
var ErrClosed = fmt.Errorf("sqlite: %w", runtime.ErrClosed)

var _ runtime.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite store in the file at
// path, relative to the working directory unless absolute. It puts the
// file in WAL journal mode and creates the store's tables if they are
// missing; this is safe when several processes open a fresh file at
// once.
func Open(path string, opts ...Option) (*Store, error) {
	return OpenContext(context.Background(), path, opts...)
}

// OpenContext is Open with a context that bounds the opening.
func OpenContext(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	name, err := dsn(path, o)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	// The writer is pinned; readers share the rest. Idle connections are
	// kept: opening a SQLite connection costs far more than a query.
	db.SetMaxOpenConns(o.readers + 1)
	db.SetMaxIdleConns(o.readers + 1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{path: path, db: db, wsem: make(chan struct{}, 1), counted: make(map[string]struct{})}
	if err := s.init(ctx, o); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	return s, nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

func (s *Store) init(ctx context.Context, o options) (err error) {
	s.w, err = s.db.Conn(ctx)
	if err != nil {
		return err
	}
	if err := setWAL(ctx, s.w, o.busyTimeout); err != nil {
		return err
	}
	if err := createSchema(ctx, s.w, o.table); err != nil {
		return err
	}
	q := queries(o.table)
	prep := func(c interface {
		PrepareContext(context.Context, string) (*sql.Stmt, error)
	}, dst **sql.Stmt, query string) {
		if err != nil {
			return
		}
		*dst, err = c.PrepareContext(ctx, query)
	}
	prep(s.db, &s.rGet, q.get)
	prep(s.db, &s.rLen, q.len)
	prep(s.w, &s.wBegin, "BEGIN IMMEDIATE")
	prep(s.w, &s.wCommit, "COMMIT")
	prep(s.w, &s.wRollback, "ROLLBACK")
	prep(s.w, &s.wGet, q.get)
	prep(s.w, &s.wGetStale, q.getStale)
	prep(s.w, &s.wTouch, q.touch)
	prep(s.w, &s.wCount, q.count)
	prep(s.w, &s.wUpsert, q.upsert)
	prep(s.w, &s.wUpsertUnbounded, q.upsertUnbounded)
	prep(s.w, &s.wConvert, q.convert)
	prep(s.w, &s.wPurge, q.purge)
	prep(s.w, &s.wEvict, q.evict)
	prep(s.w, &s.wClear, q.clear)
	return err
}

// setWAL puts the database in WAL mode. The mode is persistent: once one
// process has set it, the pragma is a no-op read for the others. A fresh
// file needs a lock to convert; when several processes race for it, the
// losers may see SQLITE_BUSY without the busy handler's help, so retry
// until the busy timeout.
func setWAL(ctx context.Context, c *sql.Conn, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		var mode string
		err := c.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("cannot use WAL journal mode (got %q); is the file on a local file system?", mode)
			}
			return nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED (any
// extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	c := e.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// createSchema creates the store's tables, indexes and triggers unless
// they all exist. It checks first without a lock, so that opening an
// existing store takes no write lock, then creates everything in one
// IMMEDIATE transaction: concurrent openers of a fresh file serialize on
// the write lock (waiting up to the busy timeout), and the later ones find
// everything in place (IF NOT EXISTS).
func createSchema(ctx context.Context, c *sql.Conn, table string) error {
	names := []string{table, table + "_fn", table + "_lru", table + "_exp", table + "_ins", table + "_del"}
	var n int
	err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name IN (?, ?, ?, ?, ?, ?)",
		names[0], names[1], names[2], names[3], names[4], names[5]).Scan(&n)
	if err != nil {
		return err
	}
	if n == len(names) {
		return nil
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, schema(table)); err != nil {
		c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("creating the schema: %w", err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return nil
}

// schema returns the DDL of a store in table t.
//
// Entries live in t, keyed by (fn, key). seq orders a function's entries
// by recency: every Set of a bounded function, and every Get of one that
// hits an entry not already its most recent, gives the entry its
// function's largest seq plus one, in the statement's write transaction,
// so recency is exact whatever the clock says. expires is the absolute
// expiry in Unix nanoseconds, 0 for never.
//
// t_fn counts each function's rows (expired ones included), kept by
// triggers, for the functions that were ever bounded ("counted"), so that
// eviction need not count a function's rows on every Set. Upserts use ON
// CONFLICT DO UPDATE, which fires no insert or delete trigger; INSERT OR
// REPLACE must not be used on t.
//
// An unbounded Set of a function that is not counted stores seq NULL:
// nothing is evicted for size, so its recency is not kept, and the row
// stays out of the partial index t_lru (the Set writes one b-tree, t).
// NULL-seq rows are the function's least recently used, ordered by key
// among themselves: the Set that creates a function's count row gives
// them, in that order, seqs below all others (see convertQuery). A
// counted function has no NULL-seq rows, since an unbounded Set gives it
// a seq when its count row exists, so t_lru holds all its rows.
func schema(t string) string {
	return strings.ReplaceAll(`
CREATE TABLE IF NOT EXISTS "{T}" (
	fn      TEXT    NOT NULL,
	key     BLOB    NOT NULL,
	value   BLOB    NOT NULL,
	seq     INTEGER,
	expires INTEGER NOT NULL,
	PRIMARY KEY (fn, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{T}_lru" ON "{T}" (fn, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS "{T}_exp" ON "{T}" (fn, expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS "{T}_fn" (
	fn TEXT    NOT NULL PRIMARY KEY,
	n  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS "{T}_ins" AFTER INSERT ON "{T}" BEGIN
	UPDATE "{T}_fn" SET n = n + 1 WHERE fn = NEW.fn;
END;
CREATE TRIGGER IF NOT EXISTS "{T}_del" AFTER DELETE ON "{T}" BEGIN
	UPDATE "{T}_fn" SET n = n - 1 WHERE fn = OLD.fn;
END;
`, "{T}", t)
}

type queryText struct {
	get, getStale, touch, upsert, upsertUnbounded, count, convert, purge, evict, len, clear string
}

// queries returns the store's statements on table t. ?1 is always fn.
// Every query on seq says seq IS NOT NULL, so that it may use the
// partial index t_lru.
func queries(t string) queryText {
	r := strings.NewReplacer("{T}", t)
	last := `(SELECT seq FROM "{T}" WHERE fn = ?1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1)`
	next := `coalesce(` + last + `, 0) + 1`
	upsert := `INSERT INTO "{T}" (fn, key, value, seq, expires) VALUES (?1, ?2, ?3, {SEQ}, ?4)
			ON CONFLICT (fn, key) DO UPDATE SET value = excluded.value, seq = excluded.seq, expires = excluded.expires`
	return queryText{
		get: r.Replace(`SELECT value FROM "{T}" WHERE fn = ?1 AND key = ?2 AND (expires = 0 OR expires > ?3)`),
		// getStale also reports whether the entry is not fn's most recent.
		getStale: r.Replace(`SELECT value, seq IS NULL OR seq < ` + last + `
			FROM "{T}" WHERE fn = ?1 AND key = ?2 AND (expires = 0 OR expires > ?3)`),
		touch:  r.Replace(`UPDATE "{T}" SET seq = ` + next + ` WHERE fn = ?1 AND key = ?2`),
		upsert: r.Replace(strings.Replace(upsert, "{SEQ}", next, 1)),
		// An unbounded Set keeps recency only for a counted function.
		upsertUnbounded: r.Replace(strings.Replace(upsert, "{SEQ}",
			`CASE WHEN EXISTS (SELECT 1 FROM "{T}_fn" WHERE fn = ?1) THEN `+next+` END`, 1)),
		count: r.Replace(`INSERT INTO "{T}_fn" (fn, n) SELECT ?1, (SELECT count(*) FROM "{T}" WHERE fn = ?1)
			WHERE NOT EXISTS (SELECT 1 FROM "{T}_fn" WHERE fn = ?1)`),
		convert: convertQuery(t),
		purge:   r.Replace(`DELETE FROM "{T}" WHERE fn = ?1 AND expires > 0 AND expires <= ?2`),
		evict: r.Replace(`DELETE FROM "{T}" WHERE fn = ?1 AND key IN (
			SELECT key FROM "{T}" WHERE fn = ?1 AND seq IS NOT NULL ORDER BY seq
			LIMIT max(0, coalesce((SELECT n FROM "{T}_fn" WHERE fn = ?1), 0) - ?2))`),
		len: r.Replace(`SELECT coalesce((SELECT n FROM "{T}_fn" WHERE fn = ?1), (SELECT count(*) FROM "{T}" WHERE fn = ?1)) -
			(SELECT count(*) FROM "{T}" WHERE fn = ?1 AND expires > 0 AND expires <= ?2)`),
		clear: r.Replace(`DELETE FROM "{T}" WHERE fn = ?1`),
	}
}

// convertQuery returns the statement that runs right after a function's
// count row is created, in the same transaction: it gives the function's
// N NULL-seq rows, in key order, the seqs m-N ... m-1, where m is the
// smallest seq it has (1 if none), so that they are its least recently
// used and evicted first, in key order. Seqs may go negative.
func convertQuery(t string) string {
	return strings.ReplaceAll(`UPDATE "{T}" SET seq = r.seq FROM (
			SELECT key, row_number() OVER (ORDER BY key)
				- (SELECT count(*) FROM "{T}" WHERE fn = ?1 AND seq IS NULL)
				+ coalesce((SELECT seq FROM "{T}" WHERE fn = ?1 AND seq IS NOT NULL ORDER BY seq LIMIT 1), 1) - 1 AS seq
			FROM "{T}" WHERE fn = ?1 AND seq IS NULL) AS r
		WHERE "{T}".fn = ?1 AND "{T}".key = r.key`, "{T}", t)
}

var empty = []byte{}

// nonNil returns b, or an empty slice for nil: key and value columns are
// NOT NULL, and modernc binds a nil []byte as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return empty
	}
	return b
}

// lockWriter waits for the writer connection, or for ctx to end.
func (s *Store) lockWriter(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
	default:
		select {
		case s.wsem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.closed.Load() {
		<-s.wsem
		return ErrClosed
	}
	return nil
}

func (s *Store) unlockWriter() { <-s.wsem }

// Get implements runtime.Store. For a bounded function (lim.MaxSize > 0)
// a hit is a read and then a write on the writer connection: the entry
// becomes the most recent, unless it is already. Otherwise a Get is a plain read, on the writer connection if
// it is free, else on a reader connection.
func (s *Store) Get(ctx context.Context, fn string, key []byte, lim runtime.Limits) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	key = nonNil(key)
	now := time.Now().UnixNano()
	var value []byte
	var err error
	if lim.MaxSize > 0 {
		if err = s.lockWriter(ctx); err != nil {
			return nil, false, err
		}
		// Read, then make the entry the most recent unless it is already.
		// Both run under the writer lock of this process; another process
		// may act in between, which orders this Get at the read: the
		// entry was live then, and touching it later is harmless.
		var stale bool
		err = s.wGetStale.QueryRowContext(ctx, fn, key, now).Scan(&value, &stale)
		if err == nil && stale {
			_, err = s.wTouch.ExecContext(ctx, fn, key)
		}
		s.unlockWriter()
	} else {
		// A plain read. On the writer connection when it is free: its page
		// cache survives this process's writes, while a pooled reader's is
		// reset by every commit it did not make.
		select {
		case s.wsem <- struct{}{}:
			if s.closed.Load() {
				<-s.wsem
				return nil, false, ErrClosed
			}
			err = s.wGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
			<-s.wsem
		default:
			err = s.rGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
		}
	}
	switch {
	case err == nil:
		if value == nil {
			value = []byte{}
		}
		return value, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	default:
		return nil, false, s.wrap("get", err)
	}
}

// Set implements runtime.Store. The upsert, the purge of fn's expired
// entries and the eviction of its least recently used ones beyond
// lim.MaxSize run in one BEGIN IMMEDIATE transaction. An unbounded Set
// without TTL is a single statement.
func (s *Store) Set(ctx context.Context, fn string, key, value []byte, lim runtime.Limits) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if lim.MaxSize == 0 {
		return nil
	}
	key, value = nonNil(key), nonNil(value)
	now := time.Now().UnixNano()
	var expires int64
	if lim.TTL > 0 {
		expires = now + int64(lim.TTL)
	}
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	// Expired entries are purged by every Set with a TTL, and by one Set
	// in purgeEvery otherwise (for entries left by an earlier TTL).
	s.sets++
	purge := lim.TTL > 0 || s.sets%purgeEvery == 0
	_, counted := s.counted[fn]
	count := lim.MaxSize > 0 && !counted
	upsert := s.wUpsert
	if lim.MaxSize < 0 {
		upsert = s.wUpsertUnbounded
		if !purge {
			_, err := upsert.ExecContext(ctx, fn, key, value, expires)
			return s.wrap("set", err)
		}
	}
	if _, err := s.wBegin.ExecContext(ctx); err != nil {
		return s.wrap("set", err)
	}
	err := func() error {
		if count {
			res, err := s.wCount.ExecContext(ctx, fn)
			if err != nil {
				return err
			}
			// The count row is new (not made by another process, or by
			// this one before it forgot): order the NULL-seq rows.
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				if _, err := s.wConvert.ExecContext(ctx, fn); err != nil {
					return err
				}
			}
		}
		if purge {
			if _, err := s.wPurge.ExecContext(ctx, fn, now); err != nil {
				return err
			}
		}
		if _, err := upsert.ExecContext(ctx, fn, key, value, expires); err != nil {
			return err
		}
		if lim.MaxSize > 0 {
			if _, err := s.wEvict.ExecContext(ctx, fn, lim.MaxSize); err != nil {
				return err
			}
		}
		_, err := s.wCommit.ExecContext(ctx)
		return err
	}()
	if err != nil {
		s.rollbackLocked()
		return s.wrap("set", err)
	}
	if count {
		// The count row, once committed, is kept by the triggers for good.
		if len(s.counted) >= maxCounted {
			clear(s.counted)
		}
		s.counted[fn] = struct{}{}
	}
	return nil
}

// rollbackLocked ends the writer's transaction after a failure; the
// writer must be held. An interrupted statement may have rolled it back
// already, so the error is ignored.
func (s *Store) rollbackLocked() {
	s.wRollback.ExecContext(context.Background())
}

// Clear implements runtime.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	_, err := s.wClear.ExecContext(ctx, fn)
	return s.wrap("clear", err)
}

// Len implements runtime.Store.
func (s *Store) Len(ctx context.Context, fn string) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	if err := s.rLen.QueryRowContext(ctx, fn, time.Now().UnixNano()).Scan(&n); err != nil {
		return 0, s.wrap("len", err)
	}
	return n, nil
}

// Close implements runtime.Store. It waits for a write in progress, then
// closes every connection; later calls fail with ErrClosed. Closing twice
// is not an error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.wsem <- struct{}{} // never released: no write can start again
	var errs []error
	for _, st := range []*sql.Stmt{s.rGet, s.rLen, s.wGet, s.wGetStale, s.wCount, s.wConvert, s.wUpsertUnbounded, s.wBegin, s.wCommit, s.wRollback, s.wTouch, s.wUpsert, s.wPurge, s.wEvict, s.wClear} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: closing %s: %w", s.path, err)
	}
	return nil
}

// wrap names the store and the operation in err, and reports a use after
// Close as ErrClosed.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("sqlite: %s %s: %w", op, s.path, err)
}
