package survival

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// ClassScheme turns survival times into ordered classes by cut points. Class
// c holds times in [Cuts[c−1], Cuts[c]) (Cuts[−1] = 0, the last class is
// open): with the study's cuts 6 and 21 months the classes are <6, 6 to
// <21 and >=21 months.
type ClassScheme struct {
	Cuts []float64
	Unit Unit
}

// StudyClasses is the study's scheme: <6, 6–21 and >21 months.
func StudyClasses() ClassScheme { return ClassScheme{Cuts: []float64{6, 21}, Unit: Months} }

// NumClasses returns len(Cuts)+1.
func (s ClassScheme) NumClasses() int { return len(s.Cuts) + 1 }

// ClassOf returns the class of a time given in the scheme's unit, or −1 for
// a time that is NaN or negative.
func (s ClassScheme) ClassOf(t float64) int {
	if !(t >= 0) {
		return -1 // NaN or negative: no class
	}
	return sort.Search(len(s.Cuts), func(i int) bool { return s.Cuts[i] > t })
}

// Validate reports whether the cut points are finite, positive and
// increasing (Label checks the same).
func (s ClassScheme) Validate() error { return s.validate() }

func (s ClassScheme) validate() error {
	if len(s.Cuts) == 0 {
		return fmt.Errorf("%w: class scheme has no cut points (want at least one)", ErrInput)
	}
	for i, c := range s.Cuts {
		if !(c > 0) || math.IsInf(c, 0) || (i > 0 && c <= s.Cuts[i-1]) {
			return fmt.Errorf("%w: cut points %v (want finite, positive and increasing)", ErrInput, s.Cuts)
		}
	}
	return nil
}

// Labels are the survival classes of a cohort with censoring explicit. A
// patient censored before the last cut point has an undetermined class:
// Class is −1, Known is false, and MinClass says which classes remain
// possible. Nothing is silently labelled.
type Labels struct {
	Scheme ClassScheme
	// Class is the class, or −1 when undetermined.
	Class []int
	Known []bool
	// MinClass is the lowest class still possible (the class itself when
	// known): a patient censored at c survives past c.
	MinClass []int
	// IPCW are inverse-probability-of-censoring weights for learning from
	// the known patients only: 1/G(min(T, τ)−) for a known class, 0 for an
	// undetermined one, with τ the last cut and G the Kaplan–Meier estimate
	// of the censoring distribution (deaths before censorings at ties).
	// Weighted means over known patients then estimate cohort means.
	IPCW []float64
	// Prob is each patient's class distribution: one-hot when known; for
	// an undetermined patient censored at c, P(class | T > c) read off the
	// Kaplan–Meier tail of the whole cohort.
	Prob [][]float64
}

// Label assigns classes to outcomes whose times are in unit.
func (s ClassScheme) Label(y []Outcome, unit Unit) (*Labels, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if len(y) == 0 {
		return nil, ErrEmpty
	}
	yy, err := ConvertOutcomes(y, unit, s.Unit)
	if err != nil {
		return nil, err
	}
	if err := Validate(yy); err != nil {
		return nil, err
	}
	km, err := KaplanMeier(yy, KMOptions{ConfType: ConfNone})
	if err != nil {
		return nil, err
	}
	g := censoringCurve(yy)
	tau := s.Cuts[len(s.Cuts)-1]
	k := s.NumClasses()
	l := &Labels{Scheme: s, Class: make([]int, len(y)), Known: make([]bool, len(y)),
		MinClass: make([]int, len(y)), IPCW: make([]float64, len(y)), Prob: make([][]float64, len(y))}
	for i, o := range yy {
		c := s.ClassOf(o.Time)
		l.MinClass[i] = c
		l.Prob[i] = make([]float64, k)
		if o.Event || o.Time >= tau {
			l.Class[i], l.Known[i] = c, true
			l.Prob[i][c] = 1
			if gt := g.atLeft(math.Min(o.Time, tau)); gt > 0 {
				l.IPCW[i] = 1 / gt
			}
			continue
		}
		l.Class[i] = -1
		s.tailProb(km, o.Time, c, l.Prob[i])
	}
	return l, nil
}

// tailProb fills p with P(class | T > c) from the Kaplan–Meier curve:
// P(a <= T < b | T > c) = (S(max(a,c)) − S(b−)) / S(c), using S(c) itself
// for the interval that contains c. Uniform over the possible classes
// when the curve has no mass left after c.
func (s ClassScheme) tailProb(km *KM, c float64, minClass int, p []float64) {
	sc := km.At(c)
	if sc <= 0 {
		for j := minClass; j < len(p); j++ {
			p[j] = 1 / float64(len(p)-minClass)
		}
		return
	}
	for j := minClass; j < len(p); j++ {
		lo := sc
		if j > minClass {
			lo = km.AtLeft(s.Cuts[j-1])
		}
		hi := 0.0
		if j < len(s.Cuts) {
			hi = km.AtLeft(s.Cuts[j])
		}
		p[j] = math.Max(lo-hi, 0) / sc
	}
}

// Impute draws m complete label vectors: known classes are kept, an
// undetermined class is drawn from Prob (multiple imputation; analyse each
// vector and pool, e.g. with Rubin's rules). Reproducible by seed.
func (l *Labels) Impute(m int, seed uint64) [][]int {
	if m <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed1abe15))
	out := make([][]int, m)
	for r := range out {
		v := make([]int, len(l.Class))
		for i, c := range l.Class {
			if c >= 0 {
				v[i] = c
				continue
			}
			u, acc := rng.Float64(), 0.0
			v[i] = len(l.Prob[i]) - 1
			for j, p := range l.Prob[i] {
				acc += p
				if u < acc {
					v[i] = j
					break
				}
			}
		}
		out[r] = v
	}
	return out
}

// Strata returns the class of known patients and NumClasses for
// undetermined ones: the stratum labels for splitting, with censoring as
// its own stratum.
func (l *Labels) Strata() []int {
	s := make([]int, len(l.Class))
	for i, c := range l.Class {
		if c < 0 {
			c = l.Scheme.NumClasses()
		}
		s[i] = c
	}
	return s
}

// Balance reports the class distribution of a cohort.
type Balance struct {
	// Counts and Shares are over patients with a known class.
	Counts []int
	Shares []float64
	// Undetermined counts patients censored before their class was known.
	Undetermined int
	// KMShares are the class probabilities estimated from the Kaplan–Meier
	// curve, S(a−) − S(b−): unbiased under independent censoring, unlike
	// Shares, which over-represent short survival when patients are lost.
	KMShares []float64
	// ExpectedCounts add the undetermined patients' Prob to Counts.
	ExpectedCounts []float64
}

// Balance computes the class balance report of the labelled cohort.
func (l *Labels) Balance(y []Outcome, unit Unit) (*Balance, error) {
	if len(y) != len(l.Class) || len(l.Prob) != len(l.Class) {
		return nil, fmt.Errorf("%w: %d outcomes, %d labels and %d class distributions (want equal)", ErrShape, len(y), len(l.Class), len(l.Prob))
	}
	k := l.Scheme.NumClasses()
	b := &Balance{Counts: make([]int, k), Shares: make([]float64, k), KMShares: make([]float64, k),
		ExpectedCounts: make([]float64, k)}
	known := 0
	for i, c := range l.Class {
		for j, p := range l.Prob[i] {
			b.ExpectedCounts[j] += p
		}
		if c < 0 {
			b.Undetermined++
			continue
		}
		b.Counts[c]++
		known++
	}
	for c := range b.Counts {
		b.Shares[c] = safeDiv(float64(b.Counts[c]), float64(known))
	}
	yy, err := ConvertOutcomes(y, unit, l.Scheme.Unit)
	if err != nil {
		return nil, err
	}
	km, err := KaplanMeier(yy, KMOptions{ConfType: ConfNone})
	if err != nil {
		return nil, err
	}
	prev := 1.0
	for c := 0; c < k; c++ {
		next := 0.0
		if c < len(l.Scheme.Cuts) {
			next = km.AtLeft(l.Scheme.Cuts[c])
		}
		b.KMShares[c] = prev - next
		prev = next
	}
	return b, nil
}

// Pooled is a multiple-imputation estimate combined by Rubin's rules.
type Pooled struct {
	// Estimate is the mean of the per-imputation estimates.
	Estimate float64
	// Within, Between and Total are the mean within-imputation variance,
	// the between-imputation variance, and Within + (1 + 1/m)·Between.
	Within, Between, Total float64
	// DF is Rubin's (1987) degrees of freedom for a t reference
	// (+Inf when the imputations agree).
	DF float64
}

// PoolRubin combines m >= 2 estimates and their variances from analyses of
// imputed label vectors (see Labels.Impute) with Rubin's rules.
func PoolRubin(estimates, variances []float64) (Pooled, error) {
	m := len(estimates)
	if m < 2 || len(variances) != m {
		return Pooled{}, fmt.Errorf("%w: %d estimates and %d variances (want m >= 2 of each)", ErrShape, m, len(variances))
	}
	for i := range estimates {
		if e, v := estimates[i], variances[i]; math.IsNaN(e) || math.IsInf(e, 0) || !(v >= 0) || math.IsInf(v, 1) {
			return Pooled{}, fmt.Errorf("%w: imputation %d has estimate %v, variance %v (want finite, variance >= 0)", ErrInput, i, e, v)
		}
	}
	var p Pooled
	for i := range estimates {
		p.Estimate += estimates[i] / float64(m)
		p.Within += variances[i] / float64(m)
	}
	for _, e := range estimates {
		p.Between += (e - p.Estimate) * (e - p.Estimate) / float64(m-1)
	}
	fm := float64(m)
	p.Total = p.Within + (1+1/fm)*p.Between
	if p.Between == 0 {
		p.DF = math.Inf(1)
	} else {
		r := p.Within / ((1 + 1/fm) * p.Between)
		p.DF = (fm - 1) * (1 + r) * (1 + r)
	}
	return p, nil
}
