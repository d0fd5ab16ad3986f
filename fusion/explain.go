package fusion

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/volume"
)

// FeatureMapper is the optional interface a backbone implements to get
// Grad-CAM explanations: its forward pass split at the last convolutional
// stage. Embed(g, x) must equal EmbedFromMaps(g, FeatureMaps(g, x)).
// Backbones without it are explained by gradient saliency.
type FeatureMapper interface {
	// FeatureMaps returns the last convolutional stage's activations,
	// (N, C, d, h, w).
	FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor
	// EmbedFromMaps finishes the embedding from those maps (pooling,
	// flattening, any final layers), (N, EmbedDim).
	EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor
}

// Contribution is how much one input moved the risk the model ranks
// patients by (Prediction.Rank: the Cox head's risk when the model has
// one, else the ordinal risk): that risk of the patient minus the same
// risk with the input treated as missing (occlusion). Positive means the
// input raised the predicted risk.
type Contribution struct {
	// Input is a clinical column name, "sequence:<name>" for one MRI
	// sequence (zeroed, as a missing sequence is), or "imaging" /
	// "clinical" for a whole modality.
	Input string  `json:"input"`
	Value string  `json:"value,omitempty"`
	Delta float64 `json:"delta"`
}

// Explanation is a prediction with what drove it.
type Explanation struct {
	*Prediction
	// Method is "grad-cam" or "gradient".
	Method string `json:"method"`
	// Saliency is on the model's input grid (the preprocessed stack's
	// affine), scaled to [0, 1]; nil when the patient had no imaging.
	Saliency *volume.Volume `json:"-"`
	// Native is Saliency resampled onto the patient's own T1c grid when
	// raw sequences were given (nil otherwise).
	Native *volume.Volume `json:"-"`
	// Contributions are sorted by decreasing |Delta|.
	Contributions []Contribution `json:"contributions"`
}

// rankSeed returns the output whose gradient the saliency follows and
// the seed d rank / d output for one sample: the Cox head's risk (seed 1)
// when the model has one, else the survival head's logits with the
// gradient of the ordinal risk — the score Prediction.Rank reports and the
// C-index ranks, so the map explains the number the model is judged by.
func rankSeed(m *Model, outs []*nn.Tensor) (*nn.Tensor, []float32) {
	if m.Config.CoxHead {
		cox := outs[len(outs)-1]
		seed := make([]float32, len(cox.Data))
		for i := range seed {
			seed[i] = 1
		}
		return cox, seed
	}
	return outs[0], riskSeed(m, outs[0].Data)
}

// riskSeed returns d risk / d logits of the survival head for one sample,
// where risk = survival.OrdinalRisk(probs).
func riskSeed(m *Model, logits []float32) []float32 {
	k := m.Config.Scheme.NumClasses()
	seed := make([]float32, len(logits))
	if m.Config.SurvivalLoss == SurvivalCORAL {
		// risk = K−1 − Σ σ(l_k) (expected class from the cumulative
		// probabilities).
		for i, l := range logits {
			s := 1 / (1 + math.Exp(-float64(l)))
			seed[i] = float32(-s * (1 - s))
		}
		return seed
	}
	p := softmax(logits)
	r := 0.0
	for c := range p {
		r += p[c] * float64(k-1-c)
	}
	for c := range p {
		seed[c] = float32(p[c] * (float64(k-1-c) - r))
	}
	return seed
}

// Explain predicts and explains one patient: an image saliency map
// (Grad-CAM on the backbone's last convolutional stage when it implements
// FeatureMapper, else the gradient magnitude of the risk with respect to
// the input voxels summed over sequences), mapped back to the patient's
// T1c grid when raw scans were given, and the occlusion contribution of
// every clinical variable, every MRI sequence and each modality. The risk
// explained is Prediction.Rank, the one the model's C-index ranks.
func (p *Predictor) Explain(ctx context.Context, pt Patient) (*Explanation, error) {
	in, err := p.prepareInput(ctx, pt)
	if err != nil {
		return nil, err
	}
	m := p.b.Model
	ex := &Explanation{}
	// The prediction itself, and the embedding reused by the occlusions.
	g := nn.NewGraph(nn.Options{})
	base := in.batch
	var maps *nn.Tensor // last-stage feature maps, shared with Grad-CAM
	if base.Images != nil {
		var e *nn.Tensor
		if fm, ok := featureMapper(m.Backbone); ok {
			maps = fm.FeatureMaps(g, base.Images)
			e = fm.EmbedFromMaps(g, maps)
		} else {
			e = m.Backbone.Embed(g, base.Images)
		}
		if err := g.Err(); err != nil {
			return nil, fmt.Errorf("fusion: explain: %w", err)
		}
		base.Images, base.Embeddings = nil, e
	}
	outs, err := m.ForwardBatch(g, base)
	if err != nil {
		return nil, fmt.Errorf("fusion: explain: %w", err)
	}
	ex.Prediction = p.answer(pt.ID, outs, in)
	if in.batch.Images != nil {
		if err := p.saliency(ex, in, maps); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	riskOf := func(b Batch) (float64, error) {
		g := nn.NewGraph(nn.Options{})
		o, err := m.ForwardBatch(g, b)
		if err != nil {
			return 0, err
		}
		pr := p.answer(pt.ID, o, in)
		return pr.Rank(), nil
	}
	occlude := func(name, value string, b Batch) error {
		r, err := riskOf(b)
		if err != nil {
			return fmt.Errorf("fusion: explain %s: %w", name, err)
		}
		ex.Contributions = append(ex.Contributions, Contribution{Input: name, Value: value, Delta: ex.Rank() - r})
		return nil
	}
	if base.HasImage[0] && base.HasClinical[0] && m.Config.Fusion.usesClinical() && m.Config.Fusion.usesImage() {
		b := base
		b.HasImage = []bool{false}
		if err := occlude("imaging", "", b); err != nil {
			return nil, err
		}
		b = base
		b.HasClinical = []bool{false}
		if err := occlude("clinical", "", b); err != nil {
			return nil, err
		}
	}
	// Each present MRI sequence, zeroed as a missing one is.
	if in.batch.Images != nil && in.stack != nil {
		shape := p.b.Shape
		n := shape[1] * shape[2] * shape[3]
		for c := 0; c < shape[0]; c++ {
			if in.stack.Present != nil && !in.stack.Present[c] {
				continue
			}
			x := in.batch.Images.Clone()
			clear(x.Data[c*n : (c+1)*n])
			g := nn.NewGraph(nn.Options{})
			b := base
			b.Embeddings = m.Backbone.Embed(g, x)
			if err := g.Err(); err != nil {
				return nil, fmt.Errorf("fusion: explain: %w", err)
			}
			name := fmt.Sprintf("channel %d", c)
			if c < len(p.b.Channels) {
				name = p.b.Channels[c]
			}
			if err := occlude("sequence:"+name, "", b); err != nil {
				return nil, err
			}
		}
	}
	if base.HasClinical[0] {
		for _, col := range p.b.Encoder.Schema.Columns {
			v, ok := pt.Clinical[col.Name]
			if !ok {
				continue
			}
			rec := make(Record, len(pt.Clinical))
			for k, x := range pt.Clinical {
				if k != col.Name {
					rec[k] = x
				}
			}
			x, _, err := p.b.Encoder.Encode(rec)
			if err != nil {
				return nil, err
			}
			b := base
			b.Clinical, _ = nn.FromData(x, 1, len(x))
			if err := occlude(col.Name, v, b); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(ex.Contributions, func(i, j int) bool {
		return math.Abs(ex.Contributions[i].Delta) > math.Abs(ex.Contributions[j].Delta)
	})
	return ex, nil
}

// saliency fills ex.Saliency (and ex.Native) for an image input; maps are
// the backbone's last-stage feature maps when it has them.
func (p *Predictor) saliency(ex *Explanation, in *input, maps *nn.Tensor) error {
	m := p.b.Model
	shape := p.b.Shape
	g := nn.NewGraph(nn.Options{Grad: true})
	var sal []float32 // D·H·W in tensor order
	if fm, ok := featureMapper(m.Backbone); ok && maps != nil {
		ex.Method = "grad-cam"
		if len(maps.Shape) != 5 {
			return fmt.Errorf("%w: feature maps %v (want N, C, d, h, w)", ErrShape, maps.Shape)
		}
		leaf := maps.Clone().SetRequiresGrad(true)
		b := in.batch
		b.Images, b.Embeddings = nil, fm.EmbedFromMaps(g, leaf)
		outs, err := m.ForwardBatch(g, b)
		if err != nil {
			return fmt.Errorf("fusion: explain: %w", err)
		}
		if err := g.BackwardWith(rankSeed(m, outs)); err != nil {
			return fmt.Errorf("fusion: explain: %w", err)
		}
		gr := leaf.Grad()
		if gr == nil {
			return fmt.Errorf("fusion: explain: no gradient reached the feature maps")
		}
		c, d, h, w := maps.Shape[1], maps.Shape[2], maps.Shape[3], maps.Shape[4]
		n := d * h * w
		cam := make([]float32, n)
		for ch := 0; ch < c; ch++ {
			a := 0.0
			for _, v := range gr.Data[ch*n : (ch+1)*n] {
				a += float64(v)
			}
			a /= float64(n)
			for i, v := range maps.Data[ch*n : (ch+1)*n] {
				cam[i] += float32(a) * v
			}
		}
		for i, v := range cam {
			cam[i] = max(v, 0)
		}
		sal = upsample(cam, [3]int{d, h, w}, [3]int{shape[1], shape[2], shape[3]})
	} else {
		ex.Method = "gradient"
		x := in.batch.Images.Clone().SetRequiresGrad(true)
		b := in.batch
		b.Images = x
		outs, err := m.ForwardBatch(g, b)
		if err != nil {
			return fmt.Errorf("fusion: explain: %w", err)
		}
		if err := g.BackwardWith(rankSeed(m, outs)); err != nil {
			return fmt.Errorf("fusion: explain: %w", err)
		}
		gr := x.Grad()
		if gr == nil {
			return fmt.Errorf("fusion: explain: no gradient reached the input")
		}
		n := shape[1] * shape[2] * shape[3]
		sal = make([]float32, n)
		for ch := 0; ch < shape[0]; ch++ {
			for i, v := range gr.Data[ch*n : (ch+1)*n] {
				sal[i] += float32(math.Abs(float64(v)))
			}
		}
	}
	mx := float32(0)
	for _, v := range sal {
		mx = max(mx, v)
	}
	if mx > 0 {
		for i := range sal {
			sal[i] /= mx
		}
	}
	vol, err := tensorToVolume(sal, [3]int{shape[1], shape[2], shape[3]}, in.stack.Affine)
	if err != nil {
		return err
	}
	ex.Saliency = vol
	if in.report != nil {
		if err := p.native(ex, in); err != nil {
			return err
		}
	}
	return nil
}

// native resamples the saliency onto the T1c scan's own grid through the
// atlas → T1c transform of the preprocessing report.
func (p *Predictor) native(ex *Explanation, in *input) error {
	for _, sr := range in.report.Sequences {
		if sr.Name != "T1c" || !sr.Present || sr.AtlasToImage == nil {
			continue
		}
		toAtlas, err := sr.AtlasToImage.Inverse()
		if err != nil {
			return fmt.Errorf("fusion: explain: atlas transform: %w", err)
		}
		ref := in.rawT1c
		if ref == nil {
			return nil
		}
		v, err := volume.Resample(ex.Saliency, ref.Dims, ref.Affine, toAtlas, volume.Sampler{})
		if err != nil {
			return fmt.Errorf("fusion: explain: mapping to the T1c grid: %w", err)
		}
		ex.Native = v
	}
	return nil
}

// tensorToVolume turns D·H·W data (W fastest, D = i) into a Volume (i
// fastest).
func tensorToVolume(t []float32, dims [3]int, aff volume.Affine) (*volume.Volume, error) {
	v, err := volume.New(dims, aff)
	if err != nil {
		return nil, fmt.Errorf("fusion: saliency volume: %w", err)
	}
	nx, ny, nz := dims[0], dims[1], dims[2]
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			for k := 0; k < nz; k++ {
				v.Data[i+nx*(j+ny*k)] = t[(i*ny+j)*nz+k]
			}
		}
	}
	return v, nil
}

// upsample resizes a D·H·W map trilinearly with half-pixel centres
// (F.interpolate(mode="trilinear", align_corners=False)).
func upsample(src []float32, from, to [3]int) []float32 {
	out := make([]float32, to[0]*to[1]*to[2])
	coord := func(o, a int) (int, int, float64) {
		x := (float64(o)+0.5)*float64(from[a])/float64(to[a]) - 0.5
		x = math.Max(x, 0)
		i0 := int(math.Floor(x))
		i0 = min(i0, from[a]-1)
		i1 := min(i0+1, from[a]-1)
		return i0, i1, x - float64(i0)
	}
	for i := 0; i < to[0]; i++ {
		a0, a1, fa := coord(i, 0)
		for j := 0; j < to[1]; j++ {
			b0, b1, fb := coord(j, 1)
			for k := 0; k < to[2]; k++ {
				c0, c1, fc := coord(k, 2)
				at := func(a, b, c int) float64 { return float64(src[(a*from[1]+b)*from[2]+c]) }
				v := (1-fa)*((1-fb)*((1-fc)*at(a0, b0, c0)+fc*at(a0, b0, c1))+fb*((1-fc)*at(a0, b1, c0)+fc*at(a0, b1, c1))) +
					fa*((1-fb)*((1-fc)*at(a1, b0, c0)+fc*at(a1, b0, c1))+fb*((1-fc)*at(a1, b1, c0)+fc*at(a1, b1, c1)))
				out[(i*to[1]+j)*to[2]+k] = float32(v)
			}
		}
	}
	return out
}

// SaveSaliency writes the saliency map as NIfTI: the native T1c-grid map
// when there is one, else the map on the model's input grid.
func (e *Explanation) SaveSaliency(path string) error {
	v := e.Native
	if v == nil {
		v = e.Saliency
	}
	if v == nil {
		return fmt.Errorf("%w: no saliency map (the patient had no imaging)", ErrMissingInput)
	}
	if err := nifti.Save(path, v); err != nil {
		return fmt.Errorf("fusion: saving saliency: %w", err)
	}
	return nil
}
