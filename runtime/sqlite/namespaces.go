package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/picocache/picocache/runtime"
)

var _ runtime.Lister = (*Store)(nil)

// Namespaces implements runtime.Lister: every namespace of the file, with
// its live entries, the bytes of its keys and values, and its last use.
// It reads, on the pool, counting each namespace's rows.
func (s *Store) Namespaces(ctx context.Context) ([]runtime.NamespaceInfo, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	h := s.h.Load()
	rows, err := h.db.QueryContext(ctx, h.q.list, time.Now().UnixNano())
	if err != nil {
		return nil, s.wrap("listing namespaces", err)
	}
	defer rows.Close()
	var list []runtime.NamespaceInfo
	for rows.Next() {
		var n runtime.NamespaceInfo
		var used sql.NullInt64
		if err := rows.Scan(&n.Name, &used, &n.Entries, &n.Bytes); err != nil {
			return nil, s.wrap("listing namespaces", err)
		}
		if used.Valid && used.Int64 > 0 {
			n.LastUsed = time.UnixMilli(used.Int64)
		}
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("listing namespaces", err)
	}
	return list, nil
}

// DeleteNamespace implements runtime.Lister. It deletes the namespace's
// entries deleteBatch at a time, one write transaction each, within the
// busy timeout each, and checks before every batch that no process has
// recorded a use of the namespace since unusedSince (when not zero). The
// namespace's row stays, so that processes holding its id keep using it
// safely; it lists with no entries.
func (s *Store) DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var done, used bool
		var held time.Duration // how long the batch held the file's write lock
		err := s.withWriter(ctx, time.Now(), func(h *handle) error {
			done, used = false, false
			if err := h.beginLocked(ctx); err != nil {
				return err
			}
			locked := time.Now()
			defer func() { held = time.Since(locked) }()
			err := func() error {
				var id int64
				var last sql.NullInt64
				switch err := h.w.QueryRowContext(ctx, h.q.nsUsed, name).Scan(&id, &last); {
				case errors.Is(err, sql.ErrNoRows):
					done = true
					return nil
				case err != nil:
					return err
				}
				if !unusedSince.IsZero() && last.Valid && last.Int64 >= unusedSince.UnixMilli() {
					used = true
					return nil
				}
				res, err := h.w.ExecContext(ctx, h.q.deleteBatch, id, deleteBatch)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				done = n < deleteBatch
				return err
			}()
			if err == nil {
				_, err = h.wCommit.ExecContext(ctx)
			}
			if err != nil {
				h.rollbackLocked()
			}
			return err
		})
		switch {
		case err != nil:
			return false, s.wrap("deleting namespace", err)
		case used:
			return false, nil
		case done:
			s.forget(name)
			return true, nil
		}
		// Leave the file's write lock free as long as the batch held it:
		// another connection waiting for it (in SQLite's busy handler,
		// which sleeps between tries) would otherwise find it taken again
		// at every try, and wait for the whole deletion.
		pause := time.NewTimer(held)
		select {
		case <-ctx.Done():
			pause.Stop()
			return false, ctx.Err()
		case <-pause.C:
		}
	}
}

// forget drops the hits this process recorded for the namespace name,
// whose entries are gone.
func (s *Store) forget(name string) {
	s.mu.Lock()
	ns := s.nss[name]
	s.mu.Unlock()
	if ns != nil {
		ns.touches.Take()
	}
}
