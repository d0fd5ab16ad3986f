//go:build race

package conv

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are meaningless and those tests skip.
const raceEnabled = true
