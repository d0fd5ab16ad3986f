package volume_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func randomNormalVolume(r *rand.Rand, dims [3]int, a volume.Affine) *volume.Volume {
	v, _ := volume.New(dims, a)
	for i := range v.Data {
		v.Data[i] = float32(r.NormFloat64())
	}
	return v
}

// TestResampleOntoOwnObliqueGrid is the regression test of an image
// resampled onto its own oblique grid: Affine.Inverse rounds the first
// column's coordinates to −2e−16, which must not turn them into Fill.
func TestResampleOntoOwnObliqueGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 41))
	a := volume.Affine{{1.2, 0.1, 0, 0}, {-0.1, 1.1, 0, 0}, {0, 0, 1.3, 0}, {0, 0, 0, 1}}
	v := randomNormalVolume(r, [3]int{20, 18, 16}, a)
	for _, in := range []volume.Interp{volume.Linear, volume.Nearest, volume.BSpline3} {
		out, err := volume.Resample(v, v.Dims, v.Affine, volume.Identity(), volume.Sampler{Interp: in, Fill: -100})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range out.Data {
			if math.Abs(float64(x-v.Data[i])) > 1e-4 {
				t.Fatalf("%v: voxel %d is %g, want %g", in, i, x, v.Data[i])
			}
		}
	}
}

// TestFieldMatchesSampler checks that point evaluation (Field) and row
// resampling (ResampleInto) are one interpolation: equal values at the
// same points, for every interpolation.
func TestFieldMatchesSampler(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 43))
	v := randomNormalVolume(r, [3]int{9, 8, 7}, volume.Identity())
	for _, in := range []volume.Interp{volume.Linear, volume.Nearest, volume.BSpline3} {
		f, err := volume.NewField(v, in)
		if err != nil {
			t.Fatal(err)
		}
		if f.Interp() != in {
			t.Fatalf("Interp() = %v, want %v", f.Interp(), in)
		}
		// A shift by a fraction of a voxel: ResampleInto evaluates at
		// (i+0.3, j−0.2, k+0.45).
		vox := volume.Translation([3]float64{0.3, -0.2, 0.45})
		dst, _ := volume.New(v.Dims, volume.Identity())
		if err := volume.ResampleInto(dst, v, vox, volume.Sampler{Interp: in, Fill: -7}); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 7; k++ {
			for j := 0; j < 8; j++ {
				for i := 0; i < 9; i++ {
					x, y, z := float64(i)+0.3, float64(j)-0.2, float64(k)+0.45
					want := -7.0
					if f.Inside(x, y, z) {
						want = f.At(x, y, z)
						g, _ := f.Gradient(x, y, z)
						if g != want {
							t.Fatalf("%v: At %g and Gradient's value %g differ", in, want, g)
						}
					}
					if got := float64(dst.At(i, j, k)); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%v (%d,%d,%d): ResampleInto %g, Field %g", in, i, j, k, got, want)
					}
					if s := float64(volume.Sampler{Interp: in, Fill: -7}.At(v, x, y, z)); math.Abs(s-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%v (%d,%d,%d): Sampler.At %g, Field %g", in, i, j, k, s, want)
					}
				}
			}
		}
	}
	if _, err := volume.NewField(v, volume.Interp(9)); !errors.Is(err, volume.ErrInvalid) {
		t.Errorf("unknown interpolation: %v, want ErrInvalid", err)
	}
	if _, err := volume.NewField(&volume.Volume{Dims: [3]int{2, 2, 2}}, volume.Linear); !errors.Is(err, volume.ErrShape) {
		t.Errorf("empty data: %v, want ErrShape", err)
	}
}

// TestEnumText round-trips every enum a command line names through
// MarshalText/UnmarshalText (and JSON), and rejects unknown names.
func TestEnumText(t *testing.T) {
	for _, in := range []volume.Interp{volume.Linear, volume.Nearest, volume.BSpline3} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var got volume.Interp
		if err := json.Unmarshal(b, &got); err != nil || got != in {
			t.Fatalf("%v → %s → %v, %v", in, b, got, err)
		}
	}
	for _, b := range []volume.Boundary{volume.Constant, volume.Border} {
		txt, _ := b.MarshalText()
		var got volume.Boundary
		if err := got.UnmarshalText(txt); err != nil || got != b {
			t.Fatalf("%v → %s → %v, %v", b, txt, got, err)
		}
	}
	for _, m := range []volume.ResizeMode{volume.ResizeNearest, volume.ResizeTrilinear, volume.ResizeArea} {
		txt, _ := m.MarshalText()
		var got volume.ResizeMode
		if err := got.UnmarshalText(txt); err != nil || got != m {
			t.Fatalf("%v → %s → %v, %v", m, txt, got, err)
		}
	}
	var in volume.Interp
	if err := in.UnmarshalText([]byte("cubic-ish")); !errors.Is(err, volume.ErrInvalid) {
		t.Errorf("unknown name: %v, want ErrInvalid", err)
	}
	if _, err := volume.Interp(7).MarshalText(); !errors.Is(err, volume.ErrInvalid) {
		t.Errorf("unknown value: %v, want ErrInvalid", err)
	}
}
