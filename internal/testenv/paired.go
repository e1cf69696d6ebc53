package testenv

import (
	goruntime "runtime"
	"testing"
	"time"
)

// Paired runs raw and store b.N times each, in alternating chunks of 64,
// on the calling goroutine locked to its thread, so that both see the same
// machine state, and reports the store's time over raw's: wall time
// (store/raw, with raw-ns/op and store-ns/op) and the thread's CPU time
// (cpu-store/raw, on Linux), which waiting for a CPU on a busy machine
// does not inflate.
func Paired(b *testing.B, raw, store func(i int)) {
	b.ReportAllocs()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	const chunk = 64
	var tRaw, tStore, cRaw, cStore time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		c0, t0 := ThreadCPU(), time.Now()
		for i := done; i < done+n; i++ {
			raw(i)
		}
		c1, t1 := ThreadCPU(), time.Now()
		for i := done; i < done+n; i++ {
			store(i)
		}
		t2, c2 := time.Now(), ThreadCPU()
		tRaw, tStore = tRaw+t1.Sub(t0), tStore+t2.Sub(t1)
		cRaw, cStore = cRaw+c1-c0, cStore+c2-c1
	}
	b.ReportMetric(float64(tRaw)/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(tStore)/float64(b.N), "store-ns/op")
	b.ReportMetric(float64(tStore)/float64(tRaw), "store/raw")
	if cRaw > 0 {
		b.ReportMetric(float64(cStore)/float64(cRaw), "cpu-store/raw")
	}
}
