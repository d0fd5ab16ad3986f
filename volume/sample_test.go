package volume_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// linearField fills v with c0 + c·(i, j, k), which trilinear interpolation
// reproduces exactly between voxel centres.
func linearField(dims [3]int, c0 float64, c [3]float64) *volume.Volume {
	v, _ := volume.New(dims, volume.Identity())
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				v.Set(i, j, k, float32(c0+c[0]*float64(i)+c[1]*float64(j)+c[2]*float64(k)))
			}
		}
	}
	return v
}

func TestSamplerLinearField(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dims := [3]int{6, 5, 4}
	c := [3]float64{1.5, -2, 0.25}
	v := linearField(dims, 3, c)
	at := func(x, y, z float64) float64 { return 3 + c[0]*x + c[1]*y + c[2]*z }
	for trial := 0; trial < 1000; trial++ {
		x, y, z := rng.Float64()*5, rng.Float64()*4, rng.Float64()*3
		for _, b := range []volume.Boundary{volume.Constant, volume.Border} {
			got := float64(volume.Sampler{Boundary: b}.At(v, x, y, z))
			if math.Abs(got-at(x, y, z)) > 1e-5 {
				t.Fatalf("%v at (%g,%g,%g) = %g, want %g", b, x, y, z, got, at(x, y, z))
			}
		}
	}
	// Voxel centres, including the last one on every axis.
	for _, p := range [][3]int{{0, 0, 0}, {5, 4, 3}, {5, 0, 3}, {2, 4, 1}} {
		for _, s := range []volume.Sampler{{}, {Interp: volume.Nearest}, {Boundary: volume.Border}} {
			if got := s.At(v, float64(p[0]), float64(p[1]), float64(p[2])); got != v.At(p[0], p[1], p[2]) {
				t.Errorf("%+v at voxel %v = %g, want %g", s, p, got, v.At(p[0], p[1], p[2]))
			}
		}
	}
}

func TestSamplerOutside(t *testing.T) {
	v := linearField([3]int{4, 4, 4}, 1, [3]float64{1, 10, 100})
	constant := volume.Sampler{Fill: -7}
	border := volume.Sampler{Boundary: volume.Border}
	for _, p := range [][3]float64{{-0.01, 1, 1}, {3.01, 1, 1}, {1, -1, 1}, {1, 1, 4}, {math.NaN(), 1, 1}} {
		if got := constant.At(v, p[0], p[1], p[2]); got != -7 {
			t.Errorf("constant at %v = %g, want fill -7", p, got)
		}
		if got := (volume.Sampler{Interp: volume.Nearest, Fill: -7}).At(v, p[0], p[1], p[2]); got != -7 {
			t.Errorf("nearest constant at %v = %g, want fill -7", p, got)
		}
	}
	// Border clamps each coordinate to [0, 3].
	if got, want := border.At(v, -5, 1.5, 9), float32(1+0+15+300); got != want {
		t.Errorf("border at (-5,1.5,9) = %g, want %g", got, want)
	}
	if got := border.At(v, math.NaN(), 1, 1); !math.IsNaN(float64(got)) {
		t.Errorf("border at NaN = %g, want NaN", got)
	}
}

// Nearest rounds half to even (torch grid_sample "nearest").
func TestSamplerNearestTies(t *testing.T) {
	v := linearField([3]int{5, 1, 1}, 0, [3]float64{1, 0, 0})
	s := volume.Sampler{Interp: volume.Nearest}
	for x, want := range map[float64]float32{0.5: 0, 1.5: 2, 2.5: 2, 2.51: 3, 3.49: 3} {
		if got := s.At(v, x, 0, 0); got != want {
			t.Errorf("nearest at %g = %g, want %g", x, got, want)
		}
	}
}

// The row-wise resampler agrees with point-wise sampling through the same
// voxel map, for both interpolations and both boundary rules.
func TestResampleIntoMatchesAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	src := randomVolume(rng, [3]int{9, 8, 7}, volume.Identity())
	dst, _ := volume.New([3]int{11, 6, 13}, volume.Identity())
	vox := aff3(matMul(rotation([3]float64{1, 2, 0.5}, 0.7), [3][3]float64{{0.8, 0, 0}, {0, 1.3, 0}, {0, 0, 0.6}}), [3]float64{-1, 0.5, 2})
	for _, s := range []volume.Sampler{{}, {Fill: 3}, {Boundary: volume.Border}, {Interp: volume.Nearest}, {Interp: volume.Nearest, Boundary: volume.Border}} {
		if err := volume.ResampleInto(dst, src, vox, s); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < dst.Dims[2]; k++ {
			for j := 0; j < dst.Dims[1]; j++ {
				for i := 0; i < dst.Dims[0]; i++ {
					p := vox.Apply([3]float64{float64(i), float64(j), float64(k)})
					want := s.At(src, p[0], p[1], p[2])
					if got := dst.At(i, j, k); math.Abs(float64(got-want)) > 1e-5 {
						t.Fatalf("%+v at (%d,%d,%d): %g, point-wise %g", s, i, j, k, got, want)
					}
				}
			}
		}
	}
}

// Resampling through an integer translation shifts the data exactly, and
// through the identity copies it.
func TestResampleShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	a := volume.Affine{{-1.5, 0, 0, 10}, {0, 2, 0, -3}, {0, 0, 0.5, 7}, {0, 0, 0, 1}}
	src := randomVolume(rng, [3]int{8, 7, 6}, a)
	same, err := volume.Resample(src, src.Dims, src.Affine, volume.Identity(), volume.Sampler{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range src.Data {
		if same.Data[i] != src.Data[i] {
			t.Fatalf("identity resample changed voxel %d", i)
		}
	}
	// A new grid whose origin is voxel (2, -1, 1) of src.
	shifted := a.Mul(volume.Translation([3]float64{2, -1, 1}))
	out, err := volume.Resample(src, src.Dims, shifted, volume.Identity(), volume.Sampler{Fill: -1})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 6; k++ {
		for j := 0; j < 7; j++ {
			for i := 0; i < 8; i++ {
				want := float32(-1)
				if si, sj, sk := i+2, j-1, k+1; si < 8 && sj >= 0 && sk < 6 {
					want = src.At(si, sj, sk)
				}
				if got := out.At(i, j, k); got != want {
					t.Fatalf("(%d,%d,%d) = %g, want %g", i, j, k, got, want)
				}
			}
		}
	}
}

func TestResampleErrors(t *testing.T) {
	v, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	dst, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	if err := volume.ResampleInto(dst, v, volume.Identity(), volume.Sampler{Interp: 5}); err == nil {
		t.Error("unknown interpolation accepted")
	}
	if err := volume.ResampleInto(dst, v, volume.Identity(), volume.Sampler{Boundary: 5}); err == nil {
		t.Error("unknown boundary accepted")
	}
	nan := volume.Identity()
	nan[0][3] = math.NaN()
	if err := volume.ResampleInto(dst, v, nan, volume.Sampler{}); err == nil {
		t.Error("NaN voxel map accepted")
	}
	sing := volume.Identity()
	sing[1][1] = 0
	v.Affine = sing
	if _, err := volume.Resample(v, v.Dims, volume.Identity(), volume.Identity(), volume.Sampler{}); err == nil {
		t.Error("singular source affine accepted")
	}
}

func TestAffineInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for trial := 0; trial < 100; trial++ {
		var a volume.Affine
		for r := 0; r < 3; r++ {
			for c := 0; c < 4; c++ {
				a[r][c] = rng.NormFloat64() * 10
			}
		}
		a[3][3] = 1
		inv, err := a.Inverse()
		if err != nil {
			t.Fatal(err)
		}
		p := a.Mul(inv)
		id := volume.Identity()
		for r := 0; r < 4; r++ {
			for c := 0; c < 4; c++ {
				if math.Abs(p[r][c]-id[r][c]) > 1e-9 {
					t.Fatalf("a·a⁻¹ = %v", p)
				}
			}
		}
	}
	if _, err := (volume.Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 1, 1}}).Inverse(); err == nil {
		t.Error("non-affine last row accepted")
	}
	if _, err := (volume.Affine{{1, 2, 0, 0}, {2, 4, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}).Inverse(); err == nil {
		t.Error("singular matrix inverted")
	}
}

// A voxel map that throws the grid to astronomically large coordinates is
// an error, not an overflow inside the sampling loops.
func TestResampleHugeMap(t *testing.T) {
	v, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	dst, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	huge := volume.Scaling([3]float64{1e307, 1, 1})
	for _, b := range []volume.Boundary{volume.Constant, volume.Border} {
		if err := volume.ResampleInto(dst, v, huge, volume.Sampler{Boundary: b}); err == nil {
			t.Errorf("%v: voxel map %v accepted", b, huge)
		}
	}
}
