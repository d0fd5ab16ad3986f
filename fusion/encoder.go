package fusion

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/internal/table"
)

// ColumnStats are what an Encoder learned about one column from the
// training split.
type ColumnStats struct {
	// Mean and Std standardise Numeric, Ordinal (rank) and Binary (Std 1)
	// values; Mean is also the imputed value of a missing cell, which
	// therefore encodes as 0 beside a missing indicator of 1.
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// Levels are the one-hot levels of a Categorical column; a level not
	// among them sets the "unseen" slot.
	Levels []string `json:"levels,omitempty"`
	// Missing counts training rows where the column was missing.
	Missing int `json:"missing"`
}

// Encoder turns Records into fixed-length feature vectors. It is fitted on
// the training split only (FitEncoder), so validation and test patients
// never leak into the standardisation, and it travels inside a model
// bundle.
//
// Per column the features are: Numeric, Ordinal, Binary — the standardised
// value and a missing indicator; Categorical — one slot per training level,
// one for an unseen level, and a missing indicator.
type Encoder struct {
	Schema Schema        `json:"schema"`
	Stats  []ColumnStats `json:"stats"`
}

// FitEncoder learns the standardisation and levels of every column from
// the training records. A column missing in every training record is an
// error: nothing could be learned about it.
func FitEncoder(s Schema, train []Record) (*Encoder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no training records to fit the encoder", ErrSchema)
	}
	// Encode refuses undeclared fields; refuse them here already.
	for i, r := range train {
		for name := range r {
			if _, ok := s.column(name); !ok {
				return nil, fmt.Errorf("%w: training record %d field %q is not in the schema", ErrUnknownColumn, i, name)
			}
		}
	}
	e := &Encoder{Schema: s, Stats: make([]ColumnStats, len(s.Columns))}
	for k, c := range s.Columns {
		st := &e.Stats[k]
		var sum, sum2 float64
		n := 0
		levels := map[string]bool{}
		for i, r := range train {
			cell, ok := r[c.Name]
			if !ok || table.IsMissing(cell) {
				st.Missing++
				continue
			}
			v, _, err := parseCell(c, cell)
			if err != nil {
				return nil, fmt.Errorf("fusion: training record %d, column %q: %w", i, c.Name, err)
			}
			if c.Kind == Categorical {
				levels[strings.TrimSpace(cell)] = true
			}
			sum += v
			sum2 += v * v
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: column %q is missing in all %d training records", ErrSchema, c.Name, len(train))
		}
		switch c.Kind {
		case Categorical:
			if c.Levels != nil {
				st.Levels = append([]string(nil), c.Levels...)
			} else {
				for l := range levels {
					st.Levels = append(st.Levels, l)
				}
				sort.Strings(st.Levels)
			}
		case Binary:
			st.Mean, st.Std = sum/float64(n), 1
		default:
			st.Mean = sum / float64(n)
			v := sum2/float64(n) - st.Mean*st.Mean
			st.Std = math.Sqrt(math.Max(v, 0) * float64(n) / math.Max(float64(n-1), 1))
			if st.Std < 1e-12 {
				st.Std = 1
			}
			if math.IsInf(st.Mean, 0) || math.IsInf(st.Std, 0) || math.IsNaN(st.Std) {
				return nil, fmt.Errorf("%w: column %q has values too large to standardise (mean %v, sd %v)", ErrBadCell, c.Name, st.Mean, st.Std)
			}
		}
	}
	return e, nil
}

// Dim is the length of an encoded vector.
func (e *Encoder) Dim() int { return len(e.Names()) }

// Names names every feature: "age", "age:missing", "histology=lung",
// "histology:unseen", ...
func (e *Encoder) Names() []string {
	var n []string
	for k, c := range e.Schema.Columns {
		if c.Kind == Categorical {
			for _, l := range e.Stats[k].Levels {
				n = append(n, c.Name+"="+l)
			}
			n = append(n, c.Name+":unseen")
		} else {
			n = append(n, c.Name)
		}
		n = append(n, c.Name+":missing")
	}
	return n
}

// Encode returns the feature vector of r and the names of its missing
// columns. A field the schema does not declare, or a cell that cannot be
// read as its column's type, is an error naming it.
func (e *Encoder) Encode(r Record) ([]float32, []string, error) {
	for name := range r {
		if _, ok := e.Schema.column(name); !ok {
			return nil, nil, fmt.Errorf("%w: record field %q is not in the schema", ErrUnknownColumn, name)
		}
	}
	x := make([]float32, 0, e.Dim())
	var missing []string
	for k, c := range e.Schema.Columns {
		st := e.Stats[k]
		cell, present := r[c.Name]
		v, miss, err := parseCell(c, cell)
		if err != nil {
			return nil, nil, fmt.Errorf("fusion: column %q: %w", c.Name, err)
		}
		miss = miss || !present
		if miss {
			missing = append(missing, c.Name)
		}
		if c.Kind == Categorical {
			oneHot := make([]float32, len(st.Levels)+1)
			if !miss {
				cell = strings.TrimSpace(cell)
				j := len(st.Levels)
				for i, l := range st.Levels {
					if l == cell {
						j = i
						break
					}
				}
				oneHot[j] = 1
			}
			x = append(x, oneHot...)
		} else {
			z := 0.0
			if !miss {
				z = (v - st.Mean) / st.Std
				if !(math.Abs(z) <= math.MaxFloat32) {
					return nil, nil, fmt.Errorf("fusion: column %q: %w: %q is %.3g training standard deviations from the training mean (too large for a float32 feature)", c.Name, ErrBadCell, cell, z)
				}
			}
			x = append(x, float32(z))
		}
		ind := float32(0)
		if miss {
			ind = 1
		}
		x = append(x, ind)
	}
	return x, missing, nil
}
