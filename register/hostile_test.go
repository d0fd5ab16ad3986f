package register

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/metasurv/metasurv/volume"
)

// TestHostileOptionsReturnErrors checks that malformed options, initial
// matrices and transforms are reported as errors (not panics, nor huge
// allocations or searches) by Register, EvaluateMetric, Resample and the
// writers.
func TestHostileOptionsReturnErrors(t *testing.T) {
	good, err := volume.New([3]int{12, 12, 12}, volume.Identity())
	if err != nil {
		t.Fatal(err)
	}
	for i := range good.Data {
		good.Data[i] = float32(i % 7)
	}
	singular := volume.Affine{{1, 0, 0, 0}, {1, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	nan := volume.Identity()
	nan[0][1] = math.NaN()
	for name, o := range map[string]Options{
		"huge bins":          {Bins: 1 << 40},
		"too many bins":      {Bins: maxBins + 1},
		"NaN MaxStep":        {MaxStep: math.NaN()},
		"Inf MinStep":        {MinStep: math.Inf(1)},
		"NaN Relaxation":     {Relaxation: math.NaN()},
		"NaN MaxAngle":       {Rotation: RotationSearch{MaxAngle: math.NaN()}},
		"huge rotation grid": {Rotation: RotationSearch{MaxAngle: 1, Steps: 1 << 30}},
		"NaN sigma":          {Shrink: []int{2, 1}, Sigmas: []float64{math.NaN(), 0}},
		"negative sigma":     {Shrink: []int{2, 1}, Sigmas: []float64{1, -1}},
		"singular initial":   {Kind: KindAffine, Initial: &singular},
		"huge shrink":        {Shrink: []int{1 << 40}},
		"huge sigma":         {Shrink: []int{1}, Sigmas: []float64{1e12}},
		"NaN initial":        {Kind: KindAffine, Initial: &nan},
	} {
		t.Run(name, func(t *testing.T) {
			o.MaxIterations = 2
			wantErr(t, func() error { _, err := Register(context.Background(), good, good, o); return err })
		})
	}
	t.Run("EvaluateMetric huge bins", func(t *testing.T) {
		wantErr(t, func() error {
			_, _, err := EvaluateMetric(good, good, Identity(KindRigid, [3]float64{}), MetricOptions{Bins: 1 << 40})
			return err
		})
	})
	t.Run("Resample onto nil grid", func(t *testing.T) {
		wantErr(t, func() error { _, err := Resample(good, GridOf(nil), volume.Identity(), volume.Linear, 0); return err })
	})
	bad := []Transform{{Kind: 99}, {Kind: KindRigid, Params: []float64{1}}, {Kind: KindAffine},
		{Kind: KindRigid, Params: []float64{0, 0, math.Inf(1), 0, 0, 0}}}
	for _, tr := range bad {
		t.Run("WriteJSON "+tr.Kind.String(), func(t *testing.T) {
			wantErr(t, func() error { return WriteJSON(&bytes.Buffer{}, volume.Identity(), &tr) })
		})
	}
	t.Run("WriteJSON NaN matrix", func(t *testing.T) {
		wantErr(t, func() error { return WriteJSON(&bytes.Buffer{}, nan, nil) })
	})
}

func wantErr(t *testing.T, fn func() error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	if err := fn(); err == nil {
		t.Fatal("no error")
	}
}

// TestRotationSearchHonoursCtx is the regression test of issue 12: with a
// rotation search, a registration cancelled at 100 ms ran on for 28 s.
func TestRotationSearchHonoursCtx(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 51))
	fixed := smoothVolume(r, [3]int{48, 48, 48})
	moving := smoothVolume(r, [3]int{48, 48, 48})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	// 17³ candidate rotations at full resolution: tens of seconds.
	_, err := Register(ctx, fixed, moving, Options{Shrink: []int{1}, Rotation: RotationSearch{MaxAngle: 0.5, Steps: 8}})
	el := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if el > 2*time.Second {
		t.Errorf("returned %v after the 100 ms deadline", el)
	}
}

// TestNonFiniteImagesNamed is the regression test of issue 12: an image
// of NaN voxels was reported as "images do not overlap".
func TestNonFiniteImagesNamed(t *testing.T) {
	r := rand.New(rand.NewPCG(52, 53))
	good := smoothVolume(r, [3]int{24, 24, 24})
	nan := good.Clone()
	for i := range nan.Data {
		nan.Data[i] = float32(math.NaN())
	}
	for name, pair := range map[string][2]*volume.Volume{"NaN moving": {good, nan}, "NaN fixed": {nan, good}} {
		_, err := Register(context.Background(), pair[0], pair[1], Options{Shrink: []int{2, 1}})
		if !errors.Is(err, ErrNonFinite) || errors.Is(err, ErrNoOverlap) {
			t.Errorf("Register, %s: %v, want ErrNonFinite", name, err)
		}
		_, _, err = EvaluateMetric(pair[0], pair[1], Identity(KindRigid, [3]float64{}), MetricOptions{})
		if !errors.Is(err, ErrNonFinite) || errors.Is(err, ErrNoOverlap) {
			t.Errorf("EvaluateMetric, %s: %v, want ErrNonFinite", name, err)
		}
	}
	// Disjoint finite images still report ErrNoOverlap.
	far := good.Clone()
	far.Affine[0][3] += 1000
	if _, _, err := EvaluateMetric(good, far, Identity(KindRigid, [3]float64{}), MetricOptions{}); !errors.Is(err, ErrNoOverlap) {
		t.Errorf("disjoint images: %v, want ErrNoOverlap", err)
	}
}
