package parallel

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkCover runs loop over n indices and checks every index is visited
// exactly once and ranges are well formed.
func checkCover(t *testing.T, name string, n int, loop func(n int, fn func(lo, hi int)), minLen int) {
	t.Helper()
	seen := make([]int32, n)
	var bad atomic.Int32
	loop(n, func(lo, hi int) {
		if lo < 0 || hi > n || lo >= hi || (hi-lo < minLen && hi != n) {
			bad.Add(1)
			return
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&seen[i], 1)
		}
	})
	if bad.Load() != 0 {
		t.Fatalf("%s n=%d: %d malformed ranges", name, n, bad.Load())
	}
	for i, s := range seen {
		if s != 1 {
			t.Fatalf("%s n=%d: index %d visited %d times", name, n, i, s)
		}
	}
}

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64, 1000, 12345} {
		checkCover(t, "For", n, For, 1)
		for _, g := range []int{1, 3, 100} {
			checkCover(t, "ForChunks", n, func(n int, fn func(lo, hi int)) { ForChunks(n, g, fn) }, g)
		}
	}
}

func TestForIsBalancedAndContiguous(t *testing.T) {
	var mu sync.Mutex
	var lens []int
	For(1001, func(lo, hi int) {
		mu.Lock()
		lens = append(lens, hi-lo)
		mu.Unlock()
	})
	if len(lens) != min(1001, Workers()) {
		t.Fatalf("For made %d ranges for %d workers", len(lens), Workers())
	}
	for _, l := range lens {
		if l < 1001/Workers() || l > 1001/Workers()+1 {
			t.Fatalf("unbalanced ranges %v", lens)
		}
	}
}

func TestNestedCallsDoNotDeadlock(t *testing.T) {
	var total atomic.Int64
	For(8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ForChunks(100, 7, func(lo, hi int) {
				For(hi-lo, func(a, b int) { total.Add(int64(b - a)) })
			})
		}
	})
	if total.Load() != 800 {
		t.Fatalf("nested loops counted %d, want 800", total.Load())
	}
}

func TestConcurrentCallersShareThePool(t *testing.T) {
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 4*runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				For(37, func(lo, hi int) { total.Add(int64(hi - lo)) })
			}
		}()
	}
	wg.Wait()
	if want := int64(4*runtime.GOMAXPROCS(0)) * 50 * 37; total.Load() != want {
		t.Fatalf("concurrent loops counted %d, want %d", total.Load(), want)
	}
}

type boomError struct{ chunk int }

func (e *boomError) Error() string { return "boom" }

// A body's panic reaches the caller as a *Panic holding the original value
// (its type intact, so errors.As finds it) and the panicking goroutine's
// stack, whichever goroutine ran the chunk.
func TestPanicReachesCaller(t *testing.T) {
	for _, at := range []int{0, 99} { // the caller's chunk, a worker's chunk
		func() {
			defer func() {
				r := recover()
				p, ok := r.(*Panic)
				if !ok {
					t.Fatalf("recovered %T %v, want *Panic", r, r)
				}
				var be *boomError
				if !errors.As(p, &be) || !strings.Contains(p.Error(), "boom") {
					t.Fatalf("panic value %#v lost its type", p.Value)
				}
				if !strings.Contains(string(p.Stack), "pool_test.go") {
					t.Fatalf("stack does not show the panicking body:\n%s", p.Stack)
				}
				// The pool must still work afterwards.
				checkCover(t, "For after panic", 100, For, 1)
			}()
			For(100, func(lo, hi int) {
				if lo <= at && at < hi {
					panic(&boomError{lo})
				}
			})
		}()
	}
}

func TestSetMaxWorkers(t *testing.T) {
	restore := SetMaxWorkers(1)
	if Workers() != 1 {
		t.Fatalf("Workers()=%d after SetMaxWorkers(1)", Workers())
	}
	calls := 0 // no atomics needed: everything runs inline
	For(100, func(lo, hi int) { calls++ })
	ForChunks(100, 1, func(lo, hi int) { calls++ })
	if calls != 2 {
		t.Fatalf("single-worker loops made %d calls, want 2 inline calls", calls)
	}
	restore()
	if Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Workers()=%d after restore, want %d", Workers(), runtime.GOMAXPROCS(0))
	}
	r := SetMaxWorkers(1 << 20)
	if Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("SetMaxWorkers above pool size gave %d", Workers())
	}
	r()
}

func TestZeroAllocationsPerCall(t *testing.T) {
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	For(1000, fn) // warm up the free list
	ForChunks(1000, 10, fn)
	if a := testing.AllocsPerRun(200, func() { For(1000, fn) }); a != 0 {
		t.Errorf("For allocates %.1f times per call", a)
	}
	if a := testing.AllocsPerRun(200, func() { ForChunks(1000, 10, fn) }); a != 0 {
		t.Errorf("ForChunks allocates %.1f times per call", a)
	}
}

func BenchmarkForOverhead(b *testing.B) {
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	for b.Loop() {
		For(1024, fn)
	}
}

// With slow bodies the caller finishes before the worker wakes; testing.AllocsPerRun
// also pins GOMAXPROCS to 1. Jobs must still be recycled, not leaked.
func TestZeroAllocationsWithSlowBodies(t *testing.T) {
	fn := func(lo, hi int) {
		for s := time.Now(); time.Since(s) < 50*time.Microsecond; {
		}
	}
	For(2, fn)
	if a := testing.AllocsPerRun(20, func() { For(2, fn) }); a != 0 {
		t.Errorf("For with slow bodies allocates %.1f times per call", a)
	}
}
