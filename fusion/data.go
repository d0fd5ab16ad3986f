package fusion

import (
	"fmt"
	"math"
	"slices"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// Sample is one patient of a training or evaluation cohort.
type Sample struct {
	ID string
	// Image is the preprocessed stack, C·D·H·W values in volume.Stack
	// order (Stack.Data); nil when the patient has no imaging.
	Image []float32
	// Present flags each channel (MRI sequence); nil means all present.
	// An absent channel is zero-filled, as norm.Preprocess leaves it.
	Present []bool
	// Embedding is a precomputed image embedding (frozen foundation
	// model); used when the model has no backbone.
	Embedding []float32
	// Clinical is the clinical record; nil when the patient has none.
	Clinical Record
	// Outcome is the survival outcome in Cohort.TimeUnit.
	Outcome survival.Outcome
	// Labels holds auxiliary task labels by task name (level text);
	// absent means unknown.
	Labels map[string]string
}

// Cohort is a set of patients with images of one shape.
type Cohort struct {
	// Shape is C, D, H, W of every Sample.Image.
	Shape [4]int
	// TimeUnit is the unit of the outcome times (zero value: days).
	TimeUnit survival.Unit
	Samples  []Sample
}

// Subset returns the cohort restricted to the given sample indices.
func (c *Cohort) Subset(idx []int) *Cohort {
	s := &Cohort{Shape: c.Shape, TimeUnit: c.TimeUnit}
	for _, i := range idx {
		s.Samples = append(s.Samples, c.Samples[i])
	}
	return s
}

// Outcomes returns the survival outcomes of the cohort.
func (c *Cohort) Outcomes() []survival.Outcome {
	y := make([]survival.Outcome, len(c.Samples))
	for i, s := range c.Samples {
		y[i] = s.Outcome
	}
	return y
}

// prepared is a sample checked and encoded for a model.
type prepared struct {
	image     []float32
	present   []bool
	embedding []float32
	clin      []float32
	hasImg    bool
	hasClin   bool
	class     int
	minClass  int
	outcome   survival.Outcome
	ipcw      float32
	tasks     []int
}

// prepare validates and encodes a cohort for model m.
func prepare(m *Model, enc *Encoder, c *Cohort) ([]prepared, *survival.Labels, error) {
	if c == nil || len(c.Samples) == 0 {
		return nil, nil, fmt.Errorf("%w: empty cohort", ErrShape)
	}
	cfg := m.Config
	if cfg.Fusion.usesClinical() && (enc == nil || enc.Dim() != cfg.ClinicalDim) {
		return nil, nil, fmt.Errorf("%w: model wants %d clinical features; the encoder gives %v", ErrShape, cfg.ClinicalDim, encDim(enc))
	}
	labels, err := cfg.Scheme.Label(c.Outcomes(), c.TimeUnit)
	if err != nil {
		return nil, nil, fmt.Errorf("fusion: survival labels: %w", err)
	}
	vox := c.Shape[0] * c.Shape[1] * c.Shape[2] * c.Shape[3]
	out := make([]prepared, len(c.Samples))
	seen := map[string]bool{}
	for i, s := range c.Samples {
		if seen[s.ID] {
			return nil, nil, fmt.Errorf("%w: %q", ErrDuplicateID, s.ID)
		}
		seen[s.ID] = true
		p := prepared{class: labels.Class[i], minClass: labels.MinClass[i], present: s.Present, outcome: s.Outcome, ipcw: float32(labels.IPCW[i])}
		if cfg.Fusion.usesImage() {
			switch {
			case m.Backbone != nil && s.Image != nil:
				if len(s.Image) != vox {
					return nil, nil, fmt.Errorf("%w: patient %q image has %d values (want %v = %d)", ErrShape, s.ID, len(s.Image), c.Shape, vox)
				}
				if s.Present != nil && len(s.Present) != c.Shape[0] {
					return nil, nil, fmt.Errorf("%w: patient %q has %d presence flags for %d channels", ErrShape, s.ID, len(s.Present), c.Shape[0])
				}
				if err := finiteData(s.Image, c.Shape[0]); err != nil {
					return nil, nil, fmt.Errorf("fusion: patient %q: %w", s.ID, err)
				}
				if err := absentZero(s.Image, s.Present); err != nil {
					return nil, nil, fmt.Errorf("fusion: patient %q: %w", s.ID, err)
				}
				p.image, p.hasImg = s.Image, !allAbsent(s.Present)
			case m.Backbone == nil && s.Embedding != nil:
				if len(s.Embedding) != cfg.EmbedDim {
					return nil, nil, fmt.Errorf("%w: patient %q embedding has %d values (want %d)", ErrShape, s.ID, len(s.Embedding), cfg.EmbedDim)
				}
				p.embedding, p.hasImg = s.Embedding, true
			}
		}
		if cfg.Fusion.usesClinical() && s.Clinical != nil {
			x, _, err := enc.Encode(s.Clinical)
			if err != nil {
				return nil, nil, fmt.Errorf("fusion: patient %q: %w", s.ID, err)
			}
			p.clin, p.hasClin = x, true
		}
		for _, t := range cfg.Tasks {
			y := -1
			if v, ok := s.Labels[t.Name]; ok && v != "" {
				if y = slices.Index(t.Levels, v); y < 0 {
					return nil, nil, fmt.Errorf("%w: patient %q task %q label %q is not one of %v", ErrBadCell, s.ID, t.Name, v, t.Levels)
				}
			}
			p.tasks = append(p.tasks, y)
		}
		out[i] = p
	}
	return out, labels, nil
}

func encDim(e *Encoder) any {
	if e == nil {
		return "none"
	}
	return e.Dim()
}

func allAbsent(p []bool) bool {
	if p == nil {
		return false
	}
	for _, v := range p {
		if v {
			return false
		}
	}
	return true
}

// batchOf assembles prepared samples into model inputs and targets. The
// image tensor is filled by fill (augmentation) when images are used.
// With embeddings the batch carries Embeddings instead of Images (models
// without a backbone, or a frozen backbone whose embeddings were cached).
func batchOf(m *Model, ps []*prepared, shape [4]int, fill func(k int, dst []float32), embeddings bool) (Batch, Targets) {
	n := len(ps)
	var b Batch
	t := Targets{Tasks: make([][]int, len(m.Config.Tasks))}
	b.HasImage = make([]bool, n)
	b.HasClinical = make([]bool, n)
	cfg := m.Config
	if cfg.Fusion.usesImage() {
		if !embeddings {
			b.Images = nn.NewTensor(n, shape[0], shape[1], shape[2], shape[3])
		} else {
			b.Embeddings = nn.NewTensor(n, cfg.EmbedDim)
		}
	}
	if cfg.Fusion.usesClinical() {
		b.Clinical = nn.NewTensor(n, cfg.ClinicalDim)
	}
	vox := shape[0] * shape[1] * shape[2] * shape[3]
	for k, p := range ps {
		if b.Images != nil && p.image != nil {
			dst := b.Images.Data[k*vox : (k+1)*vox]
			if fill != nil {
				fill(k, dst)
			} else {
				copy(dst, p.image)
			}
		}
		if b.Embeddings != nil && p.embedding != nil {
			copy(b.Embeddings.Data[k*cfg.EmbedDim:], p.embedding)
		}
		if b.Clinical != nil && p.clin != nil {
			copy(b.Clinical.Data[k*cfg.ClinicalDim:], p.clin)
		}
		b.HasImage[k], b.HasClinical[k] = p.hasImg, p.hasClin
		t.Survival = append(t.Survival, p.class)
		t.MinClass = append(t.MinClass, p.minClass)
		t.Outcomes = append(t.Outcomes, p.outcome)
		t.ipcw = append(t.ipcw, p.ipcw)
		for j := range t.Tasks {
			t.Tasks[j] = append(t.Tasks[j], p.tasks[j])
		}
	}
	return b, t
}

// balancedWeights returns scikit-learn's "balanced" class weights n/(K·n_c)
// over the known labels (1 for an empty class).
func balancedWeights(y []int, k int) []float32 {
	cnt := make([]float64, k)
	n := 0.0
	for _, v := range y {
		if v >= 0 && v < k {
			cnt[v]++
			n++
		}
	}
	w := make([]float32, k)
	for c := range w {
		w[c] = 1
		if cnt[c] > 0 {
			w[c] = float32(n / (float64(k) * cnt[c]))
		}
	}
	return w
}

func finite(v float32) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}
