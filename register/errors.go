package register

import (
	"errors"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/volume"
)

// Sentinel errors. Every error of this package wraps one of them (or an
// error of volume, which it names) and says what exactly was wrong and
// what was expected.
var (
	// ErrInput reports an image, mask, grid, transform or option that
	// cannot be used: nil or inconsistent volumes, a singular affine,
	// non-finite matrix entries, an unknown metric or interpolation.
	ErrInput = errors.New("register: invalid input")
	// ErrNoOverlap reports a transform under which (almost) no sample point
	// of the fixed image falls inside the moving image.
	ErrNoOverlap = errors.New("register: fixed and moving images do not overlap")
	// ErrNonFinite reports images whose NaN or infinite voxels leave too
	// few usable sample points: isolated non-finite voxels are skipped, but
	// an image that is mostly NaN (or NaN where the images overlap) cannot
	// be registered, and saying "no overlap" would mislead.
	ErrNonFinite = errors.New("register: too many NaN or infinite voxels")
	// ErrFormat reports a transform file that cannot be parsed.
	ErrFormat = errors.New("register: malformed transform file")
)

// countNonFinite returns the number of NaN or infinite voxels of v.
func countNonFinite(v *volume.Volume) int {
	n := 0
	for _, x := range v.Data {
		if x != x || math.IsInf(float64(x), 0) {
			n++
		}
	}
	return n
}

// noOverlap explains a NaN cost: non-finite voxels when the images have
// any (ErrNonFinite), else ErrNoOverlap.
func noOverlap(fixed, moving *volume.Volume) error {
	nf, nm := countNonFinite(fixed), countNonFinite(moving)
	if nf+nm == 0 {
		return ErrNoOverlap
	}
	return fmt.Errorf("%w: fewer than 2 sample points fall on finite voxels of both images (fixed: %d of %d voxels non-finite, moving: %d of %d)",
		ErrNonFinite, nf, len(fixed.Data), nm, len(moving.Data))
}
