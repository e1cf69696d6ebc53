package bench

// Square is the benchmarked bounded function: cheap, so that a benchmark
// measures the cache, not the work.
//
//picocache:maxsize=1024
func Square(n int) int { return n * n }

// Cube is the benchmarked unbounded function.
//
//picocache:maxsize=none
func Cube(n int) int { return n * n * n }
