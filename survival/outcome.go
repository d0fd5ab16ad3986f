package survival

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Unit is the unit of a survival time. The study reports months; registries
// and R's example data sets use days.
type Unit int

const (
	// Days is the unit of R's lung, veteran and ovarian data sets.
	Days Unit = iota
	// Months are the unit of the study's class cut points (6 and 21 months).
	Months
	// Years are convenient for long follow-up.
	Years
	// Weeks are the unit of R's aml and the Rossi recidivism data.
	Weeks
)

// DaysPerMonth is the mean Gregorian month (365.25/12 days), the
// convention used when converting day counts to months.
const DaysPerMonth = 365.25 / 12

// String returns the lower-case unit name used in reports.
func (u Unit) String() string {
	switch u {
	case Days:
		return "days"
	case Months:
		return "months"
	case Years:
		return "years"
	case Weeks:
		return "weeks"
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// days returns the length of one unit in days.
func (u Unit) days() (float64, error) {
	switch u {
	case Days:
		return 1, nil
	case Months:
		return DaysPerMonth, nil
	case Years:
		return 365.25, nil
	case Weeks:
		return 7, nil
	}
	return 0, fmt.Errorf("%w: unknown time unit %d (want Days, Months or Years)", ErrInput, int(u))
}

// Convert converts a time t from unit u to unit to.
func (u Unit) Convert(t float64, to Unit) (float64, error) {
	a, err := u.days()
	if err != nil {
		return 0, err
	}
	b, err := to.days()
	if err != nil {
		return 0, err
	}
	return t * a / b, nil
}

// Outcome is one patient's right-censored survival outcome: the follow-up
// time and whether it ended with the event (death) or with censoring.
type Outcome struct {
	Time  float64
	Event bool
}

// Errors a caller can branch on with errors.Is; every error of this package
// wraps one of them, with a message naming what was wrong and where.
var (
	// ErrEmpty: an estimator received no observations.
	ErrEmpty = errors.New("survival: no observations")
	// ErrShape: inputs whose lengths disagree (outcomes and scores, rows
	// and columns, labels and probabilities).
	ErrShape = errors.New("survival: mismatched lengths")
	// ErrNoEvents: a method that needs at least one event (or one
	// comparable pair) got none — all censored, or a single sample.
	ErrNoEvents = errors.New("survival: no events")
	// ErrSingular: a fit whose information matrix is singular or whose
	// likelihood is not finite (collinear covariates, separation).
	ErrSingular = errors.New("survival: singular fit")
	// ErrFormat: a malformed CSV table (ragged rows, duplicate columns,
	// unreadable cells).
	ErrFormat = errors.New("survival: malformed table")
	// ErrTooLarge: input beyond the caller's memory budget
	// (CSVOptions.MaxBytes).
	ErrTooLarge = errors.New("survival: over the memory budget")
	// ErrInput: any other argument outside its domain (NaN scores,
	// probabilities outside 0..1, unknown options).
	ErrInput = errors.New("survival: invalid input")
)

// NewOutcomes pairs times and event indicators, checking that the lengths
// agree and that every time is finite and non-negative.
func NewOutcomes(time []float64, event []bool) ([]Outcome, error) {
	if len(time) != len(event) {
		return nil, fmt.Errorf("%w: %d times but %d event indicators (want equal lengths)", ErrShape, len(time), len(event))
	}
	y := make([]Outcome, len(time))
	for i := range time {
		y[i] = Outcome{Time: time[i], Event: event[i]}
	}
	return y, Validate(y)
}

// Validate checks that every time is finite and non-negative, the domain
// of right-censored survival data.
func Validate(y []Outcome) error {
	for i, o := range y {
		if math.IsNaN(o.Time) || math.IsInf(o.Time, 0) || o.Time < 0 {
			return fmt.Errorf("%w: observation %d has time %v (want a finite time >= 0)", ErrInput, i, o.Time)
		}
	}
	return nil
}

// ConvertOutcomes returns a copy of y with times converted from unit from
// to unit to.
func ConvertOutcomes(y []Outcome, from, to Unit) ([]Outcome, error) {
	out := make([]Outcome, len(y))
	for i, o := range y {
		t, err := from.Convert(o.Time, to)
		if err != nil {
			return nil, err
		}
		out[i] = Outcome{Time: t, Event: o.Event}
	}
	return out, nil
}

// Times returns the times of y.
func Times(y []Outcome) []float64 {
	t := make([]float64, len(y))
	for i, o := range y {
		t[i] = o.Time
	}
	return t
}

// Events returns the event indicators of y.
func Events(y []Outcome) []bool {
	e := make([]bool, len(y))
	for i, o := range y {
		e[i] = o.Event
	}
	return e
}

// CountEvents returns the number of events in y.
func CountEvents(y []Outcome) int {
	n := 0
	for _, o := range y {
		if o.Event {
			n++
		}
	}
	return n
}

// reverseOutcomes swaps event and censoring, the trick behind the reverse
// Kaplan–Meier estimate of the censoring distribution G.
func reverseOutcomes(y []Outcome) []Outcome {
	r := make([]Outcome, len(y))
	for i, o := range y {
		r[i] = Outcome{Time: o.Time, Event: !o.Event}
	}
	return r
}

// sortedIndex returns the indices of y in ascending time; at a tied time
// events come before censorings (R's risk-set convention: a patient
// censored at t is still at risk at t). Equal outcomes keep index order.
func sortedIndex(y []Outcome) []int {
	type key struct {
		t  float64
		ev bool
		i  int
	}
	keys := make([]key, len(y))
	for i, o := range y {
		keys[i] = key{o.Time, o.Event, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		switch {
		case a.t != b.t:
			return cmp.Compare(a.t, b.t)
		case a.ev != b.ev:
			if a.ev {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.i, b.i)
	})
	idx := make([]int, len(y))
	for k, key := range keys {
		idx[k] = key.i
	}
	return idx
}

// Summary describes a cohort's follow-up the way a paper's first table does.
type Summary struct {
	N, Events, Censored int
	// MedianFollowUp is the reverse Kaplan–Meier median: the median of the
	// potential follow-up, treating deaths as censored observations of the
	// censoring time (Schemper & Smith 1996). NaN when not reached.
	MedianFollowUp float64
	// MedianSurvival is the Kaplan–Meier median survival (R's rule).
	MedianSurvival   float64
	MinTime, MaxTime float64
}

// Summarize computes the cohort summary of y.
func Summarize(y []Outcome) (Summary, error) {
	if len(y) == 0 {
		return Summary{}, ErrEmpty
	}
	if err := Validate(y); err != nil {
		return Summary{}, err
	}
	km, err := KaplanMeier(y, KMOptions{})
	if err != nil {
		return Summary{}, err
	}
	rkm, err := KaplanMeier(reverseOutcomes(y), KMOptions{})
	if err != nil {
		return Summary{}, err
	}
	s := Summary{N: len(y), Events: CountEvents(y), MedianSurvival: km.Median(), MedianFollowUp: rkm.Median()}
	s.Censored = s.N - s.Events
	s.MinTime, s.MaxTime = math.Inf(1), math.Inf(-1)
	for _, o := range y {
		s.MinTime = math.Min(s.MinTime, o.Time)
		s.MaxTime = math.Max(s.MaxTime, o.Time)
	}
	return s, nil
}

// timeFixTolerance is R's sqrt(.Machine$double.eps).
const timeFixTolerance = 1.4901161193847656e-08

// TimeFix returns y with times that differ only by floating-point noise
// made equal, as R's aeqSurv (survival's timefix = TRUE): among the sorted
// distinct times, a gap <= sqrt(ε), absolute or relative to the mean
// absolute time, ties the later value to the earlier. Times converted from
// days to months are the usual case. y itself is returned when nothing is
// tied. KaplanMeier, NelsonAalen, LogRank, Cox and Concordance apply it,
// like their R counterparts.
func TimeFix(y []Outcome) []Outcome {
	if len(y) < 2 {
		return y
	}
	u := make([]float64, 0, len(y))
	for _, o := range y {
		if !math.IsInf(o.Time, 0) && !math.IsNaN(o.Time) {
			u = append(u, o.Time)
		}
	}
	sort.Float64s(u)
	k := 0
	for i, v := range u {
		if i == 0 || v != u[k-1] {
			u[k] = v
			k++
		}
	}
	u = u[:k]
	var mean float64
	for _, v := range u {
		mean += math.Abs(v) / float64(len(u))
	}
	cuts := u[:1:1]
	tied := false
	for i := 1; i < len(u); i++ {
		dy := u[i] - u[i-1]
		if dy <= timeFixTolerance || dy/mean <= timeFixTolerance {
			tied = true
			continue
		}
		cuts = append(cuts, u[i])
	}
	if !tied {
		return y
	}
	out := make([]Outcome, len(y))
	for i, o := range y {
		out[i] = o
		if j := stepAt(cuts, o.Time); j >= 0 {
			out[i].Time = cuts[j]
		}
	}
	return out
}

// checkPaired validates outcomes that come with n per-patient values
// (what names them) and optional strata labels: equal lengths, at least
// one patient, valid outcomes.
func checkPaired(y []Outcome, n int, what string, strata []string) error {
	if len(y) != n {
		return fmt.Errorf("%w: %d outcomes but %d %s (want equal lengths)", ErrShape, len(y), n, what)
	}
	if strata != nil && len(strata) != len(y) {
		return fmt.Errorf("%w: %d outcomes but %d strata labels", ErrShape, len(y), len(strata))
	}
	if len(y) == 0 {
		return ErrEmpty
	}
	return Validate(y)
}
