package cli

import (
	"context"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/volume"
)

// Backbone embeds stacks with a model of the zoo (cnn): the penultimate
// features of, e.g., a MedicalNet ResNet whose released weights were
// loaded with the stem repeated over the four sequences. Without weights
// the network keeps its random initialisation, and its features are random
// projections of the image — a baseline, not the study's foundation model.
type Backbone struct {
	Label   string
	Weights string
	Model   nn.Backbone
}

// NewBackbone builds the named cnn model with four input channels (stem
// stride 2, as MedicalNet and most 3-D work) and loads weights when given
// (PyTorch .pt/.pth or safetensors; the classifier is ignored, a
// one-channel stem is repeated over the sequences).
func NewBackbone(ctx context.Context, name, weights string, seed uint64) (*Backbone, error) {
	m, err := cnn.New(name, cnn.Config{InChannels: 4, Conv1TStride: 2, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("%w: -embedder %s: %v", ErrBadInput, name, err)
	}
	if weights != "" {
		if _, err := cnn.Load(ctx, m, weights, cnn.LoadOptions{Stem: cnn.StemRepeat, IgnoreHead: true}); err != nil {
			return nil, fmt.Errorf("%w: weights %s for %s: %v", ErrBadInput, weights, name, err)
		}
	}
	nn.SetTraining(m, false) // inference: batch-norm running statistics, no dropout
	return &Backbone{Label: name, Weights: weights, Model: m}, nil
}

// Name implements Embedder.
func (b *Backbone) Name() string { return b.Label }

// Dim implements Embedder.
func (b *Backbone) Dim() int { return b.Model.EmbedDim() }

// Embed implements Embedder.
func (b *Backbone) Embed(ctx context.Context, st *volume.Stack) ([]float32, error) {
	return b.embed(st, st.Data)
}

// EmbedSequence implements Embedder: the other channels are zero-filled,
// as for a patient who lacks them.
func (b *Backbone) EmbedSequence(ctx context.Context, st *volume.Stack, seq int) ([]float32, error) {
	if seq < 0 || seq >= st.Channels() {
		return nil, fmt.Errorf("%s: sequence %d of a %d-channel stack", b.Label, seq, st.Channels())
	}
	n := st.Dims[0] * st.Dims[1] * st.Dims[2]
	data := make([]float32, len(st.Data))
	copy(data[seq*n:(seq+1)*n], st.Data[seq*n:(seq+1)*n])
	return b.embed(st, data)
}

func (b *Backbone) embed(st *volume.Stack, data []float32) ([]float32, error) {
	sh := st.Shape()
	if sh[0] != 4 {
		return nil, fmt.Errorf("%s: stack has %d channels, want 4 (T1, T1c, T2, FLAIR)", b.Label, sh[0])
	}
	x, err := nn.FromData(data, 1, sh[0], sh[1], sh[2], sh[3])
	if err != nil {
		return nil, err
	}
	g := nn.NewGraph(nn.Options{})
	out := b.Model.Embed(g, x)
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Label, err)
	}
	if out == nil || out.Numel() != b.Model.EmbedDim() {
		return nil, fmt.Errorf("%s: embedding has the wrong size", b.Label)
	}
	v := append([]float32(nil), out.Data...)
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("%s: non-finite embedding", b.Label)
		}
	}
	return v, nil
}
