package norm

import (
	"errors"
	"fmt"

	"github.com/metasurv/metasurv/volume"
)

// Sentinel errors. Every error of this package wraps one of them (or an
// error of volume or register, which it names) and says what exactly was
// wrong and what was expected.
var (
	// ErrInput reports an argument that cannot be used: a nil image or
	// normalizer, data shorter than its dims, options out of range.
	ErrInput = errors.New("norm: invalid input")
	// ErrMask reports a mask that does not fit the operation: wrong length
	// for its dims, another grid than the image's, a stripper that finds
	// no brain.
	ErrMask = errors.New("norm: invalid mask")
	// ErrEmptyMask reports that no voxel is available to estimate the N4
	// bias field.
	ErrEmptyMask = errors.New("norm: N4 mask selects no positive voxel")
	// ErrMissing reports a missing sequence under MissingError, or no
	// sequence at all.
	ErrMissing = errors.New("norm: missing sequence")
	// ErrNonFinite reports an image with NaN or infinite voxels: statistics
	// over it would be meaningless, so normalisation refuses it rather than
	// spread NaNs through the model input.
	ErrNonFinite = errors.New("norm: image has NaN or infinite voxels")
)

// checkMask verifies that m is a mask whose data fits its dims.
func checkMask(m *volume.Mask) error {
	if m == nil {
		return fmt.Errorf("%w: nil mask", ErrMask)
	}
	n, err := volume.NumVoxels(m.Dims)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMask, err)
	}
	if len(m.Data) != n {
		return fmt.Errorf("%w: %d values for dims %v, want %d", ErrMask, len(m.Data), m.Dims, n)
	}
	return nil
}

// flatMask wraps per-value flags (nil = all) as the mask of a flat run of
// values, for volume's statistics.
func flatMask(sel []bool) *volume.Mask {
	if sel == nil {
		return nil
	}
	return &volume.Mask{Dims: [3]int{len(sel), 1, 1}, Data: sel}
}

// checkVolume verifies that v is an image whose data fits its dims.
func checkVolume(what string, v *volume.Volume) error {
	if v == nil {
		return fmt.Errorf("%w: nil %s", ErrInput, what)
	}
	n, err := volume.NumVoxels(v.Dims)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInput, what, err)
	}
	if len(v.Data) != n {
		return fmt.Errorf("%w: %s has %d values for dims %v, want %d", ErrInput, what, len(v.Data), v.Dims, n)
	}
	return nil
}
