package bench

import (
	goruntime "runtime"
	"testing"

	"github.com/maypok86/otter/v2"

	"github.com/picocache/picocache/runtime"
)

// entries is the size of the memory-per-entry comparison.
const entries = 100_000

func heapNow() uint64 {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerEntry reports the heap that 10^5 int -> int entries
// take on the in-memory store, through the generated wrapper, and in otter,
// as B/entry (the time figures are the fill's, and beside the point).
func BenchmarkMemoryPerEntry(b *testing.B) {
	b.Run("picocache", func(b *testing.B) {
		var per float64
		for b.Loop() {
			mem := runtime.NewMemory()
			CubeCache.Bind(mem)
			before := heapNow()
			for n := range entries {
				CubeCached(n)
			}
			per = float64(heapNow()-before) / entries
			CubeCache.Bind(nil)
			mem.Close()
		}
		b.ReportMetric(per, "B/entry")
	})
	b.Run("otter", func(b *testing.B) {
		var per float64
		for b.Loop() {
			before := heapNow()
			c := otter.Must(&otter.Options[int, int]{MaximumSize: entries})
			for n := range entries {
				c.Set(n, n*n*n)
			}
			per = float64(heapNow()-before) / entries
			goruntime.KeepAlive(c)
		}
		b.ReportMetric(per, "B/entry")
	})
}
