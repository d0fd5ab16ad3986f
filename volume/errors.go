package volume

import "errors"

// Sentinel errors. Every error of this package wraps one of them (test
// with errors.Is) and says what exactly was wrong and what was expected.
var (
	// ErrShape reports data whose length or dimensions do not agree: a
	// volume, mask or stack whose Data does not fit its Dims, grids that
	// differ, non-positive or too large dimensions.
	ErrShape = errors.New("volume: shape mismatch")
	// ErrInvalid reports an argument outside its domain: an unknown
	// interpolation, boundary, resize mode or connectivity, a percentile
	// outside [0, 100], a non-finite spacing or voxel map, a negative
	// margin.
	ErrInvalid = errors.New("volume: invalid argument")
	// ErrSingular reports an affine that cannot be inverted (singular or
	// non-finite 3×3 part, or a last row other than 0 0 0 1).
	ErrSingular = errors.New("volume: singular affine")
	// ErrOrientation reports an affine or orientation codes that do not
	// describe a usable orientation (for example a singular affine whose
	// voxel axes cannot all be matched to world axes, or codes such as
	// "RRS").
	ErrOrientation = errors.New("volume: orientation")
	// ErrEmpty reports a statistic asked of no voxels (an empty mask).
	ErrEmpty = errors.New("volume: no voxels selected")
)
