package norm

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// Options that went to the allocator (2^40 histogram bins or match points,
// a B-spline lattice doubled over 1000 levels: a fatal out-of-memory),
// NaN options that made N4 return NaN voxels or skip every iteration,
// output ranges that gave Inf or NaN intensities, a NaN voxel that gave an
// empty Otsu mask, and an empty brain mask that blanked every channel.
func TestRobustOptions(t *testing.T) {
	ctx := context.Background()
	v, _ := volume.New([3]int{16, 16, 16}, volume.Identity())
	for i := range v.Data {
		v.Data[i] = float32(i%13) + 1
	}
	data := func() []float32 { return append([]float32(nil), v.Data[:64]...) }
	nanV := v.Clone()
	nanV.Data[100] = float32(math.NaN())
	nan := math.NaN()
	for name, c := range map[string]struct {
		want error
		f    func() error
	}{
		"HistogramMatch 2^40 points": {ErrInput, func() error {
			_, err := NewHistogramMatch(data(), HistogramMatchOptions{MatchPoints: 1 << 40})
			return err
		}},
		"N4 2^40 bins":       {ErrInput, func() error { _, err := N4(ctx, v, N4Options{HistogramBins: 1 << 40}); return err }},
		"N4 2^40 mesh":       {ErrInput, func() error { _, err := N4(ctx, v, N4Options{InitialMesh: 1 << 40}); return err }},
		"N4 1000 levels":     {ErrInput, func() error { _, err := N4(ctx, v, N4Options{Iterations: make([]int, 1000)}); return err }},
		"N4 NaN FWHM":        {ErrInput, func() error { _, err := N4(ctx, v, N4Options{FWHM: nan}); return err }},
		"N4 NaN Wiener":      {ErrInput, func() error { _, err := N4(ctx, v, N4Options{WienerNoise: nan}); return err }},
		"N4 NaN convergence": {ErrInput, func() error { _, err := N4(ctx, v, N4Options{ConvergenceThreshold: nan}); return err }},
		"N4 -1 iterations":   {ErrInput, func() error { _, err := N4(ctx, v, N4Options{Iterations: []int{-1}}); return err }},
		"MinMax Inf max":     {ErrInput, func() error { return MinMax{Max: math.Inf(1)}.Normalize(data()) }},
		"MinMax NaN min":     {ErrInput, func() error { return MinMax{Min: nan, Max: 1}.Normalize(data()) }},
		"PercentileScale NaN BMax": {ErrInput, func() error {
			return PercentileScale{Lower: 1, Upper: 99, BMax: nan}.Normalize(data())
		}},
		"OtsuMask NaN voxel": {ErrNonFinite, func() error { _, err := OtsuMask(nanV); return err }},
		"Preprocess empty mask": {ErrMask, func() error {
			m, _ := volume.NewMask(v.Dims)
			_, _, err := Preprocess(ctx, Sequences{T1c: v}, v, Options{SkipN4: true, Target: [3]int{8, 8, 8}, Missing: MissingZeroFill, AtlasMask: m})
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
