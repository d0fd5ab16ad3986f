package fusion

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/internal/table"
	"github.com/metasurv/metasurv/survival"
)

// Kind is the type of a clinical variable, which decides how it is
// validated and encoded.
type Kind int

const (
	// Numeric is a real number (age, KPS), standardised with the mean and
	// standard deviation of the training split.
	Numeric Kind = iota
	// Categorical is an unordered label (primary histology), one-hot
	// encoded over the training levels plus one slot for levels never seen
	// in training.
	Categorical
	// Ordinal is an ordered label (number of metastases "1" < "2-4" <
	// ">4"): its rank in Column.Levels, standardised on the training split.
	Ordinal
	// Binary is yes/no (extracranial disease, a mutation): 1/0, true/false,
	// yes/no, pos/neg, centred on the training rate.
	Binary
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Categorical:
		return "categorical"
	case Ordinal:
		return "ordinal"
	case Binary:
		return "binary"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Column declares one clinical variable.
type Column struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Levels are the ordered levels of an Ordinal column (required) or
	// the known levels of a Categorical one (optional: nil learns them
	// from the training split, in sorted order).
	Levels []string `json:"levels,omitempty"`
}

// Schema declares the clinical table: the patient id column and the
// variables.
type Schema struct {
	// ID names the patient id column; empty means "id".
	ID      string   `json:"id"`
	Columns []Column `json:"columns"`
}

// StudySchema returns the variables of the brain-metastasis study as an
// example schema: age and Karnofsky performance status (numeric), primary
// tumour histology and prior treatment (categorical), number of brain
// metastases (ordinal), extracranial disease and three molecular markers
// (binary).
func StudySchema() Schema {
	return Schema{ID: "id", Columns: []Column{
		{Name: "age", Kind: Numeric},
		{Name: "kps", Kind: Numeric},
		{Name: "histology", Kind: Categorical, Levels: []string{"lung", "breast", "melanoma", "renal", "colorectal", "other"}},
		{Name: "extracranial", Kind: Binary},
		{Name: "n_mets", Kind: Ordinal, Levels: []string{"1", "2-4", ">4"}},
		{Name: "prior_treatment", Kind: Categorical, Levels: []string{"none", "surgery", "radiotherapy", "systemic", "combined"}},
		{Name: "egfr", Kind: Binary},
		{Name: "alk", Kind: Binary},
		{Name: "braf", Kind: Binary},
	}}
}

func (s Schema) idName() string {
	if s.ID == "" {
		return "id"
	}
	return s.ID
}

// Validate checks that names are unique and non-empty, kinds known and
// ordinal levels given.
func (s Schema) Validate() error {
	seen := map[string]bool{s.idName(): true}
	if len(s.Columns) == 0 {
		return fmt.Errorf("%w: no columns", ErrSchema)
	}
	for _, c := range s.Columns {
		if strings.TrimSpace(c.Name) == "" || c.Name != strings.TrimSpace(c.Name) {
			return fmt.Errorf("%w: column name %q (want a non-empty name without surrounding spaces)", ErrSchema, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("%w: column %q declared twice or equal to the id column", ErrSchema, c.Name)
		}
		seen[c.Name] = true
		switch c.Kind {
		case Numeric, Binary:
		case Ordinal:
			if len(c.Levels) < 2 {
				return fmt.Errorf("%w: ordinal column %q has %d levels (want at least 2, in order)", ErrSchema, c.Name, len(c.Levels))
			}
		case Categorical:
		default:
			return fmt.Errorf("%w: column %q has unknown kind %d", ErrSchema, c.Name, int(c.Kind))
		}
		lv := map[string]bool{}
		for _, l := range c.Levels {
			if lv[l] || table.IsMissing(l) {
				return fmt.Errorf("%w: column %q level %q is repeated or reads as missing", ErrSchema, c.Name, l)
			}
			lv[l] = true
		}
	}
	return nil
}

// column returns the named column.
func (s Schema) column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Record is one patient's clinical variables as text, by column name. An
// absent key or a missing-value spelling ("", NA, NaN, ".", N/A) is a
// missing value.
type Record map[string]string

// parseBinary reads yes/no spellings.
func parseBinary(s string) (float64, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "pos", "positive":
		return 1, true
	case "0", "false", "f", "no", "n", "neg", "negative":
		return 0, true
	}
	return 0, false
}

// parseCell checks one cell against its column; it returns the numeric
// value (Numeric, Binary, the rank of an Ordinal), whether it is missing,
// and an error wrapping ErrBadCell.
func parseCell(c Column, cell string) (v float64, missing bool, err error) {
	if table.IsMissing(cell) {
		return 0, true, nil
	}
	cell = strings.TrimSpace(cell)
	switch c.Kind {
	case Numeric:
		f, perr := strconv.ParseFloat(cell, 64)
		if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false, fmt.Errorf("%w: %q is not a finite number", ErrBadCell, cell)
		}
		return f, false, nil
	case Binary:
		f, ok := parseBinary(cell)
		if !ok {
			return 0, false, fmt.Errorf("%w: %q is not binary (want 0/1, true/false, yes/no, pos/neg)", ErrBadCell, cell)
		}
		return f, false, nil
	case Ordinal:
		i := slices.Index(c.Levels, cell)
		if i < 0 {
			return 0, false, fmt.Errorf("%w: %q is not a level of ordinal column %q (want one of %s)", ErrBadCell, cell, c.Name, strings.Join(c.Levels, ", "))
		}
		return float64(i), false, nil
	}
	return 0, false, nil // categorical: any text
}

// ReadOptions configures ReadClinical. The zero value fails on the first
// bad row and reads at most table.DefaultMaxBytes (256 MiB).
type ReadOptions struct {
	// SkipBadRows leaves out rows with a bad cell, a duplicate id or the
	// wrong number of cells, and lists them in Clinical.Skipped, instead
	// of failing. Nothing is ever silently set to zero.
	SkipBadRows bool
	// MaxBytes bounds the file size and the memory of its cells; zero
	// means 256 MiB.
	MaxBytes int64
	// Ignore lists columns of the file that are not clinical variables
	// and not outcomes (free text, dates); any other undeclared column is
	// an error.
	Ignore []string
	// Time and Event, when set, name outcome columns read into
	// Clinical.Outcomes (time in TimeUnit; event 1/0, true/false). A row
	// with a missing time or event is a bad row.
	Time, Event string
	// TimeUnit is the unit of the time column (zero value: days).
	TimeUnit survival.Unit
	// Labels name categorical label columns of auxiliary tasks (primary
	// origin, relapse, molecular subtype), read into Clinical.Labels as
	// text; a missing label is kept as "" and masked out of the loss.
	Labels []string
}

// Clinical is a clinical table that passed validation.
type Clinical struct {
	Schema  Schema
	IDs     []string
	Records []Record
	// Outcomes are set when ReadOptions.Time and Event were given, in
	// TimeUnit.
	Outcomes []survival.Outcome
	TimeUnit survival.Unit
	// Labels holds each auxiliary label column ("" = missing).
	Labels map[string][]string
	// Lines are the file lines of the kept rows.
	Lines []int
	// Skipped lists the rows left out under SkipBadRows.
	Skipped []*RowError
}

// ReadClinical reads and validates a clinical CSV against a schema: every
// column must be declared (or ignored, or an outcome/label column), every
// declared column present, ids non-empty and unique, and every cell
// readable as its column's type. A violation is a *RowError naming the line,
// patient, column and value, or, with SkipBadRows, a skipped row.
func ReadClinical(r io.Reader, s Schema, o ReadOptions) (*Clinical, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tab, err := table.Read(r, table.Options{MaxBytes: o.MaxBytes, SkipRagged: o.SkipBadRows})
	if err != nil {
		var re *table.RowError
		if errors.As(err, &re) {
			return nil, &RowError{Line: re.Line, Err: fmt.Errorf("%w: %v", ErrBadCell, re.Err)}
		}
		return nil, fmt.Errorf("fusion: reading clinical CSV: %w", err)
	}
	c := &Clinical{Schema: s, Labels: map[string][]string{}, TimeUnit: o.TimeUnit}
	for _, re := range tab.Skipped {
		c.Skipped = append(c.Skipped, &RowError{Line: re.Line, Err: fmt.Errorf("%w: %v", ErrBadCell, re.Err)})
	}
	idCol := tab.Column(s.idName())
	if idCol < 0 {
		return nil, fmt.Errorf("%w: id column %q not in the header (have %s)", ErrMissingColumn, s.idName(), strings.Join(tab.Header, ", "))
	}
	special := map[string]bool{}
	for _, n := range o.Ignore {
		special[n] = true
	}
	for _, n := range append([]string{o.Time, o.Event}, o.Labels...) {
		if n != "" {
			if tab.Column(n) < 0 {
				return nil, fmt.Errorf("%w: outcome or label column %q not in the header", ErrMissingColumn, n)
			}
			special[n] = true
		}
	}
	if (o.Time == "") != (o.Event == "") {
		return nil, fmt.Errorf("%w: Time and Event must be given together", ErrSchema)
	}
	for i, h := range tab.Header {
		if _, ok := s.column(h); !ok && i != idCol && !special[h] {
			return nil, fmt.Errorf("%w: %q in the header is not declared in the schema (declare it, or list it in ReadOptions.Ignore)", ErrUnknownColumn, h)
		}
	}
	cols := make([]int, len(s.Columns))
	for k, col := range s.Columns {
		if cols[k] = tab.Column(col.Name); cols[k] < 0 {
			return nil, fmt.Errorf("%w: schema column %q not in the header", ErrMissingColumn, col.Name)
		}
	}
	seen := map[string]int{}
	for i, row := range tab.Rows {
		line := tab.Lines[i]
		id := strings.TrimSpace(row[idCol])
		bad := func(col, val string, err error) error {
			re := &RowError{Line: line, ID: id, Column: col, Value: val, Err: err}
			if !o.SkipBadRows {
				return re
			}
			c.Skipped = append(c.Skipped, re)
			return nil
		}
		if table.IsMissing(id) {
			if err := bad(s.idName(), row[idCol], fmt.Errorf("%w: empty patient id", ErrBadCell)); err != nil {
				return nil, err
			}
			continue
		}
		if prev, dup := seen[id]; dup {
			if err := bad(s.idName(), id, fmt.Errorf("%w: first seen on line %d", ErrDuplicateID, prev)); err != nil {
				return nil, err
			}
			continue
		}
		rec := make(Record, len(s.Columns))
		ok := true
		for k, col := range s.Columns {
			cell := row[cols[k]]
			if _, _, perr := parseCell(col, cell); perr != nil {
				if err := bad(col.Name, cell, perr); err != nil {
					return nil, err
				}
				ok = false
				break
			}
			if !table.IsMissing(cell) {
				rec[col.Name] = strings.TrimSpace(cell)
			}
		}
		if !ok {
			continue
		}
		var out survival.Outcome
		if o.Time != "" {
			tc, ec := row[tab.Column(o.Time)], row[tab.Column(o.Event)]
			t, terr := strconv.ParseFloat(strings.TrimSpace(tc), 64)
			if terr != nil || math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
				if err := bad(o.Time, tc, fmt.Errorf("%w: time must be a finite number >= 0", ErrBadCell)); err != nil {
					return nil, err
				}
				continue
			}
			e, eok := parseBinary(ec)
			if !eok {
				if err := bad(o.Event, ec, fmt.Errorf("%w: event must be 0/1 or true/false", ErrBadCell)); err != nil {
					return nil, err
				}
				continue
			}
			out = survival.Outcome{Time: t, Event: e == 1}
		}
		seen[id] = line
		c.IDs = append(c.IDs, id)
		c.Records = append(c.Records, rec)
		c.Lines = append(c.Lines, line)
		if o.Time != "" {
			c.Outcomes = append(c.Outcomes, out)
		}
		for _, n := range o.Labels {
			v := strings.TrimSpace(row[tab.Column(n)])
			if table.IsMissing(v) {
				v = ""
			}
			c.Labels[n] = append(c.Labels[n], v)
		}
	}
	return c, nil
}

// Unmatched lists the patients found on one side only.
type Unmatched struct {
	OnlyClinical, OnlyImages []string
}

// MatchOptions configures MatchIDs.
type MatchOptions struct {
	// SkipUnmatched returns the patients present on both sides instead of
	// failing; Unmatched still lists the others.
	SkipUnmatched bool
}

// MatchIDs pairs the patients of a clinical table with those that have
// images. A patient on one side only is an error wrapping ErrUnmatched that
// names them (up to ten per side), unless SkipUnmatched: then the common ids
// are returned in clinical order and the others reported. An id listed
// twice on one side is an error wrapping ErrDuplicateID.
func MatchIDs(clinical, images []string, o MatchOptions) ([]string, Unmatched, error) {
	var u Unmatched
	img := map[string]bool{}
	for _, id := range images {
		if img[id] {
			return nil, u, fmt.Errorf("%w: %q appears twice among the images", ErrDuplicateID, id)
		}
		img[id] = true
	}
	cl := map[string]bool{}
	var common []string
	for _, id := range clinical {
		if cl[id] {
			return nil, u, fmt.Errorf("%w: %q appears twice in the clinical table", ErrDuplicateID, id)
		}
		cl[id] = true
		if img[id] {
			common = append(common, id)
		} else {
			u.OnlyClinical = append(u.OnlyClinical, id)
		}
	}
	for _, id := range images {
		if !cl[id] {
			u.OnlyImages = append(u.OnlyImages, id)
		}
	}
	sort.Strings(u.OnlyImages)
	if (len(u.OnlyClinical) > 0 || len(u.OnlyImages) > 0) && !o.SkipUnmatched {
		return nil, u, fmt.Errorf("%w: %d in the clinical table without images %s, %d with images but no clinical row %s",
			ErrUnmatched, len(u.OnlyClinical), first10(u.OnlyClinical), len(u.OnlyImages), first10(u.OnlyImages))
	}
	return common, u, nil
}

func first10(s []string) string {
	if len(s) > 10 {
		return "[" + strings.Join(s[:10], ", ") + ", ...]"
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// Cohort turns the table into a cohort without images: one Sample per
// patient with the clinical record, the outcome (when ReadOptions.Time was
// given) and the auxiliary labels. Attach images or embeddings by
// Sample.ID (check the pairing with MatchIDs) and set Cohort.Shape.
func (c *Clinical) Cohort() *Cohort {
	co := &Cohort{TimeUnit: c.TimeUnit}
	for i, id := range c.IDs {
		s := Sample{ID: id, Clinical: c.Records[i]}
		if c.Outcomes != nil {
			s.Outcome = c.Outcomes[i]
		}
		for name, v := range c.Labels {
			if v[i] != "" {
				if s.Labels == nil {
					s.Labels = map[string]string{}
				}
				s.Labels[name] = v[i]
			}
		}
		co.Samples = append(co.Samples, s)
	}
	return co
}

// Match keeps the patients that also have images and checks the pairing
// both ways. A patient in the table without images is a *RowError naming
// its line; patients with images but no row are listed by id. With
// SkipUnmatched the unmatched are reported in the returned Unmatched and the
// table is filtered to the common patients instead.
func (c *Clinical) Match(images []string, o MatchOptions) (*Clinical, Unmatched, error) {
	common, u, err := MatchIDs(c.IDs, images, MatchOptions{SkipUnmatched: true})
	if err != nil {
		return nil, u, err
	}
	if !o.SkipUnmatched {
		if len(u.OnlyClinical) > 0 {
			for i, id := range c.IDs {
				if id == u.OnlyClinical[0] {
					return nil, u, &RowError{Line: c.Lines[i], ID: id, Column: c.Schema.idName(), Value: id,
						Err: fmt.Errorf("%w: no images for this patient (%d table patients without images in all, %d image sets without a row %s)",
							ErrUnmatched, len(u.OnlyClinical), len(u.OnlyImages), first10(u.OnlyImages))}
				}
			}
		}
		if len(u.OnlyImages) > 0 {
			return nil, u, fmt.Errorf("%w: %d image sets have no clinical row: %s", ErrUnmatched, len(u.OnlyImages), first10(u.OnlyImages))
		}
	}
	keep := map[string]bool{}
	for _, id := range common {
		keep[id] = true
	}
	out := &Clinical{Schema: c.Schema, TimeUnit: c.TimeUnit, Labels: map[string][]string{}, Skipped: c.Skipped}
	for i, id := range c.IDs {
		if !keep[id] {
			continue
		}
		out.IDs = append(out.IDs, id)
		out.Records = append(out.Records, c.Records[i])
		out.Lines = append(out.Lines, c.Lines[i])
		if c.Outcomes != nil {
			out.Outcomes = append(out.Outcomes, c.Outcomes[i])
		}
		for k, v := range c.Labels {
			out.Labels[k] = append(out.Labels[k], v[i])
		}
	}
	return out, u, nil
}
