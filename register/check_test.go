package register

import (
	"context"
	"errors"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// TestRegisterRefusesBlankAndDisjoint: a constant image or images that do
// not overlap cannot be registered; Register must say so, not return a
// transform.
func TestRegisterRefusesBlankAndDisjoint(t *testing.T) {
	img, err := volume.New([3]int{24, 24, 24}, volume.Identity())
	if err != nil {
		t.Fatal(err)
	}
	for i := range img.Data {
		x, y, z := i%24-12, (i/24)%24-12, i/576-12
		if x*x+2*y*y+3*z*z < 80 {
			img.Data[i] = 100 + float32(x)
		}
	}
	blank, _ := volume.New(img.Dims, img.Affine)
	for i := range blank.Data {
		blank.Data[i] = 7
	}
	if _, err := Register(context.Background(), img, blank, Options{Shrink: []int{1}}); !errors.Is(err, ErrBlank) {
		t.Errorf("blank moving: %v, want ErrBlank", err)
	}
	if _, err := Register(context.Background(), blank, img, Options{Shrink: []int{1}}); !errors.Is(err, ErrBlank) {
		t.Errorf("blank fixed: %v, want ErrBlank", err)
	}
	far := img.Clone()
	far.Affine[0][3] = 1000
	if _, err := Register(context.Background(), img, far, Options{Shrink: []int{1}, Init: InitIdentity}); !errors.Is(err, ErrNoOverlap) {
		t.Errorf("disjoint: %v, want ErrNoOverlap", err)
	}
}

// TestCheckFlagsPoorOptimum: a registration stopped far from the truth
// (two iterations on the finest level only, started 25 mm off, no retry)
// must be flagged, and the same pair registered normally must not be.
func TestCheckFlagsPoorOptimum(t *testing.T) {
	p := makePair(t, sweepCase{subject: "ch2", angles: [3]float64{0, 0, 10}, shift: [3]float64{25, 0, 0},
		contrast: "t2", bias: 0.2, noise: 0.03, sliceAxis: 2})
	bad, err := Register(context.Background(), p.fixed, p.moving, Options{Shrink: []int{1}, MaxIterations: 2,
		Init: InitIdentity, Starts: -1, Sampling: Sampling{Count: 20000}})
	if err != nil {
		t.Fatal(err)
	}
	e := meanDisplacementError(bad.Matrix, p.truth, p.brain)
	t.Logf("stopped early: error %.1f mm, %v (dependence %.3f, sharpness %.3f)", e, bad.Check, bad.Check.Dependence, bad.Check.Sharpness)
	if e < 5 || !bad.Check.Suspect {
		t.Errorf("a registration %.1f mm off was not flagged: %+v", e, bad.Check)
	}
	good, err := Register(context.Background(), p.fixed, p.moving, Options{Optimizer: LBFGS, Sampling: Sampling{Count: 20000}})
	if err != nil {
		t.Fatal(err)
	}
	e = meanDisplacementError(good.Matrix, p.truth, p.brain)
	t.Logf("normal: error %.3f mm, %v (dependence %.3f, sharpness %.3f)", e, good.Check, good.Check.Dependence, good.Check.Sharpness)
	if e > 0.3 || good.Check.Suspect {
		t.Errorf("normal registration: error %.3f mm, %v", e, good.Check)
	}
}
