package survival

import (
	"fmt"
	"math"
	"sort"
)

// IPCWConvention chooses where the censoring survival G is read for a
// patient whose event at T_i is counted as a case.
//
// The Brier score of Graf et al. (1999) and R's pec weight such a patient
// by 1/G(T_i−): the probability of still being uncensored just before the
// event (GLeft, the default). scikit-survival reads G(T_i) (GRight). The
// two differ only when a censoring time equals an event time. Controls
// (T_i > t) are always weighted by 1/G(t). G is the Kaplan–Meier estimate
// of the censoring distribution from the training outcomes with deaths
// leaving the risk set before censorings at a tied time.
type IPCWConvention int

const (
	// GLeft weights a case by 1/G(T_i−) (Graf 1999, R pec).
	GLeft IPCWConvention = iota
	// GRight weights a case by 1/G(T_i) (scikit-survival).
	GRight
)

// check refuses a convention other than GLeft and GRight.
func (c IPCWConvention) check() error {
	if c != GLeft && c != GRight {
		return fmt.Errorf("%w: unknown IPCW convention %d (want GLeft or GRight)", ErrInput, int(c))
	}
	return nil
}

// IPCWOptions configures the IPCW metrics.
type IPCWOptions struct {
	Convention IPCWConvention
}

// ipcw holds the censoring curve and the weight convention.
type ipcw struct {
	g    stepCurve
	conv IPCWConvention
}

func newIPCW(train []Outcome, o IPCWOptions) (*ipcw, error) {
	if len(train) == 0 {
		return nil, ErrEmpty
	}
	if err := Validate(train); err != nil {
		return nil, err
	}
	if err := o.Convention.check(); err != nil {
		return nil, err
	}
	return &ipcw{g: censoringCurve(train), conv: o.Convention}, nil
}

// caseWeight returns 1/G at an event time.
func (w *ipcw) caseWeight(t float64) (float64, error) {
	g := w.g.atLeft(t)
	if w.conv == GRight {
		g = w.g.at(t)
	}
	if g <= 0 {
		return 0, fmt.Errorf("%w: censoring survival G is 0 at event time %v (evaluate at earlier times)", ErrInput, t)
	}
	return 1 / g, nil
}

// controlWeight returns 1/G(t).
func (w *ipcw) controlWeight(t float64) (float64, error) {
	g := w.g.at(t)
	if g <= 0 {
		return 0, fmt.Errorf("%w: censoring survival G is 0 at time %v (evaluate at earlier times)", ErrInput, t)
	}
	return 1 / g, nil
}

func checkTimes(times []float64) error {
	if len(times) == 0 {
		return fmt.Errorf("%w: no evaluation times", ErrInput)
	}
	for i, t := range times {
		if !(t >= 0) || math.IsInf(t, 0) || (i > 0 && t <= times[i-1]) {
			return fmt.Errorf("%w: evaluation times %v (want finite, >= 0, increasing)", ErrInput, times)
		}
	}
	return nil
}

// BrierScore returns the IPCW Brier score at each time: the mean over test
// patients of S_i(t)² for an event by t (weighted by 1/G at the event) and
// (1 − S_i(t))² for a patient still at risk after t (weighted by 1/G(t));
// patients censored by t contribute 0. pred[i][k] is patient i's predicted
// survival at times[k]. G comes from train (pass test when there is none).
func BrierScore(train, test []Outcome, pred [][]float64, times []float64, o IPCWOptions) ([]float64, error) {
	if err := checkPred(test, pred, len(times)); err != nil {
		return nil, err
	}
	if err := checkTimes(times); err != nil {
		return nil, err
	}
	w, err := newIPCW(train, o)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(times))
	for k, t := range times {
		cw, err := w.controlWeight(t)
		if err != nil {
			return nil, err
		}
		var s float64
		for i, y := range test {
			p := pred[i][k]
			switch {
			case y.Time <= t && y.Event:
				ew, err := w.caseWeight(y.Time)
				if err != nil {
					return nil, err
				}
				s += p * p * ew
			case y.Time > t:
				s += (1 - p) * (1 - p) * cw
			}
		}
		out[k] = s / float64(len(test))
	}
	return out, nil
}

func checkPred(test []Outcome, pred [][]float64, m int) error {
	if len(test) == 0 {
		return ErrEmpty
	}
	if err := Validate(test); err != nil {
		return err
	}
	if len(pred) != len(test) {
		return fmt.Errorf("%w: %d prediction rows for %d patients", ErrShape, len(pred), len(test))
	}
	for i, row := range pred {
		if len(row) != m {
			return fmt.Errorf("%w: prediction row %d has %d values (want one per time, %d)", ErrShape, i, len(row), m)
		}
		for _, p := range row {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("%w: prediction row %d has %v (want a probability)", ErrInput, i, p)
			}
		}
	}
	return nil
}

// IntegratedBrier integrates the Brier score over times by the trapezoidal
// rule and divides by the time span (scikit-survival's definition). It
// needs at least two times.
func IntegratedBrier(train, test []Outcome, pred [][]float64, times []float64, o IPCWOptions) (float64, error) {
	if len(times) < 2 {
		return 0, fmt.Errorf("%w: integrated Brier score needs at least two times (got %d)", ErrInput, len(times))
	}
	bs, err := BrierScore(train, test, pred, times, o)
	if err != nil {
		return 0, err
	}
	var area float64
	for k := 1; k < len(times); k++ {
		area += (bs[k] + bs[k-1]) / 2 * (times[k] - times[k-1])
	}
	return area / (times[len(times)-1] - times[0]), nil
}

// TimeAUC is the cumulative/dynamic AUC at each time with its mean.
type TimeAUC struct {
	Times, AUC []float64
	// Mean weights AUC(t_k) by the drop of the Kaplan–Meier curve of the
	// test outcomes at t_k, divided by 1 − S(t_last) (scikit-survival's
	// mean_auc).
	Mean float64
}

// CumulativeDynamicAUC computes Uno et al.'s (2007) IPCW estimate of the
// cumulative/dynamic AUC: cases are test patients with an event by t
// (weighted by 1/G at the event), controls those still event-free after t;
// a risk score (higher = earlier event) is concordant when a case's is
// higher, ties count one half. G comes from train.
func CumulativeDynamicAUC(train, test []Outcome, risk []float64, times []float64, o IPCWOptions) (*TimeAUC, error) {
	if len(risk) != len(test) {
		return nil, fmt.Errorf("%w: %d risk scores for %d patients", ErrShape, len(risk), len(test))
	}
	return cumulativeDynamicAUC(train, test, func(i, _ int) float64 { return risk[i] }, times, o)
}

// CumulativeDynamicAUCVarying is CumulativeDynamicAUC for time-dependent
// risk scores: risk[i][k] is patient i's score at times[k] (for example a
// predicted cumulative hazard).
func CumulativeDynamicAUCVarying(train, test []Outcome, risk [][]float64, times []float64, o IPCWOptions) (*TimeAUC, error) {
	if len(risk) != len(test) {
		return nil, fmt.Errorf("%w: %d risk rows for %d patients", ErrShape, len(risk), len(test))
	}
	for i, row := range risk {
		if len(row) != len(times) {
			return nil, fmt.Errorf("%w: risk row %d has %d scores for %d times", ErrShape, i, len(row), len(times))
		}
	}
	return cumulativeDynamicAUC(train, test, func(i, k int) float64 { return risk[i][k] }, times, o)
}

func cumulativeDynamicAUC(train, test []Outcome, risk func(i, k int) float64, times []float64, o IPCWOptions) (*TimeAUC, error) {
	if len(test) == 0 {
		return nil, ErrEmpty
	}
	if err := Validate(test); err != nil {
		return nil, err
	}
	if err := checkTimes(times); err != nil {
		return nil, err
	}
	for i := range test {
		for k := range times {
			if math.IsNaN(risk(i, k)) { // scikit-survival rejects NaN estimates too
				return nil, fmt.Errorf("%w: risk score of patient %d at time %v is NaN", ErrInput, i, times[k])
			}
		}
	}
	w, err := newIPCW(train, o)
	if err != nil {
		return nil, err
	}
	r := &TimeAUC{Times: times, AUC: make([]float64, len(times))}
	controls := make([]float64, 0, len(test))
	for k, t := range times {
		controls = controls[:0]
		for i, y := range test {
			if y.Time > t {
				controls = append(controls, risk(i, k))
			}
		}
		sort.Float64s(controls)
		var num, den float64
		for i, y := range test {
			if !(y.Time <= t && y.Event) {
				continue
			}
			cw, err := w.caseWeight(y.Time)
			if err != nil {
				return nil, err
			}
			ri := risk(i, k)
			lo := sort.SearchFloat64s(controls, ri)
			hi := sort.Search(len(controls), func(j int) bool { return controls[j] > ri })
			num += cw * (float64(lo) + 0.5*float64(hi-lo))
			den += cw * float64(len(controls))
		}
		if den == 0 {
			return nil, fmt.Errorf("%w: no case/control pairs at time %v (want an event by t and a patient at risk after t)", ErrInput, t)
		}
		r.AUC[k] = num / den
	}
	km, err := KaplanMeier(test, KMOptions{ConfType: ConfNone})
	if err != nil {
		return nil, err
	}
	prev, wsum := 1.0, 0.0
	for k, t := range times {
		s := km.At(t)
		r.Mean += r.AUC[k] * (prev - s)
		wsum += prev - s
		prev = s
	}
	if wsum > 0 {
		r.Mean /= wsum
	} else {
		r.Mean = math.NaN()
	}
	return r, nil
}

// CalibrationBin compares predicted and observed survival at a horizon in
// one group of patients.
type CalibrationBin struct {
	N int
	// Predicted is the mean predicted survival at the horizon.
	Predicted float64
	// Observed is the group's Kaplan–Meier survival at the horizon with its
	// log-scale 95% interval.
	Observed, Lower, Upper float64
}

// Calibration groups patients into bins of about equal size by predicted
// survival at horizon and compares each bin's mean prediction with its
// Kaplan–Meier estimate (the usual calibration plot for survival models).
func Calibration(y []Outcome, predSurv []float64, horizon float64, bins int) ([]CalibrationBin, error) {
	if len(y) != len(predSurv) {
		return nil, fmt.Errorf("%w: %d predictions for %d patients", ErrShape, len(predSurv), len(y))
	}
	if bins < 1 || bins > len(y) {
		return nil, fmt.Errorf("%w: %d calibration bins for %d patients (want 1..n)", ErrInput, bins, len(y))
	}
	if math.IsNaN(horizon) || math.IsInf(horizon, 0) || horizon < 0 {
		return nil, fmt.Errorf("%w: calibration horizon %v (want a finite time >= 0)", ErrInput, horizon)
	}
	if err := Validate(y); err != nil {
		return nil, err
	}
	idx := make([]int, len(y))
	for i := range idx {
		idx[i] = i
		if !(predSurv[i] >= 0 && predSurv[i] <= 1) {
			return nil, fmt.Errorf("%w: predicted survival %d is %v (want a probability)", ErrInput, i, predSurv[i])
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return predSurv[idx[a]] < predSurv[idx[b]] })
	out := make([]CalibrationBin, 0, bins)
	for b := 0; b < bins; b++ {
		lo, hi := b*len(y)/bins, (b+1)*len(y)/bins
		sub := make([]Outcome, 0, hi-lo)
		var mean float64
		for _, i := range idx[lo:hi] {
			sub = append(sub, y[i])
			mean += predSurv[i] / float64(hi-lo)
		}
		km, err := KaplanMeier(sub, KMOptions{})
		if err != nil {
			return nil, err
		}
		bin := CalibrationBin{N: hi - lo, Predicted: mean, Observed: km.At(horizon), Lower: 1, Upper: 1}
		if j := stepAt(km.Time, horizon); j >= 0 {
			bin.Lower, bin.Upper = km.Lower[j], km.Upper[j]
		}
		out = append(out, bin)
	}
	return out, nil
}
