package survival

import (
	"fmt"
	"math"
	"sort"
)

// maxScore bounds the network outputs the losses accept: far beyond any
// sensible log hazard or logit (a network producing more has diverged),
// and small enough that differences and sums of them stay finite, so a
// loss is either an error or a finite value with a finite gradient.
const maxScore = 1e100

// scoresOK reports whether every value is finite and within ±maxScore.
func scoresOK(v ...float64) bool {
	for _, x := range v {
		if !(math.Abs(x) <= maxScore) {
			return false
		}
	}
	return true
}

// Losses for training networks, each a pure function of the network
// outputs returning the loss value and its gradient with respect to those
// outputs (float64). Package survival/nnloss plugs them into nn's autograd;
// the functions themselves need no framework.

// CoxLoss is the DeepSurv loss: the negative log partial likelihood of the
// risk scores eta (log relative hazards), divided by the number of events,
// with Efron's or Breslow's handling of tied event times. Each risk set's
// sum of exp(eta) is a log-sum-exp taken relative to that risk set's own
// largest score, so no risk set underflows when a patient outside it
// scores far higher (one global shift made log(0) = −Inf there). It
// returns an error when there is no event.
func CoxLoss(y []Outcome, eta []float64, ties Ties) (float64, []float64, error) {
	if len(y) != len(eta) {
		return 0, nil, fmt.Errorf("%w: %d outcomes but %d scores", ErrShape, len(y), len(eta))
	}
	if err := Validate(y); err != nil {
		return 0, nil, err
	}
	if err := checkTies(ties); err != nil {
		return 0, nil, err
	}
	nev := CountEvents(y)
	if nev == 0 {
		return 0, nil, fmt.Errorf("%w: Cox loss needs at least one event in the batch", ErrNoEvents)
	}
	for i, e := range eta {
		if !scoresOK(e) {
			return 0, nil, fmt.Errorf("%w: score %d is %v (want a finite number within ±%g)", ErrInput, i, e, maxScore)
		}
	}
	idx := sortedIndex(y)
	n := len(y)
	// Walk backwards: the risk set only grows, so its largest score m only
	// grows; the risk-set sum S0 and the tied events' sum D0 are kept in
	// units of e^m (rescaled when m grows). Per event time keep, in units
	// of e^−m, A = Σ_k 1/(S0 − f_k D0) and B = Σ_k f_k/(S0 − f_k D0),
	// f_k = k/d (Efron) or 0 (Breslow).
	type tally struct{ t, m, a, b float64 }
	var tallies []tally
	var loss, s0 float64
	m := math.Inf(-1)
	for i := n - 1; i >= 0; {
		t := y[idx[i]].Time
		start := i
		for ; i >= 0 && y[idx[i]].Time == t; i-- {
			if e := eta[idx[i]]; e > m {
				s0 *= math.Exp(m - e) // 0 on the first patient (m = −Inf)
				m = e
			}
			s0 += math.Exp(eta[idx[i]] - m)
		}
		// Each event adds log(e^m·den) − eta_j = (m − eta_j) + log(den),
		// the difference taken first so that huge scores cancel exactly.
		var d, d0, gap float64
		for k := start; k > i; k-- {
			if j := idx[k]; y[j].Event {
				d++
				d0 += math.Exp(eta[j] - m)
				gap += m - eta[j]
			}
		}
		if d == 0 {
			continue
		}
		var a, b float64
		loss += gap
		for k := 0.0; k < d; k++ {
			f := k / d
			if ties == Breslow {
				f = 0
			}
			den := s0 - f*d0 // ≥ (1−f)·d0 > 0, in units of e^m
			loss += math.Log(den)
			a += 1 / den
			b += f / den
		}
		tallies = append(tallies, tally{t, m, a, b})
	}
	// tallies are in descending time; patient j needs Σ over event times
	// t_k <= T_j of e^{eta_j − m_k}·A_k, a prefix sum in ascending time kept
	// as a log-sum-exp (each term is at most 1/den since eta_j <= m_k).
	sort.Slice(tallies, func(p, q int) bool { return tallies[p].t < tallies[q].t })
	logCumA := make([]float64, len(tallies))
	acc := math.Inf(-1)
	for k, tl := range tallies {
		acc = logAddExp(acc, math.Log(tl.a)-tl.m)
		logCumA[k] = acc
	}
	grad := make([]float64, n)
	scale := 1 / float64(nev)
	for j := 0; j < n; j++ {
		k := sort.Search(len(tallies), func(q int) bool { return tallies[q].t > y[j].Time }) - 1
		g := 0.0
		if k >= 0 {
			g = math.Exp(eta[j] + logCumA[k])
			if y[j].Event && tallies[k].t == y[j].Time {
				g -= math.Exp(eta[j]-tallies[k].m) * tallies[k].b
			}
		}
		if y[j].Event {
			g--
		}
		grad[j] = g * scale
	}
	return loss * scale, grad, nil
}

// logAddExp is log(e^a + e^b) without overflow (a or b may be −Inf).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// DiscreteTime maps continuous outcomes onto a grid for the discrete-time
// losses, following pycox's LabTransDiscreteTime: an event at t goes to
// the first cut >= t, a censoring at t to the last cut <= t (the patient
// is known to have survived that interval), and anything after the last
// cut is censored there.
type DiscreteTime struct {
	Cuts []float64
}

// maxCuts bounds the grid size of EquidistantCuts: a network output per
// cut, far more than any discrete-time model uses.
const maxCuts = 1 << 16

// EquidistantCuts returns m cuts from 0 to the largest time, pycox's
// default "equidistant" scheme.
func EquidistantCuts(y []Outcome, m int) (DiscreteTime, error) {
	if m < 2 || m > maxCuts || len(y) == 0 {
		return DiscreteTime{}, fmt.Errorf("%w: %d cuts for %d outcomes (want 2 <= m <= %d, n >= 1)", ErrInput, m, len(y), maxCuts)
	}
	if err := Validate(y); err != nil {
		return DiscreteTime{}, err
	}
	maxT := 0.0
	for _, o := range y {
		maxT = math.Max(maxT, o.Time)
	}
	if maxT == 0 {
		return DiscreteTime{}, fmt.Errorf("%w: every time is 0 (want a positive maximum time for the cuts)", ErrInput)
	}
	c := make([]float64, m)
	for k := range c {
		c[k] = maxT * float64(k) / float64(m-1)
	}
	return DiscreteTime{Cuts: c}, nil
}

// Transform returns each outcome's grid index and event indicator.
func (d DiscreteTime) Transform(y []Outcome) ([]int, []bool, error) {
	m := len(d.Cuts)
	for k := 1; k < m; k++ {
		if !(d.Cuts[k] > d.Cuts[k-1]) {
			return nil, nil, fmt.Errorf("%w: discrete-time cuts %v (want increasing)", ErrInput, d.Cuts)
		}
	}
	if m == 0 {
		return nil, nil, fmt.Errorf("%w: discrete-time grid has no cuts", ErrInput)
	}
	if err := Validate(y); err != nil {
		return nil, nil, err
	}
	idx := make([]int, len(y))
	ev := make([]bool, len(y))
	for i, o := range y {
		switch {
		case o.Time > d.Cuts[m-1]:
			idx[i], ev[i] = m-1, false
		case o.Event:
			idx[i], ev[i] = sort.SearchFloat64s(d.Cuts, o.Time), true
		default:
			idx[i] = max(stepAt(d.Cuts, o.Time), 0)
		}
	}
	return idx, ev, nil
}

func checkGrid(phi [][]float64, idx []int, event []bool) (int, error) {
	if len(phi) != len(idx) || len(idx) != len(event) {
		return 0, fmt.Errorf("%w: %d output rows, %d indices, %d events (want equal)", ErrShape, len(phi), len(idx), len(event))
	}
	if len(phi) == 0 {
		return 0, ErrEmpty
	}
	m := len(phi[0])
	for i, row := range phi {
		if len(row) != m {
			return 0, fmt.Errorf("%w: output row %d has %d values (want %d)", ErrShape, i, len(row), m)
		}
		if idx[i] < 0 || idx[i] >= m {
			return 0, fmt.Errorf("%w: grid index %d of patient %d (want 0..%d)", ErrInput, idx[i], i, m-1)
		}
		if !scoresOK(row...) {
			return 0, fmt.Errorf("%w: output row %d holds NaN, ±Inf or a value beyond ±%g", ErrInput, i, maxScore)
		}
	}
	return m, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// logSigmoidDiff is log(σ(a) − σ(b)) for a > b (a may be +Inf, b −Inf),
// gap = a − b computed by the caller without rounding, exact where the
// difference is far below the float64 resolution of 1:
// σ(a) − σ(b) = (e^a − e^b)/((1+e^a)(1+e^b)) = e^a(1 − e^{b−a})/(…).
func logSigmoidDiff(a, b, gap float64) float64 {
	switch {
	case math.IsInf(a, 1) && math.IsInf(b, -1):
		return 0
	case math.IsInf(a, 1):
		return -softplus(b) // 1 − σ(b) = σ(−b)
	case math.IsInf(b, -1):
		return -softplus(-a) // σ(a)
	}
	return a + math.Log(-math.Expm1(-gap)) - softplus(a) - softplus(b)
}

// softplus is log(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// LogisticHazardLoss is pycox's nll_logistic_hazard: phi[i][k] is the logit
// of the discrete hazard in interval k; the loss is the mean over patients
// of the binary cross-entropies of intervals 0..idx_i, with target 1 only
// at idx_i for an event.
func LogisticHazardLoss(phi [][]float64, idx []int, event []bool) (float64, [][]float64, error) {
	m, err := checkGrid(phi, idx, event)
	if err != nil {
		return 0, nil, err
	}
	n := float64(len(phi))
	var loss float64
	grad := make([][]float64, len(phi))
	for i, row := range phi {
		grad[i] = make([]float64, m)
		for k := 0; k <= idx[i]; k++ {
			target := 0.0
			if k == idx[i] && event[i] {
				target = 1
			}
			// BCE with logits: softplus(x) − target·x
			loss += softplus(row[k]) - target*row[k]
			grad[i][k] = (sigmoid(row[k]) - target) / n
		}
	}
	return loss / n, grad, nil
}

// pmfEpsilon is pycox's epsilon inside the logs of nll_pmf.
const pmfEpsilon = 1e-7

// PMFLoss is pycox's nll_pmf: phi[i] are the logits of the event time
// distribution over the grid, padded with a zero logit for surviving past
// the last interval; an event contributes −log P(T = idx), a censoring
// −log P(T > idx), with pycox's max shift and epsilon.
func PMFLoss(phi [][]float64, idx []int, event []bool) (float64, [][]float64, error) {
	m, err := checkGrid(phi, idx, event)
	if err != nil {
		return 0, nil, err
	}
	n := float64(len(phi))
	var loss float64
	grad := make([][]float64, len(phi))
	e := make([]float64, m+1)
	for i, row := range phi {
		grad[i] = make([]float64, m)
		gamma, arg := 0.0, m // the zero pad column
		for k, v := range row {
			if v > gamma {
				gamma, arg = v, k
			}
		}
		var sum, cum float64
		for k := 0; k <= m; k++ {
			v := 0.0
			if k < m {
				v = row[k]
			}
			e[k] = math.Exp(v - gamma)
			sum += e[k]
			if k <= idx[i] {
				cum += e[k]
			}
		}
		g := grad[i]
		var dGamma float64
		loss += math.Log(sum + pmfEpsilon)
		dGamma -= sum / (sum + pmfEpsilon)
		for k := 0; k < m; k++ {
			g[k] += e[k] / (sum + pmfEpsilon)
		}
		if event[i] {
			loss -= row[idx[i]] - gamma
			g[idx[i]]--
			dGamma++
		} else {
			tail := math.Max(sum-cum, 0)
			loss -= math.Log(tail + pmfEpsilon)
			if sum-cum > 0 {
				dGamma += tail / (tail + pmfEpsilon)
				for k := idx[i] + 1; k < m; k++ {
					g[k] -= e[k] / (tail + pmfEpsilon)
				}
			}
		}
		if arg < m {
			g[arg] += dGamma
		}
		for k := range g {
			g[k] /= n
		}
	}
	return loss / n, grad, nil
}

// DeepHitOptions are DeepHitSingle's loss weights; the zero value gives
// pycox's defaults Alpha 0.2 and Sigma 0.1.
type DeepHitOptions struct {
	// Alpha weighs the likelihood: loss = Alpha·nll_pmf + (1−Alpha)·rank.
	Alpha float64
	// Sigma is the scale of the exponential ranking penalty.
	Sigma float64
}

// DeepHitLoss is pycox's DeepHitSingle loss: the PMF likelihood plus the
// ranking loss (1/n²) Σ_ij A_ij exp(−(F_i(T_i) − F_j(T_i))/σ), where F is
// the cumulative incidence of the padded softmax and A_ij marks pairs with
// an event for i before j's time (or at the same index with j censored).
func DeepHitLoss(phi [][]float64, idx []int, event []bool, o DeepHitOptions) (float64, [][]float64, error) {
	if o.Alpha == 0 {
		o.Alpha = 0.2
	}
	if o.Sigma == 0 {
		o.Sigma = 0.1
	}
	if !(o.Alpha >= 0 && o.Alpha <= 1) || !(o.Sigma > 0) || math.IsInf(o.Sigma, 1) {
		return 0, nil, fmt.Errorf("%w: DeepHit alpha %v, sigma %v (want 0..1, > 0)", ErrInput, o.Alpha, o.Sigma)
	}
	nll, gn, err := PMFLoss(phi, idx, event)
	if err != nil {
		return 0, nil, err
	}
	m := len(phi[0])
	n := len(phi)
	p := make([][]float64, n) // softmax over m+1 columns
	F := make([][]float64, n) // cumulative
	for i, row := range phi {
		p[i], F[i] = make([]float64, m+1), make([]float64, m+1)
		mx := 0.0
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var s float64
		for k := 0; k <= m; k++ {
			v := 0.0
			if k < m {
				v = row[k]
			}
			p[i][k] = math.Exp(v - mx)
			s += p[i][k]
		}
		var c float64
		for k := range p[i] {
			p[i][k] /= s
			c += p[i][k]
			F[i][k] = c
		}
	}
	gF := make([][]float64, n)
	for i := range gF {
		gF[i] = make([]float64, m+1)
	}
	var rank float64
	nn := float64(n) * float64(n)
	for i := 0; i < n; i++ {
		if !event[i] {
			continue
		}
		ti := idx[i]
		for j := 0; j < n; j++ {
			if !(ti < idx[j] || (ti == idx[j] && !event[j])) {
				continue
			}
			v := math.Exp(-(F[i][ti] - F[j][ti]) / o.Sigma)
			rank += v / nn
			c := -v / (o.Sigma * nn)
			gF[i][ti] += c
			gF[j][ti] -= c
		}
	}
	grad := make([][]float64, n)
	for i := range grad {
		// dL/dp_l = Σ_{k >= l} dL/dF_k, then back through the softmax
		gp := make([]float64, m+1)
		var acc float64
		for k := m; k >= 0; k-- {
			acc += gF[i][k]
			gp[k] = acc
		}
		var dot float64
		for k := range gp {
			dot += p[i][k] * gp[k]
		}
		grad[i] = make([]float64, m)
		for k := 0; k < m; k++ {
			grad[i][k] = o.Alpha*gn[i][k] + (1-o.Alpha)*p[i][k]*(gp[k]-dot)
		}
	}
	return o.Alpha*nll + (1-o.Alpha)*rank, grad, nil
}

// CoralLoss is the CORAL ordinal loss (Cao, Mirjalili & Raschka 2020):
// logits[i][k] scores "class > k" for k = 0..K−2; the loss is the mean over
// samples of the summed binary cross-entropies against 1[y_i > k].
// Samples with a negative label (undetermined) are skipped; minClass, when
// given, adds for them only the tasks k < minClass[i], whose answer is
// known (they survived into class minClass or later).
func CoralLoss(logits [][]float64, y []int, minClass []int) (float64, [][]float64, error) {
	if len(logits) != len(y) || (minClass != nil && len(minClass) != len(y)) {
		return 0, nil, fmt.Errorf("%w: %d logit rows, %d labels, %d lower bounds", ErrShape, len(logits), len(y), len(minClass))
	}
	if len(y) == 0 {
		return 0, nil, ErrEmpty
	}
	tasks := len(logits[0])
	n := float64(len(y))
	var loss float64
	grad := make([][]float64, len(y))
	for i, row := range logits {
		if len(row) != tasks {
			return 0, nil, fmt.Errorf("%w: logit row %d has %d values (want %d)", ErrShape, i, len(row), tasks)
		}
		if !scoresOK(row...) {
			return 0, nil, fmt.Errorf("%w: logit row %d holds NaN, ±Inf or a value beyond ±%g", ErrInput, i, maxScore)
		}
		if y[i] > tasks {
			return 0, nil, fmt.Errorf("%w: label %d of sample %d (want < %d)", ErrInput, y[i], i, tasks+1)
		}
		grad[i] = make([]float64, tasks)
		known := tasks
		label := y[i]
		if label < 0 {
			if minClass == nil {
				continue
			}
			if minClass[i] < 0 || minClass[i] > tasks {
				return 0, nil, fmt.Errorf("%w: lower class bound %d of sample %d (want 0..%d)", ErrInput, minClass[i], i, tasks)
			}
			known, label = minClass[i], minClass[i]
		}
		for k := 0; k < known; k++ {
			target := 0.0
			if label > k {
				target = 1
			}
			loss += softplus(row[k]) - target*row[k]
			grad[i][k] = (sigmoid(row[k]) - target) / n
		}
	}
	return loss / n, grad, nil
}

// CumulativeLinkLoss is the proportional-odds (cumulative logit) ordinal
// loss: P(Y <= k) = σ(θ_k − η_i) with ordered thresholds θ; the loss is the
// mean negative log-likelihood, −log P(Y = y_i) for a known class and
// −log P(Y >= minClass_i) for an undetermined one (y_i < 0), the censored
// likelihood. It returns the gradients for η and θ. Thresholds must be
// strictly increasing.
func CumulativeLinkLoss(eta, theta []float64, y, minClass []int) (float64, []float64, []float64, error) {
	if len(eta) != len(y) || (minClass != nil && len(minClass) != len(y)) {
		return 0, nil, nil, fmt.Errorf("%w: %d scores, %d labels, %d lower bounds", ErrShape, len(eta), len(y), len(minClass))
	}
	if len(y) == 0 {
		return 0, nil, nil, ErrEmpty
	}
	for k := 1; k < len(theta); k++ {
		if !(theta[k] > theta[k-1]) {
			return 0, nil, nil, fmt.Errorf("%w: thresholds %v (want strictly increasing)", ErrInput, theta)
		}
	}
	if !scoresOK(theta...) {
		return 0, nil, nil, fmt.Errorf("%w: thresholds %v (want finite, within ±%g)", ErrInput, theta, maxScore)
	}
	for i, e := range eta {
		if !scoresOK(e) {
			return 0, nil, nil, fmt.Errorf("%w: score %d is %v (want a finite number within ±%g)", ErrInput, i, e, maxScore)
		}
	}
	K := len(theta) + 1
	n := float64(len(y))
	gEta := make([]float64, len(y))
	gTheta := make([]float64, len(theta))
	var loss float64
	for i, e := range eta {
		lo, hi := y[i], y[i] // P(lo <= Y <= hi)
		if y[i] < 0 {
			if minClass == nil {
				continue
			}
			lo, hi = minClass[i], K-1
		}
		if lo < 0 || hi >= K {
			return 0, nil, nil, fmt.Errorf("%w: class %d of sample %d (want 0..%d)", ErrInput, y[i], i, K-1)
		}
		// P = F(hi) − F(lo−1), F(k) = σ(θ_k − η), F(−1) = 0, F(K−1) = 1,
		// in log space: a difference of two sigmoids near 0 or 1 would
		// cancel to 0 (−log 0 = Inf) long before P does.
		a, b := math.Inf(1), math.Inf(-1) // arguments of F(hi), F(lo−1)
		if hi < K-1 {
			a = theta[hi] - e
		}
		if lo > 0 {
			b = theta[lo-1] - e
		}
		gap := math.Inf(1) // a − b, from the thresholds (exact even when |η| dwarfs them)
		if hi < K-1 && lo > 0 {
			gap = theta[hi] - theta[lo-1]
		}
		logP := logSigmoidDiff(a, b, gap)
		loss -= logP
		// d(−log P)/dη = (du − dl)/P, d/dθ_hi = −du/P, d/dθ_{lo−1} = dl/P,
		// with du = σ'(a), dl = σ'(b) and the ratios taken in log space.
		var ru, rl float64
		if hi < K-1 {
			ru = math.Exp(-softplus(a) - softplus(-a) - logP)
			gTheta[hi] -= ru / n
		}
		if lo > 0 {
			rl = math.Exp(-softplus(b) - softplus(-b) - logP)
			gTheta[lo-1] += rl / n
		}
		gEta[i] = (ru - rl) / n
	}
	return loss / n, gEta, gTheta, nil
}
