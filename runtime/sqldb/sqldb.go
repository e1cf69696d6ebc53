package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/runtime"
)

// Store is a runtime.Store kept in one table of a SQL database. It is safe
// for concurrent use by multiple goroutines, and several processes (on one
// machine or many) may share one table: each function's eviction runs
// under the lock of that function's count row, inside one transaction.
//
// A Store is made by Open or New; the zero value is not usable.
type Store struct {
	db      *sql.DB
	ownsDB  bool // Close closes db: Open opened it
	dialect Dialect
	table   string
	q       queries

	// Prepared once; database/sql re-prepares them per connection.
	get, touch, bump, put, setBounded, lock, initCount, exists, victims, evict, setCount, sweep, forget, clear, count *sql.Stmt

	timeout time.Duration // bounds each operation when positive

	closed  atomic.Bool
	sets    atomic.Uint64 // TTL Sets of unbounded functions, to pace sweeps
	retries atomic.Int64  // transient failures retried, for tests
}

var _ runtime.Store = (*Store)(nil)

// An Option changes how New or Open sets up a Store.
type Option func(*options) error

type options struct {
	table   string
	timeout time.Duration
}

// DefaultTimeout bounds each operation of a PostgreSQL or MySQL store:
// past it a call gives up on the store (and computes) instead of waiting
// on a database that stopped answering. SQLite stores have no default:
// their busy timeout already bounds them, and a deadline would cost a
// local read a timer and database/sql's context watcher.
const DefaultTimeout = 5 * time.Second

// WithTimeout bounds each operation (Get, Set, Len, Clear) of the Store,
// on top of the caller's context; zero or less removes the bound. The
// default is DefaultTimeout for PostgreSQL and MySQL, none for SQLite.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		o.timeout = max(d, 0)
		return nil
	}
}

// WithTable makes the Store keep its entries in the named table (default
// DefaultTable, "picocache"). The name must be a plain identifier: a
// letter or underscore, then up to 47 letters, digits or underscores.
// Derived objects take the name plus a suffix: NAME_lru (index) and
// NAME_count (per-function counts and locks) in every dialect; NAME_used
// (sequence) and NAME_set (function) in PostgreSQL.
func WithTable(name string) Option {
	return func(o *options) error {
		if !tableName.MatchString(name) {
			return fmt.Errorf("sqldb: table name %q is not a plain identifier (want %s)", name, tableName)
		}
		o.table = name
		return nil
	}
}

// errClosed is what calls after Close return.
var errClosed = fmt.Errorf("sqldb: %w", runtime.ErrClosed)

// New returns a Store that keeps its entries in db, a database of the
// given dialect, creating its table when missing. The caller keeps
// ownership of db: Close does not close it.
//
// db may come from any database/sql driver that speaks the dialect. For
// SQLite, set a busy timeout on db (modernc.org/sqlite:
// "?_pragma=busy_timeout(10000)") so that writers from several
// connections or processes wait for one another instead of failing.
func New(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	return newStore(ctx, db, false, dialect, opts)
}

func newStore(ctx context.Context, db *sql.DB, owns bool, dialect Dialect, opts []Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqldb: nil *sql.DB")
	}
	switch dialect {
	case Postgres, MySQL, SQLite:
	default:
		return nil, fmt.Errorf("sqldb: unknown dialect %v", dialect)
	}
	o := options{table: DefaultTable, timeout: DefaultTimeout}
	if dialect == SQLite {
		o.timeout = 0
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &Store{db: db, ownsDB: owns, dialect: dialect, table: o.table, q: newQueries(dialect, o.table), timeout: o.timeout}
	// Opening is bounded like any operation: a server that accepts the
	// connection and never answers fails the opening, not the program.
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.retry(ctx, func() error { return db.PingContext(ctx) }); err != nil {
		return nil, fmt.Errorf("sqldb: connecting to the %v database: %w", dialect, s.timeoutErr(ctx, err))
	}
	if err := s.createTable(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.closeStmts()
		return nil, err
	}
	return s, nil
}

// createTable creates the table and its companions when missing. Every
// statement is idempotent; in PostgreSQL, where concurrent CREATE ... IF
// NOT EXISTS can fail on the catalog's unique index, they run in one
// transaction under an advisory lock, so processes starting at once take
// turns.
func (s *Store) createTable(ctx context.Context) error {
	err := s.retry(ctx, func() error {
		if s.dialect != Postgres {
			for _, q := range s.q.create {
				if _, err := s.db.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		h := fnv.New32a()
		h.Write([]byte(s.table))
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassDDL, int32(h.Sum32())); err != nil {
			return err
		}
		for _, q := range s.q.create {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("sqldb: creating table %q (%v): %w", s.table, s.dialect, err)
	}
	return nil
}

// lockClassDDL is the first key of the two-key PostgreSQL advisory lock
// that table creation takes ("PicD"); applications' one-key locks use
// another key space.
const lockClassDDL int32 = 0x50696344

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		text string
	}{
		{&s.get, s.q.get}, {&s.touch, s.q.touch}, {&s.bump, s.q.bump}, {&s.put, s.q.put}, {&s.setBounded, s.q.setBounded},
		{&s.lock, s.q.lock}, {&s.initCount, s.q.initCount}, {&s.exists, s.q.exists}, {&s.victims, s.q.victims},
		{&s.evict, s.q.evict}, {&s.setCount, s.q.setCount}, {&s.sweep, s.q.sweep},
		{&s.forget, s.q.forget}, {&s.clear, s.q.clear}, {&s.count, s.q.count},
	} {
		if p.text == "" {
			continue
		}
		err := s.retry(ctx, func() error {
			st, err := s.db.PrepareContext(ctx, p.text)
			*p.stmt = st
			return err
		})
		if err != nil {
			return fmt.Errorf("sqldb: preparing a statement on table %q (%v): %w", s.table, s.dialect, err)
		}
	}
	return nil
}

func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.get, s.touch, s.bump, s.put, s.setBounded, s.lock, s.initCount, s.exists, s.victims, s.evict, s.setCount, s.sweep, s.forget, s.clear, s.count} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Bound implements runtime.Bounder: the operation timeout (WithTimeout),
// which bounds each operation, opening included, retries included. Zero
// means the Store sets no bound of its own.
func (s *Store) Bound() time.Duration { return s.timeout }

// timeoutErr says so when err comes from the Store's own deadline, whose
// bare "context deadline exceeded" would not tell a reader which bound
// ran out.
func (s *Store) timeoutErr(ctx context.Context, err error) error {
	if s.timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer in time (the store waits at most %v, sqldb.WithTimeout): %w", s.timeout, err)
	}
	return err
}

// DB returns the database the Store uses, to tune its pool for example.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the Store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// Table returns the name of the Store's table.
func (s *Store) Table() string { return s.table }

// hashes returns the row identity of key in fn.
func hashes(fn string, key []byte) (fh, kh []byte) {
	f := sha256.Sum256([]byte(fn))
	k := sha256.Sum256(key)
	return f[:], k[:]
}

func fnHash(fn string) []byte {
	f := sha256.Sum256([]byte(fn))
	return f[:]
}

// nonNil turns a nil slice into an empty one: database/sql sends nil as
// NULL, and every column is NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func now() int64 { return time.Now().UnixNano() }

// expiry returns the absolute expiry, in Unix nanoseconds, of an entry set
// at t with lim.
func expiry(t int64, lim runtime.Limits) int64 {
	if lim.TTL <= 0 || lim.TTL > time.Duration(math.MaxInt64-t) {
		return math.MaxInt64
	}
	return t + int64(lim.TTL)
}

// Get returns the live value of key in fn. When lim.MaxSize is positive
// it also makes the entry fn's most recently used: in PostgreSQL and
// SQLite in the same statement as the read; in MySQL in a second statement
// right after it (an entry evicted in between is still returned: it was
// live when read).
func (s *Store) Get(ctx context.Context, fn string, key []byte, lim runtime.Limits) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	fh, kh := hashes(fn, key)
	key = nonNil(key)
	t := now()
	var v []byte
	var err error
	switch {
	case lim.MaxSize <= 0:
		err = s.retry(ctx, func() error { return s.get.QueryRowContext(ctx, fh, kh, key, t).Scan(&v) })
	case s.dialect == MySQL:
		err = s.retry(ctx, func() error { return s.get.QueryRowContext(ctx, fh, kh, key, t).Scan(&v) })
		if err == nil {
			err = s.retry(ctx, func() error {
				_, err := s.bump.ExecContext(ctx, fh, kh, key)
				return err
			})
		}
	default:
		err = s.retry(ctx, func() error { return s.touch.QueryRowContext(ctx, fh, kh, key, t).Scan(&v) })
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqldb: get: %w", s.timeoutErr(ctx, err))
	}
	return nonNil(v), true, nil
}

// bound applies the Store's operation timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}

// sweepEvery paces the removal of expired entries of unbounded functions:
// one TTL Set in this many also deletes fn's expired rows. (Bounded
// functions drop theirs on every Set, with the eviction.)
const sweepEvery = 64

// Set stores value under key in fn as its most recently used entry, then,
// when lim.MaxSize is positive, deletes fn's least recently used entries
// beyond lim.MaxSize. A bounded Set runs in one transaction that holds
// the lock of fn's count row (a row lock in PostgreSQL, taken by the
// NAME_set function so that the whole Set is one round trip; a row lock
// in MySQL; SQLite's write lock) and keeps the count, so concurrent Sets
// from any process never leave more than lim.MaxSize entries, and the
// eviction reads only the rows it deletes.
func (s *Store) Set(ctx context.Context, fn string, key, value []byte, lim runtime.Limits) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if lim.MaxSize == 0 {
		return nil
	}
	fh, kh := hashes(fn, key)
	key, value = nonNil(key), nonNil(value)
	t := now()
	exp := expiry(t, lim)
	var err error
	if lim.MaxSize < 0 {
		err = s.retry(ctx, func() error {
			_, err := s.put.ExecContext(ctx, fh, kh, key, value, exp)
			return err
		})
		if err == nil && lim.TTL > 0 && s.sets.Add(1)%sweepEvery == 0 {
			err = s.retry(ctx, func() error {
				_, err := s.sweep.ExecContext(ctx, fh, t)
				return err
			})
		}
	} else if s.dialect == Postgres {
		err = s.retry(ctx, func() error {
			_, err := s.setBounded.ExecContext(ctx, fh, kh, key, value, exp, lim.MaxSize)
			return err
		})
	} else {
		err = s.retry(ctx, func() error { return s.setBoundedTx(ctx, fh, kh, key, value, exp, lim.MaxSize) })
	}
	if err != nil {
		return fmt.Errorf("sqldb: set: %w", s.timeoutErr(ctx, err))
	}
	return nil
}

// setBoundedTx is a bounded Set in MySQL and SQLite: the same steps as
// PostgreSQL's NAME_set function.
func (s *Store) setBoundedTx(ctx context.Context, fh, kh, key, value []byte, exp, maxSize int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Lock fn and read its count, creating the count row if missing.
	var n int64
	err = tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, fh).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		args := []any{fh}
		if s.dialect == MySQL {
			args = append(args, fh)
		}
		if _, err := tx.StmtContext(ctx, s.initCount).ExecContext(ctx, args...); err != nil {
			return err
		}
		err = tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, fh).Scan(&n)
	}
	if err != nil {
		return err
	}
	n0 := n
	inserted := false
	if s.dialect == SQLite {
		var present int64
		if err := tx.StmtContext(ctx, s.exists).QueryRowContext(ctx, fh, kh).Scan(&present); err != nil {
			return err
		}
		inserted = present == 0
	}
	res, err := tx.StmtContext(ctx, s.put).ExecContext(ctx, fh, kh, key, value, exp)
	if err != nil {
		return err
	}
	if s.dialect == MySQL {
		// 1 for a new row, 2 for an updated one.
		affected, err := res.RowsAffected()
		if err != nil {
			return err
		}
		inserted = affected == 1
	}
	if inserted {
		n++
	}
	if n > maxSize {
		var evicted int64
		if s.dialect == MySQL {
			evicted, err = s.evictMySQL(ctx, tx, fh, n-maxSize)
		} else {
			var res sql.Result
			if res, err = tx.StmtContext(ctx, s.evict).ExecContext(ctx, fh, n-maxSize); err == nil {
				evicted, err = res.RowsAffected()
			}
		}
		if err != nil {
			return err
		}
		n -= evicted
	}
	if n != n0 {
		if _, err := tx.StmtContext(ctx, s.setCount).ExecContext(ctx, n, fh); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// evictMySQL deletes fn's count least recently used rows and reports how
// many it deleted.
func (s *Store) evictMySQL(ctx context.Context, tx *sql.Tx, fh []byte, count int64) (int64, error) {
	rows, err := tx.StmtContext(ctx, s.victims).QueryContext(ctx, fh, count)
	if err != nil {
		return 0, err
	}
	var victims [][]byte
	for rows.Next() {
		var kh []byte
		if err := rows.Scan(&kh); err != nil {
			rows.Close()
			return 0, err
		}
		victims = append(victims, kh)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var evicted int64
	if len(victims) == 1 { // the usual case: one entry in, one out
		res, err := tx.StmtContext(ctx, s.evict).ExecContext(ctx, fh, victims[0])
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	for len(victims) > 0 {
		batch := victims[:min(len(victims), 256)]
		victims = victims[len(batch):]
		args := make([]any, 0, 1+len(batch))
		args = append(args, fh)
		for _, kh := range batch {
			args = append(args, kh)
		}
		// Only placeholders are added to the SQL text.
		q := "DELETE FROM `" + s.table + "` WHERE fh = ? AND kh IN (?" + strings.Repeat(", ?", len(batch)-1) + ")"
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		d, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		evicted += d
	}
	return evicted, nil
}

// Clear deletes every entry of fn and its count row, in one transaction:
// deleting the count row first waits for, then excludes, fn's bounded Sets.
func (s *Store) Clear(ctx context.Context, fn string) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	fh := fnHash(fn)
	err := s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.StmtContext(ctx, s.forget).ExecContext(ctx, fh); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.clear).ExecContext(ctx, fh); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("sqldb: clear: %w", s.timeoutErr(ctx, err))
	}
	return nil
}

// Len reports how many live entries fn holds.
func (s *Store) Len(ctx context.Context, fn string) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	fh := fnHash(fn)
	var n int64
	err := s.retry(ctx, func() error { return s.count.QueryRowContext(ctx, fh, now()).Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("sqldb: len: %w", s.timeoutErr(ctx, err))
	}
	return n, nil
}

// Close releases the prepared statements and, when the Store was made by
// Open, the database. A database passed to New stays open. Calls after
// Close fail; Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.closeStmts()
	if s.ownsDB {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// Transient failures are retried this many times in all, with a growing,
// jittered pause, within the caller's context.
const maxAttempts = 10

// retry runs op until it succeeds, fails for a reason other than lock
// contention, or has run maxAttempts times.
func (s *Store) retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == maxAttempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		s.retries.Add(1)
		pause := time.Duration(1<<min(attempt, 6)) * time.Millisecond // up to 64ms
		pause = pause/2 + time.Duration(jitter(uint64(pause/2)))
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

var jitterState atomic.Uint64

// jitter returns a pseudo-random number in [0, n).
func jitter(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	x := jitterState.Add(0x9e3779b97f4a7c15)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	return x % n
}

// transient reports whether err is a deadlock, a serialization failure or
// a busy database: worth running the statement or transaction again. The
// package imports no driver, so it recognises their errors by method or,
// for go-sql-driver/mysql (whose MySQLError has only fields), by message.
func transient(err error) bool {
	var pg interface{ SQLState() string } // pgx's *pgconn.PgError, lib/pq's *pq.Error
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return true
		}
		return false
	}
	var lite interface{ Code() int } // modernc.org/sqlite's *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	msg := err.Error()
	for _, m := range mysqlTransient {
		if len(msg) >= len(m) && msg[:len(m)] == m {
			return true
		}
	}
	return false
}

// mysqlTransient are the prefixes of go-sql-driver/mysql's messages for
// ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT ("Error %d (%s): %s").
var mysqlTransient = []string{"Error 1213", "Error 1205"}

func init() {
	for _, scheme := range []string{"postgres", "postgresql", "mysql"} {
		runtime.RegisterScheme(scheme, func(ctx context.Context, rawURL string) (runtime.Store, error) {
			s, err := Open(ctx, rawURL)
			if err != nil {
				return nil, err
			}
			return s, nil
		})
	}
}
