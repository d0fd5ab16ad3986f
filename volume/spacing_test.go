package volume_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// worldField fills v with f(w) = c0 + c·w at the world position w of every
// voxel centre.
func worldField(v *volume.Volume, c0 float64, c [3]float64) func(w [3]float64) float64 {
	f := func(w [3]float64) float64 { return c0 + c[0]*w[0] + c[1]*w[1] + c[2]*w[2] }
	for k := 0; k < v.Dims[2]; k++ {
		for j := 0; j < v.Dims[1]; j++ {
			for i := 0; i < v.Dims[0]; i++ {
				v.Set(i, j, k, float32(f(v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)}))))
			}
		}
	}
	return f
}

func colNorm(a volume.Affine, c int) float64 {
	return math.Sqrt(a[0][c]*a[0][c] + a[1][c]*a[1][c] + a[2][c]*a[2][c])
}

// On an oblique, anisotropic grid holding a linear world field, resampling
// to a new spacing keeps every axis direction, sets the column norms to the
// new spacing, and reproduces the field wherever the new voxel lies inside
// the input grid.
func TestResampleToSpacingOblique(t *testing.T) {
	m := matMul(rotation([3]float64{0.3, -1, 0.6}, 0.35), [3][3]float64{{-1.1, 0, 0}, {0, 0.9, 0}, {0, 0, 2.2}})
	a := aff3(m, [3]float64{40, -60, -20})
	v, _ := volume.New([3]int{30, 34, 15}, a)
	f := worldField(v, 50, [3]float64{0.7, -0.3, 1.1})
	for _, p := range [][3]float64{{1, 1, 1}, {2, 0.75, 1.5}} {
		for _, diag := range []bool{false, true} {
			r, err := v.ResampleToSpacing(p, volume.SpacingOptions{Diagonal: diag})
			if err != nil {
				t.Fatal(err)
			}
			for c := 0; c < 3; c++ {
				if math.Abs(colNorm(r.Affine, c)-p[c]) > 1e-12 {
					t.Fatalf("pixdim %v diag %v: column %d norm %g", p, diag, c, colNorm(r.Affine, c))
				}
				for row := 0; row < 3; row++ {
					want := a[row][c] / colNorm(a, c) * p[c]
					if diag {
						want = 0
						if row == c {
							want = p[c]
						}
					}
					if math.Abs(r.Affine[row][c]-want) > 1e-12 {
						t.Fatalf("pixdim %v diag %v: affine %v, column %d should be %g along the input axis", p, diag, r.Affine, c, p[c])
					}
				}
			}
			inv, _ := a.Inverse()
			checked := 0
			for k := 0; k < r.Dims[2]; k++ {
				for j := 0; j < r.Dims[1]; j++ {
					for i := 0; i < r.Dims[0]; i++ {
						w := r.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
						q := inv.Apply(w)
						if q[0] < 0 || q[1] < 0 || q[2] < 0 || q[0] > 29 || q[1] > 33 || q[2] > 14 {
							continue
						}
						checked++
						if got := float64(r.At(i, j, k)); math.Abs(got-f(w)) > 1e-3 {
							t.Fatalf("pixdim %v diag %v voxel (%d,%d,%d): %g, field %g", p, diag, i, j, k, got, f(w))
						}
					}
				}
			}
			if checked < r.Dims[0]*r.Dims[1]*r.Dims[2]/10 {
				t.Fatalf("pixdim %v diag %v: only %d voxels inside the input", p, diag, checked)
			}
		}
	}
}

// For an axis-aligned grid the origin stays at voxel 0's centre and the
// shape is numpy.round((n−1)·s/p + 1) (ties to even), MONAI's rule.
func TestSpacingGridAxisAligned(t *testing.T) {
	a := volume.Affine{{-0.5, 0, 0, 30}, {0, 0, 1.25, -20}, {0, 2, 0, 5}, {0, 0, 0, 1}} // L, S, A
	dims := [3]int{11, 9, 7}
	got, na, err := volume.SpacingGrid(dims, a, [3]float64{1, 2.5, 0.5}, volume.SpacingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// (11−1)·0.5/1+1 = 6; (9−1)·2/2.5+1 = 7.4 → 7; (7−1)·1.25/0.5+1 = 16.
	if want := [3]int{6, 7, 16}; got != want {
		t.Errorf("dims %v, want %v", got, want)
	}
	// The corner with the smallest new coordinates is voxel (0,0,0): the
	// affine keeps the flips, so new coordinates increase from it.
	want := volume.Affine{{-1, 0, 0, 30}, {0, 0, 0.5, -20}, {0, 2.5, 0, 5}, {0, 0, 0, 1}}
	if na != want {
		t.Errorf("affine %v, want %v", na, want)
	}
	// Halves round to even: (8−1)·1/2+1 = 4.5 → 4 and (10−1)·1/2+1 = 5.5 → 6.
	got, _, _ = volume.SpacingGrid([3]int{8, 10, 2}, volume.Identity(), [3]float64{2, 2, 1}, volume.SpacingOptions{})
	if want := [3]int{4, 6, 2}; got != want {
		t.Errorf("round-half-even dims %v, want %v", got, want)
	}
}

// A spacing within MONAI's 1e-3 mm tolerance keeps the grid and the data.
func TestResampleToSpacingUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	v := randomVolume(rng, [3]int{5, 6, 7}, volume.Affine{{1, 0, 0, 3}, {0, 1, 0, 4}, {0, 0, 1, 5}, {0, 0, 0, 1}})
	r, err := v.ResampleToSpacing([3]float64{1.0005, 0.9995, 0}, volume.SpacingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Dims != v.Dims || r.Affine != v.Affine {
		t.Fatalf("dims %v affine %v, want the input grid", r.Dims, r.Affine)
	}
	for i := range v.Data {
		if r.Data[i] != v.Data[i] {
			t.Fatal("data changed")
		}
	}
}

// Nearest resampling of a label map only produces existing labels; zero
// padding produces 0 outside.
func TestResampleToSpacingNearestLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	a := aff3(rotation([3]float64{1, 1, 0}, 0.5), [3]float64{})
	v, _ := volume.New([3]int{12, 12, 12}, a)
	for i := range v.Data {
		v.Data[i] = float32(1 + rng.IntN(4))
	}
	r, err := v.ResampleToSpacing([3]float64{0.7, 0.7, 0.7}, volume.SpacingOptions{Interp: volume.Nearest, ZeroPad: true})
	if err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for _, x := range r.Data {
		if x != float32(int(x)) || x < 0 || x > 4 {
			t.Fatalf("label %g is not one of the input labels", x)
		}
		if x == 0 {
			zeros++
		}
	}
	if zeros == 0 {
		t.Error("rotated grid has no voxel outside the input")
	}
}

func TestSpacingErrors(t *testing.T) {
	v, _ := volume.New([3]int{4, 4, 4}, volume.Identity())
	if _, err := v.ResampleToSpacing([3]float64{1, math.NaN(), 1}, volume.SpacingOptions{}); err == nil {
		t.Error("NaN spacing accepted")
	}
	v.Affine[2][2] = 0
	if _, err := v.ResampleToSpacing([3]float64{2, 2, 2}, volume.SpacingOptions{}); err == nil {
		t.Error("singular affine accepted")
	}
}
