package survival

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// CoxOptions configures Cox. The zero value is R's coxph default: Efron
// ties, at most 20 Newton–Raphson iterations, convergence when the relative
// change of the log partial likelihood is <= 1e-9, zero initial values.
type CoxOptions struct {
	Ties Ties
	// Strata, when set, gives each patient a stratum label: every stratum
	// has its own baseline hazard and risk sets (R's strata()).
	Strata  []string
	MaxIter int
	Eps     float64
	// Init are the starting coefficients (zero value: all zero).
	Init []float64
}

// CoxFit is a fitted proportional hazards model with the quantities R's
// summary(coxph) prints.
type CoxFit struct {
	Names []string
	Coef  []float64
	SE    []float64
	// Var is the inverse information matrix at Coef (row-major p×p).
	Var [][]float64
	// LogLik holds the log partial likelihood at Init and at Coef.
	LogLik [2]float64
	// ScoreTest, WaldTest and LRTest are the global chi-square tests of
	// beta = Init with DF degrees of freedom; the P fields are their
	// p-values.
	ScoreTest, WaldTest, LRTest float64
	ScoreP, WaldP, LRP          float64
	DF                          int
	N, NEvent                   int
	Iter                        int
	Converged                   bool
	// Means are the covariate centres R uses for predictions and the
	// centred baseline hazard: column means, except 0 for columns whose
	// values are all in {−1, 0, 1} (coxph's nocenter rule).
	Means []float64
	// Concordance is Harrell's C of the linear predictor (within strata),
	// as reported by coxph, and ConcordanceSE its standard error; both are
	// NaN (R: NA) when no pair of patients is comparable.
	Concordance, ConcordanceSE float64
	Ties                       Ties

	y      []Outcome
	x      [][]float64
	strata []string
	base   []BaseHaz // uncentred baseline hazard per stratum
}

// coxData is the model data sorted by stratum then time, with covariates
// centred for numerical stability (centring does not change beta).
type coxData struct {
	n, p   int
	time   []float64
	event  []bool
	x      []float64 // n×p row-major, centred
	bounds []int     // stratum s occupies sorted rows bounds[s]..bounds[s+1]
	order  []int     // sorted position -> original row
}

// Cox fits the Cox proportional hazards model by Newton–Raphson with step
// halving, following R's coxph (coxfit6) step for step, so that the
// coefficients, standard errors, log-likelihoods and tests equal R's.
func Cox(y []Outcome, x [][]float64, names []string, o CoxOptions) (*CoxFit, error) {
	if err := Validate(y); err != nil {
		return nil, err
	}
	if len(y) > 0 && CountEvents(y) == 0 {
		return nil, fmt.Errorf("%w: Cox model of %d patients needs at least one event (all are censored)", ErrNoEvents, len(y))
	}
	if o.MaxIter < 0 || !(o.Eps >= 0) || math.IsInf(o.Eps, 1) {
		return nil, fmt.Errorf("%w: Cox MaxIter %d, Eps %v (want MaxIter >= 0 and a finite Eps >= 0; 0 picks the default)", ErrInput, o.MaxIter, o.Eps)
	}
	if err := checkTies(o.Ties); err != nil {
		return nil, err
	}
	y = TimeFix(y)
	d, err := newCoxData(y, x, o.Strata)
	if err != nil {
		return nil, err
	}
	if names == nil {
		for j := 0; j < d.p; j++ {
			names = append(names, fmt.Sprintf("x%d", j+1))
		}
	}
	if len(names) != d.p {
		return nil, fmt.Errorf("%w: %d covariate names for %d columns", ErrShape, len(names), d.p)
	}
	if o.MaxIter == 0 {
		o.MaxIter = 20
	}
	if o.Eps == 0 {
		o.Eps = 1e-9
	}
	beta := make([]float64, d.p)
	if o.Init != nil {
		if len(o.Init) != d.p {
			return nil, fmt.Errorf("%w: %d initial values for %d covariates", ErrShape, len(o.Init), d.p)
		}
		copy(beta, o.Init)
	}
	f := &CoxFit{Names: names, N: d.n, NEvent: CountEvents(y), Ties: o.Ties, DF: d.p,
		y: y, x: x, strata: o.Strata}
	if err := f.newton(d, beta, o); err != nil {
		return nil, err
	}
	f.Means = rMeans(x, d.p)
	lp := make([]float64, d.n)
	for i := range lp {
		lp[i] = f.LinearPredictor(x[i])
	}
	c, err := Concordance(y, lp, ConcordanceOptions{Strata: o.Strata})
	switch {
	case errors.Is(err, ErrNoEvents): // no comparable pair: R reports NA
		f.Concordance, f.ConcordanceSE = math.NaN(), math.NaN()
	case err != nil:
		return nil, err
	default:
		f.Concordance, f.ConcordanceSE = c.C, c.SE
	}
	f.base = f.baseHaz()
	return f, nil
}

func newCoxData(y []Outcome, x [][]float64, strata []string) (*coxData, error) {
	n := len(y)
	if n == 0 {
		return nil, ErrEmpty
	}
	if len(x) != n {
		return nil, fmt.Errorf("%w: %d outcomes but %d covariate rows", ErrShape, n, len(x))
	}
	if strata != nil && len(strata) != n {
		return nil, fmt.Errorf("%w: %d outcomes but %d strata labels", ErrShape, n, len(strata))
	}
	if err := Validate(y); err != nil {
		return nil, err
	}
	p := len(x[0])
	if p == 0 {
		return nil, fmt.Errorf("%w: Cox model needs at least one covariate", ErrInput)
	}
	d := &coxData{n: n, p: p, time: make([]float64, n), event: make([]bool, n),
		x: make([]float64, n*p), order: make([]int, n)}
	mean := make([]float64, p)
	for i, row := range x {
		if len(row) != p {
			return nil, fmt.Errorf("%w: covariate row %d has %d values (want %d)", ErrShape, i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: covariate row %d column %d is %v (want a finite number)", ErrInput, i, j, v)
			}
			mean[j] += v / float64(n)
		}
	}
	for i := range d.order {
		d.order[i] = i
	}
	sort.SliceStable(d.order, func(a, b int) bool {
		ia, ib := d.order[a], d.order[b]
		if strata != nil && strata[ia] != strata[ib] {
			return strata[ia] < strata[ib]
		}
		return y[ia].Time < y[ib].Time
	})
	for k, i := range d.order {
		d.time[k], d.event[k] = y[i].Time, y[i].Event
		for j := 0; j < p; j++ {
			d.x[k*p+j] = x[i][j] - mean[j]
		}
		if k == 0 || (strata != nil && strata[i] != strata[d.order[k-1]]) {
			d.bounds = append(d.bounds, k)
		}
	}
	d.bounds = append(d.bounds, n)
	return d, nil
}

// rMeans applies coxph's centring rule.
func rMeans(x [][]float64, p int) []float64 {
	m := make([]float64, p)
	for j := 0; j < p; j++ {
		ternary := true
		for _, row := range x {
			m[j] += row[j]
			if v := row[j]; v != -1 && v != 0 && v != 1 {
				ternary = false
			}
		}
		m[j] /= float64(len(x))
		if ternary {
			m[j] = 0
		}
	}
	return m
}

// coxWork holds the score and information of one likelihood evaluation.
type coxWork struct {
	u            []float64
	imat         []float64 // p×p, full
	a, a2, c, c2 []float64
	eta          []float64
}

func newCoxWork(p, n int) *coxWork {
	return &coxWork{u: make([]float64, p), imat: make([]float64, p*p), a: make([]float64, p),
		a2: make([]float64, p), c: make([]float64, p*p), c2: make([]float64, p*p), eta: make([]float64, n)}
}

// eval computes the log partial likelihood, score and information at beta,
// walking backwards in time so the risk-set sums accumulate (coxfit6_iter).
func (d *coxData) eval(beta []float64, ties Ties, w *coxWork) float64 {
	p := d.p
	clear(w.u)
	clear(w.imat)
	for i := 0; i < d.n; i++ {
		var e float64
		xi := d.x[i*p : (i+1)*p]
		for j, b := range beta {
			e += b * xi[j]
		}
		w.eta[i] = e
	}
	var loglik float64
	for s := 0; s+1 < len(d.bounds); s++ {
		lo, hi := d.bounds[s], d.bounds[s+1]
		var denom float64
		clear(w.a)
		clear(w.c)
		for i := hi - 1; i >= lo; {
			t := d.time[i]
			var ndead, denom2 float64
			clear(w.a2)
			clear(w.c2)
			for ; i >= lo && d.time[i] == t; i-- {
				xi := d.x[i*p : (i+1)*p]
				risk := math.Exp(w.eta[i])
				if !d.event[i] {
					denom += risk
					addOuter(w.a, w.c, xi, risk)
					continue
				}
				ndead++
				denom2 += risk
				loglik += w.eta[i]
				for j, v := range xi {
					w.u[j] += v
				}
				addOuter(w.a2, w.c2, xi, risk)
			}
			if ndead > 0 {
				d.tiedDeaths(w, ties, ndead, &denom, denom2, &loglik)
			}
		}
	}
	for j := 0; j < p; j++ {
		for k := 0; k < j; k++ {
			w.imat[k*p+j] = w.imat[j*p+k]
		}
	}
	return loglik
}

// addOuter adds risk·x to a and risk·x·xᵀ (lower triangle) to c.
func addOuter(a, c, x []float64, risk float64) {
	p := len(x)
	for j, v := range x {
		rv := risk * v
		a[j] += rv
		row := c[j*p : j*p+j+1]
		for k := range row {
			row[k] += rv * x[k]
		}
	}
}

// tiedDeaths adds the contribution of the deaths at one time, with
// Breslow's or Efron's handling of ties, then merges them into the risk set.
func (d *coxData) tiedDeaths(w *coxWork, ties Ties, ndead float64, denom *float64, denom2 float64, loglik *float64) {
	p := d.p
	deadwt := ndead // unit case weights
	if ties == Breslow || ndead == 1 {
		*denom += denom2
		for j := 0; j < p; j++ {
			w.a[j] += w.a2[j]
			for k := 0; k <= j; k++ {
				w.c[j*p+k] += w.c2[j*p+k]
			}
		}
		*loglik -= deadwt * math.Log(*denom)
		for j := 0; j < p; j++ {
			xb := w.a[j] / *denom
			w.u[j] -= deadwt * xb
			for k := 0; k <= j; k++ {
				w.imat[j*p+k] += deadwt * (w.c[j*p+k] - xb*w.a[k]) / *denom
			}
		}
		return
	}
	// Efron: the k-th of the tied deaths sees the risk set with a fraction
	// k/d of the dying patients' risk removed.
	wtave := deadwt / ndead
	for kk := 0.0; kk < ndead; kk++ {
		f := kk / ndead
		d2 := *denom + (1-f)*denom2
		*loglik -= wtave * math.Log(d2)
		for j := 0; j < p; j++ {
			xb := (w.a[j] + (1-f)*w.a2[j]) / d2
			w.u[j] -= wtave * xb
			for k := 0; k <= j; k++ {
				ck := (w.c[j*p+k] + (1-f)*w.c2[j*p+k]) / d2
				w.imat[j*p+k] += wtave * (ck - xb*(w.a[k]+(1-f)*w.a2[k])/d2)
			}
		}
	}
	*denom += denom2
	for j := 0; j < p; j++ {
		w.a[j] += w.a2[j]
		for k := 0; k <= j; k++ {
			w.c[j*p+k] += w.c2[j*p+k]
		}
	}
}

// solveInfo solves imat·x = u by Cholesky; ok is false when the
// information matrix is not positive definite.
func solveInfo(p int, imat, u []float64) ([]float64, bool) {
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(p, append([]float64(nil), imat...))) {
		return nil, false
	}
	var x mat.VecDense
	if err := ch.SolveVecTo(&x, mat.NewVecDense(p, append([]float64(nil), u...))); err != nil {
		return nil, false
	}
	return x.RawVector().Data, true
}

func finite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// newton runs coxfit6's iteration: Newton steps, step halving when the
// likelihood decreases, stop when |1 − ℓ_best/ℓ_new| <= eps.
func (f *CoxFit) newton(d *coxData, beta []float64, o CoxOptions) error {
	p := d.p
	w := newCoxWork(p, d.n)
	ll0 := d.eval(beta, o.Ties, w)
	if !finite(ll0) {
		return fmt.Errorf("%w: Cox log-likelihood is not finite at the initial values", ErrInput)
	}
	f.LogLik = [2]float64{ll0, ll0}
	step, ok := solveInfo(p, w.imat, w.u)
	if !ok {
		return fmt.Errorf("%w: Cox information matrix is singular at the initial values (collinear or constant covariates?)", ErrSingular)
	}
	f.ScoreTest = mat.Dot(mat.NewVecDense(p, w.u), mat.NewVecDense(p, step))
	newbeta := make([]float64, p)
	for j := range beta {
		newbeta[j] = beta[j] + step[j]
	}
	best, halving := ll0, 0.0
	for f.Iter = 1; f.Iter <= o.MaxIter; f.Iter++ {
		newlk := d.eval(newbeta, o.Ties, w)
		fin := finite(newlk) && finite(w.u...) && finite(w.imat...)
		if fin && math.Abs(1-best/newlk) <= o.Eps {
			copy(beta, newbeta)
			f.LogLik[1] = newlk
			f.Converged = true
			break
		}
		if !fin || newlk < best {
			halving++
			for j := range newbeta {
				newbeta[j] = (newbeta[j] + halving*beta[j]) / (halving + 1)
			}
			continue
		}
		halving = 0
		best = newlk
		step, ok := solveInfo(p, w.imat, w.u)
		if !ok {
			return fmt.Errorf("%w: Cox information matrix became singular at iteration %d", ErrSingular, f.Iter)
		}
		copy(beta, newbeta)
		for j := range newbeta {
			newbeta[j] += step[j]
		}
	}
	if !f.Converged {
		f.Iter = o.MaxIter
		f.LogLik[1] = d.eval(beta, o.Ties, w)
	}
	return f.finish(beta, w.imat, o)
}

// finish stores coefficients, the variance and the global tests.
func (f *CoxFit) finish(beta, imat []float64, o CoxOptions) error {
	p := len(beta)
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(p, append([]float64(nil), imat...))) {
		return fmt.Errorf("%w: Cox information matrix is singular at the solution (infinite coefficient?)", ErrSingular)
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return fmt.Errorf("%w: inverting the Cox information: %w", ErrSingular, err)
	}
	f.Coef = append([]float64(nil), beta...)
	f.SE = make([]float64, p)
	f.Var = make([][]float64, p)
	for j := 0; j < p; j++ {
		f.Var[j] = make([]float64, p)
		for k := 0; k < p; k++ {
			f.Var[j][k] = inv.At(j, k)
		}
		f.SE[j] = math.Sqrt(inv.At(j, j))
	}
	delta := make([]float64, p)
	for j := range delta {
		delta[j] = beta[j]
		if o.Init != nil {
			delta[j] -= o.Init[j]
		}
	}
	dv := mat.NewVecDense(p, delta)
	var iv mat.VecDense
	iv.MulVec(mat.NewSymDense(p, append([]float64(nil), imat...)), dv)
	f.WaldTest = mat.Dot(dv, &iv)
	f.LRTest = 2 * (f.LogLik[1] - f.LogLik[0])
	chi := distuv.ChiSquared{K: float64(p)}
	f.ScoreP, f.WaldP, f.LRP = chi.Survival(f.ScoreTest), chi.Survival(f.WaldTest), chi.Survival(f.LRTest)
	return nil
}

// LinearPredictor returns x·beta (not centred), the log relative hazard
// against a patient with all covariates zero. R's fit$linear.predictors
// are centred: subtract LinearPredictor(Means). It is NaN when x does not
// have one value per coefficient.
func (f *CoxFit) LinearPredictor(x []float64) float64 {
	if len(x) != len(f.Coef) {
		return math.NaN()
	}
	var s float64
	for j, b := range f.Coef {
		s += b * x[j]
	}
	return s
}

// BaseHaz is the baseline cumulative hazard of one stratum at each distinct
// time (events and censorings), as R's basehaz.
type BaseHaz struct {
	Stratum string
	Time    []float64
	Hazard  []float64
}

// BaseHaz returns the baseline cumulative hazard per stratum (sorted by
// label), estimated with the fit's tie method (Breslow, or Efron's
// correction as R's survfit.coxph ctype 2). centered=true gives the hazard
// of a patient at Means (R's basehaz default); false of a patient at zero.
func (f *CoxFit) BaseHaz(centered bool) []BaseHaz {
	scale := 1.0
	if centered {
		scale = math.Exp(f.LinearPredictor(f.Means))
	}
	out := make([]BaseHaz, len(f.base))
	for i, b := range f.base {
		h := make([]float64, len(b.Hazard))
		for k, v := range b.Hazard {
			h[k] = v * scale
		}
		out[i] = BaseHaz{Stratum: b.Stratum, Time: b.Time, Hazard: h}
	}
	return out
}

// baseHaz computes the uncentred baseline hazard of every stratum.
func (f *CoxFit) baseHaz() []BaseHaz {
	groups := map[string][]int{}
	var labels []string
	for i := range f.y {
		s := ""
		if f.strata != nil {
			s = f.strata[i]
		}
		if _, ok := groups[s]; !ok {
			labels = append(labels, s)
		}
		groups[s] = append(groups[s], i)
	}
	sort.Strings(labels)
	out := make([]BaseHaz, 0, len(labels))
	for _, s := range labels {
		out = append(out, f.baseHazStratum(s, groups[s], 0))
	}
	return out
}

func (f *CoxFit) baseHazStratum(label string, rows []int, offset float64) BaseHaz {
	sort.SliceStable(rows, func(a, b int) bool { return f.y[rows[a]].Time > f.y[rows[b]].Time })
	bh := BaseHaz{Stratum: label}
	var inc []float64
	var denom float64
	for i := 0; i < len(rows); {
		t := f.y[rows[i]].Time
		var ndead, denom2 float64
		for ; i < len(rows) && f.y[rows[i]].Time == t; i++ {
			r := math.Exp(f.LinearPredictor(f.x[rows[i]]) - offset)
			if f.y[rows[i]].Event {
				ndead++
				denom2 += r
			} else {
				denom += r
			}
		}
		var h float64
		if ndead > 0 && (f.Ties == Breslow || ndead == 1) {
			h = ndead / (denom + denom2)
		} else {
			for k := 0.0; k < ndead; k++ {
				h += 1 / (denom + (1-k/ndead)*denom2)
			}
		}
		denom += denom2
		bh.Time = append(bh.Time, t)
		inc = append(inc, h)
	}
	// reverse into ascending time and accumulate
	m := len(inc)
	bh.Hazard = make([]float64, m)
	var H float64
	for k := 0; k < m; k++ {
		H += inc[m-1-k]
		bh.Hazard[k] = H
	}
	for a, b := 0, m-1; a < b; a, b = a+1, b-1 {
		bh.Time[a], bh.Time[b] = bh.Time[b], bh.Time[a]
	}
	return bh
}

// SurvivalAt returns the predicted survival probability S(t | x) =
// exp(−H0(t)·exp(x·beta)) for a patient in stratum (use "" without strata).
func (f *CoxFit) SurvivalAt(x []float64, stratum string, t float64) (float64, error) {
	if len(x) != len(f.Coef) {
		return 0, fmt.Errorf("%w: %d covariates (want %d)", ErrShape, len(x), len(f.Coef))
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%w: covariate %d is %v (want a finite number)", ErrInput, j, v)
		}
	}
	if math.IsNaN(t) {
		return 0, fmt.Errorf("%w: survival asked at time NaN", ErrInput)
	}
	for _, bh := range f.base {
		if bh.Stratum == stratum {
			i := stepAt(bh.Time, t)
			h := 0.0
			if i >= 0 {
				h = bh.Hazard[i]
			}
			return math.Exp(-h * math.Exp(f.LinearPredictor(x))), nil
		}
	}
	return 0, fmt.Errorf("%w: no stratum %q in the Cox fit", ErrInput, stratum)
}

// PredictSurvival returns S(t | x_i) for every patient and time, the
// matrix BrierScore and Calibration take. strata may be nil for an
// unstratified fit.
func (f *CoxFit) PredictSurvival(x [][]float64, strata []string, times []float64) ([][]float64, error) {
	if strata != nil && len(strata) != len(x) {
		return nil, fmt.Errorf("%w: %d strata labels for %d patients", ErrShape, len(strata), len(x))
	}
	out := make([][]float64, len(x))
	for i, row := range x {
		if len(row) != len(f.Coef) {
			return nil, fmt.Errorf("%w: patient %d has %d covariates (want %d)", ErrShape, i, len(row), len(f.Coef))
		}
		s := ""
		if strata != nil {
			s = strata[i]
		}
		out[i] = make([]float64, len(times))
		for k, t := range times {
			v, err := f.SurvivalAt(row, s, t)
			if err != nil {
				return nil, err
			}
			out[i][k] = v
		}
	}
	return out, nil
}
