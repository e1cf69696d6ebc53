package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// UseInterval is how often, at most, a store of this module records that
// this process uses a namespace (a read or a write of its entries): a
// namespace's LastUsed is at most this stale, plus clock skew between
// processes, which Prune allows for. The first use of a namespace by a
// process is recorded at once.
const UseInterval = time.Minute

// NamespaceInfo describes one namespace of a store, as a Lister reports it.
type NamespaceInfo struct {
	// Name is the namespace: the function's name and version,
	// "example.com/pkg.Fib@1a2b3c4d".
	Name string
	// Entries counts its live (unexpired) entries.
	Entries int64
	// Bytes is about how much its entries take: their keys and values.
	Bytes int64
	// LastUsed is when a process last read or wrote its entries, up to
	// UseInterval; zero when the store does not know.
	LastUsed time.Time
}

// Function returns the function's name part of the namespace.
func (n NamespaceInfo) Function() string {
	f, _ := splitNamespace(n.Name)
	return f
}

// Version returns the version part of the namespace.
func (n NamespaceInfo) Version() string {
	_, v := splitNamespace(n.Name)
	return v
}

func splitNamespace(name string) (fn, version string) {
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// A Lister is a Store that can list its namespaces and delete one: what
// pruning old versions and the picocache command need.
type Lister interface {
	Store
	// Namespaces lists every namespace of the store, sorted by name.
	Namespaces(ctx context.Context) ([]NamespaceInfo, error)
	// DeleteNamespace removes every entry of the namespace name, for
	// every process, in batches small enough that no write lock is held
	// for long. With a non-zero unusedSince it deletes only while the
	// namespace has not been used since then, checked again before every
	// batch: a namespace that a process starts using meanwhile keeps
	// what is left. It reports whether it removed the namespace whole
	// (false when it was used meanwhile); an absent namespace is removed
	// already.
	DeleteNamespace(ctx context.Context, name string, unusedSince time.Time) (deleted bool, err error)
}

// ErrNotLister is returned by Prune for a store that cannot list its
// namespaces.
var ErrNotLister = errors.New("picocache: the store cannot list its namespaces")

// Prune deletes from s every namespace that no process has used for
// unusedFor, and returns those it deleted. A namespace used within
// unusedFor is never deleted, whichever process used it: Prune allows
// for the staleness of LastUsed (UseInterval) and for a minute of clock
// skew between processes. With dryRun it deletes nothing and returns what
// it would delete.
func Prune(ctx context.Context, s Store, unusedFor time.Duration, dryRun bool) ([]NamespaceInfo, error) {
	l, ok := s.(Lister)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrNotLister, s)
	}
	if unusedFor <= 0 {
		return nil, fmt.Errorf("picocache: Prune: unusedFor %v is not positive", unusedFor)
	}
	list, err := l.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-unusedFor - UseInterval - time.Minute)
	var pruned []NamespaceInfo
	for _, n := range list {
		if n.LastUsed.IsZero() || !n.LastUsed.Before(cutoff) {
			continue
		}
		if !dryRun {
			deleted, err := l.DeleteNamespace(ctx, n.Name, cutoff)
			if err != nil {
				return pruned, err
			}
			if !deleted {
				continue
			}
		}
		pruned = append(pruned, n)
	}
	return pruned, nil
}

// PruneEvery prunes s in the background, as Prune does (namespaces no
// process used for unusedFor): first after about a minute, so that
// opening a store is not slowed, then every interval. What it prunes and
// its failures are logged with log/slog. stop ends it, waiting for a
// prune in progress to stop at its next batch. Stores of this module call
// it when told to prune by themselves (sqlite.WithPrune, ?prune=720h).
func PruneEvery(s Lister, unusedFor, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait := min(time.Minute, interval)
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = interval
			pruned, err := Prune(ctx, s, unusedFor, false)
			if ctx.Err() != nil {
				return
			}
			var entries int64
			for _, n := range pruned {
				entries += n.Entries
			}
			switch {
			case err != nil:
				slog.Warn("picocache: pruning the store failed; trying again later", "unused_for", unusedFor, "pruned", len(pruned), "err", err)
			case len(pruned) > 0:
				slog.Info("picocache: pruned namespaces no process used", "unused_for", unusedFor, "namespaces", len(pruned), "entries", entries)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
