package keytest

import (
	"context"
	"testing"

	"github.com/picocache/picocache/runtime"
)

var benchQuery = Query{
	Name:   "users",
	Tags:   []string{"active", "admin", "eu"},
	Limits: map[string]int{"rows": 100, "depth": 3, "page": 7},
}

// BenchmarkKeyQuery writes the key of a struct argument with a string, a
// slice and a map into a stack buffer, as a generated wrapper does.
func BenchmarkKeyQuery(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var keyBuf [128]byte
		k := picocacheKeyQuery(keyBuf[:0], benchQuery)
		if len(k) == 0 {
			b.Fatal("empty key")
		}
	}
}

// BenchmarkLookupHit is a hit of the generated wrapper on the in-memory
// store, with that struct argument: the target is 0 allocs/op.
func BenchmarkLookupHit(b *testing.B) {
	mem := runtime.NewMemory()
	defer mem.Close()
	LookupCache.Bind(mem)
	defer LookupCache.Bind(nil)
	ctx := context.Background()
	if _, err := LookupCached(ctx, benchQuery); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := LookupCached(ctx, benchQuery); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLookupHitAllocs pins the benchmark's promise: a hit allocates
// nothing.
func TestLookupHitAllocs(t *testing.T) {
	mem := runtime.NewMemory()
	defer mem.Close()
	LookupCache.Bind(mem)
	defer LookupCache.Bind(nil)
	ctx := context.Background()
	LookupCached(ctx, benchQuery)
	if n := testing.AllocsPerRun(100, func() { LookupCached(ctx, benchQuery) }); n != 0 {
		t.Errorf("a hit allocates %v times, want 0", n)
	}
	var keyBuf [128]byte
	if n := testing.AllocsPerRun(100, func() { picocacheKeyQuery(keyBuf[:0], benchQuery) }); n != 0 {
		t.Errorf("the key encoding allocates %v times, want 0", n)
	}
}
