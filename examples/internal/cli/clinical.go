package cli

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/metasurv/metasurv/survival"
)

// Clinical is the clinical table of a cohort, keyed by patient id.
type Clinical struct {
	Header  []string
	IDCol   int
	Rows    map[string][]string
	Order   []string
	Time    string
	Event   string
	timeCol int
	evCol   int
}

// ReadClinical reads the clinical CSV: an id column, a survival time (in
// months) and an event column (1 death, 0 censored), and any clinical
// variables. Problems name the file line and column.
func ReadClinical(path, id, time, event string) (*Clinical, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: clinical table: %v", ErrBadInput, err)
	}
	defer f.Close()
	tab, err := survival.ReadCSV(f, survival.CSVOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: clinical table %s: %v", ErrBadInput, path, err)
	}
	c := &Clinical{Header: tab.Header, Rows: map[string][]string{}, Time: time, Event: event}
	col := func(name string) (int, error) {
		i, err := tab.Column(name)
		if err != nil {
			return 0, fmt.Errorf("%w: clinical table %s has no column %q (columns: %v)", ErrBadInput, path, name, tab.Header)
		}
		return i, nil
	}
	if c.IDCol, err = col(id); err != nil {
		return nil, err
	}
	if time != "" {
		if c.timeCol, err = col(time); err != nil {
			return nil, err
		}
		if c.evCol, err = col(event); err != nil {
			return nil, err
		}
	}
	for r, row := range tab.Rows {
		pid := row[c.IDCol]
		if pid == "" {
			return nil, fmt.Errorf("%w: clinical table %s line %d: empty %s", ErrBadInput, path, r+2, id)
		}
		if _, dup := c.Rows[pid]; dup {
			return nil, fmt.Errorf("%w: clinical table %s line %d: patient %s appears twice", ErrBadInput, path, r+2, pid)
		}
		if time != "" {
			t, err1 := strconv.ParseFloat(row[c.timeCol], 64)
			e := row[c.evCol]
			if err1 != nil || !(t >= 0) || (e != "0" && e != "1") {
				return nil, fmt.Errorf("%w: clinical table %s line %d (patient %s): %s %q and %s %q, want a time ≥ 0 and 0/1",
					ErrBadInput, path, r+2, pid, time, row[c.timeCol], event, e)
			}
		}
		c.Rows[pid] = row
		c.Order = append(c.Order, pid)
	}
	return c, nil
}

// Outcome returns a patient's survival.
func (c *Clinical) Outcome(id string) survival.Outcome {
	row := c.Rows[id]
	t, _ := strconv.ParseFloat(row[c.timeCol], 64)
	return survival.Outcome{Time: t, Event: row[c.evCol] == "1"}
}

// Variables are the clinical columns (all but id, time and event).
func (c *Clinical) Variables() []string {
	var v []string
	for i, h := range c.Header {
		if i != c.IDCol && h != c.Time && h != c.Event {
			v = append(v, h)
		}
	}
	return v
}

// Encoder turns clinical rows into numbers, fitted on the training
// patients: numeric columns standardised with the training mean imputed
// (plus a missing indicator when any training value was missing);
// text columns one-hot against their most frequent level, levels seen
// fewer than 3 times pooled, missing as its own indicator.
type Encoder struct {
	Cols []EncCol
}

// EncCol is the encoding of one column.
type EncCol struct {
	Name       string
	Index      int
	Numeric    bool
	Mean, SD   float64
	MissingInd bool
	Levels     []string // one-hot levels (the reference level excluded)
}

// FitEncoder fits the encoding on the rows of the training ids.
func FitEncoder(c *Clinical, train []string) *Encoder {
	e := &Encoder{}
	for _, name := range c.Variables() {
		idx := -1
		for i, h := range c.Header {
			if h == name {
				idx = i
			}
		}
		var nums []float64
		count := map[string]int{}
		numeric, missing := true, 0
		for _, id := range train {
			cell := c.Rows[id][idx]
			if survival.IsMissing(cell) {
				missing++
				continue
			}
			count[cell]++
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				numeric = false
			}
			nums = append(nums, v)
		}
		col := EncCol{Name: name, Index: idx, Numeric: numeric && len(nums) > 0, MissingInd: missing > 0}
		if col.Numeric {
			var m, s float64
			for _, v := range nums {
				m += v
			}
			m /= float64(len(nums))
			for _, v := range nums {
				s += (v - m) * (v - m)
			}
			col.Mean, col.SD = m, math.Sqrt(s/float64(max(1, len(nums)-1)))
			if col.SD == 0 {
				col.SD = 1
			}
		} else {
			type lc struct {
				l string
				n int
			}
			var ls []lc
			for l, n := range count {
				ls = append(ls, lc{l, n})
			}
			sort.Slice(ls, func(a, b int) bool {
				if ls[a].n != ls[b].n {
					return ls[a].n > ls[b].n
				}
				return ls[a].l < ls[b].l
			})
			for _, x := range ls[min(1, len(ls)):] {
				if x.n >= 3 {
					col.Levels = append(col.Levels, x.l)
				}
			}
			col.MissingInd = missing >= 3
		}
		e.Cols = append(e.Cols, col)
	}
	return e
}

// Names lists the encoded features.
func (e *Encoder) Names() []string {
	var n []string
	for _, c := range e.Cols {
		if c.Numeric {
			n = append(n, c.Name)
		}
		for _, l := range c.Levels {
			n = append(n, c.Name+"="+l)
		}
		if c.MissingInd {
			n = append(n, c.Name+" missing")
		}
	}
	return n
}

// Encode encodes one row.
func (e *Encoder) Encode(row []string) []float64 {
	var x []float64
	for _, c := range e.Cols {
		cell := row[c.Index]
		miss := survival.IsMissing(cell)
		if c.Numeric {
			v := 0.0
			if !miss {
				f, err := strconv.ParseFloat(cell, 64)
				if err == nil {
					v = (f - c.Mean) / c.SD
				}
			}
			x = append(x, v)
		}
		for _, l := range c.Levels {
			if !miss && cell == l {
				x = append(x, 1)
			} else {
				x = append(x, 0)
			}
		}
		if c.MissingInd {
			if miss {
				x = append(x, 1)
			} else {
				x = append(x, 0)
			}
		}
	}
	return x
}
