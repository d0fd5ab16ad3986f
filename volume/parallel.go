package volume

import "github.com/metasurv/metasurv/internal/parallel"

// minParallelVoxels is the amount of work below which splitting a loop over
// goroutines costs more than it saves.
const minParallelVoxels = 1 << 15

// forSlices runs fn over [0, n) slices, each of about perSlice voxels of
// work, split over the shared worker pool when the whole job is large
// enough. Slices are handed out on demand so that a busy core does not hold
// the others up.
func forSlices(n, perSlice int, fn func(lo, hi int)) {
	if n < 2 || n*perSlice < minParallelVoxels {
		fn(0, n)
		return
	}
	parallel.ForChunks(n, 1, fn)
}
