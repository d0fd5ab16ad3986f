package survival

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ConfType names the transformation a pointwise confidence interval of a
// survival curve is computed on, with R's conf.type spellings.
type ConfType string

const (
	// ConfLog is exp(log S ± z·se): R's default.
	ConfLog ConfType = "log"
	// ConfLogLog is the interval on log(−log S) (Kalbfleisch–Prentice).
	ConfLogLog ConfType = "log-log"
	// ConfPlain is S ± z·se(S), clipped to [0, 1].
	ConfPlain ConfType = "plain"
	// ConfNone computes no interval.
	ConfNone ConfType = "none"
)

// KMOptions configures KaplanMeier. The zero value gives R's defaults:
// log intervals at 95%.
type KMOptions struct {
	ConfType  ConfType
	ConfLevel float64
}

func (o KMOptions) withDefaults() (KMOptions, error) {
	if o.ConfType == "" {
		o.ConfType = ConfLog
	}
	if o.ConfLevel == 0 {
		o.ConfLevel = 0.95
	}
	switch o.ConfType {
	case ConfLog, ConfLogLog, ConfPlain, ConfNone:
	default:
		return o, fmt.Errorf("%w: unknown conf.type %q (want log, log-log, plain or none)", ErrInput, o.ConfType)
	}
	if !(o.ConfLevel > 0 && o.ConfLevel < 1) {
		return o, fmt.Errorf("%w: confidence level %v (want 0 < level < 1)", ErrInput, o.ConfLevel)
	}
	return o, nil
}

// KM is a Kaplan–Meier survival curve laid out like R's survfit: one row
// per distinct observed time (event or censoring).
type KM struct {
	Time, NRisk, NEvent, NCensor []float64
	// Surv is the product-limit estimate S(t) just after each time.
	Surv []float64
	// StdErr is the Greenwood standard error of S(t) (R summary's std.err).
	StdErr []float64
	// SELog is the Greenwood standard error of log S(t) (survfit's std.err).
	SELog        []float64
	Lower, Upper []float64
	ConfType     ConfType
	ConfLevel    float64
}

// riskTable is the per-distinct-time tally shared by the estimators.
type riskTable struct {
	time, nrisk, nevent, ncensor []float64
}

// tabulate counts, at each distinct time, the number at risk, events and
// censorings (a patient censored at t is at risk at t).
func tabulate(y []Outcome) riskTable {
	idx := sortedIndex(y)
	var rt riskTable
	n := float64(len(y))
	for i := 0; i < len(idx); {
		t := y[idx[i]].Time
		var d, c float64
		j := i
		for ; j < len(idx) && y[idx[j]].Time == t; j++ {
			if y[idx[j]].Event {
				d++
			} else {
				c++
			}
		}
		rt.time = append(rt.time, t)
		rt.nrisk = append(rt.nrisk, n)
		rt.nevent = append(rt.nevent, d)
		rt.ncensor = append(rt.ncensor, c)
		n -= d + c
		i = j
	}
	return rt
}

// KaplanMeier estimates the survival curve with Greenwood variance and
// pointwise intervals, matching R's survfit(Surv(time, status) ~ 1).
func KaplanMeier(y []Outcome, o KMOptions) (*KM, error) {
	if len(y) == 0 {
		return nil, ErrEmpty
	}
	if err := Validate(y); err != nil {
		return nil, err
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	rt := tabulate(TimeFix(y))
	k := &KM{Time: rt.time, NRisk: rt.nrisk, NEvent: rt.nevent, NCensor: rt.ncensor,
		ConfType: o.ConfType, ConfLevel: o.ConfLevel}
	m := len(rt.time)
	k.Surv = make([]float64, m)
	k.StdErr = make([]float64, m)
	k.SELog = make([]float64, m)
	s, v := 1.0, 0.0
	for i := range rt.time {
		n, d := rt.nrisk[i], rt.nevent[i]
		if d > 0 {
			s *= (n - d) / n
			if n > d {
				v += d / (n * (n - d))
			} else {
				v = math.Inf(1)
			}
		}
		k.Surv[i] = s
		k.SELog[i] = math.Sqrt(v)
		k.StdErr[i] = s * k.SELog[i]
	}
	k.Lower, k.Upper = confBand(k.Surv, k.SELog, o)
	return k, nil
}

// zQuantile is the two-sided normal quantile for a confidence level.
func zQuantile(level float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-level)/2)
}

// confBand computes R's survfit_confint: pointwise intervals of S from the
// standard error of log S. Undefined bounds (log of 0) are NaN, R's NA.
func confBand(surv, selog []float64, o KMOptions) (lower, upper []float64) {
	if o.ConfType == ConfNone {
		return nil, nil
	}
	z := zQuantile(o.ConfLevel)
	lower = make([]float64, len(surv))
	upper = make([]float64, len(surv))
	for i, s := range surv {
		se := selog[i]
		switch o.ConfType {
		case ConfPlain:
			lower[i] = math.Max(s-z*se*s, 0)
			upper[i] = math.Min(s+z*se*s, 1)
		case ConfLog:
			if s == 0 {
				lower[i], upper[i] = math.NaN(), math.NaN()
				continue
			}
			lower[i] = math.Exp(math.Log(s) - z*se)
			upper[i] = math.Min(math.Exp(math.Log(s)+z*se), 1)
		case ConfLogLog:
			if s == 0 || s == 1 {
				lower[i], upper[i] = math.NaN(), math.NaN()
				continue
			}
			se2 := z * se / math.Log(s)
			ll := math.Log(-math.Log(s))
			lower[i] = math.Exp(-math.Exp(ll - se2))
			upper[i] = math.Exp(-math.Exp(ll + se2))
		}
	}
	return lower, upper
}

// stepAt returns the index of the last time <= t, or -1.
func stepAt(times []float64, t float64) int {
	lo, hi := 0, len(times)
	for lo < hi {
		m := (lo + hi) / 2
		if times[m] <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// At returns S(t), the right-continuous step function (1 before the first
// time, the last value after the last time).
func (k *KM) At(t float64) float64 {
	if math.IsNaN(t) {
		return math.NaN()
	}
	i := stepAt(k.Time, t)
	if i < 0 {
		return 1
	}
	return k.Surv[i]
}

// AtLeft returns S(t−), the value just before t; IPCW weights for events
// at t use the censoring curve G(t−).
func (k *KM) AtLeft(t float64) float64 {
	if math.IsNaN(t) {
		return math.NaN()
	}
	i := stepAt(k.Time, math.Nextafter(t, math.Inf(-1)))
	if i < 0 {
		return 1
	}
	return k.Surv[i]
}

// Quantile returns the time at which the curve reaches 1−p, with R's
// quantile.survfit rule: where the curve is flat exactly at 1−p (within
// sqrt(machine epsilon)) the midpoint of the flat is reported. NaN when
// the curve never drops that far, or when p is not in [0, 1].
func (k *KM) Quantile(p float64) float64 {
	return findQuantile(k.Time, k.Surv, p)
}

// Median is Quantile(0.5), R's median survival.
func (k *KM) Median() float64 { return k.Quantile(0.5) }

// QuantileCI returns the confidence limits of Quantile(p) read off the
// lower and upper curves, as R's quantile.survfit (lower, upper).
func (k *KM) QuantileCI(p float64) (lo, hi float64) {
	if k.Lower == nil {
		return math.NaN(), math.NaN()
	}
	return findQuantile(k.Time, k.Lower, p), findQuantile(k.Time, k.Upper, p)
}

// findQuantile reproduces R's findq on the CDF 1−S, with (0, 0) prepended.
func findQuantile(time, surv []float64, p float64) float64 {
	const tol = 1.4901161193847656e-08 // sqrt(.Machine$double.eps)
	if !(p >= 0 && p <= 1) {
		return math.NaN() // not a probability
	}
	if p == 0 {
		return 0
	}
	xs := []float64{0}
	ys := []float64{0}
	maxY := math.Inf(-1)
	for i, s := range surv {
		c := 1 - s
		if math.IsNaN(c) {
			continue
		}
		maxY = math.Max(maxY, c)
		if c != ys[len(ys)-1] {
			xs = append(xs, time[i])
			ys = append(ys, c)
		}
	}
	if maxY < p {
		return math.NaN()
	}
	first := func(off float64) int {
		// approx(ys+off, 1:n, p, "constant", f=1): first j with ys[j]+off >= p
		for j, y := range ys {
			if y+off >= p {
				return j
			}
		}
		return -1
	}
	i1, i2 := first(tol), first(-tol)
	if i1 < 0 {
		return math.NaN()
	}
	last := ys[len(ys)-1]
	if math.Abs(p-last) < tol {
		return (xs[i1] + time[len(time)-1]) / 2
	}
	if i2 < 0 {
		return math.NaN()
	}
	return (xs[i1] + xs[i2]) / 2
}

// RMST returns the restricted mean survival time up to tau: the area under
// the curve on [0, tau]. Tau beyond the last time extends the last value.
func (k *KM) RMST(tau float64) (float64, error) {
	if !(tau > 0) || math.IsInf(tau, 0) {
		return 0, fmt.Errorf("%w: RMST horizon %v (want a finite tau > 0)", ErrInput, tau)
	}
	area, prevT, prevS := 0.0, 0.0, 1.0
	for i, t := range k.Time {
		if t >= tau {
			break
		}
		area += prevS * (t - prevT)
		prevT, prevS = t, k.Surv[i]
	}
	return area + prevS*(tau-prevT), nil
}

// RMean is R's print.survfit restricted mean: the area under the curve up
// to the last observed time.
func (k *KM) RMean() float64 {
	v, err := k.RMST(k.Time[len(k.Time)-1])
	if err != nil {
		return 0 // last time 0: the area is empty
	}
	return v
}

// RMSTSE returns the standard error of RMST(tau), R's se(rmean): the
// Greenwood-type sum over event times t_j <= tau of (∫_{t_j}^{tau} S)² ·
// d_j/(n_j(n_j − d_j)) (Miller 1981, as print.survfit).
func (k *KM) RMSTSE(tau float64) (float64, error) {
	if !(tau > 0) || math.IsInf(tau, 0) {
		return 0, fmt.Errorf("%w: RMST horizon %v (want a finite tau > 0)", ErrInput, tau)
	}
	var times, surv, hh []float64
	for i, t := range k.Time {
		if t > tau {
			break
		}
		h := 0.0
		if n, d := k.NRisk[i], k.NEvent[i]; n > d {
			h = d / (n * (n - d))
		}
		times, surv, hh = append(times, t), append(surv, k.Surv[i]), append(hh, h)
	}
	last := 1.0
	if len(surv) > 0 {
		last = surv[len(surv)-1]
	}
	times, surv, hh = append(times, tau), append(surv, last), append(hh, 0)
	n := len(times)
	rect := make([]float64, n)
	prevT, prevS := 0.0, 1.0
	for i := range times {
		rect[i] = (times[i] - prevT) * prevS
		prevT, prevS = times[i], surv[i]
	}
	// area after t_j is rect[j+1] + ... + rect[n−1]
	var v, after float64
	for j := n - 2; j >= 0; j-- {
		after += rect[j+1]
		v += after * after * hh[j]
	}
	return math.Sqrt(v), nil
}

// KMRow is the curve at one requested time, as a row of R's
// summary(survfit, times = ...).
type KMRow struct {
	Time float64
	// NRisk counts patients still at risk at Time (follow-up >= Time).
	NRisk float64
	// NEvent counts events after the previous requested time, up to and
	// including Time (from time 0 for the first row).
	NEvent                     float64
	Surv, StdErr, Lower, Upper float64
}

// SummaryAt reads the curve at increasing times, like R's summary(fit,
// times = ...). Bounds are NaN where undefined or when no interval was
// computed.
func (k *KM) SummaryAt(times []float64) ([]KMRow, error) {
	rows := make([]KMRow, len(times))
	prev := math.Inf(-1)
	for r, t := range times {
		if math.IsNaN(t) || t < 0 || t <= prev {
			return nil, fmt.Errorf("%w: summary times %v (want increasing times >= 0)", ErrInput, times)
		}
		row := KMRow{Time: t, Surv: 1, Lower: math.NaN(), Upper: math.NaN()}
		i := stepAt(k.Time, t)
		if i >= 0 {
			row.Surv, row.StdErr = k.Surv[i], k.StdErr[i]
			if k.Lower != nil {
				row.Lower, row.Upper = k.Lower[i], k.Upper[i]
			}
		}
		for j, tj := range k.Time {
			if tj >= t {
				row.NRisk = k.NRisk[j]
				break
			}
		}
		for j, tj := range k.Time {
			if tj > prev && tj <= t {
				row.NEvent += k.NEvent[j]
			}
		}
		rows[r], prev = row, t
	}
	return rows, nil
}
