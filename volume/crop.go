package volume

import "fmt"

// Extract returns the box of dims voxels of v whose first voxel is v's
// voxel lo. The box may reach outside v (lo negative, or past the end):
// those voxels are fill, so Extract both crops and pads. The affine is
// translated so that every copied voxel keeps its world position.
func (v *Volume) Extract(lo, dims [3]int, fill float32) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	out, err := New(dims, v.Affine.Mul(Translation([3]float64{float64(lo[0]), float64(lo[1]), float64(lo[2])})))
	if err != nil {
		return nil, err
	}
	if fill != 0 {
		for i := range out.Data {
			out.Data[i] = fill
		}
	}
	// Overlap of the box with v, in output coordinates.
	var a, b [3]int
	for r := 0; r < 3; r++ {
		a[r] = max(0, -lo[r])
		b[r] = min(dims[r], v.Dims[r]-lo[r])
		if a[r] >= b[r] {
			return out, nil
		}
	}
	nx, ny := dims[0], dims[1]
	for k := a[2]; k < b[2]; k++ {
		for j := a[1]; j < b[1]; j++ {
			dst := out.Data[a[0]+nx*(j+ny*k) : b[0]+nx*(j+ny*k)]
			s := v.Index(a[0]+lo[0], j+lo[1], k+lo[2])
			copy(dst, v.Data[s:s+len(dst)])
		}
	}
	return out, nil
}

// CropOrPad returns v centred in a grid of dims, cropping axes that are
// too long and padding with fill those that are too short, as MONAI's
// ResizeWithPadOrCrop: a crop keeps [n/2 − d/2, …) (integer halves), a pad
// puts ⌊(d−n)/2⌋ voxels before and the rest after. World positions are
// kept.
func (v *Volume) CropOrPad(dims [3]int, fill float32) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	var lo [3]int
	for r := 0; r < 3; r++ {
		n, d := v.Dims[r], dims[r]
		if d <= 0 {
			return nil, fmt.Errorf("%w: target dims %v must be positive", ErrShape, dims)
		}
		if d <= n {
			lo[r] = n/2 - d/2
		} else {
			lo[r] = -((d - n) / 2)
		}
	}
	return v.Extract(lo, dims, fill)
}

// CropToBox returns the part of v in the box [lo, hi) grown by margin
// voxels on every side and clipped to v (MONAI CropForeground with
// allow_smaller=True). Pass the box of Mask.BoundingBox to crop to a
// brain mask.
func (v *Volume) CropToBox(lo, hi [3]int, margin int) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if margin < 0 {
		return nil, fmt.Errorf("%w: negative crop margin %d", ErrInvalid, margin)
	}
	var start, dims [3]int
	for r := 0; r < 3; r++ {
		a := max(lo[r]-margin, 0)
		b := min(hi[r]+margin, v.Dims[r])
		if a >= b {
			return nil, fmt.Errorf("%w: box [%v, %v) with margin %d does not overlap dims %v",
				ErrShape, lo, hi, margin, v.Dims)
		}
		start[r], dims[r] = a, b-a
	}
	return v.Extract(start, dims, 0)
}

// CropToMask crops v to the bounding box of m's marked voxels grown by
// margin (MONAI CropForeground; pass NonzeroMask(v) to crop to v's
// nonzero voxels). An empty mask is ErrEmpty.
func (v *Volume) CropToMask(m *Mask, margin int) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := m.check(v.Dims); err != nil {
		return nil, err
	}
	lo, hi, ok := m.BoundingBox()
	if !ok {
		return nil, fmt.Errorf("volume: crop to mask: %w", ErrEmpty)
	}
	return v.CropToBox(lo, hi, margin)
}
