package fusion

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/survival/nnloss"
)

// Targets are the labels of one batch. A negative entry is a missing label,
// masked out of its loss.
type Targets struct {
	// Survival is the survival class, −1 when censoring leaves it
	// undetermined; MinClass is the lowest class still possible (used by
	// the CORAL loss).
	Survival, MinClass []int
	// Tasks holds one label slice per auxiliary task, in config order.
	Tasks [][]int
	// Outcomes are the survival outcomes (for the Cox head).
	Outcomes []survival.Outcome
	// ipcw are the samples' censoring weights (set by the loader).
	ipcw []float32
}

// LossOptions configures Model.Loss.
type LossOptions struct {
	// ClassWeights rescale the survival classes in the cross-entropy
	// (len K); nil means 1.
	ClassWeights []float32
	// SampleWeights weight each sample's survival cross-entropy (len N),
	// e.g. inverse-probability-of-censoring weights; the loss is then
	// Σ s_i·c_{y_i}·ℓ_i / Σ s_i·c_{y_i} over the known samples. Ignored by
	// the CORAL loss.
	SampleWeights []float32
}

// Loss combines the losses of every head: the survival loss plus each
// task's cross-entropy times its weight. Heads without any label in the
// batch contribute nothing; a batch without any label at all returns a nil
// loss and no error (the step is skipped).
func (m *Model) Loss(g *nn.Graph, outs []*nn.Tensor, t Targets, o LossOptions) (*nn.Tensor, error) {
	cox := 0
	if m.Config.CoxHead {
		cox = 1
	}
	if len(outs) != 1+len(m.Config.Tasks)+cox || len(t.Tasks) != len(m.Config.Tasks) {
		return nil, fmt.Errorf("%w: %d outputs and %d task label sets for %d tasks", ErrShape, len(outs), len(t.Tasks), len(m.Config.Tasks))
	}
	var total *nn.Tensor
	add := func(l *nn.Tensor) {
		if total == nil {
			total = l
		} else {
			total = g.Add(total, l)
		}
	}
	n := outs[0].Shape[0]
	if len(t.Survival) != n {
		return nil, fmt.Errorf("%w: %d survival labels for %d samples", ErrShape, len(t.Survival), n)
	}
	if m.Config.SurvivalLoss == SurvivalCORAL {
		useful := false
		for i, y := range t.Survival {
			if y >= 0 || (t.MinClass != nil && t.MinClass[i] > 0) {
				useful = true
			}
		}
		if useful {
			l, err := nnloss.Coral(g, outs[0], t.Survival, t.MinClass)
			if err != nil {
				return nil, fmt.Errorf("fusion: survival loss: %w", err)
			}
			add(l)
		}
	} else if anyKnown(t.Survival) {
		if o.SampleWeights == nil {
			add(g.CrossEntropy(outs[0], t.Survival, nn.CEOptions{Weight: o.ClassWeights}))
		} else {
			if len(o.SampleWeights) != n {
				return nil, fmt.Errorf("%w: %d sample weights for %d samples", ErrShape, len(o.SampleWeights), n)
			}
			per := g.CrossEntropy(outs[0], t.Survival, nn.CEOptions{Weight: o.ClassWeights, Reduction: nn.ReduceNone})
			sw, _ := nn.FromData(append([]float32(nil), o.SampleWeights...), n)
			den := 0.0
			for i, y := range t.Survival {
				if y >= 0 {
					cw := 1.0
					if o.ClassWeights != nil {
						cw = float64(o.ClassWeights[y])
					}
					den += float64(o.SampleWeights[i]) * cw
				}
			}
			if den > 0 {
				add(g.Scale(g.Sum(g.Mul(per, sw)), float32(1/den)))
			}
		}
	}
	for k, task := range m.Config.Tasks {
		if len(t.Tasks[k]) != n {
			return nil, fmt.Errorf("%w: task %q has %d labels for %d samples", ErrShape, task.Name, len(t.Tasks[k]), n)
		}
		if !anyKnown(t.Tasks[k]) {
			continue
		}
		l := g.CrossEntropy(outs[1+k], t.Tasks[k], nn.CEOptions{})
		if task.Weight != 0 && task.Weight != 1 {
			l = g.Scale(l, float32(task.Weight))
		}
		add(l)
	}
	if cox == 1 {
		if len(t.Outcomes) != n {
			return nil, fmt.Errorf("%w: %d outcomes for %d samples (the Cox head needs them)", ErrShape, len(t.Outcomes), n)
		}
		// A batch without a death carries no partial-likelihood term.
		if survival.CountEvents(t.Outcomes) > 0 {
			l, err := nnloss.Cox(g, outs[len(outs)-1], t.Outcomes, survival.Efron)
			if err != nil {
				return nil, fmt.Errorf("fusion: Cox loss: %w", err)
			}
			if w := m.Config.CoxWeight; w != 0 && w != 1 {
				l = g.Scale(l, float32(w))
			}
			add(l)
		}
	}
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("fusion: loss: %w", err)
	}
	return total, nil
}

func anyKnown(y []int) bool {
	for _, v := range y {
		if v >= 0 {
			return true
		}
	}
	return false
}
