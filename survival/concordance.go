package survival

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// TimeWeight selects how comparable pairs are weighted by the event time
// of the earlier patient, with R concordance()'s timewt names.
type TimeWeight int

const (
	// Harrell weights every comparable pair equally (R timewt = "n").
	Harrell TimeWeight = iota
	// Uno weights a pair whose earlier event is at t by 1/G(t−)², G the
	// Kaplan–Meier estimate of the censoring distribution (R timewt =
	// "n/G2", Uno et al. 2011). Combine with Tau.
	Uno
)

// ConcordanceOptions configures Concordance. The zero value is Harrell's C.
type ConcordanceOptions struct {
	TimeWeight TimeWeight
	// Tau, when > 0, ignores pairs whose earlier event time exceeds Tau
	// (R's ymax; Uno's truncation time).
	Tau float64
	// Strata, when set, only compares patients within the same stratum.
	Strata []string
	// Convention selects the Uno weights: GLeft (default) is R's
	// concordance(timewt = "n/G2", ymax = Tau): 1/G(t−)² with G from each
	// stratum's own outcomes, pairs kept for t <= Tau. GRight is
	// scikit-survival's concordance_index_ipcw: 1/G(t)² with G from
	// Censoring, pairs kept for t < Tau, an error when G reaches 0.
	Convention IPCWConvention
	// Censoring are the outcomes G is estimated from under GRight
	// (scikit-survival's survival_train); nil means y.
	Censoring []Outcome
}

// ConcordanceResult holds the (weighted) pair counts with R's names and
// the concordance C = (Concordant + TiedRisk/2) / (Concordant + Discordant
// + TiedRisk). Pairs tied on time (TiedTime, TiedBoth) are not comparable.
// When no pair is comparable (one patient, or no event before a later
// follow-up: R's NA) Concordance returns an error wrapping ErrNoEvents
// instead.
type ConcordanceResult struct {
	C          float64
	Concordant float64 // the earlier death has the higher risk
	Discordant float64 // the earlier death has the lower risk
	TiedRisk   float64 // R tied.x: comparable pair with equal risk
	TiedTime   float64 // R tied.y: two deaths at the same time, risks differ
	TiedBoth   float64 // R tied.xy: two deaths at the same time and risk
	// SE is the standard error of C, R's sqrt(var): the infinitesimal
	// jackknife, from each patient's share of the pair counts.
	SE float64
}

// Concordance computes Harrell's or Uno's C of a risk score (higher means
// shorter survival, R's concordance(..., reverse = TRUE)), with R's pair
// counts. A patient censored at the time of a death counts as outliving
// it. It runs in O(n log n) with a Fenwick tree over risk ranks.
func Concordance(y []Outcome, risk []float64, o ConcordanceOptions) (*ConcordanceResult, error) {
	if err := checkPaired(y, len(risk), "risk scores", o.Strata); err != nil {
		return nil, err
	}
	for i, r := range risk {
		if math.IsNaN(r) {
			return nil, fmt.Errorf("%w: risk score %d is NaN", ErrInput, i)
		}
	}
	if math.IsNaN(o.Tau) || o.Tau < 0 {
		return nil, fmt.Errorf("%w: concordance Tau %v (want >= 0; 0 keeps every pair)", ErrInput, o.Tau)
	}
	y = TimeFix(y)
	res := &ConcordanceResult{}
	rank := make([]int, len(y))
	infl := make([][3]float64, len(y))
	for _, rows := range strataRows(o.Strata, len(y)) {
		if err := concordStratum(y, risk, rank, rows, o, res, infl); err != nil {
			return nil, err
		}
	}
	res.TiedTime -= res.TiedBoth
	den := res.Concordant + res.Discordant + res.TiedRisk
	if !(den > 0) {
		return nil, fmt.Errorf("%w: no comparable pair among %d patients (%d events), so C is undefined", ErrNoEvents, len(y), CountEvents(y))
	}
	res.C = (res.Concordant + res.TiedRisk/2) / den
	// dC/dw_i = ((c_i − d_i) − (c_i + d_i + t_i)·somer) / (2·npair), as R's
	// concordancefit dfbeta; var = Σ dfbeta².
	somer := (res.Concordant - res.Discordant) / den
	var v float64
	for _, f := range infl {
		d := ((f[0] - f[1]) - (f[0]+f[1]+f[2])*somer) / (2 * den)
		v += d * d
	}
	res.SE = math.Sqrt(v)
	return res, nil
}

// strataRows groups row indices by stratum label (one group when nil).
func strataRows(strata []string, n int) [][]int {
	if strata == nil {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	pos := map[string]int{}
	var groups [][]int
	for i, s := range strata {
		k, ok := pos[s]
		if !ok {
			k = len(groups)
			pos[s] = k
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], i)
	}
	return groups
}

// fenwick is a binary indexed tree of weights over risk ranks.
type fenwick struct {
	tree, node []float64
	total      float64
}

func newFenwick(n int) *fenwick {
	return &fenwick{tree: make([]float64, n+1), node: make([]float64, n)}
}

func (f *fenwick) add(r int, w float64) {
	f.node[r] += w
	f.total += w
	for i := r + 1; i < len(f.tree); i += i & -i {
		f.tree[i] += w
	}
}

// below returns the total weight of ranks < r.
func (f *fenwick) below(r int) float64 {
	var s float64
	for i := r; i > 0; i -= i & -i {
		s += f.tree[i]
	}
	return s
}

// concordStratum adds one stratum's counts, walking times from the last to
// the first like R's concordance3: censored patients at a time enter the
// tree before that time's deaths are compared, tied deaths are compared to
// each other only as ties.
//
// infl[i] accumulates patient i's weighted concordant, discordant and
// tied-risk pairs (as either member): a death directly, a later patient
// through a second tree of the deaths processed since it entered.
func concordStratum(y []Outcome, risk []float64, rank []int, rows []int, o ConcordanceOptions, res *ConcordanceResult, infl [][3]float64) error {
	nr := denseRanks(risk, rows, rank)
	items := make([]concItem, len(rows))
	for k, i := range rows {
		items[k] = concItem{t: y[i].Time, r: risk[i], ev: y[i].Event, rank: int32(rank[i]), idx: int32(i)}
	}
	slices.SortFunc(items, func(a, b concItem) int {
		switch {
		case a.t != b.t:
			return cmp.Compare(b.t, a.t)
		case a.ev != b.ev:
			if a.ev {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.r, b.r)
	})
	weight, err := timeWeights(y, rows, o)
	if err != nil {
		return err
	}
	tree, deaths := newFenwick(nr), newFenwick(nr)
	// partnerCounts returns (deaths with higher, lower, equal risk).
	partnerCounts := func(r int) [3]float64 {
		below := deaths.below(r)
		eq := deaths.node[r]
		return [3]float64{deaths.total - below - eq, below, eq}
	}
	enter := func(it concItem) {
		p := partnerCounts(int(it.rank))
		for k := range p {
			infl[it.idx][k] -= p[k]
		}
		tree.add(int(it.rank), 1)
	}
	n := len(items)
	for i := 0; i < n; {
		it := items[i]
		if !it.ev {
			enter(it)
			i++
			continue
		}
		w := weight(it.t)
		j := i
		var dwt, dwt2 float64
		xsave := it.rank
		for ; j < n && items[j].t == it.t; j++ {
			r := items[j].rank
			res.TiedTime += dwt * w
			dwt++
			if r != xsave {
				dwt2, xsave = 0, r
			}
			res.TiedBoth += dwt2 * w
			dwt2++
			below := tree.below(int(r))
			eq := tree.node[r]
			res.Concordant += below * w
			res.TiedRisk += eq * w
			res.Discordant += (tree.total - below - eq) * w
			f := &infl[items[j].idx]
			f[0] += below * w
			f[1] += (tree.total - below - eq) * w
			f[2] += eq * w
			deaths.add(int(r), w)
		}
		for ; i < j; i++ {
			enter(items[i])
		}
	}
	for _, it := range items {
		p := partnerCounts(int(it.rank))
		for k := range p {
			infl[it.idx][k] += p[k]
		}
	}
	return nil
}

// concItem is one patient in the concordance sweep.
type concItem struct {
	t, r float64
	ev   bool
	rank int32
	idx  int32 // row in the caller's slices
}

// denseRanks stores in rank[i] the rank of risk[i] among the distinct
// values of the rows, and returns the number of distinct values.
func denseRanks(risk []float64, rows []int, rank []int) int {
	vals := make([]float64, len(rows))
	for k, i := range rows {
		vals[k] = risk[i]
	}
	sort.Float64s(vals)
	u := vals[:0]
	for k, v := range vals {
		if k == 0 || v != u[len(u)-1] {
			u = append(u, v)
		}
	}
	for _, i := range rows {
		rank[i] = sort.SearchFloat64s(u, risk[i])
	}
	return len(u)
}

// timeWeights returns the weight of a comparable pair by the earlier event
// time: 1 (Harrell) or 1/G(t−)² (Uno), 0 beyond Tau. As in R, a stratum
// with fewer than two events uses Harrell's weights.
func timeWeights(y []Outcome, rows []int, o ConcordanceOptions) (func(float64) float64, error) {
	sub := make([]Outcome, len(rows))
	nev := 0
	for k, i := range rows {
		sub[k] = y[i]
		if y[i].Event {
			nev++
		}
	}
	if o.TimeWeight != Harrell && o.TimeWeight != Uno {
		return nil, fmt.Errorf("%w: unknown concordance time weight %d (want Harrell or Uno)", ErrInput, o.TimeWeight)
	}
	if err := o.Convention.check(); err != nil {
		return nil, err
	}
	if o.TimeWeight == Uno && o.Convention == GRight {
		return sksurvWeights(sub, o)
	}
	cut := func(t float64) bool { return o.Tau > 0 && t > o.Tau }
	if o.TimeWeight == Harrell || nev < 2 {
		return func(t float64) float64 {
			if cut(t) {
				return 0
			}
			return 1
		}, nil
	}
	g := censoringCurve(sub)
	return func(t float64) float64 {
		if cut(t) {
			return 0
		}
		gt := g.atLeft(t)
		return 1 / (gt * gt)
	}, nil
}

// sksurvWeights are scikit-survival's Uno weights 1/G(t)², G from
// o.Censoring (or the stratum), zero for t >= Tau.
func sksurvWeights(sub []Outcome, o ConcordanceOptions) (func(float64) float64, error) {
	train := o.Censoring
	if train == nil {
		train = sub
	}
	if err := Validate(train); err != nil {
		return nil, err
	}
	g := censoringCurve(train)
	for _, y := range sub {
		if y.Event && (o.Tau <= 0 || y.Time < o.Tau) && g.at(y.Time) <= 0 {
			return nil, fmt.Errorf("%w: censoring survival G is 0 at event time %v (censoring outcomes end too early)", ErrInput, y.Time)
		}
	}
	return func(t float64) float64 {
		if o.Tau > 0 && t >= o.Tau {
			return 0
		}
		gt := g.at(t)
		return 1 / (gt * gt)
	}, nil
}

// stepCurve is a right-continuous step function starting at 1.
type stepCurve struct{ time, value []float64 }

// atLeft returns the value just before t.
func (c stepCurve) atLeft(t float64) float64 {
	i := stepAt(c.time, math.Nextafter(t, math.Inf(-1)))
	if i < 0 {
		return 1
	}
	return c.value[i]
}

// at returns the value at t.
func (c stepCurve) at(t float64) float64 {
	i := stepAt(c.time, t)
	if i < 0 {
		return 1
	}
	return c.value[i]
}

// censoringCurve is the Kaplan–Meier estimate G of the censoring
// distribution with R's concordance convention (fastkm1): deaths at a time
// leave the risk set before the censorings at that time, so the factor at
// a censoring time c is #{T > c} / (#{T > c} + #{censored at c}).
func censoringCurve(y []Outcome) stepCurve {
	rt := tabulate(y)
	var c stepCurve
	g := 1.0
	for i, t := range rt.time {
		if rt.ncensor[i] == 0 {
			continue
		}
		after := rt.nrisk[i] - rt.nevent[i] - rt.ncensor[i]
		g *= after / (after + rt.ncensor[i])
		c.time = append(c.time, t)
		c.value = append(c.value, g)
	}
	return c
}
