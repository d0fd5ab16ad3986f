package fusion

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/metasurv/metasurv/survival"
)

// Candidate is one model of a comparison.
type Candidate struct {
	Name string
	// New builds a fresh, untrained model.
	New func() (*Model, error)
	// FrozenBackbone trains only the fusion layers on cached embeddings.
	FrozenBackbone bool
}

// CompareOptions configures Compare.
type CompareOptions struct {
	// Train is used for every candidate (FrozenBackbone comes from the
	// candidate).
	Train TrainOptions
	// Bootstrap configures the confidence intervals; zero Resamples means
	// 1000 (survival.Bootstrap's default).
	Bootstrap survival.BootstrapOptions
	// Progress, when set, is called after every epoch of every candidate.
	Progress func(candidate string, e EpochStats)
}

// Result is one candidate's test performance.
type Result struct {
	Name string `json:"name"`
	// Metrics are the point estimates on the test cohort.
	Metrics Metrics `json:"metrics"`
	// Bootstrap percentile intervals of the same metrics.
	CIndex           survival.Interval `json:"c_index"`
	BalancedAccuracy survival.Interval `json:"balanced_accuracy"`
	MacroF1          survival.Interval `json:"macro_f1"`
	AUC              survival.Interval `json:"auc"`
	BestEpoch        int               `json:"best_epoch"`
	Seconds          float64           `json:"seconds"`
	// Probs are the test predictions (survival class probabilities) and
	// Risk the risk the C-index ranks (Model.Rank), in test order.
	Probs [][]float64 `json:"-"`
	Risk  []float64   `json:"-"`
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Results []Result `json:"results"`
	// N and Known count test patients (all, and with a known class).
	N     int     `json:"n"`
	Known int     `json:"known"`
	Level float64 `json:"level"`
}

// Compare trains every candidate under one split (same encoder, same
// training options and seed) and reports balanced accuracy, macro-F1,
// one-vs-rest AUC and Harrell's C-index on the test cohort with bootstrap
// confidence intervals — the study's comparison table.
func Compare(ctx context.Context, enc *Encoder, train, val, test *Cohort, cands []Candidate, o CompareOptions) (*Comparison, error) {
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: no candidates", ErrSchema)
	}
	labels, err := survival.StudyClasses().Label(test.Outcomes(), test.TimeUnit)
	if err != nil {
		return nil, fmt.Errorf("fusion: test labels: %w", err)
	}
	bo := o.Bootstrap
	if bo.Level == 0 {
		bo.Level = 0.95
	}
	cmp := &Comparison{N: len(test.Samples), Level: bo.Level}
	for _, c := range cands {
		t0 := time.Now()
		m, err := c.New()
		if err != nil {
			return nil, fmt.Errorf("fusion: candidate %q: %w", c.Name, err)
		}
		if lab, err := m.Config.Scheme.Label(test.Outcomes(), test.TimeUnit); err == nil {
			labels = lab
		}
		to := o.Train
		to.FrozenBackbone = c.FrozenBackbone
		if o.Progress != nil {
			name := c.Name
			to.Progress = func(e EpochStats) { o.Progress(name, e) }
		}
		_, h, err := Train(ctx, m, enc, train, val, to)
		if err != nil {
			return nil, fmt.Errorf("fusion: training %q: %w", c.Name, err)
		}
		probs, risk, err := predictCohort(m, enc, test)
		if err != nil {
			return nil, fmt.Errorf("fusion: predicting with %q: %w", c.Name, err)
		}
		r := Result{Name: c.Name, Metrics: computeMetrics(probs, risk, test.Outcomes(), labels), BestEpoch: h.BestEpoch, Probs: probs, Risk: risk}
		if err := bootstrapAll(ctx, &r, test.Outcomes(), labels, bo); err != nil {
			return nil, fmt.Errorf("fusion: bootstrap of %q: %w", c.Name, err)
		}
		r.Seconds = time.Since(t0).Seconds()
		cmp.Results = append(cmp.Results, r)
		cmp.Known = r.Metrics.Known
	}
	return cmp, nil
}

func bootstrapAll(ctx context.Context, r *Result, y []survival.Outcome, l *survival.Labels, bo survival.BootstrapOptions) error {
	probs, risk := r.Probs, r.Risk
	ci, err := survival.Bootstrap(ctx, len(y), func(rows []int) (float64, error) {
		yy := make([]survival.Outcome, len(rows))
		rr := make([]float64, len(rows))
		for i, j := range rows {
			yy[i], rr[i] = y[j], risk[j]
		}
		c, err := survival.Concordance(yy, rr, survival.ConcordanceOptions{})
		if err != nil {
			return math.NaN(), err
		}
		return c.C, nil
	}, bo)
	if err != nil {
		return err
	}
	r.CIndex = ci
	var yt []int
	var pk [][]float64
	for i, c := range l.Class {
		if c >= 0 {
			yt = append(yt, c)
			pk = append(pk, probs[i])
		}
	}
	if len(yt) == 0 {
		return nil
	}
	k := l.Scheme.NumClasses()
	cls := func(f func(*survival.ClassReport) float64) func([]int, [][]float64) (float64, error) {
		return func(y []int, p [][]float64) (float64, error) {
			rep, err := survival.Classify(y, survival.Argmax(p), k)
			if err != nil {
				return math.NaN(), err
			}
			return f(rep), nil
		}
	}
	bc := bo
	bc.Strata = nil
	if r.BalancedAccuracy, err = survival.BootstrapClasses(ctx, yt, pk, cls(func(c *survival.ClassReport) float64 { return c.BalancedAccuracy }), bc); err != nil {
		return err
	}
	if r.MacroF1, err = survival.BootstrapClasses(ctx, yt, pk, cls(func(c *survival.ClassReport) float64 { return c.F1Macro }), bc); err != nil {
		return err
	}
	r.AUC, err = survival.BootstrapClasses(ctx, yt, pk, func(y []int, p [][]float64) (float64, error) {
		a, err := survival.MulticlassAUC(y, p)
		if err != nil {
			return math.NaN(), err
		}
		return a.OvRMacro, nil
	}, bc)
	if err != nil {
		// An AUC undefined on the full test set (a class absent) is
		// reported as NaN, not as a failure of the comparison.
		r.AUC = survival.Interval{Estimate: math.NaN(), Lower: math.NaN(), Upper: math.NaN()}
	}
	return nil
}

// Markdown renders the comparison as a table: one row per candidate,
// estimate and interval per metric.
func (c *Comparison) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| model | C-index | balanced accuracy | macro-F1 | AUC (OvR macro) |\n|---|---|---|---|---|\n")
	f := func(iv survival.Interval) string {
		if math.IsNaN(iv.Estimate) {
			return "n/a"
		}
		return fmt.Sprintf("%.3f [%.3f, %.3f]", iv.Estimate, iv.Lower, iv.Upper)
	}
	for _, r := range c.Results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Name, f(r.CIndex), f(r.BalancedAccuracy), f(r.MacroF1), f(r.AUC))
	}
	fmt.Fprintf(&b, "\n%d test patients (%d with a known survival class); %.0f%% bootstrap percentile intervals.\n", c.N, c.Known, 100*c.Level)
	return b.String()
}
