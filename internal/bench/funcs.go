package bench

// Square is the benchmarked function: cheap, so that a benchmark measures
// the cache, not the work.
//
//picocache:maxsize=1024
func Square(n int) int { return n * n }
