package redisstore

import (
	"fmt"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	a, b := NewNames("pkg.F@v1"), NewNames("pkg.F@v1}{")
	if a.Entry == b.Entry {
		t.Fatalf("two namespaces share %q", a.Entry)
	}
	for _, n := range []Names{a, b} {
		// One hash tag, the first {...} of every key, shared by all keys.
		tag := n.LRU[strings.Index(n.LRU, "{") : strings.Index(n.LRU, "}")+1]
		for _, k := range []string{n.Entry + "{key}", n.LRU, n.Seq, n.Exp} {
			if i, j := strings.Index(k, "{"), strings.Index(k, "}"); k[i:j+1] != tag {
				t.Errorf("key %q: hash tag %q, want %q", k, k[i:j+1], tag)
			}
		}
		if len(tag) != TagLen+2 {
			t.Errorf("tag %q: want %d hex digits", tag, TagLen)
		}
	}
}

// TestSplit checks how pending reads are cut into script calls.
func TestSplit(t *testing.T) {
	keys := func(prefix string, n int) [][]byte {
		var ks [][]byte
		for i := range n {
			ks = append(ks, fmt.Appendf(nil, "%s%d", prefix, i))
		}
		return ks
	}
	for _, c := range []struct{ hits, misses int }{{0, 0}, {1, 0}, {0, 1}, {3, 2}, {touchBatch, 0}, {touchBatch, 1}, {2*touchBatch + 5, touchBatch + 7}} {
		bs := split(keys("h", c.hits), keys("m", c.misses))
		var hits, misses [][]byte
		for i, b := range bs {
			if n := len(b.hits) + len(b.misses); n == 0 || n > touchBatch {
				t.Errorf("%+v: batch %d holds %d keys", c, i, n)
			}
			if len(b.misses) > 0 && len(hits) > 0 {
				t.Errorf("%+v: batch %d has misses after hits", c, i)
			}
			hits, misses = append(hits, b.hits...), append(misses, b.misses...)
		}
		if fmt.Sprint(hits) != fmt.Sprint(keys("h", c.hits)) || fmt.Sprint(misses) != fmt.Sprint(keys("m", c.misses)) {
			t.Errorf("%+v: batches lose or reorder keys", c)
		}
		if want := (c.hits + c.misses + touchBatch - 1) / touchBatch; len(bs) != want {
			t.Errorf("%+v: %d batches, want %d", c, len(bs), want)
		}
	}
}
