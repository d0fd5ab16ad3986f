package fusion

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/volume"
)

// Predictor serves a trained bundle. It is safe for concurrent use: every
// call builds its own graph and only reads the weights.
type Predictor struct {
	b     *Bundle
	atlas *volume.Volume
	prep  norm.Options
	// arenas recycles the buffers of inference passes, one arena per
	// concurrent call; the garbage collector may drop idle ones.
	arenas sync.Pool
}

// PredictorOptions configures a Predictor's handling of raw scans.
type PredictorOptions struct {
	// Atlas is the template grid raw sequences are registered to
	// (norm.Preprocess); without it only preprocessed stacks are accepted.
	Atlas *volume.Volume
	// Preprocess configures norm.Preprocess; its Target is replaced by the
	// bundle's input shape and SkipN4, Resize and Missing by the bundle's
	// settings, so raw scans are prepared as the training stacks were. The
	// brain mask (AtlasMask or Stripper) is the caller's to give: the
	// bundle records only whether training used one (Prep.BrainMask).
	Preprocess norm.Options
	// Load configures reading the bundle.
	Load LoadOptions
}

// Load reads a bundle written by Bundle.Save (or a training checkpoint)
// and returns a Predictor. A cancelled ctx stops the read with an error
// wrapping ctx.Err().
func Load(ctx context.Context, path string, o PredictorOptions) (*Predictor, error) {
	b, err := ReadBundle(ctx, path, o.Load)
	if err != nil {
		return nil, err
	}
	return NewPredictor(b, o)
}

// NewPredictor serves an in-memory bundle (for example Train's result).
// It switches the model to evaluation mode and freezes its parameters
// (nn.Unfreeze them to train the same Model again).
func NewPredictor(b *Bundle, o PredictorOptions) (*Predictor, error) {
	if b == nil || b.Model == nil {
		return nil, fmt.Errorf("%w: no model", ErrBundle)
	}
	b.Model.SetTraining(false)
	// Serving never updates weights: freezing them lets Explain
	// back-propagate to the input alone, so concurrent calls share nothing
	// writable.
	nn.Freeze(b.Model)
	p := &Predictor{b: b, atlas: o.Atlas, prep: o.Preprocess}
	p.prep.Target = [3]int{b.Shape[1], b.Shape[2], b.Shape[3]}
	p.prep.SkipN4, p.prep.Resize, p.prep.Missing = b.Prep.SkipN4, b.Prep.Resize, b.Prep.Missing
	return p, nil
}

// Bundle returns the served bundle (read only).
func (p *Predictor) Bundle() *Bundle { return p.b }

// Patient is one prediction request.
type Patient struct {
	ID string
	// Raw holds the four sequences as scanned; they are preprocessed with
	// norm.Preprocess (needs PredictorOptions.Atlas, and its
	// Preprocess.AtlasMask or Stripper when the bundle's Prep.BrainMask is
	// set). A nil sequence is missing: the bundle's Prep.Missing (set at
	// training, TrainOptions.Prep) decides whether it is zero-filled or
	// refused.
	Raw *norm.Sequences
	// Stack is an already preprocessed input (norm.Preprocess output);
	// used when Raw is nil.
	Stack *volume.Stack
	// Embedding is a precomputed image embedding, for bundles whose
	// model takes embeddings instead of images.
	Embedding []float32
	// Clinical is the clinical record; nil when there is none.
	Clinical Record
}

// CurvePoint is one point of a predicted survival curve.
type CurvePoint struct {
	Time float64 `json:"time"`
	Surv float64 `json:"surv"`
}

// Prediction is the answer for one patient.
type Prediction struct {
	ID string `json:"id"`
	// Classes name the survival classes ("<6", "6-21", ">=21" months).
	Classes []string `json:"classes"`
	// Probs are the survival class probabilities; Class the most likely.
	Probs []float64 `json:"probs"`
	Class int       `json:"class"`
	// Risk is survival.OrdinalRisk of Probs: higher means shorter survival.
	Risk float64 `json:"risk"`
	// Curve is the survival curve: the training per-class Kaplan–Meier
	// curves mixed by Probs, in TimeUnit.
	Curve    []CurvePoint  `json:"curve"`
	TimeUnit survival.Unit `json:"time_unit"`
	// CoxRisk is the Cox head's log relative hazard (nil without one).
	CoxRisk *float64 `json:"cox_risk,omitempty"`
	// Tasks holds the auxiliary heads' probabilities by task and level.
	Tasks map[string]map[string]float64 `json:"tasks,omitempty"`
	// Missing lists the inputs the model did without: sequences ("T2"),
	// "imaging", "clinical", or clinical fields ("clinical:age").
	Missing []string `json:"missing"`
	// Preprocessing is norm's report when raw sequences were given.
	Preprocessing *norm.Report `json:"preprocessing,omitempty"`
}

// Rank is the risk by which the model orders patients (higher: shorter
// survival), the score its C-index measures (Model.Rank, RiskCohort,
// Result.Risk): CoxRisk when the model has a Cox head, else Risk. Explain's
// contributions and saliency explain this score, so an explanation is of
// the same number the model was selected and evaluated on; Risk, the
// expected class, can order two patients differently from the Cox head.
func (p *Prediction) Rank() float64 {
	if p.CoxRisk != nil {
		return *p.CoxRisk
	}
	return p.Risk
}

// input is a checked, encoded request.
type input struct {
	batch   Batch
	stack   *volume.Stack
	missing []string
	report  *norm.Report
	rawT1c  *volume.Volume
}

// prepareInput validates a patient against the bundle.
func (p *Predictor) prepareInput(ctx context.Context, pt Patient) (*input, error) {
	b, cfg := p.b, p.b.Model.Config
	in := &input{}
	st := pt.Stack
	if pt.Raw != nil && cfg.Fusion.usesImage() {
		if p.atlas == nil {
			return nil, fmt.Errorf("%w: raw sequences need PredictorOptions.Atlas (or pass a preprocessed Stack)", ErrMissingInput)
		}
		if b.Prep.BrainMask && p.prep.AtlasMask == nil && p.prep.Stripper == nil {
			return nil, fmt.Errorf("%w: the model was trained on brain-masked stacks (Preprocessing.BrainMask); raw sequences need PredictorOptions.Preprocess.AtlasMask or Stripper (or pass a preprocessed Stack)", ErrMissingInput)
		}
		s, rep, err := norm.Preprocess(ctx, *pt.Raw, p.atlas, p.prep)
		if err != nil {
			return nil, fmt.Errorf("fusion: preprocessing patient %q: %w", pt.ID, err)
		}
		st, in.report, in.rawT1c = s, rep, pt.Raw.T1c
	}
	hasImg := false
	if cfg.Fusion.usesImage() {
		if st != nil {
			if err := p.checkStack(st); err != nil {
				return nil, err
			}
			for c, ok := range st.Present {
				if !ok {
					name := fmt.Sprintf("channel %d", c)
					if c < len(st.Names) {
						name = st.Names[c]
					}
					in.missing = append(in.missing, name)
				}
			}
			hasImg = !allAbsent(st.Present)
			if cfg.Backbone == "" && b.Model.Backbone == nil {
				return nil, fmt.Errorf("%w: the model takes precomputed embeddings, not images", ErrMissingInput)
			}
		}
		if st == nil && pt.Embedding != nil {
			if b.Model.Backbone != nil || len(pt.Embedding) != cfg.EmbedDim {
				return nil, fmt.Errorf("%w: embedding of %d values (the model takes %s)", ErrShape, len(pt.Embedding), embedWant(b.Model))
			}
			hasImg = true
		}
		if !hasImg {
			in.missing = append(in.missing, "imaging")
		}
	}
	hasClin := false
	var clin []float32
	if cfg.Fusion.usesClinical() {
		if pt.Clinical != nil {
			x, miss, err := b.Encoder.Encode(pt.Clinical)
			if err != nil {
				return nil, fmt.Errorf("fusion: patient %q: %w", pt.ID, err)
			}
			clin, hasClin = x, true
			for _, m := range miss {
				in.missing = append(in.missing, "clinical:"+m)
			}
		} else {
			in.missing = append(in.missing, "clinical")
		}
	}
	if !hasImg && !hasClin {
		return nil, fmt.Errorf("%w: patient %q has neither usable images nor clinical data for the %v model", ErrMissingInput, pt.ID, cfg.Fusion)
	}
	in.stack = st
	in.batch = Batch{HasImage: []bool{hasImg}, HasClinical: []bool{hasClin}}
	if hasImg && st == nil {
		x, _ := nn.FromData(pt.Embedding, 1, len(pt.Embedding))
		in.batch.Embeddings = x
	} else if hasImg {
		x, err := nn.FromData(st.Data, 1, b.Shape[0], b.Shape[1], b.Shape[2], b.Shape[3])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrShape, err)
		}
		in.batch.Images = x
	}
	if hasClin {
		x, _ := nn.FromData(clin, 1, len(clin))
		in.batch.Clinical = x
	}
	return in, nil
}

func (p *Predictor) checkStack(st *volume.Stack) error {
	s := p.b.Shape
	want := s[0] * s[1] * s[2] * s[3]
	if st.Channels() != s[0] || st.Dims != [3]int{s[1], s[2], s[3]} || len(st.Data) != want {
		return fmt.Errorf("%w: stack of %d channels on %v with %d values (want %d channels on %v = %d values; preprocess to the bundle's grid)",
			ErrShape, st.Channels(), st.Dims, len(st.Data), s[0], [3]int{s[1], s[2], s[3]}, want)
	}
	if err := finiteData(st.Data, s[0]); err != nil {
		return err
	}
	if st.Present == nil {
		return nil // all channels present
	}
	if len(st.Present) != s[0] {
		return fmt.Errorf("%w: stack has %d presence flags for %d channels", ErrShape, len(st.Present), s[0])
	}
	if err := absentZero(st.Data, st.Present); err != nil {
		return err
	}
	if len(p.b.Channels) == s[0] && len(st.Names) == s[0] {
		for c, n := range st.Names {
			if !strings.EqualFold(n, p.b.Channels[c]) {
				return fmt.Errorf("%w: channel %d is %q (want %q; channel order %v)", ErrShape, c, n, p.b.Channels[c], p.b.Channels)
			}
		}
	}
	return nil
}

// Predict returns class probabilities, a risk score, a survival curve and
// the missing inputs of one patient.
func (p *Predictor) Predict(ctx context.Context, pt Patient) (*Prediction, error) {
	in, err := p.prepareInput(ctx, pt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, _ := p.arenas.Get().(*nn.Arena)
	if a == nil {
		a = nn.NewArena()
	}
	defer p.arenas.Put(a)
	a.Reset()
	g := nn.NewGraph(nn.Options{Arena: a})
	outs, err := p.b.Model.ForwardBatch(g, in.batch)
	if err != nil {
		return nil, fmt.Errorf("fusion: patient %q: %w", pt.ID, err)
	}
	return p.answer(pt.ID, outs, in), nil // answer copies what it keeps
}

func (p *Predictor) answer(id string, outs []*nn.Tensor, in *input) *Prediction {
	m := p.b.Model
	probs := m.SurvivalProbs(outs[0])[0]
	pr := &Prediction{ID: id, Classes: classNames(m.Config.Scheme), Probs: probs, Class: survival.Argmax([][]float64{probs})[0],
		Risk: survival.OrdinalRisk([][]float64{probs})[0], TimeUnit: p.b.TimeUnit, Missing: in.missing, Preprocessing: in.report}
	if pr.Missing == nil {
		pr.Missing = []string{}
	}
	cv := p.b.Curves
	for i, t := range cv.Times {
		s := 0.0
		for c, pc := range probs {
			s += pc * cv.Surv[c][i]
		}
		pr.Curve = append(pr.Curve, CurvePoint{Time: t, Surv: s})
	}
	if m.Config.CoxHead {
		v := float64(outs[len(outs)-1].Data[0])
		pr.CoxRisk = &v
	}
	for k, task := range m.Config.Tasks {
		if pr.Tasks == nil {
			pr.Tasks = map[string]map[string]float64{}
		}
		tp := softmax(outs[1+k].Data)
		mp := map[string]float64{}
		for i, l := range task.Levels {
			mp[l] = tp[i]
		}
		pr.Tasks[task.Name] = mp
	}
	return pr
}

func classNames(s survival.ClassScheme) []string {
	var n []string
	prev := "0"
	for _, c := range s.Cuts {
		cs := fmt.Sprint(c)
		if prev == "0" {
			n = append(n, "<"+cs)
		} else {
			n = append(n, prev+"-"+cs)
		}
		prev = cs
	}
	return append(n, ">="+prev)
}

func embedWant(m *Model) string {
	if m.Backbone != nil {
		return "images"
	}
	return fmt.Sprintf("embeddings of %d values", m.Config.EmbedDim)
}

// absentZero rejects a channel flagged absent that holds a non-zero value:
// absent sequences are zero channels (norm.Preprocess's MissingZeroFill),
// and the model would otherwise see the data of a sequence reported as
// missing.
func absentZero(d []float32, present []bool) error {
	if present == nil {
		return nil
	}
	per := len(d) / max(len(present), 1)
	for c, ok := range present {
		if ok {
			continue
		}
		for i, v := range d[c*per : (c+1)*per] {
			if v != 0 {
				return fmt.Errorf("%w: channel %d is flagged absent but holds %v at voxel %d (zero it, or flag it present)", ErrShape, c, v, i)
			}
		}
	}
	return nil
}

// finiteData rejects NaN or infinite voxels, naming the first one's
// channel and index.
func finiteData(d []float32, channels int) error {
	per := len(d) / max(channels, 1)
	for i, v := range d {
		if !finite(v) {
			return fmt.Errorf("%w: image value %v at channel %d, voxel %d (want finite intensities)", ErrShape, v, i/max(per, 1), i%max(per, 1))
		}
	}
	return nil
}
