package keytest

import (
	"context"
	"sync"
	"testing"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/codec"
)

// bytesStore is the in-memory store seen only through its Store methods,
// so that results are encoded and decoded as with any other store.
type bytesStore struct{ runtime.Store }

// list returns a list of n nodes, cyclic or not.
func list(n int, cyclic bool) *Node {
	head, _ := Chain(n, cyclic)
	return head
}

func info(t *testing.T, f interface {
	Info(context.Context) (runtime.Info, error)
}) runtime.Info {
	t.Helper()
	i, err := f.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestCyclicArgument: a cyclic argument, or one nested deeper than
// codec.MaxDepth, runs the call uncached and correctly instead of
// overflowing the stack; lists within the limit are cached.
func TestCyclicArgument(t *testing.T) {
	for _, s := range testStores() {
		t.Run(s.name, func(t *testing.T) {
			WalkCache.Bind(s.open(t))
			defer WalkCache.Bind(nil)
			for _, tc := range []struct {
				n       int
				cyclic  bool
				cached  bool
				comment string
			}{
				{1, true, false, "a node linked to itself"},
				{50, true, false, "a ring of 50"},
				{codec.MaxDepth, false, true, "a list at the limit"},
				{codec.MaxDepth + 1, false, false, "a list past the limit"},
			} {
				if err := WalkCache.Clear(context.Background()); err != nil {
					t.Fatal(err)
				}
				n := list(tc.n, tc.cyclic)
				for range 2 {
					if got := WalkCached(n); got != tc.n {
						t.Fatalf("%s: WalkCached = %d, want %d", tc.comment, got, tc.n)
					}
				}
				i := info(t, WalkCache)
				want := runtime.Info{MaxSize: runtime.Unbounded}
				if tc.cached {
					want.Hits, want.Misses, want.CurrSize = 1, 1, 1
				}
				// The counts this test is about; the runtime may count more.
				type counts struct{ Hits, Misses, MaxSize, CurrSize, StoreErrors int64 }
				c := func(i runtime.Info) counts {
					return counts{i.Hits, i.Misses, i.MaxSize, i.CurrSize, i.StoreErrors}
				}
				if c(i) != c(want) {
					t.Errorf("%s: %+v, want %+v", tc.comment, c(i), c(want))
				}
			}
		})
	}
}

// TestCyclicResult: a cyclic result is returned to its caller, neither
// stored nor counted as a store error; concurrent callers each get a
// correct one; an acyclic result is stored.
func TestCyclicResult(t *testing.T) {
	for _, s := range testStores() {
		t.Run(s.name, func(t *testing.T) {
			ChainCache.Bind(s.open(t))
			defer ChainCache.Bind(nil)
			ctx := context.Background()
			if err := ChainCache.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			checkRing := func(n *Node, size int) {
				t.Helper()
				p := n
				for i := range size {
					if p == nil || p.Val != uint8(i) {
						t.Fatalf("node %d of the ring is wrong", i)
					}
					p = p.Next
				}
				if p != n {
					t.Fatalf("the ring of %d does not close", size)
				}
			}
			for range 2 {
				n, err := ChainCached(3, true)
				if err != nil {
					t.Fatal(err)
				}
				checkRing(n, 3)
			}
			if i := info(t, ChainCache); i.Hits != 0 || i.Misses != 2 || i.CurrSize != 0 || i.StoreErrors != 0 {
				t.Errorf("after two cyclic results: %+v, want 2 misses, nothing stored", i)
			}

			// Concurrent callers: the leader's result is not shared; each
			// caller gets a correct ring.
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					n, err := ChainCached(5, true)
					if err != nil {
						t.Error(err)
						return
					}
					checkRing(n, 5)
				})
			}
			wg.Wait()
			if i := info(t, ChainCache); i.Hits != 0 || i.CurrSize != 0 || i.StoreErrors != 0 {
				t.Errorf("after concurrent cyclic results: %+v, want no hits, nothing stored", i)
			}

			// A list past the limit is not stored either; one within it is.
			for _, tc := range []struct {
				n      int
				stored bool
			}{{codec.MaxDepth + 1, false}, {codec.MaxDepth, true}} {
				if err := ChainCache.Clear(ctx); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					n, err := ChainCached(tc.n, false)
					if err != nil || Walk(n) != tc.n {
						t.Fatalf("ChainCached(%d) = list of %d, %v", tc.n, Walk(n), err)
					}
				}
				i := info(t, ChainCache)
				if tc.stored && (i.Hits != 1 || i.CurrSize != 1) || !tc.stored && (i.Hits != 0 || i.CurrSize != 0) || i.StoreErrors != 0 {
					t.Errorf("list of %d: %+v, stored %t", tc.n, i, tc.stored)
				}
			}
		})
	}
}

type testStore struct {
	name string
	open func(t *testing.T) runtime.Store
}

// testStores are the in-memory store, which keeps results as they are, and
// the same seen only through its Store methods, which encodes them.
func testStores() []testStore {
	open := func(wrap bool) func(t *testing.T) runtime.Store {
		return func(t *testing.T) runtime.Store {
			mem := runtime.NewMemory()
			t.Cleanup(func() { mem.Close() })
			if wrap {
				return bytesStore{mem}
			}
			return mem
		}
	}
	return []testStore{{"memory", open(false)}, {"bytes", open(true)}}
}
