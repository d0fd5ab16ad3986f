package register

import (
	"context"
	"fmt"
	"math"
)

// optimizer minimises the evaluator's cost over the parameters of t in
// scaled coordinates q = p·scale, where one unit of every scaled
// parameter moves the sample points by about 1 mm: the angles (and scale,
// and affine matrix entries) are multiplied by the RMS distance of the
// sample points from the centre of rotation, as elastix's automatic
// parameter scales do. Step lengths are therefore in mm.
type optimizer struct {
	e      *evaluator
	t      *Transform
	o      Options
	level  int
	scales []float64
	cost   float64
	grad   []float64 // ∂cost/∂p at the current parameters
}

func newOptimizer(e *evaluator, t *Transform, o Options, level int) *optimizer {
	op := &optimizer{e: e, t: t, o: o, level: level, grad: make([]float64, len(t.Params))}
	var r2 float64
	for _, p := range e.pts {
		dx, dy, dz := p[0]-t.Center[0], p[1]-t.Center[1], p[2]-t.Center[2]
		r2 += dx*dx + dy*dy + dz*dz
	}
	rad := math.Sqrt(r2 / float64(len(e.pts)))
	if rad < 1 {
		rad = 1
	}
	ti := t.Kind.translationIndex()
	op.scales = make([]float64, len(t.Params))
	for p := range op.scales {
		op.scales[p] = rad
		if p >= ti && p < ti+3 {
			op.scales[p] = 1
		}
	}
	op.cost = op.eval(t.Params)
	return op
}

// eval sets the parameters, evaluates cost and gradient and returns the
// cost (NaN without overlap).
func (op *optimizer) eval(params []float64) float64 {
	copy(op.t.Params, params)
	cost, d := op.e.evaluate(op.t.Matrix(), true)
	if !math.IsNaN(cost) {
		paramGradient(d, op.t.Derivatives(), op.grad)
	}
	return cost
}

func (op *optimizer) shrink() float64 { return float64(op.o.Shrink[op.level]) }

func (op *optimizer) report(it int, step float64) {
	if op.o.Progress != nil {
		op.o.Progress(Progress{Level: op.level, Levels: len(op.o.Shrink), Iteration: it, Cost: op.cost, Step: step})
	}
}

func (op *optimizer) run(ctx context.Context) (int, string, error) {
	if op.o.Optimizer == LBFGS {
		return op.lbfgs(ctx)
	}
	return op.regularStep(ctx)
}

// scaledGrad returns the gradient with respect to the scaled parameters
// and its norm.
func (op *optimizer) scaledGrad(dst []float64) float64 {
	var n2 float64
	for p, g := range op.grad {
		dst[p] = g / op.scales[p]
		n2 += dst[p] * dst[p]
	}
	return math.Sqrt(n2)
}

// regularStep is ITK's RegularStepGradientDescentOptimizer in scaled
// parameters.
func (op *optimizer) regularStep(ctx context.Context) (int, string, error) {
	np := len(op.grad)
	step, minStep := op.o.MaxStep*op.shrink(), op.o.MinStep*op.shrink()
	gq, prev := make([]float64, np), make([]float64, np)
	cur, trial := append([]float64(nil), op.t.Params...), make([]float64, np)
	curGrad := append([]float64(nil), op.grad...)
	for it := 0; it < op.o.MaxIterations; it++ {
		if err := ctx.Err(); err != nil {
			return it, "cancelled", fmt.Errorf("cancelled: %w", err)
		}
		copy(op.grad, curGrad)
		norm := op.scaledGrad(gq)
		if norm == 0 {
			return it, "zero gradient", nil
		}
		if it > 0 && dot(gq, prev) < 0 {
			step *= op.o.Relaxation
		}
		if step < minStep {
			return it, "step below minimum", nil
		}
		for p := range trial {
			trial[p] = cur[p] - step*gq[p]/norm/op.scales[p]
		}
		c := op.eval(trial)
		if math.IsNaN(c) {
			// Stepped out of the overlap: shorten the step and retry.
			copy(op.t.Params, cur)
			step *= op.o.Relaxation
			continue
		}
		copy(prev, gq)
		copy(cur, trial)
		copy(curGrad, op.grad)
		op.cost = c
		op.report(it, step)
	}
	return op.o.MaxIterations, "maximum iterations", nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// lbfgs is limited-memory BFGS (memory 6) with an Armijo backtracking line
// search in scaled parameters; the first trial step of each line search is
// at most the level's maximum step (mm). It stops when a step moves the
// points by less than MinStep or the cost stops decreasing.
func (op *optimizer) lbfgs(ctx context.Context) (int, string, error) {
	const mem = 6
	np := len(op.grad)
	maxStep, minStep := op.o.MaxStep*op.shrink(), op.o.MinStep*op.shrink()
	q := make([]float64, np)
	for p := range q {
		q[p] = op.t.Params[p] * op.scales[p]
	}
	g := make([]float64, np)
	op.scaledGrad(g)
	var ss, ys [][]float64
	var rho []float64
	dir, qn, gn, params := make([]float64, np), make([]float64, np), make([]float64, np), make([]float64, np)
	alpha := make([]float64, mem)
	for it := 0; it < op.o.MaxIterations; it++ {
		if err := ctx.Err(); err != nil {
			return it, "cancelled", fmt.Errorf("cancelled: %w", err)
		}
		// Two-loop recursion: dir = −H·g.
		copy(dir, g)
		for k := len(ss) - 1; k >= 0; k-- {
			alpha[k] = rho[k] * dot(ss[k], dir)
			axpy(-alpha[k], ys[k], dir)
		}
		if n := len(ss); n > 0 {
			gamma := dot(ss[n-1], ys[n-1]) / dot(ys[n-1], ys[n-1])
			scale(gamma, dir)
		}
		for k := range ss {
			b := rho[k] * dot(ys[k], dir)
			axpy(alpha[k]-b, ss[k], dir)
		}
		scale(-1, dir)
		if dot(dir, g) >= 0 { // not a descent direction: restart
			ss, ys, rho = ss[:0], ys[:0], rho[:0]
			copy(dir, g)
			scale(-1, dir)
		}
		dn := math.Sqrt(dot(dir, dir))
		if dn == 0 {
			return it, "zero gradient", nil
		}
		// Without curvature information the scale of −g is arbitrary:
		// start with a step of the level's maximum length, as RegularStep.
		t := 1.0
		if dn > maxStep || len(ss) == 0 {
			t = maxStep / dn
		}
		slope := dot(dir, g)
		var c float64
		for {
			for p := range qn {
				qn[p] = q[p] + t*dir[p]
				params[p] = qn[p] / op.scales[p]
			}
			c = op.eval(params)
			if !math.IsNaN(c) && c <= op.cost+1e-4*t*slope {
				break
			}
			t *= 0.5
			if t*dn < minStep {
				for p := range params {
					params[p] = q[p] / op.scales[p]
				}
				op.eval(params)
				return it, "line search below minimum step", nil
			}
		}
		op.scaledGrad(gn)
		s, y := make([]float64, np), make([]float64, np)
		for p := range s {
			s[p], y[p] = qn[p]-q[p], gn[p]-g[p]
		}
		if sy := dot(s, y); sy > 1e-12 {
			if len(ss) == mem {
				ss, ys, rho = ss[1:], ys[1:], rho[1:]
			}
			ss, ys, rho = append(ss, s), append(ys, y), append(rho, 1/sy)
		}
		moved := t * dn
		prevCost := op.cost
		copy(q, qn)
		copy(g, gn)
		op.cost = c
		op.report(it, moved)
		if len(ss) > 0 && (moved < minStep || prevCost-c <= 1e-12*math.Abs(prevCost)) {
			return it + 1, "converged", nil
		}
	}
	return op.o.MaxIterations, "maximum iterations", nil
}

func axpy(a float64, x, y []float64) {
	for i := range y {
		y[i] += a * x[i]
	}
}

func scale(a float64, x []float64) {
	for i := range x {
		x[i] *= a
	}
}
