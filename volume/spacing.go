package volume

import (
	"fmt"
	"math"
)

// affineTol is MONAI's AFFINE_TOL: spacings and affines closer than this
// count as equal.
const affineTol = 1e-3

// SpacingOptions configures ResampleToSpacing. The zero value is MONAI
// Spacing's default: trilinear ("bilinear"), border padding, the input's
// rotation kept.
type SpacingOptions struct {
	// Interp is the interpolation; Linear by default.
	Interp Interp
	// ZeroPad fills points outside the input with 0 instead of clamping
	// them to the border (MONAI padding_mode="border", the default).
	ZeroPad bool
	// Diagonal resamples onto an axis-aligned affine diag(pixdim), which
	// drops the input's rotation, flips and shears (MONAI diagonal=True).
	Diagonal bool
}

// ResampleToSpacing returns v resampled to voxel size pixdim (mm) exactly
// as MONAI Spacing(pixdim, mode, padding_mode) does on a MetaTensor:
//
//   - per axis, the target spacing replaces the current one unless they
//     already agree within 1e-3 mm (then that axis keeps its spacing);
//   - the new affine keeps the direction of every voxel axis (MONAI's
//     zoom_affine: the orthogonal factor of the 3×3 part, from its
//     Cholesky/QR decomposition, times the new spacings), or is
//     diag(pixdim) with Diagonal;
//   - the shape and origin follow MONAI's compute_shape_offset: the input's
//     corner voxel centres are mapped into the new voxel grid, the shape is
//     round(extent + 1) with numpy's round-half-to-even, and the origin is
//     the world position of the corner that has the smallest new
//     coordinates along every axis (else the grids are centre-aligned);
//   - values are sampled at the new voxel centres (align_corners=False
//     puts voxel centres on integer voxel coordinates).
//
// An input already at the target spacing is returned as a copy. A
// non-positive pixdim entry keeps that axis's spacing.
func (v *Volume) ResampleToSpacing(pixdim [3]float64, opt SpacingOptions) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	dims, affine, err := SpacingGrid(v.Dims, v.Affine, pixdim, opt)
	if err != nil {
		return nil, err
	}
	if dims == v.Dims && affineClose(affine, v.Affine, affineTol) {
		// MONAI returns the input unchanged when the grids agree.
		return v.Clone(), nil
	}
	s := Sampler{Interp: opt.Interp, Boundary: Border}
	if opt.ZeroPad {
		s.Boundary = Constant
	}
	return Resample(v, dims, affine, Identity(), s)
}

// SpacingGrid returns the output dims and affine of ResampleToSpacing for a
// grid of the given dims and affine, without touching any data: the grid
// MONAI Spacing would produce (only opt.Diagonal matters).
func SpacingGrid(dims [3]int, a Affine, pixdim [3]float64, opt SpacingOptions) ([3]int, Affine, error) {
	diagonal := opt.Diagonal
	if _, err := NumVoxels(dims); err != nil {
		return dims, a, err
	}
	if !a.IsFinite() {
		return dims, a, fmt.Errorf("%w: affine %v has non-finite entries", ErrInvalid, a)
	}
	zooms := a.Zooms()
	var out [3]float64
	for r := 0; r < 3; r++ {
		out[r] = pixdim[r]
		if math.IsNaN(out[r]) || math.IsInf(out[r], 0) {
			return dims, a, fmt.Errorf("%w: target spacing %v is not finite", ErrInvalid, pixdim)
		}
		if out[r] <= 0 {
			out[r] = zooms[r]
		}
		if math.Abs(zooms[r]-out[r]) <= affineTol { // MONAI keeps a spacing within AFFINE_TOL
			out[r] = zooms[r]
		}
		if out[r] == 0 {
			out[r] = 1
		}
	}
	na, err := zoomAffine(a, out, diagonal)
	if err != nil {
		return dims, a, err
	}
	shape, offset, err := shapeOffset(dims, a, na)
	if err != nil {
		return dims, a, err
	}
	if _, err := NumVoxels(shape); err != nil {
		return dims, a, fmt.Errorf("volume: spacing %v: %w", pixdim, err)
	}
	na[0][3], na[1][3], na[2][3] = offset[0], offset[1], offset[2]
	return shape, na, nil
}

// zoomAffine is MONAI's zoom_affine: an affine with zero translation whose
// column norms are scale. With diagonal it is diag(scale); otherwise the
// 3×3 part M of a is factored M = Q·R with R upper triangular with
// positive diagonal (R from the Cholesky factor of MᵀM), and the result is
// Q·diag(scale), keeping the directions of a's voxel axes.
func zoomAffine(a Affine, scale [3]float64, diagonal bool) (Affine, error) {
	if diagonal {
		return Scaling(scale), nil
	}
	// MᵀM = Lᵀ... Cholesky: MᵀM = L·Lᵀ, R = Lᵀ, Q = M·R⁻¹.
	var g [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				g[i][j] += a[k][i] * a[k][j]
			}
		}
	}
	var l [3][3]float64
	for j := 0; j < 3; j++ {
		d := g[j][j]
		for k := 0; k < j; k++ {
			d -= l[j][k] * l[j][k]
		}
		if !(d > 0) {
			return Affine{}, fmt.Errorf("%w: affine %v: its axes cannot be rescaled", ErrSingular, a)
		}
		l[j][j] = math.Sqrt(d)
		for i := j + 1; i < 3; i++ {
			s := g[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			l[i][j] = s / l[j][j]
		}
	}
	// R = Lᵀ (upper). Q = M·R⁻¹: solve Q·R = M row by row (forward
	// substitution over columns).
	out := Identity()
	for r := 0; r < 3; r++ {
		var q [3]float64
		for c := 0; c < 3; c++ {
			s := a[r][c]
			for k := 0; k < c; k++ {
				s -= q[k] * l[c][k] // R[k][c] = L[c][k]
			}
			q[c] = s / l[c][c]
		}
		for c := 0; c < 3; c++ {
			out[r][c] = q[c] * scale[c]
		}
	}
	return out, nil
}

// shapeOffset is MONAI's compute_shape_offset (scale_extent=False) for a
// grid of dims with affine in, resampled onto the zero-translation affine
// out: it returns the output shape and the world translation of the new
// grid.
func shapeOffset(dims [3]int, in, out Affine) ([3]int, [3]float64, error) {
	outInv, err := out.Inverse()
	if err != nil {
		return dims, [3]float64{}, fmt.Errorf("volume: target affine: %w", err)
	}
	m := outInv.Mul(in) // input voxel → output voxel
	var corners, world [8][3]float64
	for c := 0; c < 8; c++ {
		v := [3]float64{}
		for r := 0; r < 3; r++ {
			if c>>(2-r)&1 == 1 { // numpy meshgrid order: last axis fastest
				v[r] = float64(dims[r] - 1)
			}
		}
		corners[c] = m.Apply(v)
		world[c] = in.Apply(v)
	}
	var shape [3]int
	for r := 0; r < 3; r++ {
		lo, hi := corners[0][r], corners[0][r]
		for c := 1; c < 8; c++ {
			lo, hi = math.Min(lo, corners[c][r]), math.Max(hi, corners[c][r])
		}
		shape[r] = int(math.RoundToEven(hi - lo + 1))
		if shape[r] < 1 {
			return shape, [3]float64{}, fmt.Errorf("%w: resampled grid has shape %v", ErrShape, shape)
		}
	}
	for c := 0; c < 8; c++ {
		ok := true
		for r := 0; r < 3 && ok; r++ {
			minDiff := math.Inf(1)
			for o := 0; o < 8; o++ {
				minDiff = math.Min(minDiff, corners[o][r]-corners[c][r])
			}
			ok = math.Abs(minDiff) <= 1e-8 // numpy.allclose(min_corner, 0)
		}
		if ok {
			return shape, world[c], nil
		}
	}
	// No corner is smallest along every axis (an oblique grid): centre
	// the output on the input.
	var off [3]float64
	for r := 0; r < 3; r++ {
		off[r] = in[r][3]
		for c := 0; c < 3; c++ {
			off[r] += in[r][c]*float64(dims[c])/2 - out[r][c]*float64(shape[c])/2
		}
	}
	return shape, off, nil
}

// affineClose reports whether every entry of a and b differs by at most
// atol + 1e-5·|b| (numpy.allclose with MONAI's atol).
func affineClose(a, b Affine, atol float64) bool {
	for r := range a {
		for c := range a[r] {
			if math.Abs(a[r][c]-b[r][c]) > atol+1e-5*math.Abs(b[r][c]) {
				return false
			}
		}
	}
	return true
}
