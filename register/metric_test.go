package register

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// smoothVolume returns a random smooth image: a sum of 12 Gaussian blobs
// on a grid with a non-trivial affine.
func smoothVolume(r *rand.Rand, dims [3]int) *volume.Volume {
	return blobVolume(r, dims, 12, 2, 5)
}

// blobVolume returns n random Gaussian blobs of widths in [smin, smax) mm
// within 6 mm of the centre of a sheared grid centred on the origin.
func blobVolume(r *rand.Rand, dims [3]int, n int, smin, smax float64) *volume.Volume {
	a := volume.Affine{{1.2, 0.1, 0, 0}, {-0.1, 1.1, 0, 0}, {0, 0, 1.3, 0}, {0, 0, 0, 1}}
	// Centre the grid on the world origin.
	c := a.Apply([3]float64{float64(dims[0]-1) / 2, float64(dims[1]-1) / 2, float64(dims[2]-1) / 2})
	for i := 0; i < 3; i++ {
		a[i][3] = -c[i]
	}
	v, _ := volume.New(dims, a)
	type blob struct {
		c    [3]float64
		w, s float64
	}
	bs := make([]blob, n)
	for i := range bs {
		bs[i] = blob{[3]float64{r.Float64()*12 - 6, r.Float64()*12 - 6, r.Float64()*12 - 6}, r.Float64()*100 - 30, smin + r.Float64()*(smax-smin)}
	}
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				p := a.Apply([3]float64{float64(i), float64(j), float64(k)})
				var s float64
				for _, b := range bs {
					d := (p[0]-b.c[0])*(p[0]-b.c[0]) + (p[1]-b.c[1])*(p[1]-b.c[1]) + (p[2]-b.c[2])*(p[2]-b.c[2])
					s += b.w * math.Exp(-d/(2*b.s*b.s))
				}
				v.Set(i, j, k, float32(s))
			}
		}
	}
	return v
}

// TestMetricGradients compares the analytic gradient of every metric, for
// every transform kind, with central finite differences of the cost.
func TestMetricGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	fixed := smoothVolume(r, [3]int{30, 32, 28})
	moving := smoothVolume(rand.New(rand.NewPCG(9, 9)), [3]int{34, 30, 26})
	for i := range moving.Data { // a different, nonlinear contrast
		moving.Data[i] = 50 + moving.Data[i] + 0.01*moving.Data[i]*moving.Data[i]
	}
	for _, m := range []Metric{MattesMI, NMI, NCC, MSE} {
		for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
			tr := randomTransform(r, kind)
			tr.Center = [3]float64{1, -2, 3}
			for p := range tr.Params {
				if p >= kind.translationIndex() && p < kind.translationIndex()+3 {
					tr.Params[p] = r.NormFloat64()
				} else {
					tr.Params[p] = Identity(kind, tr.Center).Params[p] + 0.05*r.NormFloat64()
				}
			}
			o := MetricOptions{Metric: m, Interp: volume.BSpline3, Mask: centralMask(fixed, 8), Sampling: Sampling{Count: 3000, Seed: 4}}
			_, g, err := EvaluateMetric(fixed, moving, tr, o)
			if err != nil {
				t.Fatal(err)
			}
			for p := range tr.Params {
				h := 1e-4
				if p >= kind.translationIndex() && p < kind.translationIndex()+3 {
					h = 1e-3
				}
				tp, tm := tr.Clone(), tr.Clone()
				tp.Params[p] += h
				tm.Params[p] -= h
				cp, _, err1 := EvaluateMetric(fixed, moving, tp, o)
				cm, _, err2 := EvaluateMetric(fixed, moving, tm, o)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				fd := (cp - cm) / (2 * h)
				if math.Abs(fd-g[p]) > 5e-3*math.Abs(fd)+1e-3*maxAbs(g) {
					t.Errorf("%s %s: ∂cost/∂p%d = %.6g, finite difference %.6g", m, kind, p, g[p], fd)
				}
			}
		}
	}
}

// centralMask returns a mask of the central box of v that leaves a margin
// of m voxels, so that sample points stay inside a moving image of about
// the same extent under small transforms: the cost then depends smoothly
// on the transform (points leaving the overlap make it jump).
func centralMask(v *volume.Volume, m int) *volume.Mask {
	mask, _ := volume.NewMask(v.Dims)
	for k := m; k < v.Dims[2]-m; k++ {
		for j := m; j < v.Dims[1]-m; j++ {
			for i := m; i < v.Dims[0]-m; i++ {
				mask.Data[v.Index(i, j, k)] = true
			}
		}
	}
	return mask
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// TestMetricOptimum checks that each metric is lowest at the true
// alignment of an image with a copy of itself under a contrast change
// (inverted for the information-theoretic ones).
func TestMetricOptimum(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	fixed := smoothVolume(r, [3]int{30, 30, 30})
	for _, m := range []Metric{MattesMI, NMI, NCC, MSE} {
		moving := fixed.Clone()
		if m == MattesMI || m == NMI {
			for i, v := range moving.Data {
				moving.Data[i] = 200 - 2*v
			}
		}
		o := MetricOptions{Metric: m, Sampling: Sampling{All: true}, Mask: centralMask(fixed, 5)}
		id := Identity(KindRigid, [3]float64{})
		c0, _, err := EvaluateMetric(fixed, moving, id, o)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < 6; p++ {
			for _, d := range []float64{-0.5, 0.5} {
				tr := id.Clone()
				step := d
				if p < 3 {
					step = d / 20
				}
				tr.Params[p] = step
				c, _, err := EvaluateMetric(fixed, moving, tr, o)
				if err != nil {
					t.Fatal(err)
				}
				if c <= c0 {
					t.Errorf("%s: cost %.6g at p%d=%g not above %.6g at the optimum", m, c, p, step, c0)
				}
			}
		}
	}
}

func TestEvaluateMetricErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	v := smoothVolume(r, [3]int{8, 8, 8})
	far := NewRigid([3]float64{}, [3]float64{1e4, 0, 0}, [3]float64{})
	if _, _, err := EvaluateMetric(v, v, far, MetricOptions{}); !errors.Is(err, ErrNoOverlap) {
		t.Errorf("no overlap: got %v, want ErrNoOverlap", err)
	}
	if _, _, err := EvaluateMetric(v, v, Identity(KindRigid, [3]float64{}), MetricOptions{Interp: volume.Nearest}); !errors.Is(err, ErrInput) {
		t.Errorf("nearest metric interpolation: got %v, want ErrInput", err)
	}
	if _, _, err := EvaluateMetric(v, v, Transform{Kind: KindRigid, Params: []float64{1}}, MetricOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("short parameters: got %v, want ErrInput", err)
	}
	mask, _ := volume.NewMask([3]int{8, 8, 8})
	if _, _, err := EvaluateMetric(v, v, Identity(KindRigid, [3]float64{}), MetricOptions{Mask: mask}); !errors.Is(err, ErrInput) {
		t.Errorf("empty mask: got %v, want ErrInput", err)
	}
	if _, _, err := EvaluateMetric(v, &volume.Volume{Dims: [3]int{2, 2, 2}}, Identity(KindRigid, [3]float64{}), MetricOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("inconsistent volume: got %v, want ErrInput", err)
	}
}

func TestRegisterDeterministicAndCancellable(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	fixed := smoothVolume(r, [3]int{32, 32, 32})
	truth := NewRigid([3]float64{0.05, -0.04, 0.06}, [3]float64{1.5, -1, 2}, gridCenter(fixed))
	g, _ := truth.Matrix().Inverse()
	moving, err := Resample(fixed, GridOf(fixed), g, volume.BSpline3, 0)
	if err != nil {
		t.Fatal(err)
	}
	mask, _ := volume.NewMask(fixed.Dims)
	for i := range mask.Data {
		mask.Data[i] = true
	}
	for _, opt := range []Optimizer{RegularStep, LBFGS} {
		o := Options{Sampling: Sampling{Count: 5000, Seed: 3}, Shrink: []int{2, 1}, Optimizer: opt, Mask: mask}
		var calls int
		o.Progress = func(Progress) { calls++ }
		a, err := Register(context.Background(), fixed, moving, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Register(context.Background(), fixed, moving, o)
		if err != nil {
			t.Fatal(err)
		}
		restore := parallel.SetMaxWorkers(1)
		c, err := Register(context.Background(), fixed, moving, o)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if a.Matrix != b.Matrix || a.Matrix != c.Matrix {
			t.Errorf("optimizer %d: runs with one seed differ (two threads twice, one thread): %v, %v, %v", opt, a.Matrix, b.Matrix, c.Matrix)
		}
		if calls == 0 {
			t.Error("progress was never reported")
		}
		if d := a.Matrix.MaxDifference(truth.Matrix()); d > 0.05 {
			t.Errorf("optimizer %d: recovered matrix off by %g", opt, d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Register(ctx, fixed, moving, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestInitialisationAndRotationSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	fixed := smoothVolume(r, [3]int{32, 32, 32})
	// A 40° rotation about z is beyond gradient descent from the identity
	// on these blobs; the rotation search must find the basin.
	truth := NewRigid([3]float64{0, 0, 40 * math.Pi / 180}, [3]float64{2, 0, -1}, gridCenter(fixed))
	g, _ := truth.Matrix().Inverse()
	moving, _ := Resample(fixed, GridOf(fixed), g, volume.BSpline3, 0)
	o := Options{Metric: NCC, Sampling: Sampling{Count: 8000, Seed: 1}, Shrink: []int{2, 1},
		Rotation: RotationSearch{MaxAngle: 60 * math.Pi / 180, Steps: 3}, Init: InitMoments}
	res, err := Register(context.Background(), fixed, moving, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Matrix.MaxDifference(truth.Matrix()); d > 0.05 {
		t.Errorf("with rotation search: matrix off by %g", d)
	}
	init := truth.Matrix()
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		o = Options{Kind: kind, Metric: MSE, Initial: &init, Shrink: []int{1}, Sampling: Sampling{Count: 4000},
			Mask: centralMask(fixed, 5), MaxStep: 0.2}
		res, err = Register(context.Background(), fixed, moving, o)
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Matrix.MaxDifference(truth.Matrix()); d > 0.02 {
			t.Errorf("%s from the true initial matrix: drifted by %g", kind, d)
		}
	}
	bad := init
	bad[0][0] = 2
	if _, err := Register(context.Background(), fixed, moving, Options{Initial: &bad}); !errors.Is(err, ErrInput) && err == nil {
		t.Error("a non-rigid initial matrix was accepted for a rigid registration")
	}
}

// TestRegisterAcrossGridsAndKinds registers a moving image stored on a
// different grid (flipped and permuted axes, other spacing) with rigid,
// similarity and affine transforms and checks each recovers its truth.
func TestRegisterAcrossGridsAndKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	fixed := blobVolume(r, [3]int{36, 36, 36}, 60, 1.2, 2.5)
	c := gridCenter(fixed)
	// Moving grid: axes permuted and flipped (LPI-like), 1.4 mm voxels.
	ma := volume.Affine{{0, -1.4, 0, 24}, {1.4, 0, 0, -24}, {0, 0, -1.4, 24}, {0, 0, 0, 1}}
	rigid := NewRigid([3]float64{0.06, 0.04, -0.05}, [3]float64{1, -1.5, 0.5}, c)
	sim := Identity(KindSimilarity, c)
	copy(sim.Params, []float64{0.03, -0.02, 0.05, 0.5, 1, -0.5, 1.06})
	aff := AffineFromMatrix(volume.Affine{{1.05, 0.03, 0, 1}, {-0.02, 0.96, 0.04, -0.5}, {0.01, 0, 1.03, 0.8}, {0, 0, 0, 1}}, c)
	for _, truth := range []Transform{rigid, sim, aff} {
		// moving(truth·x) = fixed(x): moving(y) = fixed(truth⁻¹·y).
		inv, _ := truth.Matrix().Inverse()
		moving, err := Resample(fixed, Grid{Dims: [3]int{34, 34, 34}, Affine: ma}, inv, volume.BSpline3, 0)
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Kind: truth.Kind, Metric: NCC, Mask: centralMask(fixed, 6), Shrink: []int{2, 1},
			Sampling: Sampling{Count: 12000, Seed: 2}, Init: InitIdentity}
		res, err := Register(context.Background(), fixed, moving, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range res.Levels {
			t.Logf("%s shrink %d: %d it, %g -> %g, %s", truth.Kind, l.Shrink, l.Iterations, l.InitialCost, l.FinalCost, l.Stop)
		}
		if d := res.Matrix.MaxDifference(truth.Matrix()); d > 0.02 {
			t.Errorf("%s: matrix off by %g\n got %v\nwant %v", truth.Kind, d, res.Matrix, truth.Matrix())
		}
		o.Optimizer = LBFGS
		res, err = Register(context.Background(), fixed, moving, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range res.Levels {
			t.Logf("LBFGS %s shrink %d: %d it, %g -> %g, %s", truth.Kind, l.Shrink, l.Iterations, l.InitialCost, l.FinalCost, l.Stop)
		}
		if d := res.Matrix.MaxDifference(truth.Matrix()); d > 0.02 {
			t.Errorf("LBFGS %s: matrix off by %g", truth.Kind, d)
		}
	}
}

// TestNonFiniteVoxels checks that NaN and infinite voxels (possible in
// float NIfTI files) are ignored rather than corrupting the histograms.
func TestNonFiniteVoxels(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	fixed := blobVolume(r, [3]int{32, 32, 32}, 40, 1.5, 3)
	truth := NewRigid([3]float64{0.04, 0, -0.03}, [3]float64{1, 0.5, -1}, gridCenter(fixed))
	inv, _ := truth.Matrix().Inverse()
	moving, _ := Resample(fixed, GridOf(fixed), inv, volume.BSpline3, 0)
	for n := 0; n < 200; n++ {
		fixed.Data[r.IntN(len(fixed.Data))] = float32(math.NaN())
		moving.Data[r.IntN(len(moving.Data))] = float32(math.Inf(1 - 2*r.IntN(2)))
	}
	for _, m := range []Metric{MattesMI, NMI, NCC, MSE} {
		res, err := Register(context.Background(), fixed, moving, Options{Metric: m, Shrink: []int{2, 1},
			Sampling: Sampling{Count: 8000}, Mask: centralMask(fixed, 4), Init: InitMoments})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if d := res.Matrix.MaxDifference(truth.Matrix()); !(d < 0.1) {
			t.Errorf("%s with non-finite voxels: matrix off by %g", m, d)
		}
	}
}
