package volume_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

var resizeModes = []volume.ResizeMode{volume.ResizeArea, volume.ResizeTrilinear, volume.ResizeNearest}

func TestResizeConstant(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 30; trial++ {
		in := [3]int{1 + rng.IntN(13), 1 + rng.IntN(13), 1 + rng.IntN(13)}
		out := [3]int{1 + rng.IntN(13), 1 + rng.IntN(13), 1 + rng.IntN(13)}
		c := float32(rng.NormFloat64() * 100)
		v, _ := volume.New(in, volume.Identity())
		for i := range v.Data {
			v.Data[i] = c
		}
		for _, m := range resizeModes {
			r, err := v.Resize(out, m)
			if err != nil {
				t.Fatal(err)
			}
			if r.Dims != out {
				t.Fatalf("%v: dims %v, want %v", m, r.Dims, out)
			}
			for _, x := range r.Data {
				if math.Abs(float64(x-c)) > 1e-5*math.Abs(float64(c)) {
					t.Fatalf("%v %v→%v: constant %g became %g", m, in, out, c, x)
				}
			}
		}
	}
}

// Area resizing by an integer factor is the mean of each block.
func TestResizeAreaBlockMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	f := [3]int{2, 3, 4}
	out := [3]int{5, 4, 3}
	in := [3]int{out[0] * f[0], out[1] * f[1], out[2] * f[2]}
	v := randomVolume(rng, in, volume.Identity())
	r, err := v.Resize(out, volume.ResizeArea)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < out[2]; k++ {
		for j := 0; j < out[1]; j++ {
			for i := 0; i < out[0]; i++ {
				var s float64
				for c := 0; c < f[2]; c++ {
					for b := 0; b < f[1]; b++ {
						for a := 0; a < f[0]; a++ {
							s += float64(v.At(i*f[0]+a, j*f[1]+b, k*f[2]+c))
						}
					}
				}
				want := s / float64(f[0]*f[1]*f[2])
				if got := float64(r.At(i, j, k)); math.Abs(got-want) > 1e-5 {
					t.Fatalf("block (%d,%d,%d): %g, want mean %g", i, j, k, got, want)
				}
			}
		}
	}
}

// Nearest resizing copies voxel ⌊i·in/out⌋; doubling repeats each voxel.
func TestResizeNearestIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	in := [3]int{5, 7, 3}
	v := randomVolume(rng, in, volume.Identity())
	out := [3]int{10, 4, 3}
	r, err := v.Resize(out, volume.ResizeNearest)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < out[2]; k++ {
		for j := 0; j < out[1]; j++ {
			for i := 0; i < out[0]; i++ {
				si, sj, sk := i/2, j*7/4, k
				if r.At(i, j, k) != v.At(si, sj, sk) {
					t.Fatalf("(%d,%d,%d) = %g, want input (%d,%d,%d) = %g", i, j, k, r.At(i, j, k), si, sj, sk, v.At(si, sj, sk))
				}
			}
		}
	}
}

// Trilinear resizing equals border-clamped trilinear resampling through
// the affine of ResizeAffine: the MetaTensor affine rule and the
// align_corners=False sampling rule describe the same geometry.
func TestResizeTrilinearMatchesResample(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := 0; trial < 10; trial++ {
		in := [3]int{2 + rng.IntN(12), 2 + rng.IntN(12), 2 + rng.IntN(12)}
		out := [3]int{1 + rng.IntN(20), 1 + rng.IntN(20), 1 + rng.IntN(20)}
		v := randomVolume(rng, in, dyadicAffine(rng, volume.Ornt{{1, -1}, {0, 1}, {2, 1}}))
		r, err := v.Resize(out, volume.ResizeTrilinear)
		if err != nil {
			t.Fatal(err)
		}
		s, err := volume.Resample(v, out, r.Affine, volume.Identity(), volume.Sampler{Boundary: volume.Border})
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.Data {
			if math.Abs(float64(r.Data[i]-s.Data[i])) > 1e-5 {
				t.Fatalf("%v→%v voxel %d: resize %g, resample %g", in, out, i, r.Data[i], s.Data[i])
			}
		}
	}
}

// The resized grid covers the same world box (outer voxel faces) as the
// original.
func TestResizeAffineKeepsExtent(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	a := aff3(matMul(rotation([3]float64{1, -1, 2}, 0.4), [3][3]float64{{1.2, 0, 0}, {0, 0.9, 0}, {0, 0, 2.5}}), [3]float64{-90, 12, 40})
	for trial := 0; trial < 20; trial++ {
		from := [3]int{1 + rng.IntN(300), 1 + rng.IntN(300), 1 + rng.IntN(300)}
		to := [3]int{1 + rng.IntN(300), 1 + rng.IntN(300), 1 + rng.IntN(300)}
		b := volume.ResizeAffine(a, from, to)
		for _, corner := range [][2][3]float64{
			{{-0.5, -0.5, -0.5}, {-0.5, -0.5, -0.5}},
			{{float64(from[0]) - 0.5, float64(from[1]) - 0.5, float64(from[2]) - 0.5}, {float64(to[0]) - 0.5, float64(to[1]) - 0.5, float64(to[2]) - 0.5}},
		} {
			p, q := a.Apply(corner[0]), b.Apply(corner[1])
			for r := 0; r < 3; r++ {
				if math.Abs(p[r]-q[r]) > 1e-9*(1+math.Abs(p[r])) {
					t.Fatalf("%v→%v: corner %v at %v, new grid corner at %v", from, to, corner[0], p, q)
				}
			}
		}
	}
	if volume.ResizeAffine(a, [3]int{4, 5, 6}, [3]int{4, 5, 6}) != a {
		t.Error("ResizeAffine to the same dims changed the affine")
	}
}

func TestResizeErrors(t *testing.T) {
	v, _ := volume.New([3]int{4, 4, 4}, volume.Identity())
	if _, err := v.Resize([3]int{0, 4, 4}, volume.ResizeArea); err == nil {
		t.Error("resize to a zero dimension succeeded")
	}
	if _, err := v.Resize([3]int{4, 4, 4}, volume.ResizeMode(9)); err == nil {
		t.Error("unknown resize mode succeeded")
	}
	bad := &volume.Volume{Dims: [3]int{4, 4, 4}, Data: make([]float32, 3)}
	if _, err := bad.Resize([3]int{2, 2, 2}, volume.ResizeArea); err == nil {
		t.Error("resizing a volume with short data succeeded")
	}
	dst, _ := volume.New([3]int{2, 2, 2}, volume.Identity())
	if err := volume.ResizeInto(dst, bad, volume.ResizeArea); err == nil {
		t.Error("ResizeInto from short data succeeded")
	}
}

func TestResizeSameDimsCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	v := randomVolume(rng, [3]int{3, 4, 5}, volume.Identity())
	for _, m := range resizeModes {
		r, _ := v.Resize(v.Dims, m)
		if r.Affine != v.Affine {
			t.Errorf("%v: affine changed", m)
		}
		r.Data[0]++
		if r.Data[0] == v.Data[0] {
			t.Errorf("%v: result shares data with the input", m)
		}
	}
}
