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
	"sync"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// Store is a runtime.Store kept in one table of a SQL database. It is safe
// for concurrent use by multiple goroutines, and several processes (on one
// machine or many) may share one table: each function's eviction runs
// under the lock of that function's count row, inside one transaction.
//
// A hit is one SELECT. For a bounded function the Store records the hit
// in the process and applies it (makes the entry the most recently used)
// later, in a batch with others: inside the next Set of that function
// from this process, in the same transaction as its upsert and eviction;
// otherwise within the flush delay (WithFlushDelay); and by Flush and
// Close.
//
// A Store is made by Open or New; the zero value is not usable.
type Store struct {
	db      *sql.DB
	ownsDB  bool // Close closes db: Open opened it
	dialect Dialect
	table   string
	q       queries

	// Prepared once; database/sql re-prepares them per connection.
	get, put, setBounded, touch, bump, lock, initCount, victims, evict, setCount, sweep, forget, clear, count *sql.Stmt
	register, used                                                                                            *sql.Stmt

	timeout time.Duration // bounds each operation when positive

	flusher *storekit.Flusher
	// stopPrune ends WithPrune's pruning; nil without it.
	stopPrune func()
	// bg is the context of the flusher's flushes: Close cancels it, so
	// that it need not wait for one in progress.
	bg     context.Context
	stopBG context.CancelFunc

	mu     sync.Mutex
	spaces map[spaceKey]*space // guarded by mu
	fns    map[string]*fnState // guarded by mu; what the spaces of one name share
	closed atomic.Bool         // set once, under mu

	sets    atomic.Uint64 // TTL Sets of unbounded functions, to pace sweeps
	retries atomic.Int64  // transient failures retried, for tests
}

var (
	_ runtime.Bounder = (*Store)(nil)
	_ runtime.Flusher = (*Store)(nil)
)

// An Option changes how New or Open sets up a Store.
type Option func(*options) error

type options struct {
	table      string
	timeout    time.Duration
	flushDelay time.Duration
	prune      time.Duration // WithPrune's; 0 for none
}

// DefaultTimeout bounds each operation of a Store unless WithTimeout says
// otherwise: past it a call gives up on the store (and computes) instead
// of waiting on a database that stopped answering.
const DefaultTimeout = 5 * time.Second

// WithTimeout bounds each operation (Get, Set, Len, Clear, a flush) of the
// Store, on top of the caller's context; zero or less removes the bound.
// The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		o.timeout = max(d, 0)
		return nil
	}
}

// DefaultFlushDelay is how long, unless WithFlushDelay says otherwise, the
// recency of a hit may stay in the process before the Store applies it.
const DefaultFlushDelay = storekit.DefaultFlushDelay

// WithFlushDelay sets how long the recency of a hit of a bounded function
// may stay in the process before the Store applies it to the database,
// when no Set of that function from this process applies it sooner; zero
// or less means DefaultFlushDelay. Until then, other processes' evictions
// do not see the hit. The URL parameter flush=DURATION (a
// time.ParseDuration string) sets it too.
func WithFlushDelay(d time.Duration) Option {
	return func(o *options) error {
		o.flushDelay = max(d, 0)
		return nil
	}
}

// WithPrune makes the Store delete, by itself, the namespaces (functions
// and versions) that no process used for unusedFor: about a minute after
// opening, then once a day, in the background, as runtime.Prune does; it
// stops when the Store closes. Off by default; 720h (30 days) suits most
// programs. The URL parameter prune=DURATION sets it too.
func WithPrune(unusedFor time.Duration) Option {
	return func(o *options) error {
		if unusedFor < 0 {
			return fmt.Errorf("sqldb: WithPrune(%v): the duration is negative", unusedFor)
		}
		o.prune = unusedFor
		return nil
	}
}

// pruneInterval is how often a Store told to prune does so.
const pruneInterval = 24 * time.Hour

// WithTable makes the Store keep its entries in the named table (default
// DefaultTable, "picocache"). The name must be a plain identifier: a
// letter or underscore, then up to 47 letters, digits or underscores.
// Derived objects take the name plus a suffix: NAME_lru (index) and
// NAME_count (per-function counts and locks) and NAME_ns (functions'
// names and last use) in every dialect; NAME_used
// (sequence), NAME_set2 and NAME_touch (functions) in PostgreSQL.
func WithTable(name string) Option {
	return func(o *options) error {
		if err := storekit.CheckTable(name); err != nil {
			return fmt.Errorf("sqldb: %w", err)
		}
		o.table = name
		return nil
	}
}

// errClosed is what calls after Close return.
var errClosed = fmt.Errorf("sqldb: %w", runtime.ErrClosed)

// New returns a Store that keeps its entries in db, a database of the
// given dialect, creating its table when missing. The caller keeps
// ownership of db: Close does not close it. db may come from any
// database/sql driver that speaks the dialect. (SQLite is runtime/sqlite's.)
func New(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	return newStore(ctx, db, false, dialect, opts)
}

func newStore(ctx context.Context, db *sql.DB, owns bool, dialect Dialect, opts []Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqldb: nil *sql.DB")
	}
	if dialect != Postgres && dialect != MySQL {
		return nil, fmt.Errorf("sqldb: unknown dialect %v (want sqldb.Postgres or sqldb.MySQL; SQLite is runtime/sqlite's)", dialect)
	}
	o := options{table: DefaultTable, timeout: DefaultTimeout}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &Store{
		db: db, ownsDB: owns, dialect: dialect, table: o.table, q: newQueries(dialect, o.table), timeout: o.timeout,
		spaces: make(map[spaceKey]*space), fns: make(map[string]*fnState),
	}
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
	s.bg, s.stopBG = context.WithCancel(context.Background())
	s.flusher = storekit.NewFlusher(o.flushDelay, func() {
		ctx, cancel := s.bound(s.bg)
		defer cancel()
		s.flush(ctx) // what fails is put back, for the next flush
	})
	if o.prune > 0 {
		s.stopPrune = runtime.PruneEvery(s, o.prune, pruneInterval)
	}
	return s, nil
}

// createTable creates the table and its companions when missing. Every
// statement is idempotent; in PostgreSQL, where concurrent CREATE ... IF
// NOT EXISTS (and CREATE OR REPLACE FUNCTION) can fail on the catalog's
// unique index, they run in one transaction under an advisory lock, so
// processes starting at once take turns.
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
		if err := s.keyStatsPostgres(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("sqldb: creating table %q (%v): %w", s.table, s.dialect, s.timeoutErr(ctx, err))
	}
	return nil
}

// keyStatsPostgres tells PostgreSQL's planner, once per table, that
// every row has its own key hash. kh hashes the key alone, and functions
// often share keys (small integers, short strings): sampled statistics
// then see few distinct kh values, which makes the primary key (fh, kh)
// look no better than the (fh, used) index for fh = $1 AND kh = $2, and a
// Get that takes the latter scans every row of its function. The setting
// takes effect at the table's next ANALYZE (autovacuum's); the store does
// not analyze by itself, since statistics taken while a table is small
// mislead the planner just as well once it has grown.
func (s *Store) keyStatsPostgres(ctx context.Context, tx *sql.Tx) error {
	var set bool
	err := tx.QueryRowContext(ctx, `SELECT coalesce('n_distinct=-1' = ANY(attoptions), false)
		FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'kh'`, `"`+s.table+`"`).Scan(&set)
	if err != nil || set {
		return err
	}
	_, err = tx.ExecContext(ctx, `ALTER TABLE "`+s.table+`" ALTER COLUMN kh SET (n_distinct = -1)`)
	return err
}

// lockClassDDL is the first key of the two-key PostgreSQL advisory lock
// that table creation takes ("PicD"); applications' one-key locks use
// another key space.
const lockClassDDL int32 = 0x50696344

func (s *Store) stmts() []struct {
	stmt **sql.Stmt
	text string
} {
	return []struct {
		stmt **sql.Stmt
		text string
	}{
		{&s.get, s.q.get}, {&s.put, s.q.put}, {&s.setBounded, s.q.setBounded}, {&s.touch, s.q.touch},
		{&s.bump, s.q.bump}, {&s.lock, s.q.lock}, {&s.initCount, s.q.initCount}, {&s.victims, s.q.victims},
		{&s.evict, s.q.evict}, {&s.setCount, s.q.setCount}, {&s.sweep, s.q.sweep},
		{&s.forget, s.q.forget}, {&s.clear, s.q.clear}, {&s.count, s.q.count},
		{&s.register, s.q.register}, {&s.used, s.q.used},
	}
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range s.stmts() {
		if p.text == "" {
			continue
		}
		err := s.retry(ctx, func() error {
			st, err := s.db.PrepareContext(ctx, p.text)
			*p.stmt = st
			return err
		})
		if err != nil {
			return fmt.Errorf("sqldb: preparing a statement on table %q (%v): %w", s.table, s.dialect, s.timeoutErr(ctx, err))
		}
	}
	return nil
}

func (s *Store) closeStmts() error {
	var errs []error
	for _, p := range s.stmts() {
		if *p.stmt != nil {
			errs = append(errs, (*p.stmt).Close())
		}
	}
	return errors.Join(errs...)
}

// Bound implements runtime.Bounder: the operation timeout (WithTimeout),
// which bounds each operation, opening included, retries included. Zero
// means the Store sets no bound of its own.
func (s *Store) Bound() time.Duration { return s.timeout }

// opErr names the store and the operation in err, and reports a failure
// of a call that Close overtook as ErrClosed.
func (s *Store) opErr(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return errClosed
	}
	return fmt.Errorf("sqldb: %s: %w", op, s.timeoutErr(ctx, err))
}

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

// spaceKey identifies a Space: the runtime asks once per function, tests
// far more often.
type spaceKey struct {
	name string
	lim  runtime.Limits
}

// fnState is what the Spaces of one function name share: the name's hash
// and the hits of its bounded Spaces not yet applied. It is safe for
// concurrent use.
type fnState struct {
	fh    []byte
	fhArg any // fh, boxed once, so that a hit's arguments cost one less allocation

	touches storekit.Touches
	// turn holds a token while its holder applies touches (a bounded Set,
	// a flush): taking them and applying them one holder at a time keeps
	// their order, and makes a Set's eviction see every hit taken before
	// it. Sets wait for their turn (within their bound), hits never do.
	turn chan struct{}

	name string
	// registered reports that NAME_ns names the function (see
	// Store.Space); guarded by registering.
	registered  bool
	registering sync.Mutex
	// recorded is when this process last recorded a use of the function
	// in NAME_ns, and pending the time of a use it has yet to record (0
	// for none), in Unix nanoseconds; see use.
	recorded, pending atomic.Int64
}

// use notes a use of the function (a read or a write) at t, and reports
// whether it is to be recorded: at most once per runtime.UseInterval, by
// the flusher, so that a hit stays a read.
func (fn *fnState) use(t int64) bool {
	if t-fn.recorded.Load() < int64(runtime.UseInterval) {
		return false
	}
	fn.pending.CompareAndSwap(0, t)
	return true
}

// wait takes fn's turn, or fails when ctx ends first.
func (fn *fnState) wait(ctx context.Context) error {
	select {
	case fn.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for this process's other Set or flush of the function: %w", ctx.Err())
	}
}

func (fn *fnState) done() { <-fn.turn }

// Space implements runtime.Store. The first Space of a function in this
// process registers its name and use in NAME_ns, one upsert bounded as any
// operation; the table was made by Open or New, and a function's count row
// is made by its first bounded Set.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, errClosed
	}
	k := spaceKey{ns.Name, ns.Limits}
	sp := s.spaces[k]
	if sp == nil {
		fn := s.fns[ns.Name]
		if fn == nil {
			h := sha256.Sum256([]byte(ns.Name))
			fn = &fnState{fh: h[:], turn: make(chan struct{}, 1), name: ns.Name}
			fn.fhArg = fn.fh
			s.fns[ns.Name] = fn
		}
		sp = &space{s: s, fn: fn, lim: ns.Limits}
		s.spaces[k] = sp
	}
	s.mu.Unlock()
	if err := s.registerFn(ctx, sp.fn); err != nil {
		return nil, s.opErr(ctx, "space", err)
	}
	return sp, nil
}

// registerFn names fn in NAME_ns with its use now, once per process.
func (s *Store) registerFn(ctx context.Context, fn *fnState) error {
	fn.registering.Lock()
	defer fn.registering.Unlock()
	if fn.registered {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t := time.Now()
	err := s.retry(ctx, func() error {
		_, err := s.register.ExecContext(ctx, fn.fh, []byte(fn.name), t.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("registering the function: %w", err)
	}
	fn.registered = true
	fn.recorded.Store(t.UnixNano())
	return nil
}

// space is a runtime.Space of a Store: one function's entries, with the
// limits it was asked with. It is safe for concurrent use.
type space struct {
	s   *Store
	fn  *fnState
	lim runtime.Limits
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

// Get implements runtime.Space: one SELECT. For a bounded function a hit
// is recorded in the process, to be applied later (see Store).
func (sp *space) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s := sp.s
	if s.closed.Load() {
		return nil, false, errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	kh := sha256.Sum256(key)
	k := nonNil(key)
	var v []byte
	var exp int64
	err := s.retry(ctx, func() error { return s.get.QueryRowContext(ctx, sp.fn.fhArg, kh[:], k).Scan(&v, &exp) })
	t := now()
	if sp.fn.use(t) {
		s.flusher.Kick()
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.opErr(ctx, "get", err)
	}
	if exp <= t {
		return nil, false, nil
	}
	if sp.lim.MaxSize > 0 {
		sp.touched(ctx, key)
	}
	return nonNil(v), true, nil
}

// touched records a hit of key. When that fills the batch, the flusher
// applies it at once: a hit never waits for a write (a count-row lock
// that another process's Set holds, say).
func (sp *space) touched(ctx context.Context, key []byte) {
	if sp.fn.touches.Add(key) {
		sp.s.flusher.Now()
		return
	}
	sp.s.flusher.Kick()
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

// Set implements runtime.Space. A bounded Set (MaxSize > 0) runs in one
// transaction that holds the lock of the function's count row (a row
// lock, taken in PostgreSQL by the NAME_set2 function so that the whole
// Set is one round trip) and keeps the count: it applies the hits this
// process recorded, upserts, then deletes the least recently used entries
// beyond MaxSize. So concurrent Sets from any process never leave more
// than MaxSize entries, the eviction sees every hit this process made
// before it, and it reads only the rows it deletes.
func (sp *space) Set(ctx context.Context, key, value []byte) error {
	s := sp.s
	if s.closed.Load() {
		return errClosed
	}
	if sp.lim.MaxSize == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	kh := sha256.Sum256(key)
	key, value = nonNil(key), nonNil(value)
	t := now()
	if sp.fn.use(t) {
		s.flusher.Kick()
	}
	exp := expiry(t, sp.lim)
	fh := sp.fn.fh
	var err error
	if sp.lim.MaxSize < 0 {
		err = s.retry(ctx, func() error {
			_, err := s.put.ExecContext(ctx, fh, kh[:], key, value, exp)
			return err
		})
		if err == nil && sp.lim.TTL > 0 && s.sets.Add(1)%sweepEvery == 0 {
			err = s.retry(ctx, func() error {
				_, err := s.sweep.ExecContext(ctx, fh, t)
				return err
			})
		}
	} else {
		err = s.setBoundedFn(ctx, sp.fn, kh[:], key, value, exp, sp.lim.MaxSize)
	}
	if err != nil {
		return s.opErr(ctx, "set", err)
	}
	return nil
}

// setBoundedFn is a bounded Set of fn that carries fn's pending hits; if
// it fails they are put back.
func (s *Store) setBoundedFn(ctx context.Context, fn *fnState, kh, key, value []byte, exp, maxSize int64) error {
	if err := fn.wait(ctx); err != nil {
		return err
	}
	defer fn.done()
	keys := fn.touches.Take()
	khs := keyHashes(keys)
	var err error
	if s.dialect == Postgres {
		touched := pgArray(khs)
		err = s.retry(ctx, func() error {
			_, err := s.setBounded.ExecContext(ctx, fn.fh, kh, key, value, exp, maxSize, touched)
			return err
		})
	} else {
		err = s.retry(ctx, func() error { return s.setBoundedTx(ctx, fn.fh, khs, kh, key, value, exp, maxSize) })
	}
	if err != nil {
		fn.touches.Put(keys)
	}
	return err
}

// keyHashes returns the row identities (kh) of keys, in order.
func keyHashes(keys [][]byte) [][sha256.Size]byte {
	if len(keys) == 0 {
		return nil
	}
	khs := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		khs[i] = sha256.Sum256(k)
	}
	return khs
}

// setBoundedTx is a bounded Set in MySQL: the same steps as PostgreSQL's
// NAME_set2 function.
func (s *Store) setBoundedTx(ctx context.Context, fh []byte, touched [][sha256.Size]byte, kh, key, value []byte, exp, maxSize int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Lock fn and read its count, creating the count row if missing.
	var n int64
	err = tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, fh).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.StmtContext(ctx, s.initCount).ExecContext(ctx, fh, fh); err != nil {
			return err
		}
		err = tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, fh).Scan(&n)
	}
	if err != nil {
		return err
	}
	if err := s.bumpTx(ctx, tx, fh, touched); err != nil {
		return err
	}
	n0 := n
	res, err := tx.StmtContext(ctx, s.put).ExecContext(ctx, fh, kh, key, value, exp)
	if err != nil {
		return err
	}
	// 1 for a new row, 2 for an updated one.
	affected, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if affected == 1 {
		n++
	}
	if n > maxSize {
		evicted, err := s.evictMySQL(ctx, tx, fh, n-maxSize)
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

// bumpBatch is the most key hashes one MySQL bump statement names.
const bumpBatch = 256

// bumpTx makes the rows of the touched key hashes fn's most recently used,
// in order, skipping those no longer stored (MySQL). The caller holds
// fn's count-row lock in tx.
func (s *Store) bumpTx(ctx context.Context, tx *sql.Tx, fh []byte, touched [][sha256.Size]byte) error {
	for len(touched) > 0 {
		batch := touched[:min(len(touched), bumpBatch)]
		touched = touched[len(batch):]
		if len(batch) == 1 {
			if _, err := tx.StmtContext(ctx, s.bump).ExecContext(ctx, fh, batch[0][:]); err != nil {
				return err
			}
			continue
		}
		args := make([]any, 0, 1+2*len(batch))
		args = append(args, fh)
		for i := range batch {
			args = append(args, batch[i][:])
		}
		for i := range batch {
			args = append(args, batch[i][:])
		}
		// Only placeholders are added to the SQL text.
		if _, err := tx.ExecContext(ctx, bumpsMySQL(s.table, len(batch)), args...); err != nil {
			return err
		}
	}
	return nil
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

// applyLocked applies fn's pending hits in one transaction, under fn's
// count-row lock; the caller holds fn's turn. If it fails they are put
// back.
func (s *Store) applyLocked(ctx context.Context, fn *fnState) error {
	keys := fn.touches.Take()
	if keys == nil {
		return nil
	}
	khs := keyHashes(keys)
	var err error
	if s.dialect == Postgres {
		touched := pgArray(khs)
		err = s.retry(ctx, func() error {
			_, err := s.touch.ExecContext(ctx, fn.fh, touched)
			return err
		})
	} else {
		err = s.retry(ctx, func() error { return s.touchTx(ctx, fn.fh, khs) })
	}
	if err != nil {
		fn.touches.Put(keys)
	}
	return err
}

// touchTx applies hits in MySQL: the count-row lock, then the bumps. A
// function without a count row has no bounded Set yet; the lock's read
// then holds the gap where the row would go, which keeps a first Set
// out just as well.
func (s *Store) touchTx(ctx context.Context, fh []byte, touched [][sha256.Size]byte) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, fh).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err := s.bumpTx(ctx, tx, fh, touched); err != nil {
		return err
	}
	return tx.Commit()
}

// flush applies the pending hits of every function of the Store, within
// ctx.
func (s *Store) flush(ctx context.Context) error {
	s.mu.Lock()
	fns := make([]*fnState, 0, len(s.fns))
	for _, fn := range s.fns {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	var errs []error
	for _, fn := range fns {
		if used := fn.pending.Load(); used != 0 {
			err := s.retry(ctx, func() error {
				_, err := s.used.ExecContext(ctx, used/int64(time.Millisecond), fn.fh)
				return err
			})
			if err != nil {
				errs = append(errs, err)
			} else {
				fn.recorded.Store(used)
				fn.pending.CompareAndSwap(used, 0)
			}
		}
		if fn.touches.Len() == 0 {
			continue
		}
		if err := fn.wait(ctx); err != nil {
			errs = append(errs, err)
			break // ctx ended: so would every other wait
		}
		err := s.applyLocked(ctx, fn)
		fn.done()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.timeoutErr(ctx, err)
	}
	return nil
}

// Flush implements runtime.Flusher: it applies the hits of bounded
// functions recorded so far, within the Store's bound.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("sqldb: flush: %w", err)
	}
	return nil
}

// Clear implements runtime.Space: it deletes every entry of the function
// and its count row, in one transaction (deleting the count row first
// waits for, then excludes, the function's bounded Sets), and drops the
// hits this process has not applied.
func (sp *space) Clear(ctx context.Context) error {
	s := sp.s
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	sp.fn.touches.Take()
	fh := sp.fn.fh
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
		return s.opErr(ctx, "clear", err)
	}
	return nil
}

// Len implements runtime.Space.
func (sp *space) Len(ctx context.Context) (int64, error) {
	s := sp.s
	if s.closed.Load() {
		return 0, errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := s.retry(ctx, func() error { return s.count.QueryRowContext(ctx, sp.fn.fhArg, now()).Scan(&n) })
	if err != nil {
		return 0, s.opErr(ctx, "len", err)
	}
	return n, nil
}

// Close implements runtime.Store: it stops the flusher, applies the hits
// still pending, within the Store's bound, then releases the prepared
// statements and, when the Store was made by Open, the database. A
// database passed to New stays open. Calls after Close fail with an error
// that is runtime.ErrClosed; Close is idempotent.
func (s *Store) Close() error {
	if s.stopPrune != nil {
		s.stopPrune() // before closed is set: its batch in progress may finish
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.stopBG() // a flush in progress gives up; its hits are put back
	s.flusher.Close()
	ctx, cancel := s.bound(context.Background())
	var errs []error
	if err := s.flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sqldb: close: applying the recency of hits: %w", err))
	}
	cancel()
	if err := s.closeStmts(); err != nil {
		errs = append(errs, fmt.Errorf("sqldb: close: %w", err))
	}
	if s.ownsDB {
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqldb: close: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Transient failures are retried this many times in all, with a growing,
// jittered pause, within the caller's context.
const maxAttempts = 10

// retry runs op until it succeeds, fails for a reason other than lock
// contention (storekit.Transient), or has run maxAttempts times.
func (s *Store) retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == maxAttempts || !storekit.Transient(err) || ctx.Err() != nil {
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
