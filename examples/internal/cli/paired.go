package cli

import (
	"context"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/fusion"
	"github.com/metasurv/metasurv/survival"
)

// Versus is the headline fused model against the better single-modality
// model on the same held-out patients.
type Versus struct {
	Fused, Single string
	// Delta is C(fused) − C(single) with its paired bootstrap interval:
	// each resample draws test patients once and scores both models on
	// them, so the interval is much narrower than the two C-indices'
	// intervals would suggest.
	Delta survival.Interval
	// Ahead is the share of resamples where the fused model's C-index is
	// higher.
	Ahead float64
}

// HeadlineVersus compares fr.Best with whichever of the clinical-only and
// image-only MLPs scored higher on the test patients, whose outcomes y
// are in test order. Picking the better single model on the test set
// favours it, so the comparison is, if anything, conservative.
func HeadlineVersus(ctx context.Context, fr *FusionResult, y []survival.Outcome, o survival.BootstrapOptions) (*Versus, error) {
	find := func(name string) *fusion.Result {
		for i := range fr.Comparison.Results {
			if r := &fr.Comparison.Results[i]; r.Name == name {
				return r
			}
		}
		return nil
	}
	fused, clin, img := find(fr.Best), find("MLP clinical-only"), find("MLP image-only")
	if fused == nil || clin == nil || img == nil {
		return nil, fmt.Errorf("comparison lacks %s or a single-modality MLP", fr.Best)
	}
	single := clin
	if img.CIndex.Estimate > clin.CIndex.Estimate {
		single = img
	}
	if len(fused.Risk) != len(y) || len(single.Risk) != len(y) {
		return nil, fmt.Errorf("%d outcomes for %d and %d test risks", len(y), len(fused.Risk), len(single.Risk))
	}
	var resamples, ahead int
	first := true
	delta, err := survival.Bootstrap(ctx, len(y), func(rows []int) (float64, error) {
		d, err := cDelta(y, fused.Risk, single.Risk, rows)
		if first { // Bootstrap scores all patients first, then each resample
			first = false
		} else if err == nil {
			resamples++
			if d > 0 {
				ahead++
			}
		}
		return d, err
	}, o)
	if err != nil {
		return nil, fmt.Errorf("paired bootstrap of %s against %s: %w", fused.Name, single.Name, err)
	}
	return &Versus{Fused: fused.Name, Single: single.Name, Delta: delta, Ahead: float64(ahead) / math.Max(float64(resamples), 1)}, nil
}

// cDelta is Harrell's C of risk a minus that of risk b on the given rows.
func cDelta(y []survival.Outcome, a, b []float64, rows []int) (float64, error) {
	yy := make([]survival.Outcome, len(rows))
	ra, rb := make([]float64, len(rows)), make([]float64, len(rows))
	for i, j := range rows {
		yy[i], ra[i], rb[i] = y[j], a[j], b[j]
	}
	ca, err := survival.Concordance(yy, ra, survival.ConcordanceOptions{})
	if err != nil {
		return math.NaN(), err
	}
	cb, err := survival.Concordance(yy, rb, survival.ConcordanceOptions{})
	if err != nil {
		return math.NaN(), err
	}
	return ca.C - cb.C, nil
}

// String is the line the quickstart prints.
func (v *Versus) String() string {
	return fmt.Sprintf("%s − %s (the better single modality): ΔC = %+.3f [%+.3f, %+.3f] by paired bootstrap; fused ahead in %.0f%% of resamples",
		v.Fused, v.Single, v.Delta.Estimate, v.Delta.Lower, v.Delta.Upper, 100*v.Ahead)
}
