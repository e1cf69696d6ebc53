package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// spaceKey identifies a Space: the runtime asks once per function, tests
// far more often.
type spaceKey struct {
	name string
	lim  runtime.Limits
}

// nsState is what the Spaces of one namespace share: its name, its id in
// the store's file, and the hits of its bounded Spaces whose recency is
// not applied yet. It is safe for concurrent use.
type nsState struct {
	name    string
	touches storekit.Touches
	// id is the namespace's id in the file of one handle, the last one it
	// was looked up on; see idOn.
	id atomic.Pointer[nsID]
	// recorded is when this process last recorded a use of the namespace
	// in the file, and pending the time of a use it has yet to record (0
	// for none), in Unix nanoseconds; see use.
	recorded, pending atomic.Int64
}

// use notes a use of the namespace (a read or a write) at now, and
// reports whether it is to be recorded: at most once per
// runtime.UseInterval, by the flusher, so that a hit stays a read.
func (ns *nsState) use(now int64) bool {
	if now-ns.recorded.Load() < int64(runtime.UseInterval) {
		return false
	}
	ns.pending.CompareAndSwap(0, now)
	return true
}

// nsID is a namespace's id in the file of handle h. It is immutable but
// for counted.
type nsID struct {
	h   *handle
	id  int64
	arg any // id, boxed once: a hit's arguments cost one allocation less
	// counted reports that the namespace's count (ns.n) is known to be
	// kept, so that its bounded Sets skip the statement that starts it;
	// guarded by wsem.
	counted bool
}

// idOn returns the namespace's id in h's file, looked up with byName (a
// nsID statement on h's pool or writer) unless known; nil if the file
// has no such namespace. An id, once given, names the namespace for as
// long as the file exists (ids are never reused), so it is looked up once
// per handle.
func (ns *nsState) idOn(ctx context.Context, h *handle, byName *sql.Stmt) (*nsID, error) {
	if b := ns.id.Load(); b != nil && b.h == h {
		return b, nil
	}
	var id int64
	if err := byName.QueryRowContext(ctx, ns.name).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	b := &nsID{h: h, id: id, arg: id}
	ns.id.Store(b)
	return b, nil
}

// ensureLocked returns the namespace's id in h's file, creating it if
// missing. Processes creating one namespace at once are safe: the
// insert, which waits for the file's write lock, does nothing when the
// name exists. The writer must be held.
func (ns *nsState) ensureLocked(ctx context.Context, h *handle) (*nsID, error) {
	if b, err := ns.idOn(ctx, h, h.wNsID); b != nil || err != nil {
		return b, err
	}
	now := time.Now()
	if _, err := h.wNsCreate.ExecContext(ctx, ns.name, now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("registering the namespace: %w", err)
	}
	b, err := ns.idOn(ctx, h, h.wNsID)
	if err == nil && b == nil {
		err = errors.New("registering the namespace: its row is missing after the insert")
	}
	if err == nil {
		ns.recorded.Store(now.UnixNano())
	}
	return b, err
}

// Space implements runtime.Store. It looks up the namespace's id in the
// file, or creates it, at most once per Space and file: a read, unless
// the namespace is new to the file, then a write bounded like a Set.
func (s *Store) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	k := spaceKey{ns.Name, ns.Limits}
	sp := s.spaces[k]
	if sp == nil {
		st := s.nss[ns.Name]
		if st == nil {
			st = &nsState{name: ns.Name}
			s.nss[ns.Name] = st
		}
		sp = &space{s: s, ns: st, lim: ns.Limits}
		s.spaces[k] = sp
	}
	s.mu.Unlock()
	if err := s.register(ctx, sp.ns); err != nil {
		return nil, s.wrap("space", err)
	}
	return sp, nil
}

// register gives ns an id in the store's file, unless it has one.
func (s *Store) register(ctx context.Context, ns *nsState) error {
	start := time.Now()
	h := s.h.Load()
	// Most namespaces exist: look on the pool, which takes no lock.
	b, err := ns.idOn(ctx, h, h.rNsID)
	if b != nil || err != nil && !s.mayRecover(h, err) {
		return err
	}
	return s.withWriter(ctx, start, func(h *handle) error {
		_, err := ns.ensureLocked(ctx, h)
		return err
	})
}

// withWriter runs op on the writer connection for an operation that
// started at start, and once more on a fresh handle if op met a damaged
// or replaced file (see mayRecover).
func (s *Store) withWriter(ctx context.Context, start time.Time, op func(h *handle) error) error {
	h, err := s.lockWriter(ctx, start)
	if err != nil {
		return err
	}
	defer s.unlockWriter()
	err = op(h)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
			err = op(h)
		}
	}
	return err
}

// space is a runtime.Space of a Store: one namespace's entries, with the
// limits it was asked with. It is safe for concurrent use.
type space struct {
	s   *Store
	ns  *nsState
	lim runtime.Limits
}

// Get implements runtime.Space: one read, on the writer connection if it
// is free, else on a reader connection. For a bounded function a hit is
// recorded in the process (storekit.Touches), to be applied later (see
// Store); a Get writes nothing.
func (sp *space) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s := sp.s
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	start := time.Now()
	value, err := s.read(ctx, sp.ns, nonNil(key), start)
	if sp.ns.use(start.UnixNano()) {
		s.flusher.Kick()
	}
	switch {
	case err == nil:
		if sp.lim.MaxSize > 0 {
			sp.touched(ctx, key)
		}
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

// read reads key's live value at start, sql.ErrNoRows if there is none. On the
// writer connection when it is free: its page cache survives this
// process's writes, while a pooled reader's is reset by every commit it
// did not make. A read waits for no lock of another process (WAL), so it
// fits no busy timeout.
func (s *Store) read(ctx context.Context, ns *nsState, key []byte, start time.Time) ([]byte, error) {
	now := start.UnixNano()
	select {
	case s.wsem <- struct{}{}:
		if s.closed.Load() {
			<-s.wsem
			return nil, ErrClosed
		}
		h := s.h.Load()
		value, err := h.get(ctx, ns, key, now, h.wNsID, h.wGet)
		if s.mayRecover(h, err) {
			if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
				value, err = h.get(ctx, ns, key, now, h.wNsID, h.wGet)
			}
		}
		<-s.wsem
		return value, err
	default:
	}
	h := s.h.Load()
	value, err := h.get(ctx, ns, key, now, h.rNsID, h.rGet)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandle(ctx, h, err, start); err == nil {
			value, err = h.get(ctx, ns, key, now, h.rNsID, h.rGet)
		}
	}
	return value, err
}

// get reads key's live value in ns on h, with statements of one
// connection (or of the pool): byName looks up the namespace's id.
func (h *handle) get(ctx context.Context, ns *nsState, key []byte, now int64, byName, get *sql.Stmt) ([]byte, error) {
	b, err := ns.idOn(ctx, h, byName)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, sql.ErrNoRows
	}
	var value []byte
	err = get.QueryRowContext(ctx, b.arg, key, now).Scan(&value)
	return value, err
}

// touched records a hit of key. When that fills the batch, the flusher
// applies it at once: a hit never waits for a write (this process's
// writer connection, another process's lock on the file).
func (sp *space) touched(ctx context.Context, key []byte) {
	if sp.ns.touches.Add(key) {
		sp.s.flusher.Now()
		return
	}
	sp.s.flusher.Kick()
}

// Set implements runtime.Space. The upsert, the purge of the namespace's
// expired entries, the eviction of its least recently used ones beyond
// MaxSize and, for a bounded function, the recency of the hits this
// process recorded before it (applied first, in order) run in one BEGIN
// IMMEDIATE transaction, so the eviction sees them. An unbounded Set
// without TTL is a single statement.
func (sp *space) Set(ctx context.Context, key, value []byte) error {
	s := sp.s
	if s.closed.Load() {
		return ErrClosed
	}
	if sp.lim.MaxSize == 0 {
		return nil
	}
	key, value = nonNil(key), nonNil(value)
	start := time.Now()
	if sp.ns.use(start.UnixNano()) {
		s.flusher.Kick()
	}
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
	purge := sp.lim.TTL > 0 || every
	// Touches are taken and put back under the writer token, which keeps
	// their order: every Set and flush of this process applies them in
	// turn.
	var touched [][]byte
	if sp.lim.MaxSize > 0 {
		touched = sp.ns.touches.Take()
	}
	now := start.UnixNano()
	err = h.setLocked(ctx, sp.ns, key, value, touched, sp.lim, now, purge)
	if s.mayRecover(h, err) {
		if h, err = s.retryHandleLocked(ctx, h, err, start); err == nil {
			err = h.setLocked(ctx, sp.ns, key, value, touched, sp.lim, now, purge)
		}
	}
	if err != nil && touched != nil {
		sp.ns.touches.Put(touched)
	}
	return s.wrap("set", err)
}

// expiry returns the absolute expiry, in Unix nanoseconds, of an entry set
// at now with lim: 0 for never.
func expiry(now int64, lim runtime.Limits) int64 {
	switch {
	case lim.TTL <= 0:
		return 0
	case lim.TTL > time.Duration(math.MaxInt64-now):
		return math.MaxInt64
	}
	return now + int64(lim.TTL)
}

// setLocked is Set on h, applying the touched keys first. The writer must
// be held.
//
// A bounded Set is one statement, an insert into the view _put whose
// trigger overwrites the entry, or makes the least recently used entry
// the new one when the namespace is full, or inserts it, then evicts what
// exceeds the limit; a statement is atomic, so no BEGIN is needed unless
// the Set does more: count the namespace (its first bounded Set on this
// handle), apply touches, purge expired entries. An unbounded Set is an
// upsert, alone unless it purges.
func (h *handle) setLocked(ctx context.Context, ns *nsState, key, value []byte, touched [][]byte, lim runtime.Limits, now int64, purge bool) error {
	b, err := ns.ensureLocked(ctx, h)
	if err != nil {
		return err
	}
	expires := expiry(now, lim)
	count := lim.MaxSize > 0 && !b.counted
	put := func() error {
		var err error
		if lim.MaxSize > 0 {
			_, err = h.wPut.ExecContext(ctx, b.arg, key, value, expires, lim.MaxSize)
		} else {
			_, err = h.wUpsertUnbounded.ExecContext(ctx, b.arg, key, value, expires)
		}
		return err
	}
	if !count && !purge && len(touched) == 0 {
		return put()
	}
	if err := h.beginLocked(ctx); err != nil {
		return err
	}
	err = func() error {
		if count {
			res, err := h.wCount.ExecContext(ctx, b.arg)
			if err != nil {
				return err
			}
			// The count is new (not started by another process, or by
			// this one on another handle): order the NULL-seq rows.
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				if _, err := h.wConvert.ExecContext(ctx, b.arg); err != nil {
					return err
				}
			}
		}
		if err := h.touchLocked(ctx, b, touched); err != nil {
			return err
		}
		if purge {
			if _, err := h.wPurge.ExecContext(ctx, b.arg, now); err != nil {
				return err
			}
		}
		if err := put(); err != nil {
			return err
		}
		_, err := h.wCommit.ExecContext(ctx)
		return err
	}()
	if err != nil {
		h.rollbackLocked()
		return err
	}
	if count {
		// The count, once committed, is kept by the triggers for good.
		b.counted = true
	}
	return nil
}

// touchLocked makes the entries of keys, in order, the most recently used
// of their namespace, skipping those no longer stored, in one statement
// inside the writer's transaction. The writer must be held.
func (h *handle) touchLocked(ctx context.Context, b *nsID, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := h.wTouch.ExecContext(ctx, b.arg, touchList(keys))
	return err
}

// touchList returns keys as the touch statement takes them: a JSON array
// of hex strings.
func touchList(keys [][]byte) string {
	n := 2
	for _, k := range keys {
		n += 2*len(k) + 3
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = hex.AppendEncode(buf, k)
		buf = append(buf, '"')
	}
	buf = append(buf, ']')
	return string(buf)
}

// rollbackLocked ends the writer's transaction after a failure; the
// writer must be held. An interrupted statement may have rolled it back
// already, so the error is ignored.
func (h *handle) rollbackLocked() {
	h.wRollback.ExecContext(context.Background())
}

// beginLocked starts a write transaction on the writer, which must be
// held. A BEGIN that fails may have begun all the same: modernc reports
// the end of ctx, even when it comes after SQLite got the lock, so a
// failed BEGIN is rolled back.
func (h *handle) beginLocked(ctx context.Context) error {
	_, err := h.wBegin.ExecContext(ctx)
	if err != nil {
		h.rollbackLocked()
	}
	return err
}

// flush applies the recorded hits of ns, or of every namespace when ns is
// nil, in one transaction, bounded as any operation. What fails to apply
// is put back.
func (s *Store) flush(ctx context.Context, ns *nsState) error {
	var all []*nsState
	if ns != nil {
		all = []*nsState{ns}
	} else {
		s.mu.Lock()
		all = make([]*nsState, 0, len(s.nss))
		for _, st := range s.nss {
			all = append(all, st)
		}
		s.mu.Unlock()
	}
	pending := all[:0]
	for _, st := range all {
		if st.touches.Len() > 0 || st.pending.Load() != 0 {
			pending = append(pending, st)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return s.withWriter(ctx, time.Now(), func(h *handle) error { return h.applyLocked(ctx, pending) })
}

// applyLocked applies the recorded hits of the namespaces nss in one
// transaction on h; what fails is put back. The writer must be held.
func (h *handle) applyLocked(ctx context.Context, nss []*nsState) error {
	type batch struct {
		ns   *nsState
		b    *nsID
		keys [][]byte
		used int64 // the use to record, Unix nanoseconds; 0 for none
	}
	var work []batch
	var err error
	for _, ns := range nss {
		keys := ns.touches.Take()
		used := ns.pending.Load()
		if keys == nil && used == 0 {
			continue
		}
		var b *nsID
		if b, err = ns.idOn(ctx, h, h.wNsID); err != nil {
			ns.touches.Put(keys)
			break
		}
		if b != nil {
			work = append(work, batch{ns, b, keys, used})
		} else if used != 0 { // the file does not know the namespace: nothing to record
			ns.pending.CompareAndSwap(used, 0)
		}
	}
	if err == nil && len(work) > 0 {
		err = func() error {
			if err := h.beginLocked(ctx); err != nil {
				return err
			}
			for _, w := range work {
				err := h.touchLocked(ctx, w.b, w.keys)
				if err == nil && w.used != 0 {
					_, err = h.wUsed.ExecContext(ctx, w.b.arg, w.used/int64(time.Millisecond))
				}
				if err != nil {
					h.rollbackLocked()
					return err
				}
			}
			if _, err := h.wCommit.ExecContext(ctx); err != nil {
				h.rollbackLocked()
				return err
			}
			return nil
		}()
	}
	if err != nil {
		for _, w := range work {
			w.ns.touches.Put(w.keys)
		}
		return err
	}
	for _, w := range work {
		if w.used != 0 {
			w.ns.recorded.Store(w.used)
			w.ns.pending.CompareAndSwap(w.used, 0)
		}
	}
	return nil
}

// Flush implements runtime.Flusher: it applies the recency of the hits of
// bounded functions recorded so far, in one transaction, within the
// store's bound.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.wrap("flush", s.flush(ctx, nil))
}

// Clear implements runtime.Space: it deletes the namespace's entries (its
// id stays) and drops the hits this process has not applied.
func (sp *space) Clear(ctx context.Context) error {
	s := sp.s
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.withWriter(ctx, time.Now(), func(h *handle) error {
		sp.ns.touches.Take()
		b, err := sp.ns.idOn(ctx, h, h.wNsID)
		if err != nil || b == nil {
			return err
		}
		_, err = h.wClear.ExecContext(ctx, b.arg)
		return err
	})
	return s.wrap("clear", err)
}

// Len implements runtime.Space. For a namespace that was ever bounded it
// reads the trigger-kept count and counts the expired entries; for
// another it counts its rows.
func (sp *space) Len(ctx context.Context) (int64, error) {
	s := sp.s
	if s.closed.Load() {
		return 0, ErrClosed
	}
	start := time.Now()
	h := s.h.Load()
	n, err := h.len(ctx, sp.ns, start.UnixNano())
	if s.mayRecover(h, err) {
		if h, err = s.retryHandle(ctx, h, err, start); err == nil {
			n, err = h.len(ctx, sp.ns, start.UnixNano())
		}
	}
	if err != nil {
		return 0, s.wrap("len", err)
	}
	return n, nil
}

func (h *handle) len(ctx context.Context, ns *nsState, now int64) (int64, error) {
	b, err := ns.idOn(ctx, h, h.rNsID)
	if err != nil || b == nil {
		return 0, err
	}
	var n int64
	err = h.rLen.QueryRowContext(ctx, b.arg, now).Scan(&n)
	return n, err
}

// pendingHits reports whether any of nss has hits whose recency is not
// applied.
func pendingHits(nss []*nsState) bool {
	for _, ns := range nss {
		if ns.touches.Len() > 0 || ns.pending.Load() != 0 {
			return true
		}
	}
	return false
}

// Close implements runtime.Store. It stops the flusher, waits for an
// operation in progress on the writer connection (at most its budget),
// applies the recency of the hits still recorded with what is left of the
// busy timeout, then closes every connection; later calls fail with
// ErrClosed. Closing twice is not an error.
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
	nss := make([]*nsState, 0, len(s.nss))
	for _, ns := range s.nss {
		nss = append(nss, ns)
	}
	s.mu.Unlock()
	// One budget for the whole of Close: the flush in progress (which
	// flusher.Close waits for), the operation holding the writer, and
	// applying what is left get the busy timeout between them.
	start := time.Now()
	s.flusher.Close()
	s.wsem <- struct{}{} // never released: no write can start again
	h := s.h.Load()
	var errs []error
	var err error
	if left := s.o.busyTimeout - time.Since(start); left > time.Millisecond {
		ctx, cancel := context.WithTimeout(context.Background(), left)
		err = h.fitBusyLocked(left)
		if err == nil {
			err = h.applyLocked(ctx, nss)
		}
		cancel()
	} else if pendingHits(nss) {
		err = fmt.Errorf("no time left of the busy timeout (%v)", s.o.busyTimeout)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("sqlite: closing %s: applying the recency of hits: %w", s.path, err))
	}
	if err := h.close(); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: closing %s: %w", s.path, err))
	}
	return errors.Join(errs...)
}
