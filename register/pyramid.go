package register

import (
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
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

// shrinkAffine returns the affine of the grid that keeps every s-th voxel
// of a (voxel i' of the new grid is voxel s·i' of the old one).
func shrinkAffine(a volume.Affine, s int) volume.Affine {
	f := float64(s)
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			a[r][c] *= f
		}
	}
	return a
}

// smoothShrink blurs v with a Gaussian of sigma voxels (separable, edge
// values replicated, non-finite voxels read as 0 so that one NaN does not
// spread over its whole neighbourhood) and keeps every s-th voxel along
// each axis. The
// smoothing along an axis is evaluated only at the kept positions, so a
// shrink by 4 costs about a quarter of a full-resolution blur. With s = 1
// and sigma = 0 it returns v itself.
func smoothShrink(v *volume.Volume, sigma float64, s int) *volume.Volume {
	if s == 1 && sigma <= 0 {
		return v
	}
	k := gaussianKernel(sigma)
	if k == nil {
		k = []float64{1}
	}
	nx, ny, nz := v.Dims[0], v.Dims[1], v.Dims[2]
	od := shrinkDims(v.Dims, s)
	mx, my, mz := od[0], od[1], od[2]
	r := len(k) / 2
	// x: (nx, ny, nz) → (mx, ny, nz)
	a := make([]float32, mx*ny*nz)
	parallel.For(ny*nz, func(lo, hi int) {
		for l := lo; l < hi; l++ {
			in, out := v.Data[l*nx:(l+1)*nx], a[l*mx:(l+1)*mx]
			for i := range out {
				c := s * i
				var acc float64
				for t, w := range k {
					acc += w * finite(in[clampIndex(c+t-r, nx)])
				}
				out[i] = float32(acc)
			}
		}
	})
	// y: (mx, ny, nz) → (mx, my, nz), rows of mx values.
	b := make([]float32, mx*my*nz)
	parallel.For(nz, func(lo, hi int) {
		acc := make([]float64, mx)
		for z := lo; z < hi; z++ {
			for j := 0; j < my; j++ {
				clear(acc)
				for t, w := range k {
					row := a[(z*ny+clampIndex(s*j+t-r, ny))*mx:][:mx]
					for i, x := range row {
						acc[i] += w * float64(x)
					}
				}
				out := b[(z*my+j)*mx:][:mx]
				for i := range out {
					out[i] = float32(acc[i])
				}
			}
		}
	})
	// z: (mx, my, nz) → (mx, my, mz), rows of mx·my values.
	c := make([]float32, mx*my*mz)
	plane := mx * my
	parallel.For(my, func(lo, hi int) {
		acc := make([]float64, mx)
		for j := lo; j < hi; j++ {
			for z := 0; z < mz; z++ {
				clear(acc)
				for t, w := range k {
					row := b[clampIndex(s*z+t-r, nz)*plane+j*mx:][:mx]
					for i, x := range row {
						acc[i] += w * float64(x)
					}
				}
				out := c[z*plane+j*mx:][:mx]
				for i := range out {
					out[i] = float32(acc[i])
				}
			}
		}
	})
	return &volume.Volume{Dims: od, Affine: shrinkAffine(v.Affine, s), Data: c}
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
