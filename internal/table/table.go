package table

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxBytes is the memory budget of a zero Options: 256 MiB, far
// above any clinical or outcome table and far below what hurts a server.
const DefaultMaxBytes = 256 << 20

// cellOverhead is the memory a cell costs beyond its bytes (a string header
// in its row slice), counted against the budget.
const cellOverhead = 16

var (
	// ErrFormat marks a file that is not a valid table: no header, a
	// duplicate or empty column name, broken quoting.
	ErrFormat = errors.New("table: bad CSV")
	// ErrTooLarge marks a file over the memory budget.
	ErrTooLarge = errors.New("table: CSV over the memory budget")
	// ErrRagged marks a row whose number of cells differs from the header's.
	ErrRagged = errors.New("table: row length differs from the header")
)

// Options configures Read. The zero value reads with DefaultMaxBytes and
// fails on a ragged row.
type Options struct {
	// MaxBytes bounds the file size and the memory of the cells; zero
	// means DefaultMaxBytes.
	MaxBytes int64
	// SkipRagged leaves out rows whose cell count differs from the header
	// and lists them in Table.Skipped instead of failing.
	SkipRagged bool
}

// Table is a CSV file held as text.
type Table struct {
	// Header holds the column names, trimmed, without a byte-order mark.
	Header []string
	// Rows holds the cells of each data row (len(Header) each).
	Rows [][]string
	// Lines holds the 1-based file line on which each row starts.
	Lines []int
	// Skipped lists the ragged rows left out under SkipRagged.
	Skipped []RowError
}

// RowError says what was wrong with one cell or row of a table.
type RowError struct {
	// Line is the 1-based file line of the row.
	Line int
	// Column is the column name ("" for a whole-row problem).
	Column string
	// Value is the offending cell text ("" for a whole-row problem).
	Value string
	// Err is the reason.
	Err error
}

// Error names line, column and value.
func (e *RowError) Error() string {
	switch {
	case e.Column == "":
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	default:
		return fmt.Sprintf("line %d, column %q, value %q: %v", e.Line, e.Column, e.Value, e.Err)
	}
}

// Unwrap returns the reason.
func (e *RowError) Unwrap() error { return e.Err }

// countingReader fails once more than max bytes were read.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
	}
	if int64(len(p)) > c.max-c.n+1 {
		p = p[:c.max-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Read reads a table with a header line.
func Read(r io.Reader, o Options) (*Table, error) {
	max := o.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	cr := csv.NewReader(&countingReader{r: r, max: max})
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var used int64
	t := &Table{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		for _, c := range rec {
			used += int64(len(c)) + cellOverhead
		}
		if used > max {
			return nil, fmt.Errorf("%w: cells need more than %d bytes", ErrTooLarge, max)
		}
		line, _ := cr.FieldPos(0)
		if first {
			if err := t.setHeader(rec); err != nil {
				return nil, err
			}
			continue
		}
		if len(rec) != len(t.Header) {
			re := RowError{Line: line, Err: fmt.Errorf("%w: %d cells, want %d as in the header", ErrRagged, len(rec), len(t.Header))}
			if !o.SkipRagged {
				return nil, &re
			}
			t.Skipped = append(t.Skipped, re)
			continue
		}
		t.Rows = append(t.Rows, rec)
		t.Lines = append(t.Lines, line)
	}
	if t.Header == nil {
		return nil, fmt.Errorf("%w: no header line", ErrFormat)
	}
	return t, nil
}

func (t *Table) setHeader(rec []string) error {
	seen := make(map[string]bool, len(rec))
	for i, h := range rec {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("%w: column %d of the header has no name", ErrFormat, i+1)
		}
		if seen[h] {
			return fmt.Errorf("%w: column %q appears twice (want unique column names)", ErrFormat, h)
		}
		seen[h] = true
		rec[i] = h
	}
	t.Header = rec
	return nil
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// IsMissing reports whether a cell denotes a missing value: empty, NA, NaN,
// "." or N/A (R, pandas and SAS spellings).
func IsMissing(cell string) bool {
	switch strings.TrimSpace(cell) {
	case "", "NA", "NaN", "nan", ".", "N/A":
		return true
	}
	return false
}
