package register

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// Sampling chooses the fixed-image points at which a metric is evaluated.
// The points are drawn once per resolution level and kept for all its
// iterations, so the cost is a smooth, deterministic function of the
// transform (a new draw per iteration, as elastix does, would make it
// noisy).
type Sampling struct {
	// All evaluates at every voxel centre (inside the mask). It keeps
	// about 70 bytes per point, so at full resolution a mask (or random
	// sampling) is advisable for large images: ch2 unmasked needs 0.5 GB.
	All bool
	// Count is the number of random points per level when All is false;
	// 0 means DefaultSamples. When it reaches the number of candidate
	// voxels every voxel is used.
	Count int
	// Seed seeds the random draw: equal seeds give bitwise equal results.
	Seed uint64
}

// DefaultSamples is the number of random sample points per level when
// Sampling.Count is 0.
const DefaultSamples = 40000

// evaluator computes a metric and its gradient for one pair of images and
// one set of sample points, reusing its buffers across evaluations.
type evaluator struct {
	pts    [][3]float64  // sample points, fixed world mm
	fv     []float64     // fixed values at the points
	mov    *volume.Field // the moving image, prepared for interpolation
	movInv volume.Affine // moving world → moving voxel
	st     metricState

	mv      []float64
	gu      [][3]float64
	ok      []bool
	partial [][12]float64
}

// MetricOptions configures a metric evaluation.
type MetricOptions struct {
	Metric Metric
	// Bins is the number of histogram bins of MattesMI and NMI; 0 means 50
	// (ITK's and elastix's default; Greedy uses 32).
	Bins int
	// Interp evaluates the moving image between voxels: volume.Linear (default)
	// or volume.BSpline3. volume.Nearest has no gradient and is rejected.
	Interp volume.Interp
	// Mask restricts the sample points to the fixed voxels it marks; nil
	// uses the whole fixed image. It must lie on the fixed grid (same Dims).
	Mask     *volume.Mask
	Sampling Sampling
}

// maxBins bounds MetricOptions.Bins: the joint histogram holds Bins²
// values (8 MB at the bound), far more bins than any sample count fills.
const maxBins = 1024

func (o MetricOptions) bins() int {
	if o.Bins <= 0 {
		return 50
	}
	return o.Bins
}

// newEvaluator draws the sample points on fixed (inside mask) and prepares
// the moving image.
func newEvaluator(fixed, moving *volume.Volume, mask *volume.Mask, o MetricOptions, seed uint64) (*evaluator, error) {
	if o.Metric < MattesMI || o.Metric > MSE {
		return nil, fmt.Errorf("%w: unknown metric %d", ErrInput, int(o.Metric))
	}
	if o.Interp != volume.Linear && o.Interp != volume.BSpline3 {
		return nil, fmt.Errorf("%w: metric interpolation must be linear or bspline3, got %s", ErrInput, o.Interp)
	}
	if o.bins() < 2*histPad+2 || o.bins() > maxBins {
		return nil, fmt.Errorf("%w: %d histogram bins, want %d to %d", ErrInput, o.Bins, 2*histPad+2, maxBins)
	}
	inv, err := moving.Affine.Inverse()
	if err != nil {
		return nil, fmt.Errorf("%w: moving affine: %w", ErrInput, err)
	}
	e := &evaluator{movInv: inv, st: metricState{kind: o.Metric, bins: o.bins()}}
	if err := e.drawSamples(fixed, mask, o.Sampling, seed); err != nil {
		return nil, err
	}
	if e.mov, err = volume.NewField(moving, o.Interp); err != nil {
		return nil, fmt.Errorf("%w: moving image: %w", ErrInput, err)
	}
	e.st.setupBinning(e.fv, moving.Data)
	n := len(e.pts)
	e.mv, e.gu, e.ok = make([]float64, n), make([][3]float64, n), make([]bool, n)
	chunks, _ := chunking(n)
	e.partial = make([][12]float64, chunks)
	return e, nil
}

// drawSamples chooses the sample points: every candidate voxel, or a
// seeded random subset, each point jittered uniformly within its voxel so
// that the points do not sit on the grid (which would bias the cost
// towards grid-aligned transforms). Points are sorted by voxel index for
// memory locality.
func (e *evaluator) drawSamples(fixed *volume.Volume, mask *volume.Mask, s Sampling, seed uint64) error {
	var cand []int32
	if mask != nil {
		if mask.Dims != fixed.Dims {
			return fmt.Errorf("%w: mask dims %v, want the fixed image's %v", ErrInput, mask.Dims, fixed.Dims)
		}
		for i, v := range mask.Data {
			if v {
				cand = append(cand, int32(i))
			}
		}
		if len(cand) == 0 {
			return fmt.Errorf("%w: the fixed mask is empty", ErrInput)
		}
	}
	total := len(fixed.Data)
	if cand != nil {
		total = len(cand)
	}
	count := s.Count
	if count <= 0 {
		count = DefaultSamples
	}
	all := s.All || count >= total
	var idx []int32
	if all {
		idx = cand
		if idx == nil {
			idx = make([]int32, total)
			for i := range idx {
				idx[i] = int32(i)
			}
		}
	} else {
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		idx = make([]int32, count)
		for i := range idx {
			k := int32(r.IntN(total))
			if cand != nil {
				k = cand[k]
			}
			idx[i] = k
		}
		slices.Sort(idx)
	}
	g, err := volume.NewField(fixed, volume.Linear)
	if err != nil {
		return fmt.Errorf("%w: fixed image: %w", ErrInput, err)
	}
	a := fixed.Affine
	nx, ny := fixed.Dims[0], fixed.Dims[1]
	e.pts = make([][3]float64, len(idx))
	e.fv = make([]float64, len(idx))
	jr := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, 1))
	for n, k := range idx {
		i, j, l := int(k)%nx, (int(k)/nx)%ny, int(k)/(nx*ny)
		u := [3]float64{float64(i), float64(j), float64(l)}
		if !all {
			for ax := range u {
				u[ax] = math.Min(math.Max(u[ax]+jr.Float64()-0.5, 0), float64(fixed.Dims[ax]-1))
			}
			e.fv[n] = g.At(u[0], u[1], u[2])
		} else {
			e.fv[n] = float64(fixed.Data[k])
		}
		e.pts[n] = a.Apply(u)
	}
	drawn := len(e.pts)
	e.dropNonFinite()
	if len(e.pts) < 2 {
		if drawn >= 2 {
			return fmt.Errorf("%w: %d of %d sample points fall on NaN or infinite voxels of the fixed image, need at least 2 finite", ErrNonFinite, drawn-len(e.pts), drawn)
		}
		return fmt.Errorf("%w: %d sample points, need at least 2", ErrInput, len(e.pts))
	}
	return nil
}

// dropNonFinite removes the sample points whose fixed value is NaN or
// infinite.
func (e *evaluator) dropNonFinite() {
	n := 0
	for i, v := range e.fv {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			e.pts[n], e.fv[n] = e.pts[i], v
			n++
		}
	}
	e.pts, e.fv = e.pts[:n], e.fv[:n]
}

// evaluate returns the cost for the world transform m (fixed → moving)
// and, when grad is set, ∂cost/∂m for the top 3×4 entries of m. It returns
// a NaN cost when fewer than 2 points map inside the moving image.
func (e *evaluator) evaluate(m volume.Affine, grad bool) (float64, [3][4]float64) {
	k := e.movInv.Mul(m)
	chunks, size := chunking(len(e.pts))
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			e.sampleChunk(&k, c*size, min((c+1)*size, len(e.pts)), grad)
		}
	})
	cost := e.st.cost(e.fv, e.mv, e.ok)
	var d [3][4]float64
	if !grad || math.IsNaN(cost) {
		return cost, d
	}
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			e.gradChunk(c, c*size, min((c+1)*size, len(e.pts)))
		}
	})
	var du [12]float64
	for c := 0; c < chunks; c++ {
		for i, v := range e.partial[c] {
			du[i] += v
		}
	}
	// ∂m/∂y = A⁻ᵀ ∂m/∂u with A⁻¹ the linear part of movInv.
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			for q := 0; q < 3; q++ {
				d[r][c] += e.movInv[q][r] * du[q*4+c]
			}
		}
	}
	return cost, d
}

func (e *evaluator) sampleChunk(k *volume.Affine, lo, hi int, grad bool) {
	var gu [][3]float64
	if grad {
		gu = e.gu[lo:hi]
	}
	// Non-finite voxels (NaN in a float NIfTI) make a point unusable.
	e.mov.Sample(k, e.pts[lo:hi], e.mv[lo:hi], gu, e.ok[lo:hi])
}

func (e *evaluator) gradChunk(c, lo, hi int) {
	var acc [12]float64
	for i := lo; i < hi; i++ {
		if !e.ok[i] {
			continue
		}
		dc := e.st.deriv(i, e.fv[i], e.mv[i])
		p := &e.pts[i]
		for r := 0; r < 3; r++ {
			g := dc * e.gu[i][r]
			acc[r*4] += g * p[0]
			acc[r*4+1] += g * p[1]
			acc[r*4+2] += g * p[2]
			acc[r*4+3] += g
		}
	}
	e.partial[c] = acc
}

// paramGradient chains ∂cost/∂M through ∂M/∂p.
func paramGradient(d [3][4]float64, dm [][3][4]float64, out []float64) {
	for p := range dm {
		var s float64
		for r := 0; r < 3; r++ {
			for c := 0; c < 4; c++ {
				s += d[r][c] * dm[p][r][c]
			}
		}
		out[p] = s
	}
}

// EvaluateMetric returns the metric cost of moving against fixed under
// the parametric transform t (fixed world → moving world) and its analytic
// gradient with respect to t.Params. It evaluates at full resolution with
// the sampling of o; Register uses the same code on each pyramid level.
func EvaluateMetric(fixed, moving *volume.Volume, t Transform, o MetricOptions) (float64, []float64, error) {
	if err := checkPair(fixed, moving, o.Mask); err != nil {
		return 0, nil, err
	}
	if err := t.check(); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	e, err := newEvaluator(fixed, moving, o.Mask, o, o.Sampling.Seed)
	if err != nil {
		return 0, nil, err
	}
	cost, d := e.evaluate(t.Matrix(), true)
	if math.IsNaN(cost) {
		return cost, nil, noOverlap(fixed, moving)
	}
	g := make([]float64, len(t.Params))
	paramGradient(d, t.Derivatives(), g)
	return cost, g, nil
}

func checkPair(fixed, moving *volume.Volume, mask *volume.Mask) error {
	if err := checkVolume("fixed", fixed); err != nil {
		return err
	}
	if len(fixed.Data) > math.MaxInt32 { // sample points are int32 voxel indices
		return fmt.Errorf("%w: fixed image of %d voxels (at most %d)", ErrInput, len(fixed.Data), math.MaxInt32)
	}
	if err := checkVolume("moving", moving); err != nil {
		return err
	}
	if mask != nil {
		if n, err := volume.NumVoxels(mask.Dims); err != nil || len(mask.Data) != n {
			return fmt.Errorf("%w: mask has %d values for dims %v", ErrInput, len(mask.Data), mask.Dims)
		}
	}
	return nil
}
