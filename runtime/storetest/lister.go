package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// RunLister checks the runtime.Lister ability of the stores returned by
// open: listing namespaces with their counts, sizes and last use, and
// deleting one, whole or only while unused; and runtime.Prune on it. open
// is called once per subtest; the suite closes each store it opens.
func RunLister(t *testing.T, open func(t *testing.T) runtime.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l runtime.Lister)
	}{
		{"List", testList},
		{"Delete", testDelete},
		{"DeleteLarge", testDeleteLarge},
		{"DeleteUsed", testDeleteUsed},
		{"PruneKeepsUsed", testPruneKeepsUsed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			l, ok := s.(runtime.Lister)
			if !ok {
				t.Fatalf("%T is not a runtime.Lister", s)
			}
			tt.fn(t, l)
		})
	}
}

// info returns the listing of fn, failing the test if it is absent.
func info(t *testing.T, l runtime.Lister, fn string) runtime.NamespaceInfo {
	t.Helper()
	list, err := l.Namespaces(ctx)
	if err != nil {
		t.Fatalf("Namespaces: %v", err)
	}
	if !slices.IsSortedFunc(list, func(a, b runtime.NamespaceInfo) int { return cmpString(a.Name, b.Name) }) {
		t.Errorf("Namespaces is not sorted by name")
	}
	for _, n := range list {
		if n.Name == fn {
			return n
		}
	}
	t.Fatalf("Namespaces does not list %q", fn)
	return runtime.NamespaceInfo{}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testList(t *testing.T, l runtime.Lister) {
	fn := newFn(t, l) + "@v1"
	defer clearFn(l, fn)
	before := time.Now()
	for i := range 5 {
		mustSet(t, l, fn, fmt.Sprint("key", i), "value-of-ten", unbounded)
	}
	n := info(t, l, fn)
	if n.Entries != 5 {
		t.Errorf("Entries = %d, want 5", n.Entries)
	}
	if n.Bytes < int64(5*len("value-of-ten")) {
		t.Errorf("Bytes = %d, want at least the values' %d", n.Bytes, 5*len("value-of-ten"))
	}
	if n.LastUsed.Before(before.Add(-runtime.UseInterval-time.Minute)) || n.LastUsed.After(time.Now().Add(time.Minute)) {
		t.Errorf("LastUsed = %v, want about now (%v)", n.LastUsed, before)
	}
	if n.Function() != fn[:len(fn)-3] || n.Version() != "v1" {
		t.Errorf("Function, Version = %q, %q; want %q, v1", n.Function(), n.Version(), fn[:len(fn)-3])
	}
}

func testDelete(t *testing.T, l runtime.Lister) {
	fn, other := newFn(t, l), newFn(t, l)
	defer clearFn(l, other)
	for i := range 3 {
		mustSet(t, l, fn, fmt.Sprint(i), "v", unbounded)
		mustSet(t, l, other, fmt.Sprint(i), "v", unbounded)
	}
	deleted, err := l.DeleteNamespace(ctx, fn, time.Time{})
	if err != nil || !deleted {
		t.Fatalf("DeleteNamespace = %v, %v; want true", deleted, err)
	}
	wantLen(t, l, fn, 0)
	wantLen(t, l, other, 3)
	if got := get(t, l, fn, "1", unbounded); got != "<absent>" {
		t.Errorf("after DeleteNamespace, Get = %q", got)
	}
	// The namespace works on afterwards.
	mustSet(t, l, fn, "again", "v", unbounded)
	wantLen(t, l, fn, 1)
	clearFn(l, fn)
	if deleted, err := l.DeleteNamespace(ctx, newFn(t, l)+"-absent", time.Time{}); err != nil || !deleted {
		t.Errorf("DeleteNamespace of an absent namespace = %v, %v; want true, nil", deleted, err)
	}
}

// testDeleteLarge deletes a namespace of more entries than one batch.
func testDeleteLarge(t *testing.T, l runtime.Lister) {
	fn := newFn(t, l)
	sp := space(t, l, fn, unbounded)
	const n = 2500
	for i := range n {
		if err := sp.Set(ctx, []byte(fmt.Sprint(i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	wantLen(t, l, fn, n)
	if deleted, err := l.DeleteNamespace(ctx, fn, time.Time{}); err != nil || !deleted {
		t.Fatalf("DeleteNamespace = %v, %v", deleted, err)
	}
	wantLen(t, l, fn, 0)
	if e := info(t, l, fn).Entries; e != 0 {
		t.Errorf("listed with %d entries after DeleteNamespace", e)
	}
}

// testDeleteUsed asks to delete a namespace only if unused since a time
// before its last use: nothing is deleted.
func testDeleteUsed(t *testing.T, l runtime.Lister) {
	fn := newFn(t, l)
	defer clearFn(l, fn)
	mustSet(t, l, fn, "k", "v", unbounded)
	deleted, err := l.DeleteNamespace(ctx, fn, time.Now().Add(-time.Hour))
	if err != nil || deleted {
		t.Errorf("DeleteNamespace of a namespace used since = %v, %v; want false, nil", deleted, err)
	}
	wantGet(t, l, fn, "k", unbounded, "v")
}

func testPruneKeepsUsed(t *testing.T, l runtime.Lister) {
	fn := newFn(t, l)
	defer clearFn(l, fn)
	mustSet(t, l, fn, "k", "v", unbounded)
	for _, dry := range []bool{true, false} {
		pruned, err := runtime.Prune(ctx, l, time.Hour, dry)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pruned {
			if p.Name == fn {
				t.Errorf("Prune(dryRun=%v) pruned a namespace used just now", dry)
			}
		}
	}
	wantGet(t, l, fn, "k", unbounded, "v")
	if _, err := runtime.Prune(ctx, nonLister{l}, time.Hour, false); !errors.Is(err, runtime.ErrNotLister) {
		t.Errorf("Prune of a store that cannot list: %v, want ErrNotLister", err)
	}
}

type nonLister struct{ runtime.Store }
