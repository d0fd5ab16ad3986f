package register

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/metasurv/metasurv/volume"
)

// Init selects the starting transform of Register.
type Init int

const (
	// InitCenters aligns the geometric centres of the two image grids; the
	// zero value.
	InitCenters Init = iota
	// InitMoments aligns the intensity centres of mass (weights v − min).
	InitMoments
	// InitIdentity starts from the identity in world space: for images
	// already roughly aligned by their scanner coordinates.
	InitIdentity
)

// Optimizer selects the optimisation method.
type Optimizer int

const (
	// RegularStep is ITK's RegularStepGradientDescentOptimizer: steps of a
	// fixed length along the (scaled) negative gradient, the length
	// multiplied by Relaxation whenever the gradient turns by more than 90°,
	// until it falls below MinStep. Robust; the zero value.
	RegularStep Optimizer = iota
	// LBFGS is limited-memory BFGS (Nocedal 1980) in scaled parameters with
	// a backtracking line search, falling back to RegularStep's last step
	// size rules when the line search fails.
	LBFGS
)

// RotationSearch is an optional exhaustive search over rotations at the
// coarsest level, before the optimiser, for misalignments larger than a
// gradient method can recover (roughly > 30°). It applies to rigid and
// similarity transforms; affine registrations ignore it (start them from a
// rigid result through Options.Initial instead).
type RotationSearch struct {
	// MaxAngle is the largest angle tried about each axis, radians; 0
	// disables the search.
	MaxAngle float64
	// Steps is the number of angles on each side of 0 per axis; 0 means 2.
	Steps int
}

// Progress reports one optimiser iteration.
type Progress struct {
	Level, Levels int     // 0-based level and number of levels
	Iteration     int     // within the level
	Cost          float64 // metric cost at the current parameters
	Step          float64 // current step length, mm
}

// Options configures Register. The zero value is a rigid Mattes-MI
// registration on a 4, 2, 1 pyramid with centres initialisation.
type Options struct {
	Kind Kind // transform family; default rigid
	// Metric, Bins, Interp, Mask and Sampling are as in MetricOptions.
	Metric   Metric
	Bins     int
	Interp   volume.Interp
	Mask     *volume.Mask
	Sampling Sampling
	Init     Init
	// Initial, if non-nil, is the starting fixed→moving matrix; it
	// overrides Init (its linear part must suit Kind).
	Initial  *volume.Affine
	Rotation RotationSearch
	// Starts is the number of further starting points tried when the
	// first result is suspect (see Check and multistart.go): 0 means
	// DefaultStarts, negative disables the retry.
	Starts int
	// Shrink lists the pyramid's shrink factors, coarse to fine; default
	// {4, 2, 1}.
	Shrink []int
	// Sigmas are the Gaussian smoothing sigmas in voxels of the original
	// images per level; default shrink/2 (elastix's schedule) except 0 at
	// shrink 1 (ANTs's).
	Sigmas    []float64
	Optimizer Optimizer
	// MaxIterations per level; default 200.
	MaxIterations int
	// MaxStep and MinStep are the first and the smallest step lengths of
	// the finest level in mm of displacement; coarser levels scale both by
	// their shrink factor. Defaults 1 and 0.002.
	MaxStep, MinStep float64
	// Relaxation multiplies the step length when the gradient reverses;
	// default 0.5.
	Relaxation float64
	// Progress, if set, is called after every iteration.
	Progress func(Progress)
}

// LevelReport describes the optimisation at one pyramid level.
type LevelReport struct {
	Shrink      int
	Sigma       float64 // voxels of the original image
	Samples     int
	Iterations  int
	InitialCost float64
	FinalCost   float64
	Stop        string // why the level ended
	Duration    time.Duration
}

// Result is the outcome of Register.
type Result struct {
	// Transform is the optimised parametric transform, fixed world →
	// moving world, about the centre of rotation used.
	Transform Transform
	// Matrix is Transform.Matrix(): resample the moving image onto the
	// fixed grid with Resample(moving, GridOf(fixed), Matrix, …).
	Matrix   volume.Affine
	Cost     float64 // final cost at the finest level
	Levels   []LevelReport
	Duration time.Duration
	// Check is Register's verdict on the result: whether it is suspect,
	// and why.
	Check Check
}

func (o *Options) metricOptions() MetricOptions {
	return MetricOptions{Metric: o.Metric, Bins: o.Bins, Interp: o.Interp, Mask: o.Mask, Sampling: o.Sampling}
}

// maxRotationSteps bounds RotationSearch.Steps: the search costs
// (2·Steps+1)³ metric evaluations.
const maxRotationSteps = 32

// checkFinite reports the first of the option values (named by names)
// that is NaN or infinite.
func checkFinite(names []string, vals ...float64) error {
	for i, x := range vals {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %s is %g, want a finite number", ErrInput, names[i], x)
		}
	}
	return nil
}

func (o *Options) defaults() error {
	if o.Kind < KindRigid || o.Kind > KindAffine {
		return fmt.Errorf("%w: unknown transform kind %d", ErrInput, int(o.Kind))
	}
	if len(o.Shrink) == 0 {
		o.Shrink = []int{4, 2, 1}
	}
	for _, s := range o.Shrink {
		if s < 1 {
			return fmt.Errorf("%w: shrink factor %d, want ≥ 1", ErrInput, s)
		}
	}
	if len(o.Sigmas) == 0 {
		o.Sigmas = make([]float64, len(o.Shrink))
		for i, s := range o.Shrink {
			if s > 1 {
				o.Sigmas[i] = float64(s) / 2
			}
		}
	}
	if len(o.Sigmas) != len(o.Shrink) {
		return fmt.Errorf("%w: %d sigmas for %d shrink factors", ErrInput, len(o.Sigmas), len(o.Shrink))
	}
	for _, s := range o.Sigmas {
		if !(s >= 0) || math.IsInf(s, 1) {
			return fmt.Errorf("%w: smoothing sigma %g, want finite and ≥ 0", ErrInput, s)
		}
	}
	if err := checkFinite([]string{"MaxStep", "MinStep", "Relaxation", "Rotation.MaxAngle"},
		o.MaxStep, o.MinStep, o.Relaxation, o.Rotation.MaxAngle); err != nil {
		return err
	}
	if o.Rotation.Steps > maxRotationSteps {
		return fmt.Errorf("%w: %d rotation search steps (%d³ evaluations), want at most %d",
			ErrInput, o.Rotation.Steps, 2*o.Rotation.Steps+1, maxRotationSteps)
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 200
	}
	if o.MaxStep <= 0 {
		o.MaxStep = 1
	}
	if o.MinStep <= 0 {
		o.MinStep = 0.002
	}
	if o.Relaxation < 0 || o.Relaxation >= 1 {
		return fmt.Errorf("%w: relaxation %g, want 0 < r < 1 (0 takes 0.5)", ErrInput, o.Relaxation)
	}
	if o.Relaxation == 0 {
		o.Relaxation = 0.5
	}
	if o.MinStep > o.MaxStep {
		return fmt.Errorf("%w: MinStep %g exceeds MaxStep %g: the optimiser would stop before its first step", ErrInput, o.MinStep, o.MaxStep)
	}
	if o.Optimizer != RegularStep && o.Optimizer != LBFGS {
		return fmt.Errorf("%w: unknown optimizer %d", ErrInput, int(o.Optimizer))
	}
	return nil
}

// checkScale rejects pyramid levels coarser than the images: a shrink
// factor or a smoothing sigma (in voxels) beyond the longest image axis
// leaves nothing to register, and a huge sigma would ask for a Gaussian
// kernel larger than memory.
func (o *Options) checkScale(fixed, moving *volume.Volume) error {
	longest := max(fixed.Dims[0], fixed.Dims[1], fixed.Dims[2], moving.Dims[0], moving.Dims[1], moving.Dims[2])
	for l, s := range o.Shrink {
		if s > longest || o.Sigmas[l] > float64(longest) {
			return fmt.Errorf("%w: level %d has shrink %d and sigma %g voxels, beyond the longest image axis (%d voxels)",
				ErrInput, l, s, o.Sigmas[l], longest)
		}
	}
	return nil
}

// Register finds the transform of kind opts.Kind that best aligns moving
// to fixed: the returned matrix maps fixed world points to moving world
// points. The images may have any grids, orientations and spacings; only
// their world coordinates matter. It runs a Gaussian pyramid coarse to fine,
// optimising the metric at each level from the previous level's result,
// and returns ctx.Err() (wrapped) if cancelled. Equal inputs and seed give
// bitwise equal results.
func Register(ctx context.Context, fixed, moving *volume.Volume, opts Options) (Result, error) {
	start := time.Now()
	if err := checkPair(fixed, moving, opts.Mask); err != nil {
		return Result{}, err
	}
	if err := opts.defaults(); err != nil {
		return Result{}, err
	}
	if err := opts.checkScale(fixed, moving); err != nil {
		return Result{}, err
	}
	t, err := initialTransform(fixed, moving, opts)
	if err != nil {
		return Result{}, err
	}
	if err := checkContrast("fixed", fixed, opts.Mask); err != nil {
		return Result{}, err
	}
	if err := checkContrast("moving", moving, nil); err != nil {
		return Result{}, err
	}
	res, err := registerChecked(ctx, fixed, moving, t, opts)
	res.Duration = time.Since(start)
	return res, err
}

// pyramid optimises t from its current value through the levels from
// level first on, and returns the finest level's evaluator.
func pyramid(ctx context.Context, fixed, moving *volume.Volume, t *Transform, opts Options, first int, res *Result) (*evaluator, error) {
	var e *evaluator
	for l := first; l < len(opts.Shrink); l++ {
		s := opts.Shrink[l]
		if err := ctx.Err(); err != nil {
			return e, fmt.Errorf("register: cancelled at level %d: %w", l, err)
		}
		lr, le, err := runLevel(ctx, fixed, moving, t, opts, l)
		res.Levels = append(res.Levels, lr)
		if err != nil {
			return e, fmt.Errorf("register: level %d (shrink %d): %w", l, s, err)
		}
		e = le
		res.Cost = lr.FinalCost
	}
	res.Transform = *t
	res.Matrix = t.Matrix()
	return e, nil
}

// runLevel builds the images of pyramid level l and optimises t on them.
func runLevel(ctx context.Context, fixed, moving *volume.Volume, t *Transform, o Options, l int) (LevelReport, *evaluator, error) {
	start := time.Now()
	s, sigma := o.Shrink[l], o.Sigmas[l]
	lr := LevelReport{Shrink: s, Sigma: sigma}
	fl, ml, mask := levelImages(fixed, moving, o.Mask, o, l)
	if err := ctx.Err(); err != nil {
		return lr, nil, fmt.Errorf("cancelled: %w", err)
	}
	e, err := newEvaluator(fl, ml, mask, o.metricOptions(), o.Sampling.Seed+uint64(l))
	if err != nil {
		return lr, nil, err
	}
	lr.Samples = len(e.pts)
	if p, ok := thickAxis(moving); ok {
		e.applyProfile(fl, ml, p, *t)
	}
	if l == 0 && o.Rotation.MaxAngle > 0 && o.Kind != KindAffine {
		if err := rotationSearch(ctx, e, t, o.Rotation); err != nil {
			return lr, nil, err
		}
	}
	opt := newOptimizer(e, t, o, l)
	lr.InitialCost = opt.cost
	if math.IsNaN(opt.cost) {
		return lr, nil, noOverlap(fl, ml)
	}
	lr.Iterations, lr.Stop, err = opt.run(ctx)
	lr.FinalCost = opt.cost
	lr.Duration = time.Since(start)
	return lr, e, err
}

// initialTransform returns the starting transform about the fixed centre.
func initialTransform(fixed, moving *volume.Volume, o Options) (Transform, error) {
	cf, cm := gridCenter(fixed), gridCenter(moving)
	if o.Init == InitMoments {
		cf, cm = centerOfMass(fixed), centerOfMass(moving)
	}
	t := Identity(o.Kind, cf)
	switch {
	case o.Initial != nil:
		if err := checkMatrix(*o.Initial); err != nil {
			return t, err
		}
		return fromMatrix(*o.Initial, o.Kind, cf)
	case o.Init == InitIdentity:
	case o.Init == InitCenters || o.Init == InitMoments:
		ti := o.Kind.translationIndex()
		for a := 0; a < 3; a++ {
			t.Params[ti+a] = cm[a] - cf[a]
		}
	default:
		return t, fmt.Errorf("%w: unknown initialisation %d", ErrInput, int(o.Init))
	}
	return t, nil
}

// fromMatrix converts a starting matrix to the parametric kind.
func fromMatrix(m volume.Affine, kind Kind, c [3]float64) (Transform, error) {
	switch kind {
	case KindAffine:
		if _, err := m.Inverse(); err != nil {
			return Transform{}, fmt.Errorf("%w: initial matrix: %w", ErrInput, err)
		}
		return AffineFromMatrix(m, c), nil
	case KindRigid:
		return RigidFromMatrix(m, c, RigidOptions{Tol: 1e-4})
	}
	// Similarity: factor out the isotropic scale.
	var l mat3
	for r := 0; r < 3; r++ {
		copy(l[r][:], m[r][:3])
	}
	det := l[0][0]*(l[1][1]*l[2][2]-l[1][2]*l[2][1]) - l[0][1]*(l[1][0]*l[2][2]-l[1][2]*l[2][0]) + l[0][2]*(l[1][0]*l[2][1]-l[1][1]*l[2][0])
	if det <= 0 {
		return Transform{}, fmt.Errorf("%w: initial matrix is not a similarity (det %g)", ErrInput, det)
	}
	sc := math.Cbrt(det)
	u := m
	for r := 0; r < 3; r++ {
		for k := 0; k < 3; k++ {
			u[r][k] /= sc
		}
	}
	rt, err := RigidFromMatrix(u, c, RigidOptions{Tol: 1e-4})
	if err != nil {
		return Transform{}, err
	}
	t := Identity(KindSimilarity, c)
	copy(t.Params, rt.Params[:3])
	t.Params[6] = sc
	t.setTranslation(m, c)
	return t, nil
}

// gridCenter returns the world position of the centre of the voxel grid.
func gridCenter(v *volume.Volume) [3]float64 {
	return v.Affine.Apply([3]float64{float64(v.Dims[0]-1) / 2, float64(v.Dims[1]-1) / 2, float64(v.Dims[2]-1) / 2})
}

// centerOfMass returns the intensity-weighted centre (weights v − min), or
// the grid centre for a constant image.
func centerOfMass(v *volume.Volume) [3]float64 {
	lo, _ := minMax32(v.Data)
	var s, si, sj, sk float64
	nx, ny := v.Dims[0], v.Dims[1]
	for idx, x := range v.Data {
		w := float64(x) - lo
		if !(w > 0) || math.IsInf(w, 1) { // also skips NaN
			continue
		}
		s += w
		si += w * float64(idx%nx)
		sj += w * float64((idx/nx)%ny)
		sk += w * float64(idx/(nx*ny))
	}
	if s == 0 {
		return gridCenter(v)
	}
	return v.Affine.Apply([3]float64{si / s, sj / s, sk / s})
}

// rotationSearch tries rotations about the centre on a grid of Euler
// angles around the current ones (keeping the image of the centre fixed)
// and keeps the one with the lowest cost.
func rotationSearch(ctx context.Context, e *evaluator, t *Transform, rs RotationSearch) error {
	n := rs.Steps
	if n <= 0 {
		n = 2
	}
	best := t.Clone()
	bestCost, _ := e.evaluate(t.Matrix(), false)
	base := t.Clone()
	cand := t.Clone()
	for a := -n; a <= n; a++ {
		for b := -n; b <= n; b++ {
			for c := -n; c <= n; c++ {
				if err := ctx.Err(); err != nil { // (2n+1)³ evaluations: seconds at full resolution
					return fmt.Errorf("cancelled during the rotation search: %w", err)
				}
				d := rs.MaxAngle / float64(n)
				cand.Params[0] = base.Params[0] + float64(a)*d
				cand.Params[1] = base.Params[1] + float64(b)*d
				cand.Params[2] = base.Params[2] + float64(c)*d
				cost, _ := e.evaluate(cand.Matrix(), false)
				if cost < bestCost || math.IsNaN(bestCost) && !math.IsNaN(cost) {
					bestCost = cost
					copy(best.Params, cand.Params)
				}
			}
		}
	}
	copy(t.Params, best.Params)
	return nil
}
