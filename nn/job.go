package nn

import "github.com/metasurv/metasurv/internal/parallel"

// pjob is a reusable parallel loop body. Hot operations fill its fields and
// run a static body function through fn, a func value bound once per
// graph, so an inference pass hands work to the pool without allocating a
// closure per operation. Operations run one at a time on a graph, and a
// body never starts another job, so one pjob per graph suffices.
type pjob struct {
	fn   func(lo, hi int)
	body func(j *pjob, lo, hi int)
	s    [4][]float32
	f    [4]float32
	i    [4]int
	d    [2]float64
	t    [4]*Tensor
	b    bool
	b2   bool
}

func newPjob() *pjob {
	j := &pjob{}
	j.fn = j.run
	return j
}

func (j *pjob) run(lo, hi int) { j.body(j, lo, hi) }

// runJob runs body over [0,n) (in parallel when n·cost is large enough)
// and clears the slice references afterwards.
func (g *Graph) runJob(n, cost int, body func(j *pjob, lo, hi int)) {
	j := g.job
	j.body = body
	if n*cost < 1<<15 || n < 2 {
		j.fn(0, n)
	} else {
		parallel.For(n, j.fn)
	}
	j.s, j.t = [4][]float32{}, [4]*Tensor{}
}
