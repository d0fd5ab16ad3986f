package volume_test

import (
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// TestSentinelErrors checks that each kind of failure wraps the sentinel
// a caller would test for.
func TestSentinelErrors(t *testing.T) {
	v, _ := volume.New([3]int{4, 4, 4}, volume.Identity())
	singular := volume.Identity()
	singular[1][1] = 0
	nan := volume.Identity()
	nan[0][0] = math.NaN()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"singular Inverse", second(singular.Inverse()), volume.ErrSingular},
		{"NaN Inverse", second(nan.Inverse()), volume.ErrSingular},
		{"Inf translation Inverse", second(volume.Translation([3]float64{0, math.Inf(1), 0}).Inverse()), volume.ErrSingular},
		{"bad last row", second(volume.Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 1, 1}}.Inverse()), volume.ErrSingular},
		{"zero dims", second(volume.New([3]int{0, 1, 1}, volume.Identity())), volume.ErrShape},
		{"short data", second(volume.FromData([3]int{2, 2, 2}, volume.Identity(), make([]float32, 7))), volume.ErrShape},
		{"negative margin", second(v.CropToBox([3]int{}, [3]int{2, 2, 2}, -1)), volume.ErrInvalid},
		{"empty threshold", second(volume.ThresholdMask(v, 2, 1)), volume.ErrInvalid},
		{"percentile 101", second(volume.Percentiles([]float32{1}, nil, 101)), volume.ErrInvalid},
		{"empty selection", second(volume.Describe(nil, nil)), volume.ErrEmpty},
		{"unknown resize mode", second(v.Resize([3]int{2, 2, 2}, volume.ResizeMode(9))), volume.ErrInvalid},
		{"unknown interpolation", second(volume.Resample(v, v.Dims, v.Affine, volume.Identity(), volume.Sampler{Interp: 9})), volume.ErrInvalid},
		{"singular source affine", second(volume.Resample(&volume.Volume{Dims: v.Dims, Affine: singular, Data: v.Data}, v.Dims, v.Affine, volume.Identity(), volume.Sampler{})), volume.ErrSingular},
		{"bad codes", second(volume.ParseCodes("RRS")), volume.ErrOrientation},
		{"mask off grid", second(v.ApplyMask(&volume.Mask{Dims: [3]int{2, 2, 2}, Data: make([]bool, 8)}, 0)), volume.ErrShape},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
