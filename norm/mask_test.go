package norm

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

var ch2Once struct {
	sync.Once
	head  *volume.Volume
	brain *volume.Mask
	err   error
}

// loadCh2Brain returns Colin27 with skull (ch2) and the nonzero voxels of its
// BET brain (ch2bet), on the same grid.
func loadCh2Brain(t *testing.T) (*volume.Volume, *volume.Mask) {
	t.Helper()
	hp := fixture.Path(t, "testdata", "nifti", "ch2.nii.gz")
	bp := fixture.Path(t, "testdata", "nifti", "ch2bet.nii.gz")
	ch2Once.Do(func() {
		ch2Once.head, ch2Once.err = nifti.Load(hp, nil)
		if ch2Once.err != nil {
			return
		}
		var b *volume.Volume
		if b, ch2Once.err = nifti.Load(bp, nil); ch2Once.err != nil {
			return
		}
		ch2Once.brain, ch2Once.err = volume.NonzeroMask(b)
	})
	if ch2Once.err != nil {
		t.Fatal(ch2Once.err)
	}
	if ch2Once.head.Dims != ch2Once.brain.Dims {
		t.Fatalf("ch2 %v and ch2bet %v grids differ", ch2Once.head.Dims, ch2Once.brain.Dims)
	}
	return ch2Once.head, ch2Once.brain
}

// TestAtlasStripperCh2 moves ch2 rigidly (10°, 14 mm, by its affine, so
// the true brain stays the ch2bet voxels) and propagates ch2bet's mask
// from the unmoved ch2.
func TestAtlasStripperCh2(t *testing.T) {
	head, brain := loadCh2Brain(t)
	rad := 10 * math.Pi / 180
	motion := register.NewRigid([3]float64{rad * 0.6, -rad * 0.5, rad * 0.62}, [3]float64{8, -10, 6}, [3]float64{0, -18, 18}).Matrix()
	subject := head.Clone()
	subject.Affine = motion.Mul(head.Affine)
	s := &AtlasStripper{Atlas: head, AtlasMask: brain}
	m, res, err := s.StripRegistered(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	d, err := volume.Dice(m, brain)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("atlas stripper on moved ch2: Dice %.4f, registration %v, %d mask voxels (truth %d)", d, res.Duration, m.Count(), brain.Count())
	if d < 0.95 {
		t.Errorf("Dice %.4f, want ≥ 0.95", d)
	}
	// the registration must have found the motion: subject world → atlas
	// world is motion⁻¹.
	if e := meanError(t, res.Matrix, motion, subject, brain); e > 0.1 {
		t.Errorf("registration mean error %.3f mm over the brain, want ≤ 0.1", e)
	} else {
		t.Logf("registration mean error %.3f mm over the brain", e)
	}
}

func TestThresholdStripperCh2(t *testing.T) {
	head, brain := loadCh2Brain(t)
	m, err := ThresholdStripper{}.Strip(context.Background(), head)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := volume.Dice(m, brain)
	t.Logf("threshold stripper on ch2: Dice %.4f (%d voxels, truth %d)", d, m.Count(), brain.Count())
	if d < 0.90 {
		t.Errorf("Dice %.4f, want ≥ 0.90", d)
	}
}

func TestAtlasStripperSameGridAndErrors(t *testing.T) {
	atlas, mask := testAtlas(t, 4)
	var s Stripper = &AtlasStripper{AtlasMask: mask, SameGrid: true, Refine: Refine{Skip: true}}
	m, err := s.Strip(context.Background(), atlas)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := volume.Dice(m, mask); d != 1 {
		t.Fatalf("same-grid mask changed: Dice %g", d)
	}
	m.Data[0] = !m.Data[0]
	if mask.Data[0] == m.Data[0] {
		t.Fatal("same-grid mask aliases the atlas mask")
	}
	refined, err := (&AtlasStripper{AtlasMask: mask, SameGrid: true}).Strip(context.Background(), atlas)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := volume.Dice(refined, mask); d < 0.99 {
		t.Fatalf("refining a clean ellipsoid mask changed it: Dice %g", d)
	}
	small, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	if _, err := s.Strip(context.Background(), small); !errors.Is(err, ErrMask) {
		t.Fatalf("grid mismatch: %v", err)
	}
	if _, err := (&AtlasStripper{}).Strip(context.Background(), atlas); !errors.Is(err, ErrMask) {
		t.Fatalf("no atlas mask: %v", err)
	}
	if _, err := (ThresholdStripper{Fraction: 2}).Strip(context.Background(), atlas); !errors.Is(err, ErrMask) {
		t.Fatalf("bad fraction: %v", err)
	}
}

func TestBETCh2(t *testing.T) {
	head, brain := loadCh2Brain(t)
	m, err := BET{}.Strip(context.Background(), head)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := volume.Dice(m, brain)
	t.Logf("BET on ch2: Dice %.4f (%d voxels, truth %d)", d, m.Count(), brain.Count())
	if d < 0.90 {
		t.Errorf("Dice %.4f, want ≥ 0.90", d)
	}
	if _, err := (BET{Fraction: 1.5}).Strip(context.Background(), head); !errors.Is(err, ErrMask) {
		t.Errorf("bad fraction: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (BET{}).Strip(ctx, head); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestIcosphere(t *testing.T) {
	m := icosphere(4)
	if len(m.v) != 2562 || len(m.faces) != 5120 {
		t.Fatalf("%d vertices, %d faces; want 2562, 5120", len(m.v), len(m.faces))
	}
	nrm := make([][3]float64, len(m.v))
	m.normals(nrm)
	for i, n := range nrm {
		if len(m.nbr[i]) < 5 || len(m.nbr[i]) > 6 || dot3(n, m.v[i]) < 0.99 {
			t.Fatalf("vertex %d: %d neighbours, normal·position %g", i, len(m.nbr[i]), dot3(n, m.v[i]))
		}
	}
}
