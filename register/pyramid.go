package register

import (
	"math"

	"github.com/metasurv/metasurv/volume"
)

// gaussianKernel returns a normalised sampled Gaussian of standard
// deviation sigma (voxels) truncated at 3σ, or nil for sigma ≤ 0.
func gaussianKernel(sigma float64) []float64 {
	if sigma <= 0 {
		return nil
	}
	r := max(1, int(math.Ceil(3*sigma)))
	k := make([]float64, 2*r+1)
	var s float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	return k
}

// shrinkDims returns the dimensions after keeping every s-th voxel.
func shrinkDims(d [3]int, s int) [3]int {
	return [3]int{(d[0] + s - 1) / s, (d[1] + s - 1) / s, (d[2] + s - 1) / s}
}

// smoothShrink blurs v with a Gaussian of sigma voxels (separable, edge
// values replicated, non-finite voxels read as 0 so that one NaN does not
// spread over its whole neighbourhood) and keeps every s-th voxel along
// each axis. The
// smoothing along an axis is evaluated only at the kept positions, so a
// shrink by 4 costs about a quarter of a full-resolution blur. With s = 1
// and sigma = 0 it returns v itself.
func smoothShrink(v *volume.Volume, sigma float64, s int) *volume.Volume {
	return smoothShrinkAxes(v, levelScale{shrink: [3]int{s, s, s}, sigma: [3]float64{sigma, sigma, sigma}})
}

// finite returns x, or 0 for NaN and infinities.
func finite(x float32) float64 {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func clampIndex(i, n int) int {
	if i < 0 {
		return 0
	}
	if i >= n {
		return n - 1
	}
	return i
}
