package fusion

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// Fusion says which modalities a model sees and how it combines them.
type Fusion int

const (
	// ClinicalOnly is an MLP on the encoded clinical features.
	ClinicalOnly Fusion = iota
	// ImageOnly is an MLP on the image embedding (a backbone's Embed, or
	// precomputed embeddings).
	ImageOnly
	// Early concatenates the image embedding and the clinical features
	// (each multiplied by its availability, plus the availability flags)
	// before one shared MLP.
	Early
	// Late runs one MLP per modality and averages their task logits over
	// the modalities the patient has.
	Late
	// Gated projects each modality to a common space and mixes them with
	// attention weights computed from both, masked to the available
	// modalities (a gated multimodal unit).
	Gated
)

// String returns the fusion's name as used in reports and bundles.
func (f Fusion) String() string {
	switch f {
	case ClinicalOnly:
		return "clinical-only"
	case ImageOnly:
		return "image-only"
	case Early:
		return "early"
	case Late:
		return "late"
	case Gated:
		return "gated"
	}
	return fmt.Sprintf("Fusion(%d)", int(f))
}

func (f Fusion) usesImage() bool    { return f != ClinicalOnly }
func (f Fusion) usesClinical() bool { return f != ImageOnly }

// SurvivalLoss selects the loss of the survival-class head.
type SurvivalLoss int

const (
	// SurvivalCE is class-weighted cross-entropy over the patients whose
	// class is known; patients censored before their class is determined
	// are masked out.
	SurvivalCE SurvivalLoss = iota
	// SurvivalCORAL is the CORAL ordinal loss (survival/nnloss.Coral),
	// which also learns from censored patients: one censored at 8 months
	// is known to be in class 1 or later. The head then has K−1 outputs.
	SurvivalCORAL
)

// Task is an auxiliary classification head (primary origin, relapse,
// molecular subtype). Patients without the label are masked out of its
// loss.
type Task struct {
	Name string `json:"name"`
	// Levels are the class names; their count is the number of classes.
	Levels []string `json:"levels"`
	// Weight scales the task's loss; zero means 1.
	Weight float64 `json:"weight,omitempty"`
}

// ModelConfig describes a fusion model. It is stored in bundles and
// checkpoints, so it is plain data.
type ModelConfig struct {
	Fusion Fusion `json:"fusion"`
	// EmbedDim is the length of the image embedding; with a backbone it
	// must equal its EmbedDim (zero takes it from the backbone).
	EmbedDim int `json:"embed_dim"`
	// ClinicalDim is the length of the encoded clinical vector
	// (Encoder.Dim).
	ClinicalDim int `json:"clinical_dim"`
	// Hidden is the width of the fusion MLP; zero means 32.
	Hidden int `json:"hidden"`
	// Scheme gives the survival classes; zero Cuts means the study's
	// (<6, 6–21, >21 months).
	Scheme survival.ClassScheme `json:"scheme"`
	// SurvivalLoss selects the survival head's loss.
	SurvivalLoss SurvivalLoss `json:"survival_loss"`
	// Tasks are the auxiliary heads.
	Tasks []Task `json:"tasks,omitempty"`
	// CoxHead adds a continuous risk head trained with the Cox partial
	// likelihood (DeepSurv, Efron ties) on every patient, censored ones
	// included; Prediction.CoxRisk reports it. CoxWeight scales its loss
	// (zero means 1).
	CoxHead   bool    `json:"cox_head,omitempty"`
	CoxWeight float64 `json:"cox_weight,omitempty"`
	// ModalityDropout is the probability, per training sample and
	// modality, of hiding that modality (never both), so that the model
	// learns to predict for patients who lack one.
	ModalityDropout float64 `json:"modality_dropout"`
	// SequenceDropout is the probability, per training sample, of zeroing
	// one MRI sequence (a missing sequence at prediction time).
	SequenceDropout float64 `json:"sequence_dropout"`
	// Dropout is applied to the hidden layer in training.
	Dropout float64 `json:"dropout"`
	// Backbone and BackboneConfig name a registered backbone factory
	// (RegisterBackbone) so that a bundle can rebuild the model; empty
	// when the model takes precomputed embeddings.
	Backbone       string          `json:"backbone,omitempty"`
	BackboneConfig json.RawMessage `json:"backbone_config,omitempty"`
	// Seed initialises the weights.
	Seed uint64 `json:"seed"`
}

func (c *ModelConfig) defaults() {
	if c.Hidden == 0 {
		c.Hidden = 32
	}
	if len(c.Scheme.Cuts) == 0 {
		c.Scheme = survival.StudyClasses()
	}
}

// Model is a fusion model: an optional image backbone, the fusion layers
// and one linear head per task (the survival class first).
type Model struct {
	Config ModelConfig
	// Backbone computes image embeddings; nil when the model is
	// clinical-only or takes precomputed embeddings.
	Backbone nn.Backbone

	imgProj, clinProj *nn.Linear // per-modality projections (ImageOnly/ClinicalOnly use one)
	joint             *nn.Linear // Early: the shared layer
	gate              *nn.Linear // Gated: scores of the two modalities
	heads             []*nn.Linear
	clinHeads         []*nn.Linear // Late: the clinical branch's heads
	training          bool
}

// NewModel builds a model. backbone may be nil (clinical-only, or image
// embeddings computed elsewhere and passed in Batch.Embeddings). With a
// backbone, set c.Backbone to its registered name (NewCNNModel and
// NewViTModel do) so that a saved bundle can rebuild it; otherwise
// ReadBundle and Load need the backbone in LoadOptions.Backbone.
func NewModel(backbone nn.Backbone, c ModelConfig) (*Model, error) {
	c.defaults()
	if backbone != nil {
		if c.EmbedDim == 0 {
			c.EmbedDim = backbone.EmbedDim()
		}
		if c.EmbedDim != backbone.EmbedDim() {
			return nil, fmt.Errorf("%w: EmbedDim %d but the backbone embeds to %d", ErrSchema, c.EmbedDim, backbone.EmbedDim())
		}
	}
	switch {
	case c.Fusion < ClinicalOnly || c.Fusion > Gated:
		return nil, fmt.Errorf("%w: unknown fusion %d", ErrSchema, int(c.Fusion))
	case c.Fusion.usesImage() && c.EmbedDim <= 0:
		return nil, fmt.Errorf("%w: %v fusion needs EmbedDim > 0 (or a backbone)", ErrSchema, c.Fusion)
	case c.Fusion.usesClinical() && c.ClinicalDim <= 0:
		return nil, fmt.Errorf("%w: %v fusion needs ClinicalDim > 0", ErrSchema, c.Fusion)
	case c.Hidden < 1 || !(c.ModalityDropout >= 0 && c.ModalityDropout < 1) || !(c.Dropout >= 0 && c.Dropout < 1) || !(c.SequenceDropout >= 0 && c.SequenceDropout <= 1):
		return nil, fmt.Errorf("%w: Hidden %d, dropouts %v/%v/%v (want Hidden ≥ 1, probabilities in [0, 1))", ErrSchema, c.Hidden, c.ModalityDropout, c.SequenceDropout, c.Dropout)
	case c.Scheme.NumClasses() < 2:
		return nil, fmt.Errorf("%w: survival scheme with %d classes", ErrSchema, c.Scheme.NumClasses())
	case c.SurvivalLoss != SurvivalCE && c.SurvivalLoss != SurvivalCORAL:
		return nil, fmt.Errorf("%w: unknown survival loss %d", ErrSchema, int(c.SurvivalLoss))
	case !(c.CoxWeight >= 0) || math.IsInf(c.CoxWeight, 0):
		return nil, fmt.Errorf("%w: CoxWeight %v (want a finite weight >= 0)", ErrSchema, c.CoxWeight)
	}
	if err := c.Scheme.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	names := map[string]bool{}
	for _, t := range c.Tasks {
		if t.Name == "" || len(t.Levels) < 2 {
			return nil, fmt.Errorf("%w: task %q has %d levels (want a name and at least 2)", ErrSchema, t.Name, len(t.Levels))
		}
		if names[t.Name] {
			return nil, fmt.Errorf("%w: two tasks named %q", ErrSchema, t.Name)
		}
		names[t.Name] = true
		seen := map[string]bool{}
		for _, l := range t.Levels {
			if seen[l] {
				return nil, fmt.Errorf("%w: task %q lists level %q twice", ErrSchema, t.Name, l)
			}
			seen[l] = true
		}
		if !(t.Weight >= 0) || math.IsInf(t.Weight, 0) {
			return nil, fmt.Errorf("%w: task %q weight %v (want a finite weight >= 0)", ErrSchema, t.Name, t.Weight)
		}
	}
	if n, err := headParams(c); err != nil || n > maxHeadParams {
		if err == nil {
			err = fmt.Errorf("%d parameters (limit %d)", n, maxHeadParams)
		}
		return nil, fmt.Errorf("%w: fusion layers of EmbedDim %d, ClinicalDim %d, Hidden %d: %v", ErrSchema, c.EmbedDim, c.ClinicalDim, c.Hidden, err)
	}
	r := nn.NewRNG(c.Seed)
	m := &Model{Config: c, Backbone: backbone}
	h := c.Hidden
	switch c.Fusion {
	case ClinicalOnly:
		m.clinProj = nn.NewLinear(c.ClinicalDim, h, nn.LinearOptions{}, r)
	case ImageOnly:
		m.imgProj = nn.NewLinear(c.EmbedDim, h, nn.LinearOptions{}, r)
	case Early:
		m.joint = nn.NewLinear(c.EmbedDim+1+c.ClinicalDim+1, h, nn.LinearOptions{}, r)
	case Late, Gated:
		m.imgProj = nn.NewLinear(c.EmbedDim, h, nn.LinearOptions{}, r)
		m.clinProj = nn.NewLinear(c.ClinicalDim, h, nn.LinearOptions{}, r)
		if c.Fusion == Gated {
			m.gate = nn.NewLinear(2*h, 2, nn.LinearOptions{}, r)
		}
	}
	for _, k := range m.outputs() {
		m.heads = append(m.heads, nn.NewLinear(h, k, nn.LinearOptions{}, r))
		if c.Fusion == Late {
			m.clinHeads = append(m.clinHeads, nn.NewLinear(h, k, nn.LinearOptions{}, r))
		}
	}
	return m, nil
}

// maxHeadParams bounds the fusion layers' parameters (cnn and vit bound
// their models the same way): NewModel refuses absurd widths instead of
// trying to allocate them.
const maxHeadParams = 1 << 30

// headParams counts the parameters of the fusion layers and heads of c
// (defaults filled), in int64 so that absurd widths cannot overflow.
func headParams(c ModelConfig) (int64, error) {
	const lim = 1 << 24
	for _, d := range []int{c.EmbedDim, c.ClinicalDim, c.Hidden, len(c.Tasks), len(c.Scheme.Cuts)} {
		if d < 0 || d > lim {
			return 0, fmt.Errorf("model dimension %d out of range", d)
		}
	}
	for _, t := range c.Tasks {
		if len(t.Levels) > lim {
			return 0, fmt.Errorf("task %q has %d levels", t.Name, len(t.Levels))
		}
	}
	e, f, h := int64(c.EmbedDim), int64(c.ClinicalDim), int64(c.Hidden)
	lin := func(in, out int64) int64 { return in*out + out }
	var want int64
	switch c.Fusion {
	case ClinicalOnly:
		want = lin(f, h)
	case ImageOnly:
		want = lin(e, h)
	case Early:
		want = lin(e+1+f+1, h)
	case Late:
		want = lin(e, h) + lin(f, h)
	case Gated:
		want = lin(e, h) + lin(f, h) + lin(2*h, 2)
	default:
		return 0, fmt.Errorf("unknown fusion %d", int(c.Fusion))
	}
	m := &Model{Config: c}
	for _, k := range m.outputs() {
		want += lin(h, int64(k))
		if c.Fusion == Late {
			want += lin(h, int64(k))
		}
		if want > 1<<52 {
			break // far past any limit; stop before int64 could overflow
		}
	}
	return want, nil
}

// outputs lists the output width of every head (survival first).
func (m *Model) outputs() []int {
	k := m.Config.Scheme.NumClasses()
	if m.Config.SurvivalLoss == SurvivalCORAL {
		k--
	}
	o := []int{k}
	for _, t := range m.Config.Tasks {
		o = append(o, len(t.Levels))
	}
	if m.Config.CoxHead {
		o = append(o, 1)
	}
	return o
}

// Visit names the model's state: backbone.*, image_proj, clinical_proj,
// joint, gate, heads.<i>, clinical_heads.<i>.
func (m *Model) Visit(v *nn.Visitor) {
	if m.Backbone != nil {
		v.Child("backbone", m.Backbone)
	}
	if m.imgProj != nil {
		v.Child("image_proj", m.imgProj)
	}
	if m.clinProj != nil {
		v.Child("clinical_proj", m.clinProj)
	}
	if m.joint != nil {
		v.Child("joint", m.joint)
	}
	if m.gate != nil {
		v.Child("gate", m.gate)
	}
	for i, h := range m.heads {
		v.Child(fmt.Sprintf("heads.%d", i), h)
	}
	for i, h := range m.clinHeads {
		v.Child(fmt.Sprintf("clinical_heads.%d", i), h)
	}
}

// Forward makes Model an nn.Module (for StateDict, Parameters, Freeze):
// it runs the model on an image batch alone, returning the survival logits.
// Use ForwardBatch for clinical inputs.
func (m *Model) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	out, err := m.ForwardBatch(g, Batch{Images: x})
	if err != nil {
		return g.SetErr(err)
	}
	return out[0]
}

// SetTraining switches dropout (and the backbone's batch norms).
func (m *Model) SetTraining(on bool) {
	m.training = on
	if m.Backbone != nil {
		nn.SetTraining(m.Backbone, on)
	}
}

// Batch is the input of one forward pass.
type Batch struct {
	// Images (N, C, D, H, W) go through the backbone; or Embeddings
	// (N, EmbedDim) are used directly. Either may be nil for models or
	// patients without images.
	Images, Embeddings *nn.Tensor
	// Clinical (N, ClinicalDim) are encoded clinical vectors.
	Clinical *nn.Tensor
	// HasImage and HasClinical flag, per patient, whether the modality is
	// available; nil means available whenever the tensor is given.
	HasImage, HasClinical []bool
}

func (b Batch) size() int {
	for _, t := range []*nn.Tensor{b.Images, b.Embeddings, b.Clinical} {
		if t != nil && len(t.Shape) > 0 {
			return t.Shape[0]
		}
	}
	return max(len(b.HasImage), len(b.HasClinical))
}

// availability returns an (N, 1) tensor of 0/1 flags.
func availability(n int, flags []bool, given bool) *nn.Tensor {
	t := nn.NewTensor(n, 1)
	for i := range t.Data {
		if given && (flags == nil || flags[i]) {
			t.Data[i] = 1
		}
	}
	return t
}

// ForwardBatch returns the outputs of every head: the survival logits
// first, then each task's logits, then the Cox risk (N, 1) when CoxHead.
func (m *Model) ForwardBatch(g *nn.Graph, b Batch) ([]*nn.Tensor, error) {
	c := m.Config
	n := b.size()
	if n == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrShape)
	}
	for name, f := range map[string][]bool{"HasImage": b.HasImage, "HasClinical": b.HasClinical} {
		if f != nil && len(f) != n {
			return nil, fmt.Errorf("%w: %s has %d flags for a batch of %d", ErrShape, name, len(f), n)
		}
	}
	for name, t := range map[string]*nn.Tensor{"images": b.Images, "embeddings": b.Embeddings, "clinical features": b.Clinical} {
		if t != nil && !t.Filled() {
			return nil, fmt.Errorf("%w: %s hold %d values for shape %v", ErrShape, name, len(t.Data), t.Shape)
		}
	}
	var emb, clin *nn.Tensor
	if c.Fusion.usesImage() {
		switch {
		case b.Embeddings != nil:
			emb = b.Embeddings
		case b.Images != nil:
			if m.Backbone == nil {
				return nil, fmt.Errorf("%w: images given but the model has no backbone (pass Embeddings)", ErrMissingInput)
			}
			if len(b.Images.Shape) != 5 || b.Images.Shape[0] != n {
				return nil, fmt.Errorf("%w: images %v (want N=%d, C, D, H, W)", ErrShape, b.Images.Shape, n)
			}
			emb = m.Backbone.Embed(g, b.Images)
			if err := g.Err(); err != nil {
				return nil, fmt.Errorf("fusion: backbone: %w", err)
			}
		}
		if emb != nil && (len(emb.Shape) != 2 || emb.Shape[0] != n || emb.Shape[1] != c.EmbedDim) {
			return nil, fmt.Errorf("%w: image embedding %v (want [%d %d])", ErrShape, emb.Shape, n, c.EmbedDim)
		}
		if emb == nil {
			emb = nn.NewTensor(n, c.EmbedDim)
		}
	}
	if c.Fusion.usesClinical() {
		clin = b.Clinical
		if clin != nil && (len(clin.Shape) != 2 || clin.Shape[0] != n || clin.Shape[1] != c.ClinicalDim) {
			return nil, fmt.Errorf("%w: clinical features %v (want [%d %d])", ErrShape, clin.Shape, n, c.ClinicalDim)
		}
		if clin == nil {
			clin = nn.NewTensor(n, c.ClinicalDim)
		}
	}
	hasImg := availability(n, b.HasImage, b.Images != nil || b.Embeddings != nil)
	hasClin := availability(n, b.HasClinical, b.Clinical != nil)
	drop := func(x *nn.Tensor) *nn.Tensor {
		if m.training && c.Dropout > 0 {
			return g.Dropout(x, c.Dropout)
		}
		return x
	}
	var outs []*nn.Tensor
	switch c.Fusion {
	case ClinicalOnly:
		z := drop(g.ReLU(m.clinProj.Forward(g, g.Mul(clin, hasClin))))
		outs = m.applyHeads(g, m.heads, z)
	case ImageOnly:
		z := drop(g.ReLU(m.imgProj.Forward(g, g.Mul(emb, hasImg))))
		outs = m.applyHeads(g, m.heads, z)
	case Early:
		x := g.Concat(1, g.Mul(emb, hasImg), hasImg, g.Mul(clin, hasClin), hasClin)
		z := drop(g.ReLU(m.joint.Forward(g, x)))
		outs = m.applyHeads(g, m.heads, z)
	case Late:
		zi := drop(g.ReLU(m.imgProj.Forward(g, g.Mul(emb, hasImg))))
		zc := drop(g.ReLU(m.clinProj.Forward(g, g.Mul(clin, hasClin))))
		oi := m.applyHeads(g, m.heads, zi)
		oc := m.applyHeads(g, m.clinHeads, zc)
		// Average over the available modalities: (a_i·o_i + a_c·o_c) / max(a_i + a_c, 1).
		den := nn.NewTensor(n, 1)
		for i := range den.Data {
			den.Data[i] = float32(1 / math.Max(float64(hasImg.Data[i]+hasClin.Data[i]), 1))
		}
		for k := range oi {
			outs = append(outs, g.Mul(g.Add(g.Mul(oi[k], hasImg), g.Mul(oc[k], hasClin)), den))
		}
	case Gated:
		zi := g.Tanh(m.imgProj.Forward(g, g.Mul(emb, hasImg)))
		zc := g.Tanh(m.clinProj.Forward(g, g.Mul(clin, hasClin)))
		s := m.gate.Forward(g, g.Concat(1, zi, zc))
		// Mask unavailable modalities out of the softmax with a large
		// negative score; with neither available both weights are ½ of
		// zeroed inputs.
		mask := nn.NewTensor(n, 2)
		for i := 0; i < n; i++ {
			if hasImg.Data[i]+hasClin.Data[i] > 0 {
				mask.Data[2*i] = 30 * (hasImg.Data[i] - 1)
				mask.Data[2*i+1] = 30 * (hasClin.Data[i] - 1)
			}
		}
		a := g.Softmax(g.Add(s, mask), 1)
		ai := g.Narrow(a, 1, 0, 1)
		ac := g.Narrow(a, 1, 1, 1)
		z := drop(g.Add(g.Mul(zi, g.Mul(ai, hasImg)), g.Mul(zc, g.Mul(ac, hasClin))))
		outs = m.applyHeads(g, m.heads, z)
	}
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("fusion: forward: %w", err)
	}
	return outs, nil
}

func (m *Model) applyHeads(g *nn.Graph, heads []*nn.Linear, z *nn.Tensor) []*nn.Tensor {
	o := make([]*nn.Tensor, len(heads))
	for i, h := range heads {
		o[i] = h.Forward(g, z)
	}
	return o
}

// Rank is the risk by which the model orders patients (higher: shorter
// survival) for its C-index: the Cox head's log relative hazard when it
// has one — trained on the ranking itself, censored patients included —
// else survival.OrdinalRisk of the class probabilities.
func (m *Model) Rank(outs []*nn.Tensor) []float64 {
	return m.rank(outs, m.SurvivalProbs(outs[0]))
}

// rank is Rank with the class probabilities already computed.
func (m *Model) rank(outs []*nn.Tensor, probs [][]float64) []float64 {
	if !m.Config.CoxHead {
		return survival.OrdinalRisk(probs)
	}
	cox := outs[len(outs)-1]
	r := make([]float64, cox.Shape[0])
	for i := range r {
		r[i] = float64(cox.Data[i])
	}
	return r
}

// SurvivalProbs turns the survival head's outputs (N×K logits, or N×(K−1)
// CORAL logits) into class probabilities.
func (m *Model) SurvivalProbs(logits *nn.Tensor) [][]float64 {
	n := logits.Shape[0]
	w := logits.Shape[1]
	p := make([][]float64, n)
	for i := range p {
		row := logits.Data[i*w : (i+1)*w]
		if m.Config.SurvivalLoss == SurvivalCORAL {
			p[i] = coralProbs(row)
		} else {
			p[i] = softmax(row)
		}
	}
	return p
}

func softmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(x))
	s := 0.0
	for i, v := range x {
		p[i] = math.Exp(float64(v) - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// coralProbs turns CORAL logits (P(y > k) = σ(l_k)) into class
// probabilities, enforcing monotone cumulative probabilities.
func coralProbs(l []float32) []float64 {
	k := len(l) + 1
	gt := make([]float64, k+1) // gt[c] = P(y ≥ c)
	gt[0] = 1
	for c := 1; c < k; c++ {
		gt[c] = math.Min(gt[c-1], 1/(1+math.Exp(-float64(l[c-1]))))
	}
	p := make([]float64, k)
	for c := 0; c < k; c++ {
		p[c] = gt[c] - gt[c+1]
	}
	return p
}
