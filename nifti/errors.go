package nifti

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (test with errors.Is) and adds what exactly was wrong and what was expected.
var (
	// ErrNotNIfTI reports a file that is not NIfTI-1 or NIfTI-2: wrong
	// sizeof_hdr or magic string.
	ErrNotNIfTI = errors.New("nifti: not a NIfTI-1/NIfTI-2 file")
	// ErrInvalidHeader reports a header field with an impossible value
	// (dimensions, vox_offset, qfac, scaling, ...).
	ErrInvalidHeader = errors.New("nifti: invalid header")
	// ErrDatatype reports a datatype code this package does not know, or a
	// conversion that is not defined for the datatype (e.g. complex or RGB
	// voxels to float32).
	ErrDatatype = errors.New("nifti: unsupported datatype")
	// ErrExtension reports a malformed header extension.
	ErrExtension = errors.New("nifti: malformed extension")
	// ErrTruncated reports a file that ends before the header, extensions
	// or voxel data it declares.
	ErrTruncated = errors.New("nifti: truncated file")
	// ErrCompressed reports damaged gzip/DEFLATE data (bad block, code,
	// distance, CRC-32 or size).
	ErrCompressed = errors.New("nifti: corrupt gzip data")
	// ErrTooLarge reports an image larger than ReadOptions.MaxBytes (or
	// than an int can index).
	ErrTooLarge = errors.New("nifti: image too large")
	// ErrNot3D reports a request for a single 3-D volume from an image with
	// more than one volume (4-D+ with a non-trivial trailing dimension).
	ErrNot3D = errors.New("nifti: image is not 3-D")
)
