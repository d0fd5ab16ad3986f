package volume_test

import (
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// Affines and arguments that were taken silently: a singular output affine
// or world transform (a constant image), an infinite translation (a NaN
// affine out of Reorient), a grid over MaxVoxels from SpacingGrid, a NaN
// threshold (an empty mask) or spacing (read as 1 mm), an invalid target
// orientation, negative dims.
func TestRobustGeometry(t *testing.T) {
	v, err := volume.New([3]int{4, 5, 6}, volume.Identity())
	if err != nil {
		t.Fatal(err)
	}
	sing := volume.Affine{}
	sing[3][3] = 1
	inf := volume.Identity()
	inf[0][3] = math.Inf(1)
	m, _ := volume.NewMask(v.Dims)
	m.Data[3] = true
	lps, _ := volume.Codes{'L', 'P', 'S'}.Ornt()
	for name, c := range map[string]struct {
		want error
		f    func() error
	}{
		"Resample singular output affine": {volume.ErrSingular, func() error {
			_, err := volume.Resample(v, [3]int{3, 3, 3}, sing, volume.Identity(), volume.Sampler{})
			return err
		}},
		"Resample singular world": {volume.ErrSingular, func() error {
			_, err := volume.Resample(v, [3]int{3, 3, 3}, volume.Identity(), sing, volume.Sampler{})
			return err
		}},
		"Canonical infinite translation": {volume.ErrSingular, func() error {
			w := v.Clone()
			w.Affine = inf
			_, err := w.Canonical()
			return err
		}},
		"SpacingGrid too fine": {volume.ErrShape, func() error {
			_, _, err := volume.SpacingGrid(v.Dims, v.Affine, [3]float64{1e-9, 1e-9, 1e-9}, volume.SpacingOptions{})
			return err
		}},
		"ThresholdMask NaN": {volume.ErrInvalid, func() error {
			_, err := volume.ThresholdMask(v, float32(math.NaN()), 1)
			return err
		}},
		"SquaredDistance NaN spacing": {volume.ErrInvalid, func() error {
			_, err := volume.SquaredDistance(m, volume.DistanceOptions{Spacing: [3]float64{math.NaN(), 1, 1}})
			return err
		}},
		"OrntTransform invalid target": {volume.ErrOrientation, func() error {
			_, err := volume.OrntTransform(lps, volume.Ornt{})
			return err
		}},
		"InvOrntAffine negative dims": {volume.ErrShape, func() error {
			_, err := volume.InvOrntAffine(lps, [3]int{-3, 1, 1})
			return err
		}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := c.f(); !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
		})
	}
}
