package fusion

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is; the wrapped messages say which
// row, column, tensor or field was wrong and what was expected.
var (
	// ErrSchema marks an invalid schema or model configuration.
	ErrSchema = errors.New("fusion: invalid schema")
	// ErrBadCell marks a clinical or outcome cell that cannot be read as
	// its column's type (an unparseable number, an unknown ordinal level).
	ErrBadCell = errors.New("fusion: bad cell")
	// ErrUnknownColumn marks a column or record field the schema does not
	// declare.
	ErrUnknownColumn = errors.New("fusion: unknown column")
	// ErrMissingColumn marks a schema column absent from a table.
	ErrMissingColumn = errors.New("fusion: missing column")
	// ErrDuplicateID marks a patient id that appears twice.
	ErrDuplicateID = errors.New("fusion: duplicate patient id")
	// ErrUnmatched marks patients present in the clinical table but not
	// in the images, or the reverse.
	ErrUnmatched = errors.New("fusion: patients do not match")
	// ErrShape marks an image, embedding or feature vector of the wrong
	// shape for the model.
	ErrShape = errors.New("fusion: wrong shape")
	// ErrMissingInput marks a prediction request without any usable input
	// the model needs.
	ErrMissingInput = errors.New("fusion: missing input")
	// ErrNonFinite marks a NaN or infinite loss during training.
	ErrNonFinite = errors.New("fusion: non-finite loss")
	// ErrBundle marks a corrupted, truncated or malformed model bundle or
	// checkpoint.
	ErrBundle = errors.New("fusion: bad bundle")
	// ErrVersion marks a bundle written by an incompatible version.
	ErrVersion = errors.New("fusion: incompatible bundle version")
)

// RowError names the file line, column and value of a bad table cell.
type RowError struct {
	// Line is the 1-based line of the row in the file.
	Line int
	// ID is the row's patient id, when known.
	ID string
	// Column is the column name ("" for a whole-row problem).
	Column string
	// Value is the cell text.
	Value string
	// Err is the reason; it wraps one of the sentinel errors.
	Err error
}

// Error names line, patient, column and value.
func (e *RowError) Error() string {
	s := fmt.Sprintf("fusion: line %d", e.Line)
	if e.ID != "" {
		s += fmt.Sprintf(" (patient %q)", e.ID)
	}
	if e.Column != "" {
		s += fmt.Sprintf(", column %q, value %q", e.Column, e.Value)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *RowError) Unwrap() error { return e.Err }
