package register

import "errors"

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
	// ErrFormat reports a transform file that cannot be parsed.
	ErrFormat = errors.New("register: malformed transform file")
)
