package register

import (
	"context"
	"math"
	"sort"

	"github.com/metasurv/metasurv/volume"
)

// DefaultStarts is the number of further starting points Register tries
// when its first result is suspect.
const DefaultStarts = 20

// startAngle is the rotation (radians) of the rotated starting points:
// beyond what a gradient method recovers from reliably at the coarsest
// level, within what a patient's head turns.
const startAngle = 20 * math.Pi / 180

// registerChecked runs the pyramid from t0, checks the result and, when
// it is suspect, tries other starting points: the three initialisations
// (grid centres, identity, centres of mass) each unrotated and rotated by
// ±20° about each axis. Each start is optimised on the coarsest level
// only (one evaluator, so the costs compare); the two best continue
// through the finer levels, and the most trustworthy of all results is
// returned (not suspect first, then the lowest cost). A partial field of
// view moves a grid's centre away from the head's, which is the usual way
// the default start lands in a wrong optimum.
func registerChecked(ctx context.Context, fixed, moving *volume.Volume, t0 Transform, opts Options) (Result, error) {
	t := t0.Clone()
	var res Result
	e, err := pyramid(ctx, fixed, moving, &t, opts, 0, &res)
	if err != nil {
		return res, err
	}
	res.Check = checkResult(e, t, t0, gridCenter(fixed))
	n := opts.Starts
	if n == 0 {
		n = DefaultStarts
	}
	if !res.Check.Suspect || n < 0 || opts.Kind == KindAffine || opts.Initial != nil {
		return res, nil
	}
	starts := candidateStarts(fixed, moving, opts, n)
	e0, err := levelEvaluator(fixed, moving, opts, 0, t0)
	if err != nil {
		return res, nil
	}
	type scored struct {
		t    Transform
		cost float64
	}
	var runs []scored
	for _, s := range starts {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		st := s.Clone()
		op := newOptimizer(e0, &st, opts, 0)
		if math.IsNaN(op.cost) {
			continue
		}
		if _, _, err := op.run(ctx); err != nil {
			return res, err
		}
		runs = append(runs, scored{st.Clone(), op.cost})
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].cost < runs[j].cost })
	tried := 1 + len(starts)
	for i := 0; i < min(2, len(runs)); i++ {
		st := runs[i].t
		var r Result
		ef, err := pyramid(ctx, fixed, moving, &st, opts, 1, &r)
		if err != nil {
			if ctx.Err() != nil {
				return res, err
			}
			continue
		}
		if len(opts.Shrink) == 1 {
			ef, r.Cost, r.Transform, r.Matrix = e0, runs[i].cost, st, st.Matrix()
		}
		r.Check = checkResult(ef, st, t0, gridCenter(fixed))
		if better(r.Check, r.Cost, res.Check, res.Cost) {
			r.Levels = append(res.Levels, r.Levels...)
			res = r
		}
	}
	res.Check.Starts = tried
	return res, nil
}

// candidateStarts returns up to n starting transforms other than the
// default one.
func candidateStarts(fixed, moving *volume.Volume, opts Options, n int) []Transform {
	var out []Transform
	for _, in := range []Init{InitCenters, InitIdentity, InitMoments} {
		o := opts
		o.Init = in
		base, err := initialTransform(fixed, moving, o)
		if err != nil {
			continue
		}
		if in != opts.Init {
			out = append(out, base)
		}
		for ax := 0; ax < 3; ax++ {
			for _, sg := range []float64{-1, 1} {
				t := base.Clone()
				t.Params[ax] += sg * startAngle
				out = append(out, t)
			}
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// levelEvaluator builds the evaluator of pyramid level l, as runLevel
// does.
func levelEvaluator(fixed, moving *volume.Volume, o Options, l int, t Transform) (*evaluator, error) {
	fl, ml, mask := levelImages(fixed, moving, o.Mask, o, l)
	e, err := newEvaluator(fl, ml, mask, o.metricOptions(), o.Sampling.Seed+uint64(l))
	if err == nil {
		if p, ok := thickAxis(moving); ok {
			e.applyProfile(fl, ml, p, t)
		}
	}
	return e, err
}
