package volume

import "fmt"

// Mask is a binary image on a volume's grid, in the same voxel order as
// Volume.Data: a brain mask, a tumour label, or the voxels a statistic is
// taken over.
type Mask struct {
	Dims [3]int
	Data []bool // len = Nx·Ny·Nz, i fastest
}

// NewMask returns an all-false mask on the grid of dims.
func NewMask(dims [3]int) (*Mask, error) {
	n, err := NumVoxels(dims)
	if err != nil {
		return nil, err
	}
	return &Mask{Dims: dims, Data: make([]bool, n)}, nil
}

// maskWhere builds a mask on v's grid from a per-voxel predicate.
func maskWhere(v *Volume, keep func(float32) bool) (*Mask, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	m := &Mask{Dims: v.Dims, Data: make([]bool, len(v.Data))}
	for i, x := range v.Data {
		m.Data[i] = keep(x)
	}
	return m, nil
}

// NonzeroMask marks the voxels of v that are not 0 (NaN counts as
// nonzero), the foreground rule of MONAI's NormalizeIntensity(nonzero=True)
// and CropForeground.
func NonzeroMask(v *Volume) (*Mask, error) {
	return maskWhere(v, func(x float32) bool { return x != 0 })
}

// ThresholdMask marks the voxels of v with lo ≤ value ≤ hi; NaN voxels
// are never marked. Use ±Inf for a one-sided threshold, e.g. lo = 0.5,
// hi = +Inf to binarise a resampled label map.
func ThresholdMask(v *Volume, lo, hi float32) (*Mask, error) {
	if !(lo <= hi) { // also a NaN bound, which would select nothing
		return nil, fmt.Errorf("%w: threshold range [%g, %g] is empty", ErrInvalid, lo, hi)
	}
	return maskWhere(v, func(x float32) bool { return x >= lo && x <= hi })
}

// Count returns the number of marked voxels.
func (m *Mask) Count() int {
	if m == nil {
		return 0
	}
	n := 0
	for _, b := range m.Data {
		if b {
			n++
		}
	}
	return n
}

// check verifies that m has the data length its dims say and, when dims
// is given, that it lies on that grid.
func (m *Mask) check(dims [3]int) error {
	if m == nil {
		return fmt.Errorf("%w: nil mask", ErrShape)
	}
	if m.Dims != dims {
		return fmt.Errorf("%w: mask dims %v, volume dims %v", ErrShape, m.Dims, dims)
	}
	n, err := NumVoxels(m.Dims)
	if err != nil {
		return err
	}
	if len(m.Data) != n {
		return fmt.Errorf("%w: mask has %d values for dims %v (want %d)", ErrShape, len(m.Data), m.Dims, n)
	}
	return nil
}

// ApplyMask returns a copy of v with every voxel outside m set to fill
// (skull stripping with a brain mask, for example).
func (v *Volume) ApplyMask(m *Mask, fill float32) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := m.check(v.Dims); err != nil {
		return nil, err
	}
	out := v.Clone()
	for i, b := range m.Data {
		if !b {
			out.Data[i] = fill
		}
	}
	return out, nil
}

// BoundingBox returns the smallest box [lo, hi) (hi exclusive) holding
// every marked voxel, and false if none is marked.
func (m *Mask) BoundingBox() (lo, hi [3]int, ok bool) {
	if m == nil {
		return [3]int{}, [3]int{}, false
	}
	nx, ny := m.Dims[0], m.Dims[1]
	lo = m.Dims
	for p, b := range m.Data {
		if !b {
			continue
		}
		idx := [3]int{p % nx, (p / nx) % ny, p / (nx * ny)}
		for r := 0; r < 3; r++ {
			lo[r] = min(lo[r], idx[r])
			hi[r] = max(hi[r], idx[r]+1)
		}
		ok = true
	}
	if !ok {
		return [3]int{}, [3]int{}, false
	}
	return lo, hi, true
}
