package parallel

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// job is one For/ForChunks call. It is shared by the caller and every worker
// that received it from the task queue; the last one to let go of it returns
// it to the free list, so jobs are recycled without allocation.
type job struct {
	fn       func(lo, hi int)
	n        int
	nchunks  int
	step     int  // chunk size for dynamic chunks
	balanced bool // For: chunk i is [i*n/nchunks, (i+1)*n/nchunks)

	next      atomic.Int64 // next chunk to hand out
	completed atomic.Int64 // chunks finished
	refs      atomic.Int32 // caller + queued copies not yet released
	done      chan struct{}
	panicked  atomic.Pointer[panicValue]
}

type panicValue struct{ v any }

type pool struct {
	workers int
	limit   atomic.Int32
	tasks   chan *job
	free    chan *job
}

var (
	thePool  pool
	initOnce sync.Once
)

func get() *pool {
	initOnce.Do(func() {
		w := runtime.GOMAXPROCS(0)
		thePool.workers = w
		thePool.limit.Store(int32(w))
		thePool.tasks = make(chan *job, 64*w)
		thePool.free = make(chan *job, 64)
		for i := 1; i < w; i++ {
			go thePool.work()
		}
	})
	return &thePool
}

// Workers returns how many goroutines (including the caller) share the work
// of a loop: GOMAXPROCS at first use, or less after SetMaxWorkers.
func Workers() int {
	return int(get().limit.Load())
}

// SetMaxWorkers limits loops to k participating goroutines (clamped to
// [1, pool size]) and returns a function that restores the previous limit.
// Benchmarks use it to measure single-thread speed; SetMaxWorkers(1) makes
// every loop run inline in the caller.
func SetMaxWorkers(k int) (restore func()) {
	p := get()
	if k < 1 {
		k = 1
	}
	if k > p.workers {
		k = p.workers
	}
	prev := p.limit.Swap(int32(k))
	return func() { p.limit.Store(prev) }
}

// For calls fn on contiguous ranges that partition [0,n), one range per
// worker (fewer when n is smaller), and returns when all have returned.
// Use it when every index costs about the same.
func For(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p := get()
	parts := min(n, int(p.limit.Load()))
	if parts <= 1 {
		fn(0, n)
		return
	}
	p.run(fn, n, parts, 0, true)
}

// ForChunks calls fn on ranges of at least grain indices (the last may be
// shorter) that partition [0,n), handed out to workers as they become free.
// Use it when indices cost different amounts; grain should be large enough
// that one range amortises a few hundred nanoseconds of scheduling. Ranges
// are never smaller than grain but may be larger, so that a call makes at
// most about 16 ranges per worker.
func ForChunks(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p := get()
	w := int(p.limit.Load())
	grain = max(grain, 1, (n+16*w-1)/(16*w))
	chunks := (n + grain - 1) / grain
	if w <= 1 || chunks <= 1 {
		fn(0, n)
		return
	}
	p.run(fn, n, chunks, grain, false)
}

func (p *pool) newJob() *job {
	select {
	case j := <-p.free:
		return j
	default:
		return &job{done: make(chan struct{}, 1)}
	}
}

func (p *pool) run(fn func(lo, hi int), n, chunks, step int, balanced bool) {
	j := p.newJob()
	j.fn, j.n, j.nchunks, j.step, j.balanced = fn, n, chunks, step, balanced
	j.next.Store(0)
	j.completed.Store(0)
	j.panicked.Store(nil)
	helpers := min(chunks, int(p.limit.Load())) - 1
	j.refs.Store(int32(1 + helpers))
	for range helpers {
		select {
		case p.tasks <- j:
		default: // queue full: the caller does that share itself
			j.refs.Add(-1)
		}
	}
	j.execute()
	<-j.done
	pv := j.panicked.Load()
	p.release(j)
	if pv != nil {
		panic(fmt.Sprintf("parallel: loop body panicked: %v", pv.v))
	}
}

func (p *pool) work() {
	for j := range p.tasks {
		j.execute()
		p.release(j)
	}
}

func (p *pool) release(j *job) {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.fn = nil
	select {
	case p.free <- j:
	default:
	}
}

// execute claims and runs chunks until none are left; whoever finishes the
// last chunk signals the caller.
func (j *job) execute() {
	total := int64(j.nchunks)
	for {
		i := j.next.Add(1) - 1
		if i >= total {
			return
		}
		lo, hi := j.bounds(int(i))
		j.call(lo, hi)
		if j.completed.Add(1) == total {
			j.done <- struct{}{}
		}
	}
}

func (j *job) bounds(i int) (lo, hi int) {
	if j.balanced {
		return i * j.n / j.nchunks, (i + 1) * j.n / j.nchunks
	}
	return i * j.step, min(j.n, (i+1)*j.step)
}

func (j *job) call(lo, hi int) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked.CompareAndSwap(nil, &panicValue{r})
		}
	}()
	j.fn(lo, hi)
}
