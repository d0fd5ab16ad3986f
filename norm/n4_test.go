package norm

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// trueLogField is a smooth log bias field over the head (world mm), of
// amplitude about ±0.3 (a ±35 % shading), like a receive-coil profile.
func trueLogField(p [3]float64) float64 {
	return 0.18*math.Sin(p[1]/80*math.Pi/2) + 0.12*math.Cos((p[2]+0.5*p[0])/100*math.Pi) + 0.05*p[0]/90
}

// biased returns v multiplied by the true field, and that log field.
func biased(v *volume.Volume) (*volume.Volume, []float64) {
	out := v.Clone()
	logf := make([]float64, len(v.Data))
	for k := 0; k < v.Dims[2]; k++ {
		for j := 0; j < v.Dims[1]; j++ {
			for i := 0; i < v.Dims[0]; i++ {
				q := v.Index(i, j, k)
				logf[q] = trueLogField(v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)}))
				out.Data[q] *= float32(math.Exp(logf[q]))
			}
		}
	}
	return out, logf
}

func pearson(x, y []float64) float64 {
	var sx, sy, sxx, syy, sxy float64
	n := float64(len(x))
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		syy += y[i] * y[i]
		sxy += x[i] * y[i]
	}
	return (sxy/n - sx/n*sy/n) / math.Sqrt((sxx/n-sx*sx/n/n)*(syy/n-sy*sy/n/n))
}

func cv(v *volume.Volume, sel []bool) float64 {
	st, _ := volume.Describe(v.Data, flatMask(sel))
	return st.Std / st.Mean
}

// TestN4RecoversKnownField multiplies ch2 by a known smooth field: the
// recovered field must correlate ≥ 0.95 with the truth inside the brain
// (log fields, which N4 estimates up to a constant), and white matter's
// coefficient of variation must drop by at least half.
func TestN4RecoversKnownField(t *testing.T) {
	ch2, err := nifti.Load(fixture.Path(t, "testdata", "nifti", "ch2.nii.gz"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bet, err := nifti.Load(fixture.Path(t, "testdata", "nifti", "ch2bet.nii.gz"), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, logf := biased(ch2)
	mk, _ := volume.NonzeroMask(bet)
	res, err := N4(context.Background(), in, N4Options{Mask: mk})
	if err != nil {
		t.Fatal(err)
	}
	brain := make([]bool, len(bet.Data))
	var est, truth []float64
	for i, x := range bet.Data {
		brain[i] = x > 0
		if brain[i] {
			est = append(est, math.Log(float64(res.Field.Data[i])))
			truth = append(truth, logf[i])
		}
	}
	r := pearson(est, truth)
	// white matter: the brighter Otsu class among the brain voxels of the
	// clean image
	thr := otsuThreshold(bet.Data, brain)
	wm := make([]bool, len(brain))
	for i, x := range bet.Data {
		wm[i] = brain[i] && float64(x) > thr
	}
	before, after, clean := cv(in, wm), cv(res.Corrected, wm), cv(ch2, wm)
	t.Logf("field correlation %.4f; WM CV clean %.4f, biased %.4f, corrected %.4f (drop %.0f %%); iterations %v in %v",
		r, clean, before, after, 100*(1-after/before), res.Iterations, res.Duration)
	if r < 0.95 {
		t.Errorf("recovered log field correlates %.4f with the truth, want ≥ 0.95", r)
	}
	if after > 0.5*before {
		t.Errorf("white-matter CV %.4f → %.4f: dropped less than 50 %%", before, after)
	}
}

func TestN4RejectsBadInput(t *testing.T) {
	v, _ := volume.New([3]int{8, 8, 8}, volume.Identity())
	if _, err := N4(context.Background(), v, N4Options{}); !errors.Is(err, ErrEmptyMask) {
		t.Errorf("all-zero image: %v", err)
	}
	v.Data[3] = float32(math.NaN())
	if _, err := N4(context.Background(), v, N4Options{}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN image: %v", err)
	}
	m, _ := volume.NewMask([3]int{4, 4, 4})
	v.Data[3] = 1
	if _, err := N4(context.Background(), v, N4Options{Mask: m}); !errors.Is(err, volume.ErrShape) {
		t.Errorf("mask of other dims: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range v.Data {
		v.Data[i] = float32(1 + i%5)
	}
	if _, err := N4(ctx, v, N4Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// A constant field times an image is removed up to N4's free constant:
// the corrected image equals the input divided by the field everywhere.
func TestN4FieldIsConsistent(t *testing.T) {
	v, _ := volume.New([3]int{20, 24, 16}, volume.Identity())
	for i := range v.Data {
		v.Data[i] = float32(10 + (i*7)%13)
	}
	res, err := N4(context.Background(), v, N4Options{Iterations: []int{5, 5}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.Data {
		if d := res.Corrected.Data[i]*res.Field.Data[i] - v.Data[i]; math.Abs(float64(d)) > 1e-4*float64(v.Data[i]) {
			t.Fatalf("voxel %d: corrected·field = %g, input %g", i, res.Corrected.Data[i]*res.Field.Data[i], v.Data[i])
		}
		if f := res.Field.Data[i]; !(f > 0) || math.IsInf(float64(f), 0) {
			t.Fatalf("field %g at %d", f, i)
		}
	}
}

func TestBSplineFitReproducesSmoothField(t *testing.T) {
	// a cubic polynomial along x is in the span of cubic B-splines
	n := [3]int{30, 10, 10}
	l := newLattice([3]int{4, 2, 2}, n)
	coords := func(m int) []float64 {
		c := make([]float64, m)
		for i := range c {
			c[i] = float64(i)
		}
		return c
	}
	wx, wy, wz := l.weightsAt(0, coords(n[0])), l.weightsAt(1, coords(n[1])), l.weightsAt(2, coords(n[2]))
	r := make([]float64, n[0]*n[1]*n[2])
	use := make([]bool, len(r))
	for k := 0; k < n[2]; k++ {
		for j := 0; j < n[1]; j++ {
			for i := 0; i < n[0]; i++ {
				p := i + n[0]*(j+n[1]*k)
				x := float64(i) / 29
				r[p] = 0.5 + 0.3*x - 0.2*x*x
				use[p] = true
			}
		}
	}
	// MBA is an approximation, not an interpolation: iterate on residuals
	total := newLattice(l.mesh, n)
	res := append([]float64(nil), r...)
	for it := 0; it < 30; it++ {
		l.fit(wx, wy, wz, res, use)
		total.add(l)
		f := l.evaluate(wx, wy, wz)
		for i := range res {
			res[i] -= f[i]
		}
	}
	f := total.evaluate(wx, wy, wz)
	var worst float64
	for i := range r {
		worst = math.Max(worst, math.Abs(f[i]-r[i]))
	}
	t.Logf("max error %g", worst)
	// single-level MBA only approximates dense data (ITK's fitter alike);
	// iterating on residuals, as N4 does, must remove most of the signal
	if worst > 0.1*0.6 {
		t.Fatalf("MBA fit of a quadratic of amplitude 0.6: max error %g", worst)
	}
}
