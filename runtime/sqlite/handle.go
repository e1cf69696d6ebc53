package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"github.com/picocache/picocache/internal/storekit"
)

// A handle's pool side (db, the r* statements, file, names) is safe for
// concurrent use; its writer side (w and the w* statements, busy) is
// guarded by the Store's wsem. A handle is a Store's hold on one database
// file: the connections and the prepared statements on them.
//
// A Store replaces its handle when the file turns out to be damaged, or
// no longer at the store's path (see Store.recoverLocked); operations
// still running on the old handle then fail, as its connections close.
// Namespace ids are the file's, so they are resolved again on a new
// handle (see nsState.idOn).
type handle struct {
	// abs is the absolute path of the file.
	abs string
	// names are the tables the handle uses in the file.
	names tables
	db    *sql.DB
	w     *sql.Conn // guarded by wsem
	// file identifies the file the handle opened, once the writer
	// connection has opened it; nil before.
	file atomic.Pointer[fileID]

	rGet, rLen, rNsID *sql.Stmt // on the pool
	wGet, wNsID       *sql.Stmt // on w; guarded by wsem

	wBegin, wCommit, wRollback  *sql.Stmt // on w; guarded by wsem
	wTouch, wPut, wPurge        *sql.Stmt // on w; guarded by wsem
	wUpsertUnbounded, wNsCreate *sql.Stmt // on w; guarded by wsem
	wCount, wConvert            *sql.Stmt // on w; guarded by wsem
	wClear, wUsed               *sql.Stmt // on w; guarded by wsem
	// q are the statements' texts, for those run too seldom to prepare.
	q queryText

	// busy is the busy timeout of w now, in milliseconds, and full the
	// one it has between operations (the store's); busy is guarded by
	// wsem.
	busy, full int64
}

// fileID identifies a file, as os.SameFile compares them.
type fileID struct{ fi os.FileInfo }

// namesFile reports whether the handle's path still names the file the
// handle opened (true while that is not known yet). It is false once the
// file was moved aside, deleted or replaced, by this process or another.
func (h *handle) namesFile() bool {
	id := h.file.Load()
	if id == nil {
		return true
	}
	fi, err := os.Stat(h.abs)
	return err == nil && os.SameFile(id.fi, fi)
}

// errReplaced reports that the store's path names another file than the
// one the store opened: another process moved a damaged file aside, or
// someone deleted or replaced it. The store then opens the path again.
var errReplaced = errors.New("the file was moved, deleted or replaced since the store opened it")

// openHandle opens the database file at abs and readies it: WAL journal
// mode, the schema, the statements. Its waits for other processes' locks
// end by deadline: opening the writer connection reads the schema, which
// waits at most the busy timeout (and only on a file not yet in WAL
// mode), and converting a fresh file to WAL and creating the schema wait
// for what remains. On failure the returned handle, if not nil, holds
// what was opened and must be closed.
func openHandle(ctx context.Context, abs string, o options, deadline time.Time) (*handle, error) {
	base, err := sqlite.NewConnector(dsn(abs, o))
	if err != nil {
		return nil, err
	}
	full := o.busyTimeout.Milliseconds()
	h := &handle{abs: abs, busy: full, full: full}
	h.db = sql.OpenDB(&connector{Connector: base, h: h})
	// The writer is pinned; readers share the rest. Idle connections are
	// kept: opening a SQLite connection costs far more than a query.
	h.db.SetMaxOpenConns(o.readers + 1)
	h.db.SetMaxIdleConns(o.readers + 1)
	h.db.SetConnMaxLifetime(0)
	h.db.SetConnMaxIdleTime(0)
	if h.w, err = h.db.Conn(ctx); err != nil {
		return h, err
	}
	// SQLite opened (or created) the file: note which one it is.
	if fi, err := os.Stat(abs); err == nil {
		h.file.Store(&fileID{fi})
	}
	if err := setWAL(ctx, h, deadline); err != nil {
		return h, err
	}
	if h.names, err = createSchema(ctx, h, o.table, deadline); err != nil {
		return h, err
	}
	if err := h.restoreBusyLocked(); err != nil {
		return h, err
	}
	h.q = queries(h.names)
	if err := h.prepare(ctx, h.q); err != nil {
		return h, err
	}
	// SQLite opens a file it may read but not write read-only, and would
	// fail only at the first Set.
	var ro bool
	if err := h.w.Raw(func(dc any) (err error) {
		ro, err = isReadOnly(dc)
		return err
	}); err != nil {
		return h, err
	}
	if ro {
		return h, errReadOnly
	}
	return h, nil
}

// errReadOnly reports that SQLite could open the file for reading only.
var errReadOnly = errors.New("the file is read-only to this process")

func (h *handle) prepare(ctx context.Context, q queryText) (err error) {
	prep := func(c interface {
		PrepareContext(context.Context, string) (*sql.Stmt, error)
	}, dst **sql.Stmt, query string) {
		if err != nil {
			return
		}
		*dst, err = c.PrepareContext(ctx, query)
	}
	prep(h.db, &h.rGet, q.get)
	prep(h.db, &h.rLen, q.len)
	prep(h.db, &h.rNsID, q.nsID)
	prep(h.w, &h.wBegin, "BEGIN IMMEDIATE")
	prep(h.w, &h.wCommit, "COMMIT")
	prep(h.w, &h.wRollback, "ROLLBACK")
	prep(h.w, &h.wGet, q.get)
	prep(h.w, &h.wNsID, q.nsID)
	prep(h.w, &h.wNsCreate, q.nsCreate)
	prep(h.w, &h.wTouch, q.touch)
	prep(h.w, &h.wCount, q.count)
	prep(h.w, &h.wPut, q.put)
	prep(h.w, &h.wUpsertUnbounded, q.upsertUnbounded)
	prep(h.w, &h.wConvert, q.convert)
	prep(h.w, &h.wPurge, q.purge)
	prep(h.w, &h.wClear, q.clear)
	prep(h.w, &h.wUsed, q.used)
	return err
}

// close closes the handle's statements and connections. Operations
// still running on the pool finish first (database/sql defers the closing
// of what they use); later ones fail.
func (h *handle) close() error {
	if h == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{h.rGet, h.rLen, h.rNsID, h.wGet, h.wNsID, h.wNsCreate, h.wCount, h.wConvert, h.wUpsertUnbounded, h.wBegin, h.wCommit, h.wRollback, h.wTouch, h.wPut, h.wPurge, h.wClear, h.wUsed} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if h.w != nil {
		errs = append(errs, h.w.Close())
	}
	errs = append(errs, h.db.Close())
	return errors.Join(errs...)
}

// busySlack is how far, in milliseconds, the writer's busy timeout may
// be from an operation's budget before fitBusyLocked sets it: waits for
// the writer that take less than that cost no statement.
const busySlack = 1

// fitBusyLocked sets the busy timeout of the writer connection to left,
// or to the store's when left is longer, so that SQLite's wait for
// another process's lock ends when the operation's budget does. SQLite's
// busy handler does not heed sqlite3_interrupt, so a context deadline
// alone would not end the wait. The writer must be held.
func (h *handle) fitBusyLocked(left time.Duration) error {
	ms := min(max(left.Milliseconds(), 0), h.full)
	if ms >= h.busy-busySlack && ms <= h.busy+busySlack {
		return nil
	}
	// A pragma takes no parameter; the statement reads and writes nothing
	// in the file, so it needs no context.
	if _, err := h.w.ExecContext(context.Background(), "PRAGMA busy_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
		return err
	}
	h.busy = ms
	return nil
}

// restoreBusyLocked gives the writer connection back the store's busy
// timeout if an operation shortened it by more than busySlack. The
// writer must be held.
func (h *handle) restoreBusyLocked() error {
	if h.busy >= h.full-busySlack {
		return nil
	}
	return h.fitBusyLocked(time.Duration(h.full) * time.Millisecond)
}

// setWAL puts the database in WAL mode. The mode is persistent: once one
// process has set it, the pragma is a no-op read for the others. A fresh
// file needs a lock to convert; when several processes race for it, the
// losers may see SQLITE_BUSY without the busy handler's help, so retry
// until the deadline, each try waiting in SQLite's busy handler for no
// longer than what remains.
func setWAL(ctx context.Context, h *handle, deadline time.Time) error {
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		if err := h.fitBusyLocked(time.Until(deadline)); err != nil {
			return err
		}
		var mode string
		err := h.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("cannot use WAL journal mode (got %q); is the file on a local file system?", mode)
			}
			return nil
		}
		if !storekit.Transient(err) || !time.Now().Add(delay).Before(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// createSchema creates the store's tables, indexes and triggers unless
// they all exist, and returns the names of the tables to use (see
// chooseTables). It checks first without a lock, so that opening an
// existing store takes no write lock, then creates everything in one
// IMMEDIATE transaction: concurrent openers of a fresh file serialize on
// the write lock (waiting until the deadline at most), and the later ones
// find everything in place (IF NOT EXISTS), under the names the first one
// chose.
func createSchema(ctx context.Context, h *handle, table string, deadline time.Time) (tables, error) {
	c := h.w
	names, complete, err := chooseTables(ctx, c, table)
	if err != nil || complete && hasUsed(ctx, c, names) {
		return names, err
	}
	if err := h.fitBusyLocked(time.Until(deadline)); err != nil {
		return names, err
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		// It may have begun all the same (see beginLocked).
		c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return names, err
	}
	// Another process may have created the tables meanwhile.
	names, complete, err = chooseTables(ctx, c, table)
	if err == nil && !complete {
		if _, err = c.ExecContext(ctx, schema(names)); err != nil {
			err = fmt.Errorf("creating the schema: %w", err)
		}
	}
	if err == nil && !hasUsed(ctx, c, names) {
		// A namespace table of an earlier release: it gets the column
		// of last use, every namespace used now.
		if _, err = c.ExecContext(ctx, usedColumn(names), time.Now().UnixMilli()); err != nil {
			err = fmt.Errorf("adding the column of last use: %w", err)
		}
	}
	if err == nil {
		_, err = c.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return names, err
	}
	return names, nil
}

// chooseTables returns the names of the tables of a store in table in
// the file c is on, and whether all its objects exist. The entries go in
// table itself unless the file holds a table of that name with another
// shape (an earlier release's, keyed by function name), which is left
// untouched: then they go in table_v2, and they stay there once table_v2
// exists, even after the old table is dropped, so that every process
// agrees.
func chooseTables(ctx context.Context, c *sql.Conn, table string) (tables, bool, error) {
	alt := newTables(table + "_v2")
	var altExists, oldShape int
	err := c.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1),
		EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?2)
			AND NOT EXISTS (SELECT 1 FROM pragma_table_info(?2) WHERE name = 'ns')`,
		alt.ns, table).Scan(&altExists, &oldShape)
	if err != nil {
		return tables{}, false, err
	}
	names := newTables(table)
	if altExists == 1 || oldShape == 1 {
		names = alt
	}
	objects := names.objects()
	var n int
	args := make([]any, len(objects))
	for i, o := range objects {
		args[i] = o
	}
	err = c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name IN (?"+strings.Repeat(", ?", len(objects)-1)+")", args...).Scan(&n)
	if err != nil {
		return names, false, err
	}
	return names, n == len(objects), nil
}

// hasUsed reports whether the namespace table has the column used (see
// schema). A failure to tell reads as false: the caller then adds it in a
// transaction, which fails in turn if the file cannot be read.
func hasUsed(ctx context.Context, c *sql.Conn, names tables) bool {
	var has int
	err := c.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = 'used')`, names.ns).Scan(&has)
	return err == nil && has == 1
}

// connector opens the connections of one handle: modernc's, checked to
// be on the handle's file.
//
// A connection need not be told when its file was moved aside or deleted:
// SQLite's last connection to a WAL database checkpoints it and deletes
// its -wal and -shm by name when it closes, which would be another file's
// once the path names another file, but it checks first that the path
// still names its file (databaseIsUnmoved, SQLITE_FCNTL_HAS_MOVED) and
// leaves them otherwise.
type connector struct {
	driver.Connector
	h *handle
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	// Every connection of a handle must be on the handle's file: a reader
	// opened after the path came to name another file would read that one.
	// This connection has read nothing, so closing it touches no file.
	if !c.h.namesFile() {
		dc.Close()
		return nil, errReplaced
	}
	// The pragmas (see connPragmas) read the schema, so they fail on a
	// damaged file: then the connection is kept, for the damage to show on
	// the store's first statement and the file to move aside before the
	// connection closes. (Closed now, before the move, it would delete the
	// damaged file's -wal and -shm, which are to move with it.)
	for _, p := range connPragmas {
		if _, err := dc.(driver.ExecerContext).ExecContext(ctx, p, nil); err != nil {
			if isDamaged(err) {
				break
			}
			dc.Close()
			return nil, err
		}
	}
	return dc, nil
}

// isReadOnly reports whether dc, a modernc connection, has its main
// database open for reading only.
func isReadOnly(dc any) (bool, error) {
	ro, ok := dc.(interface{ IsReadOnly(string) (bool, error) })
	if !ok {
		return false, nil
	}
	return ro.IsReadOnly("main")
}
