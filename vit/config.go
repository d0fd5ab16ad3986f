package vit

import (
	"fmt"
	"math"
	"strings"
)

// Config holds the arguments of MONAI's ViT and ViTAutoEnc constructors
// (monai.networks.nets, version 1.3.2). Zero fields take MONAI's defaults,
// so Config{InChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16)} is
// MONAI's ViT-B/16.
type Config struct {
	// InChannels is the number of input channels (required; the study's
	// MRI stacks have 4: T1, T1c, T2, FLAIR).
	InChannels int
	// ImgSize and PatchSize are the spatial extents (D, H, W) of the input
	// and of one patch (both required); each image size must be a multiple
	// of the patch size.
	ImgSize, PatchSize [3]int
	// HiddenSize (768), MLPDim (3072), NumLayers (12), NumHeads (12) size
	// the transformer; HiddenSize must be a multiple of NumHeads.
	HiddenSize, MLPDim, NumLayers, NumHeads int
	// ProjType is the patch embedding: "conv" (default; MONAI's
	// pos_embed/proj_type "conv", a Conv3d with kernel = stride = patch)
	// or "perceptron" (patches flattened in (p1, p2, p3, c) order, then a
	// Linear).
	ProjType string
	// DropoutRate applies after the patch embedding, in the MLPs and in
	// attention while training (SetTraining); 0 in evaluation.
	DropoutRate float64
	// QKVBias gives the fused qkv projection a bias (MONAI qkv_bias).
	QKVBias bool

	// Classification (ViT only) prepends a learnable cls token and puts a
	// Linear head of NumClasses outputs (default 2) on its final state.
	Classification bool
	NumClasses     int
	// NoPostActivation (ViT only) drops the Tanh MONAI applies after the
	// classification head by default (post_activation=None); the head is
	// then a bare Linear named classification_head.*.
	NoPostActivation bool

	// OutChannels (AutoEnc only, default 1) and DeconvChannels (default 16)
	// size the two transposed convolutions of the reconstruction.
	OutChannels, DeconvChannels int
	// DeconvKernel (AutoEnc only) is the kernel and stride of both
	// transposed convolutions. Zero means MONAI ≥ 1.3's int(√patch) per
	// axis, which needs every patch size to be a perfect square and gives
	// a reconstruction of the input's size; MONAI ≤ 1.2 used Cube(4)
	// whatever the patch, so weights trained there with a patch other
	// than 16 need DeconvKernel: Cube(4).
	DeconvKernel [3]int

	// Seed seeds the initialisation (MONAI's: truncated-normal std 0.02
	// for Linear weights and position embeddings, PyTorch's default for
	// convolutions). SkipInit leaves the weights zero (LayerNorms at 1
	// and 0) for a model whose weights are loaded next: no time spent on
	// random numbers, no memory touched before the load.
	Seed     uint64
	SkipInit bool
}

// Cube returns (n, n, n), MONAI's ensure_tuple_rep for an int size.
func Cube(n int) [3]int { return [3]int{n, n, n} }

// withDefaults fills MONAI's defaults and validates the geometry.
func (c Config) withDefaults() (Config, error) {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.HiddenSize, 768)
	def(&c.MLPDim, 3072)
	def(&c.NumLayers, 12)
	def(&c.NumHeads, 12)
	def(&c.NumClasses, 2)
	def(&c.OutChannels, 1)
	def(&c.DeconvChannels, 16)
	if c.ProjType == "" {
		c.ProjType = "conv"
	}
	var bad []string
	if c.InChannels < 1 {
		bad = append(bad, fmt.Sprintf("in_channels %d (want ≥ 1)", c.InChannels))
	}
	if c.ProjType != "conv" && c.ProjType != "perceptron" {
		bad = append(bad, fmt.Sprintf("proj_type %q (want \"conv\" or \"perceptron\")", c.ProjType))
	}
	for i := range 3 {
		if c.PatchSize[i] < 1 || c.ImgSize[i] < c.PatchSize[i] || c.ImgSize[i]%c.PatchSize[i] != 0 {
			bad = append(bad, fmt.Sprintf("img_size %v with patch_size %v (want positive sizes, each image size a multiple of the patch size)", c.ImgSize, c.PatchSize))
			break
		}
	}
	if c.HiddenSize < 1 || c.NumHeads < 1 || c.HiddenSize%c.NumHeads != 0 {
		bad = append(bad, fmt.Sprintf("hidden_size %d with num_heads %d (want hidden_size a multiple of num_heads)", c.HiddenSize, c.NumHeads))
	}
	if c.MLPDim < 1 || c.NumLayers < 1 || c.NumClasses < 1 || c.OutChannels < 1 || c.DeconvChannels < 1 {
		bad = append(bad, fmt.Sprintf("mlp_dim %d, num_layers %d, num_classes %d, out_channels %d, deconv_chns %d (want all ≥ 1)", c.MLPDim, c.NumLayers, c.NumClasses, c.OutChannels, c.DeconvChannels))
	}
	if !(c.DropoutRate >= 0 && c.DropoutRate < 1) {
		bad = append(bad, fmt.Sprintf("dropout_rate %g (want 0 ≤ rate < 1)", c.DropoutRate))
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%w: %s", ErrConfig, strings.Join(bad, "; "))
	}
	if n := c.params(); n > MaxParameters {
		return c, fmt.Errorf("%w: the model would hold %.3g parameters (limit %d)", ErrConfig, n, MaxParameters)
	}
	return c, nil
}

// MaxParameters bounds the number of parameters a constructor agrees to
// allocate: 2³⁰, 4 GiB of float32, twice the LaMIM foundation model. A
// configuration beyond it (a mistyped size, a corrupt manifest) is refused
// with ErrConfig before anything is allocated, instead of exhausting memory
// or overflowing a tensor size.
const MaxParameters = 1 << 30

// params counts, in float64 so that absurd sizes cannot overflow, the
// parameters of a validated configuration: patch embedding, position
// embeddings (and cls token), blocks, final norm, the classification head
// if any and the two transposed convolutions.
func (c Config) params() float64 {
	h, mlp := float64(c.HiddenSize), float64(c.MLPDim)
	tokens, patch := 1.0, 1.0
	for i := range 3 {
		tokens *= float64(c.ImgSize[i] / c.PatchSize[i])
		patch *= float64(c.PatchSize[i])
	}
	n := float64(c.InChannels)*patch*h + h + tokens*h + 2*h
	block := 4*h + 3*h*h + h*h + h + 2*h*mlp + mlp + h
	if c.QKVBias {
		block += 3 * h
	}
	n += float64(c.NumLayers) * block
	if c.Classification {
		n += h + (h+1)*float64(c.NumClasses)
	}
	d, out := float64(c.DeconvChannels), float64(c.OutChannels)
	k := 64.0 // a ViT's estimate; AutoEnc validates its kernel first
	if kd, err := c.deconvKernel(); err == nil {
		k = float64(kd[0] * kd[1] * kd[2])
	}
	return n + k*h*d + d + k*d*out + out
}

// deconvKernel returns the transposed convolutions' kernel (= stride):
// DeconvKernel when set, else int(√patch) per axis as MONAI ≥ 1.3, which
// refuses patch sizes that are not perfect squares.
func (c Config) deconvKernel() ([3]int, error) {
	if c.DeconvKernel != [3]int{} {
		for _, k := range c.DeconvKernel {
			if k < 1 || k > 64 {
				return c.DeconvKernel, fmt.Errorf("%w: deconv kernel %v (want each in 1..64)", ErrConfig, c.DeconvKernel)
			}
		}
		return c.DeconvKernel, nil
	}
	var k [3]int
	for i, p := range c.PatchSize {
		r := int(math.Sqrt(float64(p)))
		for r*r > p {
			r--
		}
		for (r+1)*(r+1) <= p {
			r++
		}
		if r*r != p {
			return k, fmt.Errorf("%w: patch_size %v is not a perfect square per axis, as MONAI ≥ 1.3's ViTAutoEnc requires (its up-kernel is √patch); set DeconvKernel (Cube(4) for MONAI ≤ 1.2 weights)", ErrConfig, c.PatchSize)
		}
		k[i] = r
	}
	return k, nil
}

// grid returns the patch grid and the number of patches.
func (c Config) grid() (g [3]int, n int) {
	n = 1
	for i := range 3 {
		g[i] = c.ImgSize[i] / c.PatchSize[i]
		n *= g[i]
	}
	return g, n
}
