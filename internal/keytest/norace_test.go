//go:build !race

package keytest

const raceEnabled = false
