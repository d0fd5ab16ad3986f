package register

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// rigidCase is a known misalignment of ch2: the moving image is
// ch2(G·y) on ch2's grid, so the true fixed→moving transform is G⁻¹.
type rigidCase struct {
	name         string
	angles       [3]float64 // degrees
	shift        [3]float64 // mm
	invert       bool
	noise, field float64 // noise sd (fraction of max), bias amplitude
}

// perturb builds the moving image of a case: B-spline resampling of ch2
// by G (so the registration does not see its own trilinear interpolant),
// times a smooth multiplicative bias field, plus Gaussian noise,
// optionally with inverted contrast. It returns the image and G⁻¹.
func perturb(t testing.TB, ch2 *volume.Volume, c rigidCase, seed uint64) (*volume.Volume, volume.Affine) {
	t.Helper()
	rad := math.Pi / 180
	g := NewRigid([3]float64{c.angles[0] * rad, c.angles[1] * rad, c.angles[2] * rad}, c.shift, gridCenter(ch2)).Matrix()
	mov, err := Resample(ch2, GridOf(ch2), g, volume.BSpline3, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, hi := minMax32(ch2.Data)
	// The field exp(f·(0.6x/90 + 0.5(y/110)² − 0.4z/80)) is separable on
	// the axis-aligned ch2 grid: one factor table per axis.
	var field [3][]float64
	for ax := 0; ax < 3; ax++ {
		field[ax] = make([]float64, ch2.Dims[ax])
		for i := range field[ax] {
			var u [3]float64
			u[ax] = float64(i)
			p := ch2.Affine.Apply(u)[ax]
			f := [3]float64{0.6 * p / 90, 0.5 * (p / 110) * (p / 110), -0.4 * p / 80}[ax]
			field[ax][i] = math.Exp(c.field * f)
		}
	}
	nx, ny, nz := ch2.Dims[0], ch2.Dims[1], ch2.Dims[2]
	parallel.For(nz, func(lo, hi32 int) {
		for k := lo; k < hi32; k++ {
			r := rand.New(rand.NewPCG(seed, uint64(k)))
			for j := 0; j < ny; j++ {
				row := mov.Data[nx*(j+ny*k):][:nx]
				for i, v := range row {
					x := float64(v)*field[0][i]*field[1][j]*field[2][k] + c.noise*hi*r.NormFloat64()
					if c.invert {
						x = hi - x
					}
					row[i] = float32(x)
				}
			}
		}
	})
	inv, err := g.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	return mov, inv
}

// meanDisplacementError returns the mean distance between m·x and
// truth·x over the nonzero voxels x of mask.
func meanDisplacementError(m, truth volume.Affine, mask *volume.Volume) float64 {
	var s float64
	var n int
	nx, ny := mask.Dims[0], mask.Dims[1]
	for idx, v := range mask.Data {
		if v == 0 {
			continue
		}
		p := mask.Affine.Apply([3]float64{float64(idx % nx), float64((idx / nx) % ny), float64(idx / (nx * ny))})
		a, b := m.Apply(p), truth.Apply(p)
		s += math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
		n++
	}
	return s / float64(n)
}

func runCase(t *testing.T, ch2, brain *volume.Volume, c rigidCase, o Options) {
	mov, truth := perturb(t, ch2, c, 11)
	start := time.Now()
	res, err := Register(context.Background(), ch2, mov, o)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	e := meanDisplacementError(res.Matrix, truth, brain)
	e0 := meanDisplacementError(volume.Identity(), truth, brain)
	t.Logf("%s: mean error %.4f mm (initial %.2f mm) in %v", c.name, e, e0, el)
	for _, l := range res.Levels {
		t.Logf("  shrink %d: %d samples, %d iterations, cost %.5f → %.5f, %s, %v", l.Shrink, l.Samples, l.Iterations, l.InitialCost, l.FinalCost, l.Stop, l.Duration)
	}
	if e > 0.1 {
		t.Errorf("%s: mean displacement error %.4f mm > 0.1 mm", c.name, e)
	}
}

func TestRigidAccuracy(t *testing.T) {
	ch2 := loadFixtureVolume(t, "ch2.nii.gz")
	brain := loadFixtureVolume(t, "ch2bet.nii.gz")
	cases := []rigidCase{
		{name: "10deg-14mm-inverted", angles: [3]float64{6, -5, 6}, shift: [3]float64{8, -10, 6}, invert: true, noise: 0.02, field: 0.15},
		{name: "15deg-20mm-same", angles: [3]float64{15, 0, 0}, shift: [3]float64{0, 0, 20}, noise: 0.02, field: 0.15},
	}
	if os.Getenv("METASURV_REGISTER_SWEEP") != "" {
		cases = sweepCases()
	}
	opt := Options{}
	if s := os.Getenv("METASURV_REGISTER_SAMPLES"); s != "" {
		opt.Sampling.Count, _ = strconv.Atoi(s)
	}
	if os.Getenv("METASURV_REGISTER_BSPLINE") != "" {
		opt.Interp = volume.BSpline3
	}
	if os.Getenv("METASURV_REGISTER_LBFGS") != "" {
		opt.Optimizer = LBFGS
	}
	for _, c := range cases {
		runCase(t, ch2, brain, c, opt)
	}
}

// sweepCases is the full accuracy sweep (METASURV_REGISTER_SWEEP=1): up to
// 15° and 20 mm, same and inverted contrast, with noise and bias field.
func sweepCases() []rigidCase {
	var cs []rigidCase
	for _, inv := range []bool{false, true} {
		for i, m := range []struct{ a, s [3]float64 }{
			{[3]float64{3, 0, -2}, [3]float64{2, -3, 1}},
			{[3]float64{6, -5, 6}, [3]float64{8, -10, 6}},
			{[3]float64{-10, 8, 5}, [3]float64{-12, 9, -8}},
			{[3]float64{15, 0, 0}, [3]float64{0, 0, 20}},
			{[3]float64{0, -15, 0}, [3]float64{20, 0, 0}},
			{[3]float64{0, 0, 15}, [3]float64{-11, 11, 11}},
		} {
			name := "same"
			if inv {
				name = "inverted"
			}
			cs = append(cs, rigidCase{name: name + "-" + strconv.Itoa(i), angles: m.a, shift: m.s, invert: inv, noise: 0.02, field: 0.15})
		}
	}
	return cs
}

// TestWritePeerImages writes the moving images of the peer comparison
// (METASURV_REGISTER_PEER_DIR=dir): ch2 perturbed by 10°/14 mm, same and
// inverted contrast, as NIfTI, with the true fixed→moving matrix as JSON,
// for timing this package and elastix on identical inputs.
func TestWritePeerImages(t *testing.T) {
	dir := os.Getenv("METASURV_REGISTER_PEER_DIR")
	if dir == "" {
		t.Skip("set METASURV_REGISTER_PEER_DIR to write the peer-comparison images")
	}
	ch2 := loadFixtureVolume(t, "ch2.nii.gz")
	for _, c := range peerCases() {
		mov, truth := perturb(t, ch2, c, 11)
		if err := nifti.Save(filepath.Join(dir, c.name+".nii.gz"), mov); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, c.name+"_truth.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(f, truth, nil); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// peerCases are the 10°/14 mm perturbations of the elastix comparison.
func peerCases() []rigidCase {
	return []rigidCase{
		{name: "peer-same", angles: [3]float64{6, -5, 6}, shift: [3]float64{8, -10, 6}, noise: 0.02, field: 0.15},
		{name: "peer-inverted", angles: [3]float64{6, -5, 6}, shift: [3]float64{8, -10, 6}, invert: true, noise: 0.02, field: 0.15},
	}
}

// peerTolerance is how much larger than elastix's mean displacement
// error this package's may be on the peer images (mm), on top of the
// absolute bound of TestRigidAccuracy (0.1 mm).
const peerTolerance = 0.05

// TestPeerErrors scores the transforms found by elastix
// (dir/el-<case>/TransformParameters.0.txt) and by examples/register
// (dir/ms-<case>*.json, e.g. one per seed) on the peer images, as mean
// displacement error over the ch2bet brain (METASURV_REGISTER_PEER_DIR=dir),
// and fails when a metasurv result is off by more than 0.1 mm or by more
// than peerTolerance beyond elastix's, or when there is nothing to score.
func TestPeerErrors(t *testing.T) {
	dir := os.Getenv("METASURV_REGISTER_PEER_DIR")
	if dir == "" {
		t.Skip("set METASURV_REGISTER_PEER_DIR to score the peer comparison")
	}
	brain := loadFixtureVolume(t, "ch2bet.nii.gz")
	scored := 0
	for _, c := range peerCases() {
		truth := readMatrixFile(t, filepath.Join(dir, c.name+"_truth.json"))
		short := c.name[len("peer-"):]
		bound := 0.1
		if f, err := os.Open(filepath.Join(dir, "el-"+short, "TransformParameters.0.txt")); err == nil {
			tr, err := ReadElastix(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			e := meanDisplacementError(tr.Matrix(), truth, brain)
			t.Logf("%s elastix: %.4f mm", c.name, e)
			bound = min(bound, e+peerTolerance)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "ms-"+short+"*.json"))
		for _, f := range files {
			e := meanDisplacementError(readMatrixFile(t, f), truth, brain)
			t.Logf("%s metasurv (%s): %.4f mm", c.name, filepath.Base(f), e)
			if !(e <= bound) {
				t.Errorf("%s metasurv (%s): mean displacement error %.4f mm > %.4f mm", c.name, filepath.Base(f), e, bound)
			}
			scored++
		}
	}
	if scored == 0 {
		t.Fatalf("no metasurv result (ms-<case>*.json) in %s to score", dir)
	}
}

func readMatrixFile(t *testing.T, path string) volume.Affine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWriteTransformixCheck writes an elastix parameter file for a known
// rigid transform and this package's cubic B-spline resampling of ch2
// through it (METASURV_REGISTER_PEER_DIR=dir), so that transformix's
// output on the same file can be compared voxel by voxel: a check of the
// RAS↔LPS conversions and of the resampling conventions against ITK.
func TestWriteTransformixCheck(t *testing.T) {
	dir := os.Getenv("METASURV_REGISTER_PEER_DIR")
	if dir == "" {
		t.Skip("set METASURV_REGISTER_PEER_DIR to write the transformix check")
	}
	ch2 := loadFixtureVolume(t, "ch2.nii.gz")
	tr := NewRigid([3]float64{0.12, -0.07, 0.2}, [3]float64{5, -7, 3}, [3]float64{10, -20, 15})
	f, err := os.Create(filepath.Join(dir, "tx-check.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteElastix(f, tr, GridOf(ch2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := Resample(ch2, GridOf(ch2), tr.Matrix(), volume.BSpline3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := nifti.Save(filepath.Join(dir, "tx-metasurv.nii.gz"), out); err != nil {
		t.Fatal(err)
	}
}
