package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/picocache/picocache/runtime"
)

var _ runtime.Lister = (*Store)(nil)

// Namespaces implements runtime.Lister: every function registered in
// NAME_ns, with its live entries, the bytes of its keys and values, and
// its last use. One query, counting each function's rows.
func (s *Store) Namespaces(ctx context.Context) ([]runtime.NamespaceInfo, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var list []runtime.NamespaceInfo
	err := s.retry(ctx, func() error {
		list = list[:0]
		rows, err := s.db.QueryContext(ctx, s.q.list, now())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n runtime.NamespaceInfo
			var used int64
			if err := rows.Scan(&n.Name, &used, &n.Entries, &n.Bytes); err != nil {
				return err
			}
			if used > 0 {
				n.LastUsed = time.UnixMilli(used)
			}
			list = append(list, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.opErr(ctx, "listing namespaces", err)
	}
	// By name as Go compares strings, not by the database's collation.
	slices.SortFunc(list, func(a, b runtime.NamespaceInfo) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// deleteBatch is how many entries one transaction of DeleteNamespace
// removes.
const deleteBatch = 1000

// DeleteNamespace implements runtime.Lister. Each batch is one
// transaction, bounded as any operation: it locks the function's NAME_ns
// row, checks that no process recorded a use since unusedSince (when not
// zero), deletes the function's count row (so that its next bounded Set
// counts again, as after a Clear) and up to deleteBatch of its entries.
// The NAME_ns row stays.
func (s *Store) DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	h := sha256.Sum256([]byte(name))
	fh := h[:]
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var done, used bool
		bctx, cancel := s.bound(ctx)
		err := s.retry(bctx, func() error {
			done, used = false, false
			tx, err := s.db.BeginTx(bctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var last int64
			switch err := tx.QueryRowContext(bctx, s.q.nsUsed, fh).Scan(&last); {
			case errors.Is(err, sql.ErrNoRows):
				// Not registered: the function's entries, if any, predate
				// NAME_ns; delete them all the same.
			case err != nil:
				return err
			case !unusedSince.IsZero() && last >= unusedSince.UnixMilli():
				used = true
				return nil
			}
			if _, err := tx.StmtContext(bctx, s.forget).ExecContext(bctx, fh); err != nil {
				return err
			}
			res, err := tx.ExecContext(bctx, s.q.deleteBatch, fh, deleteBatch)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			done = n < deleteBatch
			return tx.Commit()
		})
		cancel()
		switch {
		case err != nil:
			return false, s.opErr(bctx, fmt.Sprintf("deleting namespace %q", name), err)
		case used:
			return false, nil
		case done:
			s.mu.Lock()
			fn := s.fns[name]
			s.mu.Unlock()
			if fn != nil {
				fn.touches.Take()
			}
			return true, nil
		}
	}
}
