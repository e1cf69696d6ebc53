//go:build race

package keytest

// raceEnabled: the race detector makes the 10^6-tuple property test take
// minutes; it checks no concurrency, so it runs fewer tuples under -race.
const raceEnabled = true
