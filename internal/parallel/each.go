package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// Each calls fn(i) for i in [0, n) on workers goroutines of its own (not
// the pool's), handing out indices in order, and returns the first error.
// It suits coarse, independent jobs that themselves use the pool — one
// patient's registration or rendering, say — whose serial parts (file I/O,
// compression, optimiser steps) leave cores idle when jobs run one at a
// time. After an error, or once ctx ends, no new index starts; the jobs
// already running finish. The error is then the first fn's error, else
// ctx.Err().
func Each(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < min(max(workers, 1), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
