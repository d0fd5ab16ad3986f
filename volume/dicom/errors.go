package dicom

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (test with errors.Is) and says what exactly was wrong and what was
// expected, so a hospital tool can tell a corrupt upload from an unsupported
// encoding or a series that cannot be a volume.
var (
	// ErrNotDICOM reports input that is neither a DICOM Part 10 file nor a
	// bare data set this package can recognise.
	ErrNotDICOM = errors.New("dicom: not a DICOM file")
	// ErrTruncated reports a file that ends inside an element, item or
	// pixel fragment it declares.
	ErrTruncated = errors.New("dicom: truncated file")
	// ErrMalformed reports an element, item or pixel stream that breaks the
	// encoding rules (odd lengths, lengths past the enclosing item, bad
	// delimiters, impossible image attributes, corrupt compressed data).
	ErrMalformed = errors.New("dicom: malformed data")
	// ErrUnsupported reports a valid file this package does not decode: a
	// transfer syntax such as JPEG 2000 or JPEG-LS (named in the message),
	// colour images, or bit depths other than 8 and 16.
	ErrUnsupported = errors.New("dicom: unsupported encoding")
	// ErrTooLarge reports data that would take more memory than
	// Options.MaxBytes allows, or nesting deeper than Options.MaxDepth.
	ErrTooLarge = errors.New("dicom: data too large")
	// ErrGeometry reports slices that do not form one regular volume:
	// missing slices, uneven spacing, duplicates, slices off the stack axis.
	// The message names the positions involved.
	ErrGeometry = errors.New("dicom: slices do not form a regular volume")
	// ErrNoImage reports a file or series without pixel data.
	ErrNoImage = errors.New("dicom: no image")
)
