package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/runtime"
)

// Store is a runtime.Store in a SQLite database file. It is safe for
// concurrent use by multiple goroutines, and several processes (each with
// its own Store) may share one file.
//
// Reads run in parallel on a small pool of connections; writes, and Gets
// that mark recency, go through a single connection, since SQLite admits
// one writer at a time (across processes, the busy timeout arbitrates).
// No operation waits longer than the busy timeout in all, for this
// writer connection and for other processes' locks (see Bound).
// Open a Store with Open, OpenContext or runtime.OpenURL; its zero value
// is not usable.
type Store struct {
	path string // as given to Open
	abs  string // absolute, resolved at Open
	o    options

	// h is the current handle on the file: replaced, under wsem, when the
	// file turns out damaged or replaced (see recoverLocked).
	h atomic.Pointer[handle]
	// wsem holds a token while the writer connection of h, and its
	// statements, are in use, and while h is replaced.
	wsem chan struct{}
	// closed is set once by Close; later calls fail with ErrClosed.
	closed atomic.Bool

	sets uint64 // Sets so far; guarded by wsem
}

const (
	// purgeEvery is how often a Set without TTL purges expired entries,
	// and checks that the store's path still names its file.
	purgeEvery = 256
	// maxCounted bounds handle.counted; it starts over when full.
	maxCounted = 4096
)

// ErrClosed is what a Store's methods return after Close. It wraps
// runtime.ErrClosed.
var ErrClosed = fmt.Errorf("sqlite: %w", runtime.ErrClosed)

var (
	_ runtime.Store   = (*Store)(nil)
	_ runtime.Bounder = (*Store)(nil)
)

// Open opens (creating it if needed) the SQLite store in the file at
// path, relative to the working directory unless absolute. It puts the
// file in WAL journal mode and creates the store's tables if they are
// missing; this is safe when several processes open a fresh file at
// once. Waiting for other processes' locks, it takes at most the busy
// timeout (twice that when it moves a damaged file aside).
//
// A file that is not a SQLite database, or is damaged, is moved aside
// and replaced by a fresh one unless WithRecovery(false) is given; see
// the package documentation. An error opening the file names the path and
// what is wrong with it.
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
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if path == ":memory:" {
		return nil, fmt.Errorf("sqlite: path %q: want a file path; for an in-process cache use runtime.NewMemory", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: path %q: %w", path, err)
	}
	s := &Store{path: path, abs: abs, o: o, wsem: make(chan struct{}, 1)}
	h, err := openHandle(ctx, abs, o, s.deadline(ctx, time.Now()))
	if err != nil && isDamaged(err) && o.recovery {
		// Move the damaged file aside, then open a fresh one. The damaged
		// file's connections close after the move, so that they leave its
		// -wal and -shm (which moved with it) alone.
		cause := err
		var dst string
		var merr error
		if h == nil || h.namesFile() {
			dst, merr = moveAside(abs)
		}
		h.close() // the damaged file's; its errors say nothing new
		if merr != nil {
			// Where an open file cannot be renamed (Windows), a closed one
			// can.
			dst, merr = moveAside(abs)
		}
		if merr != nil {
			return nil, fmt.Errorf("sqlite: opening %s: %w; moving the damaged file aside failed: %w", path, cause, merr)
		}
		if dst != "" {
			warnMoved(abs, dst, cause)
		}
		h, err = openHandle(ctx, abs, o, s.deadline(ctx, time.Now()))
	}
	if err != nil {
		h.close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, explainOpen(abs, err, o.recovery))
	}
	s.h.Store(h)
	return s, nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Bound implements runtime.Bounder: it returns the busy timeout
// (WithBusyTimeout, DefaultBusyTimeout by default). No operation of the
// store waits longer than that, in all, for this process's writer
// connection and for other processes' locks on the file, and a context
// deadline makes the wait shorter. To that, an operation adds the time
// its statements take to run once it has the lock: microseconds for a
// hit, more for a Set that evicts many entries, and the time to open a
// fresh file when the store recovers from a damaged one.
func (s *Store) Bound() time.Duration { return s.o.busyTimeout }

// deadline returns when the wait of an operation that started at start
// must end: after the busy timeout, or at ctx's deadline if earlier.
func (s *Store) deadline(ctx context.Context, start time.Time) time.Time {
	d := start.Add(s.o.busyTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		return dl
	}
	return d
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

// lockWriter takes the writer token for an operation that started at
// start, and returns the store's handle, whose writer connection is the
// caller's until unlockWriter. It waits for the token until the
// operation's deadline (see deadline), then fits the writer's busy
// timeout to what remains, so that the wait for the token and SQLite's
// wait for other processes' locks share one budget.
//
// The uncontended path, the token free at once and ctx without a
// deadline, runs no statement and starts no timer.
func (s *Store) lockWriter(ctx context.Context, start time.Time) (*handle, error) {
	select {
	case s.wsem <- struct{}{}:
	default:
		return s.lockWriterSlow(ctx, start)
	}
	if s.closed.Load() {
		<-s.wsem
		return nil, ErrClosed
	}
	h := s.h.Load()
	var err error
	if _, ok := ctx.Deadline(); ok {
		err = h.fitBusyLocked(time.Until(s.deadline(ctx, start)))
	} else {
		err = h.restoreBusyLocked()
	}
	if err != nil {
		<-s.wsem
		return nil, err
	}
	return h, nil
}

// lockWriterSlow is lockWriter when the token is taken.
func (s *Store) lockWriterSlow(ctx context.Context, start time.Time) (*handle, error) {
	deadline := start.Add(s.o.busyTimeout)
	var expired <-chan time.Time
	if dl, ok := ctx.Deadline(); ok && !dl.After(deadline) {
		deadline = dl // ctx.Done() is closed then
	} else {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-expired:
		return nil, s.errWriterBusy()
	}
	if s.closed.Load() {
		<-s.wsem
		return nil, ErrClosed
	}
	h := s.h.Load()
	left := time.Until(deadline)
	if left <= 0 {
		<-s.wsem
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, s.errWriterBusy()
	}
	if err := h.fitBusyLocked(left); err != nil {
		<-s.wsem
		return nil, err
	}
	return h, nil
}

func (s *Store) errWriterBusy() error {
	return fmt.Errorf("waited the busy timeout (%v) for the writer connection, in use by another operation of this process", s.o.busyTimeout)
}

func (s *Store) unlockWriter() { <-s.wsem }

// mayRecover reports whether err, from an operation on h, calls for
// recoverLocked: h is no longer the store's handle, or its file is damaged
// (and recovery is on), or the path names another file.
func (s *Store) mayRecover(h *handle, err error) bool {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return false
	}
	return s.h.Load() != h || errors.Is(err, errReplaced) || s.o.recovery && isDamaged(err)
}

// retryHandleLocked is recoverLocked for an operation that started at
// start: it returns the handle to try again on, its writer's busy timeout
// fitted to what remains of the operation's budget. The writer must be
// held.
func (s *Store) retryHandleLocked(ctx context.Context, h *handle, cause error, start time.Time) (*handle, error) {
	deadline := s.deadline(ctx, start)
	nh, err := s.recoverLocked(ctx, h, cause, deadline)
	if err != nil {
		return nil, err
	}
	if err := nh.fitBusyLocked(time.Until(deadline)); err != nil {
		return nil, err
	}
	return nh, nil
}

// retryHandle is retryHandleLocked for an operation that does not hold
// the writer.
func (s *Store) retryHandle(ctx context.Context, h *handle, cause error, start time.Time) (*handle, error) {
	if cur := s.h.Load(); cur != h {
		return cur, nil
	}
	if _, err := s.lockWriter(ctx, start); err != nil {
		return nil, cause
	}
	defer s.unlockWriter()
	return s.retryHandleLocked(ctx, h, cause, start)
}

// Get implements runtime.Store. For a bounded function (lim.MaxSize > 0)
// a hit is a read and then a write on the writer connection: the entry
// becomes the most recent, unless it is already. Otherwise a Get is a
// plain read, on the writer connection if it is free, else on a reader
// connection.
func (s *Store) Get(ctx context.Context, fn string, key []byte, lim runtime.Limits) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	key = nonNil(key)
	start := time.Now()
	var value []byte
	var err error
	if lim.MaxSize > 0 {
		value, err = s.getTouch(ctx, fn, key, start)
	} else {
		value, err = s.getRead(ctx, fn, key, start)
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

// getTouch is Get of a bounded function.
func (s *Store) getTouch(ctx context.Context, fn string, key []byte, start time.Time) ([]byte, error) {
	h, err := s.lockWriter(ctx, start)
	if err != nil {
		return nil, err
	}
	defer s.unlockWriter()
	value, err := h.getTouchLocked(ctx, fn, key, start.UnixNano())
	if s.mayRecover(h, err) {
		if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
			value, err = h.getTouchLocked(ctx, fn, key, start.UnixNano())
		}
	}
	return value, err
}

// getTouchLocked reads, then makes the entry the most recent unless it is
// already. Both run under the writer lock of this process; another
// process may act in between, which orders this Get at the read: the
// entry was live then, and touching it later is harmless. The writer must
// be held.
func (h *handle) getTouchLocked(ctx context.Context, fn string, key []byte, now int64) ([]byte, error) {
	var value []byte
	var stale bool
	err := h.wGetStale.QueryRowContext(ctx, fn, key, now).Scan(&value, &stale)
	if err == nil && stale {
		_, err = h.wTouch.ExecContext(ctx, fn, key)
	}
	return value, err
}

// getRead is Get of an unbounded function: a plain read. On the writer
// connection when it is free: its page cache survives this process's
// writes, while a pooled reader's is reset by every commit it did not
// make. A read waits for no lock of another process (WAL), so it fits no
// busy timeout.
func (s *Store) getRead(ctx context.Context, fn string, key []byte, start time.Time) ([]byte, error) {
	now := start.UnixNano()
	var value []byte
	select {
	case s.wsem <- struct{}{}:
		if s.closed.Load() {
			<-s.wsem
			return nil, ErrClosed
		}
		h := s.h.Load()
		err := h.wGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
		if s.mayRecover(h, err) {
			if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
				err = h.wGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
			}
		}
		<-s.wsem
		return value, err
	default:
	}
	h := s.h.Load()
	err := h.rGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandle(ctx, h, err, start); err == nil {
			err = h.rGet.QueryRowContext(ctx, fn, key, now).Scan(&value)
		}
	}
	return value, err
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
	start := time.Now()
	h, err := s.lockWriter(ctx, start)
	if err != nil {
		return s.wrap("set", err)
	}
	defer s.unlockWriter()
	// Expired entries are purged by every Set with a TTL, and by one Set
	// in purgeEvery otherwise (for entries left by an earlier TTL). That
	// one also checks that the path still names the store's file: a
	// process that never meets the damage another moved aside, or a file
	// deleted to empty the cache, would write into a file no one opens.
	s.sets++
	every := s.sets%purgeEvery == 0
	if every && !h.namesFile() {
		if nh, err := s.retryHandleLocked(ctx, h, errReplaced, start); err == nil {
			h = nh
		}
	}
	purge := lim.TTL > 0 || every
	err = h.setLocked(ctx, fn, key, value, lim, start.UnixNano(), purge)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
			err = h.setLocked(ctx, fn, key, value, lim, start.UnixNano(), purge)
		}
	}
	return s.wrap("set", err)
}

// setLocked is Set on h. The writer must be held.
func (h *handle) setLocked(ctx context.Context, fn string, key, value []byte, lim runtime.Limits, now int64, purge bool) error {
	var expires int64
	if lim.TTL > 0 {
		expires = now + int64(lim.TTL)
	}
	_, counted := h.counted[fn]
	count := lim.MaxSize > 0 && !counted
	upsert := h.wUpsert
	if lim.MaxSize < 0 {
		upsert = h.wUpsertUnbounded
		if !purge {
			_, err := upsert.ExecContext(ctx, fn, key, value, expires)
			return err
		}
	}
	if _, err := h.wBegin.ExecContext(ctx); err != nil {
		return err
	}
	err := func() error {
		if count {
			res, err := h.wCount.ExecContext(ctx, fn)
			if err != nil {
				return err
			}
			// The count row is new (not made by another process, or by
			// this one before it forgot): order the NULL-seq rows.
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				if _, err := h.wConvert.ExecContext(ctx, fn); err != nil {
					return err
				}
			}
		}
		if purge {
			if _, err := h.wPurge.ExecContext(ctx, fn, now); err != nil {
				return err
			}
		}
		if _, err := upsert.ExecContext(ctx, fn, key, value, expires); err != nil {
			return err
		}
		if lim.MaxSize > 0 {
			if _, err := h.wEvict.ExecContext(ctx, fn, lim.MaxSize); err != nil {
				return err
			}
		}
		_, err := h.wCommit.ExecContext(ctx)
		return err
	}()
	if err != nil {
		h.rollbackLocked()
		return err
	}
	if count {
		// The count row, once committed, is kept by the triggers for good.
		if len(h.counted) >= maxCounted {
			clear(h.counted)
		}
		h.counted[fn] = struct{}{}
	}
	return nil
}

// rollbackLocked ends the writer's transaction after a failure; the
// writer must be held. An interrupted statement may have rolled it back
// already, so the error is ignored.
func (h *handle) rollbackLocked() {
	h.wRollback.ExecContext(context.Background())
}

// Clear implements runtime.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
	h, err := s.lockWriter(ctx, start)
	if err != nil {
		return s.wrap("clear", err)
	}
	defer s.unlockWriter()
	_, err = h.wClear.ExecContext(ctx, fn)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
			_, err = h.wClear.ExecContext(ctx, fn)
		}
	}
	return s.wrap("clear", err)
}

// Len implements runtime.Store.
func (s *Store) Len(ctx context.Context, fn string) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	start := time.Now()
	h := s.h.Load()
	var n int64
	err := h.rLen.QueryRowContext(ctx, fn, start.UnixNano()).Scan(&n)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandle(ctx, h, err, start); err == nil {
			err = h.rLen.QueryRowContext(ctx, fn, start.UnixNano()).Scan(&n)
		}
	}
	if err != nil {
		return 0, s.wrap("len", err)
	}
	return n, nil
}

// Close implements runtime.Store. It waits for an operation in progress
// on the writer connection (at most its budget), then closes every
// connection; later calls fail with ErrClosed. Closing twice is not an
// error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.wsem <- struct{}{} // never released: no write can start again
	if err := s.h.Load().close(); err != nil {
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
	if isDamaged(err) && !s.o.recovery {
		return fmt.Errorf("sqlite: %s %s: %w: %s", op, s.path, err, damagedHint)
	}
	return fmt.Errorf("sqlite: %s %s: %w", op, s.path, err)
}
