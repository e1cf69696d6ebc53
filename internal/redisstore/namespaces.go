package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/picocache/picocache/runtime"
	"golang.org/x/sync/errgroup"
)

// Bounds of the work of one script call, and of Namespaces.
const (
	// useBatch is the most namespaces one UseScript call records.
	useBatch = 256
	// scanCount is the COUNT of each HSCAN step of the registry.
	scanCount = 512
	// statsSamples is how many entries of a namespace StatsScript
	// measures: a namespace of at most that many is measured exactly.
	statsSamples = 32
	// statsParallel is how many namespaces Namespaces counts at once.
	statsParallel = 8
)

// recordUses records in the registry the pending uses of every namespace
// of the Store, in one script call per useBatch of them. What fails stays
// pending, for the next flush (or the next use, which asks for one).
func (s *Store) recordUses(ctx context.Context) error {
	s.mu.Lock()
	var fns []*function
	for _, fn := range s.fns {
		if fn.unrecorded.Load() != 0 {
			fns = append(fns, fn)
		}
	}
	s.mu.Unlock()
	for part := range slices.Chunk(fns, useBatch) {
		used := make([]int64, len(part))
		args := make([]string, 0, 2*len(part))
		for i, fn := range part {
			used[i] = fn.unrecorded.Load()
			args = append(args, fn.name, strconv.FormatInt(used[i]/int64(time.Millisecond), 10))
		}
		if _, err := s.c.Run(ctx, UseScript, []string{Registry}, args); err != nil {
			return fmt.Errorf("recording the use of namespaces: %w", err)
		}
		for i, fn := range part {
			if used[i] > fn.recorded.Load() {
				fn.recorded.Store(used[i])
			}
			fn.unrecorded.CompareAndSwap(used[i], 0)
		}
	}
	return nil
}

// Namespaces implements runtime.Lister: every namespace of the registry,
// with its live entries, about the bytes of their keys and values, and its
// last use, sorted by name. It first applies what this process holds
// (reads, uses), then scans the registry (HSCAN, by a script) and counts
// each namespace in its own slot (StatsScript, which prunes expired
// entries from the index as Len does): exact bytes for a namespace of up
// to 32 entries, beyond that the mean size of 32 entries spread over its
// recency order, times the count. Each call is within the Store's bound;
// up to 8 namespaces are counted at once.
//
// A namespace is listed from the registry: entries that no process of
// this module registered (written by an earlier release, before there
// was a registry) are not, until a process uses their namespace.
func (s *Store) Namespaces(ctx context.Context) ([]runtime.NamespaceInfo, error) {
	if s.closed.Load() {
		return nil, s.errClosed
	}
	if err := s.bounded(ctx, s.applyPending); err != nil {
		return nil, s.failed(ctx, "listing namespaces", err)
	}
	used := make(map[string]int64)
	for cursor := "0"; ; {
		var reply []string
		err := s.bounded(ctx, func(ctx context.Context) (err error) {
			reply, err = s.c.RunList(ctx, ListScript, []string{Registry}, []string{cursor, strconv.Itoa(scanCount)})
			return err
		})
		if err == nil && (len(reply) == 0 || len(reply)%2 != 1) {
			err = fmt.Errorf("the registry's scan replied %d strings", len(reply))
		}
		if err != nil {
			return nil, s.failed(ctx, "listing namespaces", err)
		}
		for i := 1; i < len(reply); i += 2 {
			ms, _ := strconv.ParseInt(reply[i+1], 10, 64) // 0 (unknown) if not a number
			used[reply[i]] = max(used[reply[i]], ms)
		}
		if cursor = reply[0]; cursor == "0" {
			break
		}
	}
	list := make([]runtime.NamespaceInfo, 0, len(used))
	for name, ms := range used {
		n := runtime.NamespaceInfo{Name: name}
		if ms > 0 {
			n.LastUsed = time.UnixMilli(ms)
		}
		list = append(list, n)
	}
	slices.SortFunc(list, func(a, b runtime.NamespaceInfo) int { return strings.Compare(a.Name, b.Name) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statsParallel)
	for i := range list {
		g.Go(func() error {
			var err error
			list[i].Entries, list[i].Bytes, err = s.stats(gctx, NewNames(list[i].Name))
			if err != nil {
				return fmt.Errorf("counting %q: %w", list[i].Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, s.failed(ctx, "listing namespaces", err)
	}
	return list, nil
}

// stats returns the live entries of the function n and about the bytes
// of their keys and values, each StatsScript call within the Store's
// bound.
func (s *Store) stats(ctx context.Context, n Names) (entries, bytes int64, err error) {
	keys := []string{n.LRU, n.Exp}
	args := []string{n.Entry, strconv.Itoa(lenBatch), strconv.Itoa(statsSamples)}
	for {
		var reply []string
		err := s.bounded(ctx, func(ctx context.Context) (err error) {
			reply, err = s.c.RunList(ctx, StatsScript, keys, args)
			return err
		})
		if err != nil {
			return 0, 0, err
		}
		if len(reply) == 1 && reply[0] == "-1" {
			continue // more expired entries to prune
		}
		if len(reply) != 2 {
			return 0, 0, fmt.Errorf("the stats script replied %q", reply)
		}
		if entries, err = strconv.ParseInt(reply[0], 10, 64); err == nil {
			bytes, err = strconv.ParseInt(reply[1], 10, 64)
		}
		return entries, bytes, err
	}
}

// bounded runs op with ctx under the Store's bound.
func (s *Store) bounded(ctx context.Context, op func(ctx context.Context) error) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	err := op(bctx)
	if err != nil && ctx.Err() == nil && errors.Is(bctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer in time (the store waits at most %v): %w", s.timeout, err)
	}
	return err
}

// DeleteNamespace implements runtime.Lister. It first records the uses
// this process has pending, then deletes the namespace's entries in
// batches of ClearBatch, one ClearScript call each (as Clear does), and
// before every batch reads the namespace's last use in the registry: with
// a non-zero unusedSince it stops, reporting false, once a use at or
// after unusedSince is recorded. Each call is within the Store's bound.
//
// The registry and the function's keys live in different slots of a
// Cluster, so the check and the batch are two calls: a use recorded
// between them costs at most that one batch of the namespace's entries,
// which its processes then compute again. A namespace the registry does
// not name is deleted all the same (it has no recorded use).
//
// Once the entries are gone, the namespace leaves the registry if its last
// use is older than runtime.UseInterval and a minute (and than
// unusedSince): every process that uses it again then records its use at
// once, so it is listed again within the flush delay. A namespace used
// more recently (cleared while in use) stays registered, listed with no
// entries, so that the processes using it, which record their uses at
// most once per UseInterval, stay listed. The processes that use it keep
// working either way.
func (s *Store) DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (bool, error) {
	if s.closed.Load() {
		return false, s.errClosed
	}
	op := fmt.Sprintf("deleting namespace %q", name)
	if err := s.bounded(ctx, s.recordUses); err != nil {
		return false, s.failed(ctx, op, err)
	}
	n := NewNames(name)
	reg := []string{Registry}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var last, left int64
		err := s.bounded(ctx, func(ctx context.Context) (err error) {
			last, err = s.c.Run(ctx, LastUseScript, reg, []string{name})
			return err
		})
		if err != nil {
			return false, s.failed(ctx, op, err)
		}
		if !unusedSince.IsZero() && last >= unusedSince.UnixMilli() {
			return false, nil
		}
		err = s.bounded(ctx, func(ctx context.Context) (err error) {
			left, err = s.c.Run(ctx, ClearScript, []string{n.LRU, n.Exp, n.Seq}, []string{n.Entry, strconv.Itoa(ClearBatch)})
			return err
		})
		if err != nil {
			return false, s.failed(ctx, op, err)
		}
		if left == 0 {
			break
		}
	}
	s.mu.Lock()
	fn := s.fns[name]
	s.mu.Unlock()
	if fn != nil {
		fn.take(nil) // reads of entries that are gone
	}
	before := time.Now().Add(-runtime.UseInterval - time.Minute)
	if !unusedSince.IsZero() && unusedSince.Before(before) {
		before = unusedSince
	}
	var forgot int64
	err := s.bounded(ctx, func(ctx context.Context) (err error) {
		forgot, err = s.c.Run(ctx, ForgetScript, reg, []string{name, strconv.FormatInt(before.UnixMilli(), 10)})
		return err
	})
	if err != nil {
		return false, s.failed(ctx, op, err)
	}
	if forgot == 1 && fn != nil {
		fn.recorded.Store(0) // this process too records its next use at once
	}
	return true, nil
}

// ForgetUse makes the Store forget when it last recorded a use of the
// namespace name, as if runtime.UseInterval had passed since: its next
// use is recorded at once. For tests.
func (s *Store) ForgetUse(name string) {
	s.mu.Lock()
	fn := s.fns[name]
	s.mu.Unlock()
	if fn != nil {
		fn.recorded.Store(0)
	}
}
