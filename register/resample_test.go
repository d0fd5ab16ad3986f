package register

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func TestResampleIdentityAndShift(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 30))
	v := smoothVolume(r, [3]int{20, 18, 16})
	for _, in := range []volume.Interp{volume.Nearest, volume.Linear, volume.BSpline3} {
		out, err := Resample(v, GridOf(v), volume.Identity(), in, -1)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range out.Data {
			if math.Abs(float64(x-v.Data[i])) > 1e-3 {
				t.Fatalf("%s identity: voxel %d is %g, want %g", in, i, x, v.Data[i])
			}
		}
	}
	// A shift by exactly one voxel along i moves the data by one voxel,
	// and the last column falls outside.
	sh := volume.Affine(volume.Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}})
	col := v.Affine.Apply([3]float64{1, 0, 0})
	o := v.Affine.Apply([3]float64{0, 0, 0})
	for a := 0; a < 3; a++ {
		sh[a][3] = col[a] - o[a]
	}
	for _, in := range []volume.Interp{volume.Nearest, volume.Linear, volume.BSpline3} {
		out, err := Resample(v, GridOf(v), sh, in, -7)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 16; k++ {
			for j := 0; j < 18; j++ {
				for i := 0; i < 20; i++ {
					want := float32(-7)
					if i < 19 {
						want = v.At(i+1, j, k)
					}
					if got := out.At(i, j, k); math.Abs(float64(got-want)) > 1e-3 {
						t.Fatalf("%s shift: (%d,%d,%d) = %g, want %g", in, i, j, k, got, want)
					}
				}
			}
		}
	}
}

// TestResampleChainIsOneInterpolation checks that resampling through a
// composed chain equals evaluating the moving image at the chained points,
// and differs from resampling twice (which blurs twice).
func TestResampleChainIsOneInterpolation(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	v := smoothVolume(r, [3]int{24, 24, 24})
	a := NewRigid([3]float64{0.1, 0, 0.05}, [3]float64{0.7, -0.3, 0.2}, [3]float64{}).Matrix()
	b := NewRigid([3]float64{0, -0.08, 0}, [3]float64{-0.4, 0.9, 0.1}, [3]float64{}).Matrix()
	out, err := Resample(v, GridOf(v), volume.Compose(a, b), volume.Linear, 0)
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := v.Affine.Inverse()
	g, err := volume.NewField(v, volume.Linear)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 500; n++ {
		i, j, k := r.IntN(24), r.IntN(24), r.IntN(24)
		p := b.Apply(a.Apply(v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})))
		u := inv.Apply(p)
		want := 0.0
		if g.Inside(u[0], u[1], u[2]) {
			want = g.At(u[0], u[1], u[2])
		}
		if got := float64(out.At(i, j, k)); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("(%d,%d,%d): %g, want %g", i, j, k, got, want)
		}
	}
}

func TestResampleOntoOtherGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 32))
	v := smoothVolume(r, [3]int{30, 30, 30})
	// An oblique, coarser grid (LPS-like axes) covering the same region.
	a := volume.Affine{{-2, 0, 0, 20}, {0, 0, 2, -20}, {0, -2, 0, 20}, {0, 0, 0, 1}}
	out, err := Resample(v, Grid{Dims: [3]int{20, 20, 20}, Affine: a}, volume.Identity(), volume.BSpline3, 0)
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := v.Affine.Inverse()
	coef, err := volume.NewField(v, volume.BSpline3)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 20; k++ {
		for j := 0; j < 20; j++ {
			for i := 0; i < 20; i++ {
				u := inv.Apply(a.Apply([3]float64{float64(i), float64(j), float64(k)}))
				want := 0.0
				if coef.Inside(u[0], u[1], u[2]) {
					want = coef.At(u[0], u[1], u[2])
				}
				if got := float64(out.At(i, j, k)); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("(%d,%d,%d): %g, want %g", i, j, k, got, want)
				}
			}
		}
	}
}

func TestResampleErrors(t *testing.T) {
	v, _ := volume.New([3]int{4, 4, 4}, volume.Identity())
	bad := volume.Identity()
	bad[3][3] = 2
	nan := volume.Identity()
	nan[0][3] = math.NaN()
	sing := volume.Identity()
	sing[1][1] = 0
	cases := []struct {
		name string
		mov  *volume.Volume
		g    Grid
		m    volume.Affine
		in   volume.Interp
	}{
		{"nil moving", nil, GridOf(v), volume.Identity(), volume.Linear},
		{"short data", &volume.Volume{Dims: [3]int{4, 4, 4}, Affine: volume.Identity(), Data: make([]float32, 3)}, GridOf(v), volume.Identity(), volume.Linear},
		{"singular affine", &volume.Volume{Dims: [3]int{4, 4, 4}, Affine: sing, Data: make([]float32, 64)}, GridOf(v), volume.Identity(), volume.Linear},
		{"bad last row", v, GridOf(v), bad, volume.Linear},
		{"NaN", v, GridOf(v), nan, volume.Linear},
		{"empty grid", v, Grid{Dims: [3]int{0, 1, 1}, Affine: volume.Identity()}, volume.Identity(), volume.Linear},
		{"unknown interp", v, GridOf(v), volume.Identity(), volume.Interp(9)},
	}
	for _, c := range cases {
		if _, err := Resample(c.mov, c.g, c.m, c.in, 0); err == nil {
			t.Errorf("%s: no error", c.name)
		} else if c.name != "empty grid" && !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v does not wrap ErrInput", c.name, err)
		}
	}
}

// TestSmoothShrink compares the fused blur-and-decimate with a plain
// full-resolution separable blur followed by decimation.
func TestSmoothShrink(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 33))
	dims := [3]int{17, 14, 11}
	data := make([]float32, dims[0]*dims[1]*dims[2])
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	v, _ := volume.FromData(dims, volume.Identity(), data)
	const s, sigma = 2, 1.0
	got := smoothShrink(v, sigma, s)
	k := gaussianKernel(sigma)
	rad := len(k) / 2
	blur := func(in []float32, axis int) []float32 {
		out := make([]float32, len(in))
		st := [3]int{1, dims[0], dims[0] * dims[1]}[axis]
		for idx := range in {
			c := [3]int{idx % dims[0], (idx / dims[0]) % dims[1], idx / (dims[0] * dims[1])}
			var acc float64
			for t, w := range k {
				n := clampIndex(c[axis]+t-rad, dims[axis])
				acc += w * float64(in[idx+(n-c[axis])*st])
			}
			out[idx] = float32(acc)
		}
		return out
	}
	full := blur(blur(blur(v.Data, 0), 1), 2)
	if got.Dims != shrinkDims(dims, s) {
		t.Fatalf("dims %v, want %v", got.Dims, shrinkDims(dims, s))
	}
	for k := 0; k < got.Dims[2]; k++ {
		for j := 0; j < got.Dims[1]; j++ {
			for i := 0; i < got.Dims[0]; i++ {
				want := full[s*i+dims[0]*(s*j+dims[1]*s*k)]
				if d := math.Abs(float64(got.At(i, j, k) - want)); d > 1e-5 {
					t.Fatalf("(%d,%d,%d): %g, want %g", i, j, k, got.At(i, j, k), want)
				}
			}
		}
	}
	// The shrunk grid's voxel i' is the original voxel s·i' in world space.
	p := got.Affine.Apply([3]float64{3, 2, 1})
	q := v.Affine.Apply([3]float64{6, 4, 2})
	if p != q {
		t.Fatalf("shrunk affine maps (3,2,1) to %v, want %v", p, q)
	}
}
