package survival

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/internal/table"
)

// Table is a CSV file held as text: a header and rows of cells. Columns are
// parsed on demand, because one column may be a number for a Cox model and
// a label for a Kaplan–Meier split.
type Table struct {
	Header []string
	Rows   [][]string
}

// DefaultCSVMaxBytes is the memory budget of ReadCSV when
// CSVOptions.MaxBytes is 0: clinical tables are kilobytes to megabytes.
const DefaultCSVMaxBytes = 256 << 20

// CSVOptions configures ReadCSV; the zero value is the default budget.
type CSVOptions struct {
	// MaxBytes bounds the memory the table takes (cell text plus about 32
	// bytes per cell and row); a larger file is refused with ErrTooLarge
	// before it is held. 0 means DefaultCSVMaxBytes.
	MaxBytes int64
}

// ReadCSV reads a comma-separated table with a header line, as written by
// R's write.csv (quoted strings, empty or NA cells for missing values).
//
// It is the shared reader of internal/table (also used by fusion for
// clinical tables): duplicate or empty column names and ragged rows are
// ErrFormat errors naming the line, a file over the budget is ErrTooLarge.
func ReadCSV(r io.Reader, o CSVOptions) (*Table, error) {
	limit := o.MaxBytes
	if limit <= 0 {
		limit = DefaultCSVMaxBytes
	}
	tab, err := table.Read(r, table.Options{MaxBytes: limit})
	switch {
	case errors.Is(err, table.ErrTooLarge):
		return nil, fmt.Errorf("%w: reading CSV (CSVOptions.MaxBytes %d): %w", ErrTooLarge, limit, err)
	case err != nil:
		return nil, fmt.Errorf("%w: reading CSV: %w", ErrFormat, err)
	}
	return &Table{Header: tab.Header, Rows: tab.Rows}, nil
}

// Column returns the index of the named column.
func (t *Table) Column(name string) (int, error) {
	for i, h := range t.Header {
		if h == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: no column %q (have %s)", ErrInput, name, strings.Join(t.Header, ", "))
}

// IsMissing reports whether a cell denotes a missing value: empty, NA,
// NaN or "." (R, pandas and SAS spellings).
func IsMissing(cell string) bool { return table.IsMissing(cell) }

// DatasetOptions selects the columns of a Table used by an analysis.
type DatasetOptions struct {
	Time, Event string
	// Covariates are expanded into the design matrix: numeric columns as
	// they are, text columns as factors with treatment contrasts (one 0/1
	// column per level except the first; levels in order of first
	// appearance, names as R's model.matrix: column name + level).
	Covariates []string
	// Keep are extra columns (group labels, markers) whose text is kept
	// for the retained rows. A missing value here also drops the row.
	Keep []string
	// Unit is the unit of the time column (zero value: Days).
	Unit Unit
}

// Dataset is the analysis-ready part of a Table: complete rows only, as R's
// na.omit, with the number of dropped rows recorded.
type Dataset struct {
	Y []Outcome
	// X holds one row of covariates per patient (nil when no covariates).
	X [][]float64
	// Names are the design-matrix column names.
	Names []string
	// Kept holds the text of each Keep column for the retained rows.
	Kept map[string][]string
	// Rows are the retained data-row indices (0-based, header excluded).
	Rows []int
	// Dropped counts rows removed for a missing value in a used column.
	Dropped int
	Unit    Unit
}

// Dataset extracts outcomes and covariates, dropping incomplete rows.
func (t *Table) Dataset(o DatasetOptions) (*Dataset, error) {
	cols := append([]string{o.Time, o.Event}, o.Covariates...)
	cols = append(cols, o.Keep...)
	idx := make([]int, len(cols))
	for i, c := range cols {
		j, err := t.Column(c)
		if err != nil {
			return nil, err
		}
		idx[i] = j
	}
	d := &Dataset{Unit: o.Unit, Kept: map[string][]string{}}
	for r, row := range t.Rows {
		complete := true
		for _, j := range idx {
			if IsMissing(row[j]) {
				complete = false
				break
			}
		}
		if complete {
			d.Rows = append(d.Rows, r)
		} else {
			d.Dropped++
		}
	}
	if len(d.Rows) == 0 {
		return nil, fmt.Errorf("%w: no complete rows in columns %s (%d dropped)", ErrInput, strings.Join(cols, ", "), d.Dropped)
	}
	times, err := t.floats(idx[0], d.Rows)
	if err != nil {
		return nil, err
	}
	events, err := t.events(idx[1], d.Rows)
	if err != nil {
		return nil, err
	}
	if d.Y, err = NewOutcomes(times, events); err != nil {
		return nil, err
	}
	if err := d.design(t, idx[2:2+len(o.Covariates)]); err != nil {
		return nil, err
	}
	for k, c := range o.Keep {
		j := idx[2+len(o.Covariates)+k]
		v := make([]string, len(d.Rows))
		for i, r := range d.Rows {
			v[i] = strings.TrimSpace(t.Rows[r][j])
		}
		d.Kept[c] = v
	}
	return d, nil
}

// floats parses column j of the given rows as numbers.
func (t *Table) floats(j int, rows []int) ([]float64, error) {
	v := make([]float64, len(rows))
	for i, r := range rows {
		f, err := strconv.ParseFloat(strings.TrimSpace(t.Rows[r][j]), 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("%w: column %q row %d: %q is not a number", ErrFormat, t.Header[j], r+2, t.Rows[r][j])
		}
		v[i] = f
	}
	return v, nil
}

// events parses an event column like R's Surv: 0/1, 1/2 (2 = event, used
// when every value is 1 or 2), or TRUE/FALSE.
func (t *Table) events(j int, rows []int) ([]bool, error) {
	e := make([]bool, len(rows))
	vals := make([]float64, len(rows))
	allOneTwo := true
	for i, r := range rows {
		s := strings.TrimSpace(t.Rows[r][j])
		switch strings.ToUpper(s) {
		case "TRUE", "T":
			vals[i] = 1
		case "FALSE", "F":
			vals[i] = 0
		default:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: event column %q row %d: %q is not 0/1, 1/2 or TRUE/FALSE", ErrFormat, t.Header[j], r+2, s)
			}
			vals[i] = f
		}
		if vals[i] != 1 && vals[i] != 2 {
			allOneTwo = false
		}
	}
	for i, v := range vals {
		switch {
		case allOneTwo:
			e[i] = v == 2
		case v == 0 || v == 1:
			e[i] = v == 1
		default:
			return nil, fmt.Errorf("%w: event column %q row %d: %v is not 0/1 (or 1/2 throughout)", ErrFormat, t.Header[j], rows[i]+2, v)
		}
	}
	return e, nil
}

// design fills X and Names from the covariate columns.
func (d *Dataset) design(t *Table, cols []int) error {
	if len(cols) == 0 {
		return nil
	}
	var blocks [][][]float64 // per column: values per row
	for _, j := range cols {
		if v, err := t.floats(j, d.Rows); err == nil {
			col := make([][]float64, len(v))
			for i := range v {
				col[i] = []float64{v[i]}
			}
			blocks = append(blocks, col)
			d.Names = append(d.Names, t.Header[j])
			continue
		}
		col, names := t.factor(j, d.Rows)
		if len(names) == 0 {
			return fmt.Errorf("%w: factor column %q has a single level (want at least two)", ErrInput, t.Header[j])
		}
		blocks = append(blocks, col)
		d.Names = append(d.Names, names...)
	}
	d.X = make([][]float64, len(d.Rows))
	for i := range d.X {
		row := make([]float64, 0, len(d.Names))
		for _, b := range blocks {
			row = append(row, b[i]...)
		}
		d.X[i] = row
	}
	return nil
}

// factor expands a text column into treatment-contrast dummies, with
// levels in order of first appearance and the first level as reference.
func (t *Table) factor(j int, rows []int) ([][]float64, []string) {
	level := map[string]int{}
	var levels []string
	for _, r := range rows {
		s := strings.TrimSpace(t.Rows[r][j])
		if _, ok := level[s]; !ok {
			level[s] = len(levels)
			levels = append(levels, s)
		}
	}
	names := make([]string, 0, len(levels)-1)
	for _, l := range levels[1:] {
		names = append(names, t.Header[j]+l)
	}
	col := make([][]float64, len(rows))
	for i, r := range rows {
		v := make([]float64, len(levels)-1)
		if k := level[strings.TrimSpace(t.Rows[r][j])]; k > 0 {
			v[k-1] = 1
		}
		col[i] = v
	}
	return col, names
}
