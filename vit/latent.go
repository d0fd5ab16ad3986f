package vit

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/nn"
)

// Pooling selects how an Encoding becomes one vector per sample.
type Pooling int

const (
	// PoolMean averages the normalised final tokens (the cls token, if
	// any, left out): hidden features. LaMIMClassifier has no Normed
	// output and uses the last block's output instead.
	PoolMean Pooling = iota
	// PoolLaMIM is the LaMIM classifier's pool: AvgPool2d(3, stride 3)
	// over the (tokens, hidden) plane of the last block's output (before
	// the final LayerNorm), flattened: LaMIMPoolDim features.
	PoolLaMIM
	// PoolCLS takes the normalised cls token (ViT with Classification).
	PoolCLS
)

// String names the pooling.
func (p Pooling) String() string {
	switch p {
	case PoolMean:
		return "mean"
	case PoolLaMIM:
		return "lamim"
	case PoolCLS:
		return "cls"
	}
	return fmt.Sprintf("Pooling(%d)", int(p))
}

// Encoder is implemented by ViT, AutoEnc and LaMIMClassifier.
type Encoder interface {
	nn.Module
	// Encode runs the transformer encoder on x (N, C, D, H, W); nil with
	// g.Err() set when x does not fit.
	Encode(g *nn.Graph, x *nn.Tensor) *Encoding
}

// Pool reduces an Encoding to (B, features).
func Pool(g *nn.Graph, e *Encoding, p Pooling) *nn.Tensor {
	if e == nil {
		return g.SetErr(fmt.Errorf("%w: no encoding (an earlier error: %v)", ErrInput, g.Err()))
	}
	if len(e.Hidden) == 0 && e.Normed == nil {
		return g.SetErr(fmt.Errorf("%w: empty encoding", ErrInput))
	}
	for _, h := range append([]*nn.Tensor{e.Normed}, e.Hidden...) {
		if h != nil && len(h.Shape) != 3 {
			return g.SetErr(fmt.Errorf("%w: encoding tokens %v, want [B, T, hidden]", ErrInput, h.Shape))
		}
	}
	switch p {
	case PoolMean:
		t := e.Normed
		if t == nil {
			t = e.Last()
		}
		if e.CLS {
			t = g.Narrow(t, 1, 1, t.Shape[1]-1)
		}
		return g.Mean(t, 1)
	case PoolLaMIM:
		if len(e.Hidden) == 0 {
			return g.SetErr(fmt.Errorf("%w: %v pooling needs the blocks' outputs", ErrInput, p))
		}
		return lamimPool(g, e.Last())
	case PoolCLS:
		if !e.CLS || e.Normed == nil {
			return g.SetErr(fmt.Errorf("%w: %v pooling needs a ViT with Classification (a cls token)", ErrPooling, p))
		}
		return clsToken(g, e.Normed)
	}
	return g.SetErr(fmt.Errorf("%w: unknown %v", ErrPooling, p))
}

// LatentOptions configures Latents.
type LatentOptions struct {
	// Pool selects the pooling (default PoolMean).
	Pool Pooling
	// PerSequence also embeds each input channel alone, the other
	// channels set to zero (the study's Figure 2: which MRI sequence
	// carries the signal).
	PerSequence bool
	// Graph configures the forward passes (Options.BF16 for bfloat16
	// inference, an Arena to reuse buffers); Grad is ignored.
	Graph nn.Options
	// Progress, if set, is called after each forward pass.
	Progress func(done, total int)
}

// Latent holds one patient's embeddings.
type Latent struct {
	// Full is the embedding of the complete multichannel input.
	Full []float32
	// Sequences[c] is the embedding with only channel c kept (nil unless
	// PerSequence).
	Sequences [][]float32
}

// Latents embeds one patient x, shaped (C, D, H, W) or (1, C, D, H, W).
// Put the model in evaluation mode first (nn.SetTraining(m, false)):
// dropout would otherwise make the latents random. Each forward pass is a
// batch of one; ctx is checked before each.
func Latents(ctx context.Context, m Encoder, x *nn.Tensor, o LatentOptions) (*Latent, error) {
	if x == nil {
		return nil, fmt.Errorf("%w: nil input", ErrInput)
	}
	shape := x.Shape
	if len(shape) == 4 {
		shape = append([]int{1}, shape...)
	}
	if len(shape) != 5 || shape[0] != 1 {
		return nil, fmt.Errorf("%w: patient volume %v, want [C, D, H, W] or [1, C, D, H, W]", ErrInput, x.Shape)
	}
	in, err := nn.FromData(x.Data, shape...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if i := firstNonFinite(x.Data); i >= 0 {
		return nil, fmt.Errorf("%w: voxel %d of the patient volume is %v (want finite values: every latent would be NaN)", ErrInput, i, x.Data[i])
	}
	c := shape[1]
	total := 1
	if o.PerSequence {
		total += c
	}
	gopt := o.Graph
	gopt.Grad = false
	g := nn.NewGraph(gopt)
	embed := func(t *nn.Tensor) ([]float32, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g.Reset()
		v := Pool(g, m.Encode(g, t), o.Pool)
		if err := g.Err(); err != nil {
			return nil, err
		}
		return append([]float32(nil), v.Data...), nil
	}
	lat := &Latent{}
	if lat.Full, err = embed(in); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress(1, total)
	}
	if !o.PerSequence {
		return lat, nil
	}
	vol := len(in.Data) / c
	one := nn.NewTensor(shape...)
	for ch := range c {
		clear(one.Data)
		copy(one.Data[ch*vol:(ch+1)*vol], in.Data[ch*vol:(ch+1)*vol])
		v, err := embed(one)
		if err != nil {
			return nil, fmt.Errorf("vit: sequence %d: %w", ch, err)
		}
		lat.Sequences = append(lat.Sequences, v)
		if o.Progress != nil {
			o.Progress(2+ch, total)
		}
	}
	return lat, nil
}
