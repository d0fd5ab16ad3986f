package survival

import (
	"fmt"
	"math"
)

// Ties selects how tied event times are handled, in the cumulative hazard
// and in the Cox partial likelihood.
type Ties int

const (
	// Efron treats d tied deaths as leaving the risk set gradually: the
	// Fleming–Harrington increment sum_{k<d} 1/(n−k) for the hazard, and
	// Efron's approximation in Cox (R's default, ctype 2).
	Efron Ties = iota
	// Breslow counts every tied death against the full risk set: the
	// Nelson–Aalen increment d/n (R ctype 1) and Breslow's likelihood.
	Breslow
)

// String returns R's name of the tie method.
// checkTies refuses a tie method other than Efron and Breslow.
func checkTies(t Ties) error {
	if t != Efron && t != Breslow {
		return fmt.Errorf("%w: unknown tie method %d (want Efron or Breslow)", ErrInput, int(t))
	}
	return nil
}

func (t Ties) String() string {
	if t == Breslow {
		return "breslow"
	}
	return "efron"
}

// CumHaz is a cumulative hazard estimate at the distinct event times.
type CumHaz struct {
	Time, NRisk, NEvent []float64
	CumHaz              []float64
	// StdErr is the standard error of the cumulative hazard, R's
	// std.chaz: sqrt(sum d/n²) for Nelson–Aalen, sqrt(sum 1/(n−k)²) for
	// Fleming–Harrington.
	StdErr []float64
	Ties   Ties
}

// NelsonAalen estimates the cumulative hazard at each event time. With
// Breslow ties it is the Nelson–Aalen estimator (R survfit ctype=1), with
// Efron ties the Fleming–Harrington one (ctype=2).
func NelsonAalen(y []Outcome, ties Ties) (*CumHaz, error) {
	if len(y) == 0 {
		return nil, ErrEmpty
	}
	if err := Validate(y); err != nil {
		return nil, err
	}
	if err := checkTies(ties); err != nil {
		return nil, err
	}
	rt := tabulate(TimeFix(y))
	h := &CumHaz{Ties: ties}
	var H, V float64
	for i, t := range rt.time {
		n, d := rt.nrisk[i], rt.nevent[i]
		if d == 0 {
			continue
		}
		if ties == Breslow {
			H += d / n
			V += d / (n * n)
		} else {
			for k := 0.0; k < d; k++ {
				H += 1 / (n - k)
				V += 1 / ((n - k) * (n - k))
			}
		}
		h.Time = append(h.Time, t)
		h.NRisk = append(h.NRisk, n)
		h.NEvent = append(h.NEvent, d)
		h.CumHaz = append(h.CumHaz, H)
		h.StdErr = append(h.StdErr, math.Sqrt(V))
	}
	return h, nil
}

// At returns the cumulative hazard at t (a right-continuous step).
func (h *CumHaz) At(t float64) float64 {
	if math.IsNaN(t) {
		return math.NaN()
	}
	i := stepAt(h.Time, t)
	if i < 0 {
		return 0
	}
	return h.CumHaz[i]
}
