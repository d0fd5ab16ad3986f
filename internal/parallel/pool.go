package parallel

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// job is one For/ForChunks call. The caller puts up to workers-1 copies of
// its pointer on the queue; a worker that pops one claims chunks until none
// are left. Every copy, and the caller, holds a reference; copies nobody
// popped are taken back off the queue at the end, and the last holder puts
// the job on the free list, so jobs are reused without allocation.
type job struct {
	fn       func(lo, hi int)
	n        int
	nchunks  int
	step     int  // chunk size for dynamic chunks
	balanced bool // For: chunk i is [i*n/nchunks, (i+1)*n/nchunks)

	next      atomic.Int64 // next chunk to hand out
	completed atomic.Int64 // chunks finished
	refs      atomic.Int32 // caller + copies popped or queued, not yet released
	done      chan struct{}
	panicked  atomic.Pointer[Panic]
}

// Panic is what For and ForChunks panic with in the caller when a loop body
// panicked in any goroutine: the original value, its dynamic type intact,
// and the stack of the goroutine that panicked (the caller's own stack is
// in the re-panic's trace). It is an error; Unwrap returns Value when that
// is an error, so errors.As finds, say, a runtime.Error inside.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string {
	return fmt.Sprintf("parallel: loop body panicked: %v\n\ngoroutine stack:\n%s", p.Value, p.Stack)
}

// Unwrap returns Value if it is an error.
func (p *Panic) Unwrap() error {
	if err, ok := p.Value.(error); ok {
		return err
	}
	return nil
}

// queueCap bounds the task queue; when it is full the caller runs the
// chunks itself.
const queueCap = 256

type pool struct {
	workers int
	limit   atomic.Int32

	mu         sync.Mutex
	queue      [queueCap]*job // ring buffer
	head, size int
	queued     atomic.Int32    // size, readable without the lock
	idle       []chan struct{} // wake channels of sleeping workers
	free       []*job
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
		thePool.idle = make([]chan struct{}, 0, w)
		thePool.free = make([]*job, 0, 64)
		for i := 1; i < w; i++ {
			go thePool.work(make(chan struct{}, 1))
		}
	})
	return &thePool
}

// Workers returns how many goroutines (including the caller) share the work
// of a loop: GOMAXPROCS at first use, or as set by SetThreads or
// SetMaxWorkers.
func Workers() int {
	return int(get().limit.Load())
}

// SetThreads sets how many goroutines (the caller included) share the work
// of every loop from now on; n ≤ 0 means GOMAXPROCS, the default. The pool
// grows when n exceeds its size (idle workers sleep; it never shrinks).
// nn.SetThreads exports it.
func SetThreads(n int) {
	p := get()
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p.mu.Lock()
	for p.workers < n {
		go p.work(make(chan struct{}, 1))
		p.workers++
	}
	p.limit.Store(int32(n))
	p.mu.Unlock()
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
	p.mu.Lock()
	k = min(k, p.workers)
	prev := p.limit.Swap(int32(k))
	p.mu.Unlock()
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

func (p *pool) run(fn func(lo, hi int), n, chunks, step int, balanced bool) {
	p.mu.Lock()
	var j *job
	if k := len(p.free); k > 0 {
		j = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		j = &job{done: make(chan struct{}, 1)}
	}
	j.fn, j.n, j.nchunks, j.step, j.balanced = fn, n, chunks, step, balanced
	j.next.Store(0)
	j.completed.Store(0)
	j.panicked.Store(nil)
	j.refs.Store(1)
	for range min(chunks, int(p.limit.Load())) - 1 {
		if p.size == queueCap {
			break // the caller does that share itself
		}
		p.queue[(p.head+p.size)%queueCap] = j
		p.size++
		p.queued.Store(int32(p.size))
		j.refs.Add(1)
		if k := len(p.idle); k > 0 {
			p.idle[k-1] <- struct{}{}
			p.idle = p.idle[:k-1]
		}
	}
	p.mu.Unlock()

	j.execute()
	spinUntil(j.finished)
	<-j.done
	p.reclaim(j)
	pv := j.panicked.Load()
	p.release(j)
	if pv != nil {
		panic(pv)
	}
}

// release drops one reference to j; the last holder recycles it.
func (p *pool) release(j *job) {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.fn = nil
	p.mu.Lock()
	if len(p.free) < cap(p.free) {
		p.free = append(p.free, j)
	}
	p.mu.Unlock()
}

// reclaim takes the copies of j that no worker popped back off the queue,
// then waits briefly for the workers that did pop one to let go of it, so
// that the job is usually recycled by this call. A worker descheduled by
// the OS is not waited for: it recycles the job itself when it resumes.
func (p *pool) reclaim(j *job) {
	p.mu.Lock()
	kept := 0
	for i := range p.size {
		q := p.queue[(p.head+i)%queueCap]
		if q == j {
			j.refs.Add(-1)
			continue
		}
		p.queue[(p.head+kept)%queueCap] = q
		kept++
	}
	for i := kept; i < p.size; i++ {
		p.queue[(p.head+i)%queueCap] = nil
	}
	p.size = kept
	p.queued.Store(int32(p.size))
	p.mu.Unlock()
	for spins := 0; spins < 96 && j.refs.Load() != 1; spins++ {
		if spins >= 64 {
			runtime.Gosched()
		}
	}
}

// spinTime is how long a worker polls the queue after finishing a job, and
// a caller polls for its last chunks, before parking: the phases of one
// kernel (pack, multiply, next k block) follow each other within
// microseconds, while waking a parked thread costs tens of microseconds,
// and far more when other processes share the cores.
const spinTime = 50 * time.Microsecond

// spinUntil polls done for up to spinTime, yielding to other goroutines
// every 64 polls.
func spinUntil(done func() bool) {
	start := time.Now()
	for i := 1; !done(); i++ {
		if i%64 == 0 {
			if time.Since(start) > spinTime {
				return
			}
			runtime.Gosched()
		}
	}
}

func (p *pool) work(wake chan struct{}) {
	for {
		spinUntil(p.hasWork)
		p.mu.Lock()
		if p.size == 0 {
			p.idle = append(p.idle, wake)
			p.mu.Unlock()
			<-wake
			continue
		}
		j := p.queue[p.head]
		p.queue[p.head] = nil
		p.head = (p.head + 1) % queueCap
		p.size--
		p.queued.Store(int32(p.size))
		p.mu.Unlock()
		j.execute()
		p.release(j)
	}
}

func (p *pool) hasWork() bool { return p.queued.Load() > 0 }

func (j *job) finished() bool { return j.completed.Load() == int64(j.nchunks) }

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
			j.panicked.CompareAndSwap(nil, &Panic{Value: r, Stack: debug.Stack()})
		}
	}()
	j.fn(lo, hi)
}
