package volume_test

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// Resizing a stack equals resizing each channel, in C, D, H, W order, and
// keeps missing channels missing.
func TestStackResize(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	a := volume.Affine{{1, 0, 0, -10}, {0, 1, 0, -12}, {0, 0, 1, -8}, {0, 0, 0, 1}}
	t1 := randomVolume(rng, [3]int{9, 8, 7}, a)
	flair := randomVolume(rng, [3]int{9, 8, 7}, a)
	s, err := volume.NewStack([]string{"T1", "T1c", "FLAIR"}, []*volume.Volume{t1, nil, flair})
	if err != nil {
		t.Fatal(err)
	}
	dims := [3]int{4, 5, 6}
	r, err := s.Resize(dims, volume.ResizeTrilinear)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dims != dims || r.Affine != volume.ResizeAffine(a, t1.Dims, dims) || r.Present[1] || !r.Present[2] {
		t.Fatalf("resized stack dims %v affine %v present %v", r.Dims, r.Affine, r.Present)
	}
	for c, v := range []*volume.Volume{t1, nil, flair} {
		got, _ := r.Channel(c)
		if v == nil {
			for _, x := range got.Data {
				if x != 0 {
					t.Fatal("missing channel is not zero")
				}
			}
			continue
		}
		want, _ := v.Resize(dims, volume.ResizeTrilinear)
		for i := range want.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("channel %d voxel %d: %g, want %g", c, i, got.Data[i], want.Data[i])
			}
		}
	}
	bad := *s
	bad.Present = bad.Present[:1]
	if _, err := bad.Resize(dims, volume.ResizeArea); err == nil {
		t.Error("stack with too few presence flags accepted")
	}
}

// NewStack lays channels out as C, D, H, W with D = i, H = j, W = k, and
// Channel undoes it.
func TestStackLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	dims := [3]int{3, 4, 5}
	a := randomVolume(rng, dims, volume.Identity())
	b := randomVolume(rng, dims, volume.Identity())
	s, err := volume.NewStack([]string{"a", "missing", "b"}, []*volume.Volume{a, nil, b})
	if err != nil {
		t.Fatal(err)
	}
	data, shape := s.Tensor()
	if shape != [4]int{3, 3, 4, 5} || s.Channels() != 3 || s.Shape() != shape {
		t.Fatalf("shape %v channels %d", shape, s.Channels())
	}
	for c, v := range []*volume.Volume{a, nil, b} {
		for i := 0; i < 3; i++ {
			for j := 0; j < 4; j++ {
				for k := 0; k < 5; k++ {
					want := float32(0)
					if v != nil {
						want = v.At(i, j, k)
					}
					if got := data[((c*3+i)*4+j)*5+k]; got != want {
						t.Fatalf("channel %d (%d,%d,%d) = %g, want %g", c, i, j, k, got, want)
					}
				}
			}
		}
		back, err := s.Channel(c)
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			for i := range v.Data {
				if back.Data[i] != v.Data[i] {
					t.Fatalf("Channel(%d) differs at %d", c, i)
				}
			}
		}
	}
	if _, err := s.Channel(3); err == nil {
		t.Error("channel out of range accepted")
	}
	other, _ := volume.New([3]int{3, 4, 6}, volume.Identity())
	if _, err := volume.NewStack([]string{"a", "b"}, []*volume.Volume{a, other}); err == nil {
		t.Error("channels on different grids accepted")
	}
	if _, err := volume.NewStack([]string{"a"}, []*volume.Volume{nil}); err == nil {
		t.Error("stack without any volume accepted")
	}
	if _, err := volume.NewStack([]string{"a"}, []*volume.Volume{a, b}); err == nil {
		t.Error("names and volumes of different lengths accepted")
	}
}

func TestFromDataAndSpacing(t *testing.T) {
	a := volume.Affine{{0, 0, -2, 0}, {0.5, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 0, 1}}
	v, err := volume.FromData([3]int{2, 2, 2}, a, make([]float32, 8))
	if err != nil {
		t.Fatal(err)
	}
	if v.Spacing() != [3]float64{0.5, 3, 2} {
		t.Errorf("spacing %v, want [0.5 3 2]", v.Spacing())
	}
	if _, err := volume.FromData([3]int{2, 2, 2}, a, make([]float32, 7)); err == nil {
		t.Error("short data accepted")
	}
	if _, err := volume.New([3]int{1 << 40, 1 << 40, 1 << 40}, a); err == nil {
		t.Error("overflowing dims accepted")
	}
	if _, err := volume.New([3]int{2, 0, 2}, a); err == nil {
		t.Error("zero dimension accepted")
	}
	if volume.Linear.String() != "linear" || volume.Border.String() != "border" || volume.Interp(7).String() != "Interp(7)" {
		t.Error("enum names")
	}
}
