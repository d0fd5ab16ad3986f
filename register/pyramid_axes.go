package register

import (
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// levelScale is the per-axis shrink factor and smoothing sigma (voxels)
// of one image at one pyramid level.
type levelScale struct {
	shrink [3]int
	sigma  [3]float64
}

// spacingAwareScale converts a level's shrink factor s and sigma (both in
// voxels of the reference spacing ref, mm) into per-axis factors for an
// image of the given spacing, as ITK's spacing-aware pyramid schedules
// do: each axis is shrunk towards the level's voxel size s·ref (never
// below 1, so a 5 mm slice axis is not shrunk at all on a 4 mm level)
// and smoothed by the level's physical sigma σ·ref. An axis already
// coarser than that is smoothed only by what its slice profile does not
// already provide: a slice of thickness w acts about like a Gaussian of
// σ = w/√12, so the added sigma is √(σ² − w²/12) (zero when the slice is
// thicker). For an isotropic image with ref equal to its spacing this is
// the plain schedule: the same s and σ on every axis.
func spacingAwareScale(spacing [3]float64, ref float64, s int, sigma float64) levelScale {
	var ls levelScale
	target := float64(s) * ref
	sigmaMM := sigma * ref
	for a := 0; a < 3; a++ {
		sp := spacing[a]
		if !(sp > 0) {
			sp = ref
		}
		ls.shrink[a] = max(1, int(math.Floor(target/sp+0.5)))
		sm := sigmaMM
		if sp > 1.5*ref {
			sm = math.Sqrt(math.Max(0, sigmaMM*sigmaMM-sp*sp/12))
		}
		ls.sigma[a] = sm / sp
	}
	return ls
}

// levelImages returns the fixed and moving images (and fixed mask) of
// pyramid level l with spacing-aware per-axis factors; the reference
// spacing is the fixed image's finest.
func levelImages(fixed, moving *volume.Volume, mask *volume.Mask, o Options, l int) (fl, ml *volume.Volume, maskl *volume.Mask) {
	fs := fixed.Spacing()
	ref := min(fs[0], fs[1], fs[2])
	fsc := spacingAwareScale(fs, ref, o.Shrink[l], o.Sigmas[l])
	msc := spacingAwareScale(moving.Spacing(), ref, o.Shrink[l], o.Sigmas[l])
	fl = smoothShrinkAxes(fixed, fsc)
	ml = smoothShrinkAxes(moving, msc)
	if mask != nil {
		maskl = shrinkNearestAxes(mask, fsc.shrink)
	}
	return fl, ml, maskl
}

// smoothShrinkAxes is smoothShrink with a sigma and a shrink factor per
// axis.
func smoothShrinkAxes(v *volume.Volume, ls levelScale) *volume.Volume {
	if ls.shrink == [3]int{1, 1, 1} && ls.sigma[0] <= 0 && ls.sigma[1] <= 0 && ls.sigma[2] <= 0 {
		return v
	}
	var ks [3][]float64
	for a := range ks {
		if ks[a] = gaussianKernel(ls.sigma[a]); ks[a] == nil {
			ks[a] = []float64{1}
		}
	}
	sx, sy, sz := ls.shrink[0], ls.shrink[1], ls.shrink[2]
	nx, ny, nz := v.Dims[0], v.Dims[1], v.Dims[2]
	mx, my, mz := (nx+sx-1)/sx, (ny+sy-1)/sy, (nz+sz-1)/sz
	// x: (nx, ny, nz) → (mx, ny, nz)
	a := make([]float32, mx*ny*nz)
	k, r := ks[0], len(ks[0])/2
	parallel.For(ny*nz, func(lo, hi int) {
		for l := lo; l < hi; l++ {
			in, out := v.Data[l*nx:(l+1)*nx], a[l*mx:(l+1)*mx]
			for i := range out {
				c := sx * i
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
	ky, ry := ks[1], len(ks[1])/2
	parallel.For(nz, func(lo, hi int) {
		acc := make([]float64, mx)
		for z := lo; z < hi; z++ {
			for j := 0; j < my; j++ {
				clear(acc)
				for t, w := range ky {
					row := a[(z*ny+clampIndex(sy*j+t-ry, ny))*mx:][:mx]
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
	kz, rz := ks[2], len(ks[2])/2
	parallel.For(my, func(lo, hi int) {
		acc := make([]float64, mx)
		for j := lo; j < hi; j++ {
			for z := 0; z < mz; z++ {
				clear(acc)
				for t, w := range kz {
					row := b[clampIndex(sz*z+t-rz, nz)*plane+j*mx:][:mx]
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
	return &volume.Volume{Dims: [3]int{mx, my, mz}, Affine: shrinkAffineAxes(v.Affine, ls.shrink), Data: c}
}

// shrinkAffineAxes returns the affine of the grid that keeps every
// s[a]-th voxel along axis a.
func shrinkAffineAxes(a volume.Affine, s [3]int) volume.Affine {
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			a[r][c] *= float64(s[c])
		}
	}
	return a
}

// shrinkNearestAxes keeps every s[a]-th voxel of a mask along axis a.
func shrinkNearestAxes(m *volume.Mask, s [3]int) *volume.Mask {
	if s == [3]int{1, 1, 1} {
		return m
	}
	od := [3]int{(m.Dims[0] + s[0] - 1) / s[0], (m.Dims[1] + s[1] - 1) / s[1], (m.Dims[2] + s[2] - 1) / s[2]}
	out := &volume.Mask{Dims: od, Data: make([]bool, od[0]*od[1]*od[2])}
	nx, ny := m.Dims[0], m.Dims[1]
	n := 0
	for k := 0; k < od[2]; k++ {
		for j := 0; j < od[1]; j++ {
			for i := 0; i < od[0]; i++ {
				out.Data[n] = m.Data[s[0]*i+nx*(s[1]*j+ny*s[2]*k)]
				n++
			}
		}
	}
	return out
}
