package redisstore

import (
	"bytes"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	"golang.org/x/sync/semaphore"
)

// function is what a Store keeps of one namespace, shared by its Spaces:
// its keys, and the reads of its bounded Spaces not yet applied. It is
// safe for concurrent use.
type function struct {
	Names
	name   string           // the namespace
	hits   storekit.Touches // keys whose GET found an entry
	misses storekit.Touches // keys whose GET found none
	// gate orders the batches of this process: a Set or a flush
	// (TouchScript) holds all of it from taking the pending batch until
	// its script has run. So this process's Sets and flushes of one
	// function reach the server in the order they took their batches, and
	// every Set's eviction sees every read this process made before it.
	// (With Sets in parallel, a Set that took a batch could reach the
	// server after another Set had evicted an entry the batch touched.)
	gate *semaphore.Weighted

	// recorded is when this process last recorded a use of the namespace
	// in the registry, and unrecorded the time of a use it has yet to
	// record (0 for none), in Unix nanoseconds; see use.
	recorded, unrecorded atomic.Int64
}

// gateAll is the weight of a flush in function.gate: more than any number
// of concurrent Sets.
const gateAll = 1 << 40

func newFunction(fn string) *function {
	return &function{Names: NewNames(fn), name: fn, gate: semaphore.NewWeighted(gateAll)}
}

// use notes a use of the namespace (a read or a write) at now, Unix
// nanoseconds, and reports whether it is to be recorded: at most once per
// runtime.UseInterval, by the flusher, so that a hit stays one GET. A hit
// within the interval costs an atomic load.
func (fn *function) use(now int64) bool {
	if now-fn.recorded.Load() < int64(runtime.UseInterval) {
		return false
	}
	fn.unrecorded.CompareAndSwap(0, now)
	return true
}

// pending reports whether fn has reads not yet applied.
func (fn *function) pending() bool { return fn.hits.Len()+fn.misses.Len() > 0 }

// take removes fn's pending reads, cut into batches for scripts. A miss
// of setting, the key a Set is about to store, is left out: the Set
// indexes it afresh.
func (fn *function) take(setting []byte) []batch {
	misses := fn.misses.Take()
	if setting != nil {
		misses = slices.DeleteFunc(misses, func(k []byte) bool { return bytes.Equal(k, setting) })
	}
	return split(fn.hits.Take(), misses)
}

// put returns batches that could not be applied to fn's pending reads.
func (fn *function) put(bs []batch) {
	for _, b := range bs {
		fn.hits.Put(b.hits)
		fn.misses.Put(b.misses)
	}
}

// touchBatch is the most members one script call carries, so that no
// call blocks the server for long.
const touchBatch = 512

// batch is part of a function's pending reads, small enough for one
// script call.
type batch struct{ hits, misses [][]byte }

// split cuts a function's pending reads into batches of at most touchBatch
// keys: the misses first, then the hits in the order given, so that the
// last batch holds the latest hits.
func split(hits, misses [][]byte) []batch {
	n := len(hits) + len(misses)
	if n == 0 {
		return nil
	}
	bs := make([]batch, 0, (n+touchBatch-1)/touchBatch)
	for i := 0; i < n; i += touchBatch {
		j := min(i+touchBatch, n)
		var b batch
		if i < len(misses) {
			b.misses = misses[i:min(j, len(misses))]
		}
		if j > len(misses) {
			b.hits = hits[max(i-len(misses), 0) : j-len(misses)]
		}
		bs = append(bs, b)
	}
	return bs
}

// appendArgs appends b as the scripts take a batch: the number of hits,
// the hits, the misses.
func (b batch) appendArgs(args []string) []string {
	args = append(args, strconv.Itoa(len(b.hits)))
	for _, k := range b.hits {
		args = append(args, string(k))
	}
	for _, k := range b.misses {
		args = append(args, string(k))
	}
	return args
}
