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
