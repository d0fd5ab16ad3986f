package vit

import (
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/nn"
)

// scratchPool holds the arenas of inference passes' block intermediates.
var scratchPool = sync.Pool{New: func() any { return nn.NewArena() }}

// newParam returns a zero parameter of the given shape.
func newParam(shape ...int) *nn.Tensor { return nn.NewTensor(shape...).SetRequiresGrad(true) }

// monaiLinear applies MONAI's initialisation of the Linear layers inside
// the ViT (PatchEmbeddingBlock/ViT _init_weights): weight truncated
// normal (std 0.02, cut at ±2), bias 0. r nil keeps the constructor's.
func monaiLinear(l *nn.Linear, r *nn.RNG) *nn.Linear {
	if r != nil {
		nn.InitTruncNormal(l.Weight, 0, 0.02, -2, 2, r)
		if l.Bias != nil {
			nn.InitConst(l.Bias, 0)
		}
	}
	return l
}

// newLinear is a Linear made by nn's constructor (so that it owns its
// packed weights), with MONAI's initialisation unless r is nil. Without r
// (SkipInit) the constructor runs on a 1×1 layer whose tensors are then
// replaced by zero ones of the real size: no random numbers for weights
// that a checkpoint overwrites, and no memory touched before the load.
func newLinear(in, out int, bias bool, ctor, r *nn.RNG) *nn.Linear {
	o := nn.LinearOptions{NoBias: !bias}
	if r != nil {
		return monaiLinear(nn.NewLinear(in, out, o, ctor), r)
	}
	l := nn.NewLinear(1, 1, o, ctor)
	l.Weight = newParam(out, in)
	if bias {
		l.Bias = newParam(out)
	}
	return l
}

// newConv is newLinear for a Conv3d (transposed: a ConvTranspose3d, whose
// weight is [in, out, k...]).
func newConv(in, out int, k [3]int, o nn.ConvOptions, skip bool, ctor *nn.RNG) *nn.Conv3d {
	if !skip {
		return nn.NewConv3d(in, out, k, o, ctor)
	}
	c := nn.NewConv3d(1, 1, Cube(1), o, ctor)
	c.Weight, c.Bias = newParam(out, in, k[0], k[1], k[2]), newParam(out)
	return c
}

func newConvT(in, out int, k [3]int, o nn.ConvOptions, skip bool, ctor *nn.RNG) *nn.ConvTranspose3d {
	if !skip {
		return nn.NewConvTranspose3d(in, out, k, o, ctor)
	}
	c := nn.NewConvTranspose3d(1, 1, Cube(1), o, ctor)
	c.Weight, c.Bias = newParam(in, out, k[0], k[1], k[2]), newParam(out)
	return c
}

// newLayerNorm is a LayerNorm (weight 1, bias 0, eps 1e-5).
func newLayerNorm(n int) *nn.LayerNorm { return nn.NewLayerNorm(n) }

// patchEmbedding is MONAI's PatchEmbeddingBlock: patches → hidden, plus a
// learnable position embedding per patch.
// State dict: position_embeddings, patch_embeddings.{weight,bias} (conv)
// or patch_embeddings.1.{weight,bias} (perceptron).
type patchEmbedding struct {
	cfg      Config
	conv     *nn.Conv3d // proj "conv"
	lin      *nn.Linear // proj "perceptron"
	pos      *nn.Tensor // [1, T, hidden]
	training bool
}

func newPatchEmbedding(c Config, ctor, r *nn.RNG) *patchEmbedding {
	_, n := c.grid()
	p := &patchEmbedding{cfg: c, pos: newParam(1, n, c.HiddenSize)}
	patchDim := c.InChannels * c.PatchSize[0] * c.PatchSize[1] * c.PatchSize[2]
	if c.ProjType == "perceptron" {
		p.lin = newLinear(patchDim, c.HiddenSize, true, ctor, r)
	} else {
		p.conv = newConv(c.InChannels, c.HiddenSize, c.PatchSize, nn.ConvOptions{Stride: c.PatchSize}, r == nil, ctor)
	}
	if r != nil {
		nn.InitTruncNormal(p.pos, 0, 0.02, -2, 2, r)
	}
	return p
}

// Forward maps (B, C, D, H, W) to tokens (B, T, hidden) in (d, h, w)
// raster order, position embeddings added.
func (p *patchEmbedding) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	c := p.cfg
	gr, n := c.grid()
	b := x.Shape[0]
	var t *nn.Tensor
	if p.conv != nil && !g.Recording() {
		return p.forwardPatches(g, x)
	}
	if p.conv != nil {
		y := p.conv.Forward(g, x) // (B, hidden, gd, gh, gw)
		t = g.Transpose(g.Reshape(y, b, c.HiddenSize, n), 1, 2)
	} else {
		ps := c.PatchSize
		y := g.Reshape(x, b, c.InChannels, gr[0], ps[0], gr[1], ps[1], gr[2], ps[2])
		y = g.Permute(y, 0, 2, 4, 6, 3, 5, 7, 1) // b (h w d) (p1 p2 p3 c)
		t = p.lin.Forward(g, g.Reshape(y, b, n, c.InChannels*ps[0]*ps[1]*ps[2]))
	}
	t = g.Add(t, p.pos)
	if p.training && c.DropoutRate > 0 {
		t = g.Dropout(t, c.DropoutRate)
	}
	return t
}

// forwardPatches is Forward's "conv" projection at inference (float32 or
// Options.BF16).
// A convolution whose stride is its kernel is a Linear on the patches: the
// input is cut into one row of C·p³ values per patch, in the (c, pd, ph,
// pw) order of the kernel's weight [hidden, C, pd, ph, pw], and multiplied
// by that weight read in place as [hidden, C·p³] — the GEMM's
// weights-stationary scheme, which the convolution's im2col tiles (64
// columns of the 216) could not use — with the bias and, for one sample,
// the position embeddings fused into its output pass. No transpose of the
// (hidden, tokens) result is left to do.
func (p *patchEmbedding) forwardPatches(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	c := p.cfg
	_, n := c.grid()
	b, dim := x.Shape[0], c.InChannels*c.PatchSize[0]*c.PatchSize[1]*c.PatchSize[2]
	w := g.Reshape(p.conv.Weight, c.HiddenSize, dim)
	a := nn.LinearAct{}
	if b == 1 {
		a.Residual = p.pos
	}
	var t *nn.Tensor
	if fusePatches { // the patch rows gathered as the product packs them, never stored
		src := patchRowsPool.Get().(*conv.PatchRows)
		*src = conv.PatchRows{X: x.Data, Ch: c.InChannels, In: c.ImgSize, K: c.PatchSize}
		t = g.LinearRows(src, []int{b, n, dim}, w, p.conv.Bias, a)
		*src = conv.PatchRows{}
		patchRowsPool.Put(src)
	} else {
		rows := g.Alloc(b, n, dim)
		conv.Patches(rows.Data, x.Data, b, c.InChannels, c.ImgSize, c.PatchSize)
		t = g.LinearAct(rows, w, p.conv.Bias, a)
	}
	if b == 1 {
		return t
	}
	return g.Add(t, p.pos)
}

// fusePatches lets forwardPatches read the patch rows through
// nn.Graph.LinearRows (tests compare with the stored rows).
var fusePatches = true

// patchRowsPool holds the patch readers of forwardPatches, so that an
// inference pass allocates none.
var patchRowsPool = sync.Pool{New: func() any { return new(conv.PatchRows) }}

func (p *patchEmbedding) SetTraining(on bool) { p.training = on }

// Visit names the parameters as MONAI does.
func (p *patchEmbedding) Visit(v *nn.Visitor) {
	v.Param("position_embeddings", p.pos)
	if p.conv != nil {
		v.Child("patch_embeddings", p.conv)
	} else {
		v.Child("patch_embeddings", seqAt1{p.lin})
	}
}

// seqAt1 names a module "1", as the Linear after einops' Rearrange in
// MONAI's perceptron nn.Sequential.
type seqAt1 struct{ m nn.Module }

func (s seqAt1) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return s.m.Forward(g, x) }
func (s seqAt1) Visit(v *nn.Visitor)                          { v.Child("1", s.m) }

// mlpBlock is MONAI's MLPBlock (dropout_mode "vit"): linear2(drop(gelu(
// linear1(x)))) then dropout.
type mlpBlock struct {
	linear1, linear2 *nn.Linear
	rate             float64
	training         bool
}

// fuseMLP lets mlpBlock run its two Linears as one Linear.ForwardPair
// (tests compare with the two calls).
var fuseMLP = true

func (m *mlpBlock) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return m.forward(g, x, nil) }

// forward returns res + mlp(x) (res may be nil): without dropout, the
// GELU and the residual are fused into the two Linear layers' products.
func (m *mlpBlock) forward(g *nn.Graph, x, res *nn.Tensor) *nn.Tensor {
	if !m.training || m.rate == 0 {
		if fuseMLP { // inference: the hidden activations stay inside the GEMM
			return m.linear1.ForwardPair(g, x, nn.LinearAct{GELU: true}, m.linear2, nn.LinearAct{Residual: res})
		}
		h := m.linear1.ForwardAct(g, x, nn.LinearAct{GELU: true})
		return m.linear2.ForwardAct(g, h, nn.LinearAct{Residual: res})
	}
	h := g.Dropout(g.GELU(m.linear1.Forward(g, x)), m.rate)
	y := g.Dropout(m.linear2.Forward(g, h), m.rate)
	if res != nil {
		y = g.Add(res, y)
	}
	return y
}

func (m *mlpBlock) SetTraining(on bool) { m.training = on }

func (m *mlpBlock) Visit(v *nn.Visitor) { v.Child("linear1", m.linear1); v.Child("linear2", m.linear2) }

// block is MONAI's TransformerBlock: pre-norm self-attention and MLP, each
// with a residual connection.
type block struct {
	mlp          *mlpBlock
	norm1, norm2 *nn.LayerNorm
	attn         *nn.MultiHeadAttention
}

func newBlock(c Config, ctor, r *nn.RNG) *block {
	h := c.HiddenSize
	ao := nn.AttentionOptions{QKVBias: c.QKVBias, DropoutRate: c.DropoutRate}
	dim := h
	if r == nil {
		dim = c.NumHeads // a small layer whose projections are replaced
	}
	attn, err := nn.NewMultiHeadAttention(dim, c.NumHeads, ao, ctor)
	if err != nil {
		panic(err) // withDefaults checked the head count
	}
	if r == nil {
		attn.QKV = newLinear(h, 3*h, c.QKVBias, ctor, nil)
		attn.OutProj = newLinear(h, h, true, ctor, nil)
	}
	monaiLinear(attn.QKV, r)
	monaiLinear(attn.OutProj, r)
	return &block{
		mlp:   &mlpBlock{linear1: newLinear(h, c.MLPDim, true, ctor, r), linear2: newLinear(c.MLPDim, h, true, ctor, r), rate: c.DropoutRate},
		norm1: newLayerNorm(h), norm2: newLayerNorm(h), attn: attn,
	}
}

func (b *block) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	x = b.attn.ForwardAct(g, b.norm1.Forward(g, x), nn.LinearAct{Residual: x})
	return b.mlp.forward(g, b.norm2.Forward(g, x), x)
}

// Visit follows MONAI's registration order (mlp, norm1, attn, norm2).
func (b *block) Visit(v *nn.Visitor) {
	v.Child("mlp", b.mlp)
	v.Child("norm1", b.norm1)
	v.Child("attn", saOrder{b.attn})
	v.Child("norm2", b.norm2)
}

// saOrder declares MONAI SABlock's parameters in its registration order
// (out_proj before qkv).
type saOrder struct{ *nn.MultiHeadAttention }

func (s saOrder) Visit(v *nn.Visitor) { v.Child("out_proj", s.OutProj); v.Child("qkv", s.QKV) }

// blockList is a torch ModuleList of blocks ("0", "1", ...).
type blockList []*block

func (l blockList) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	for _, b := range l {
		x = b.Forward(g, x)
	}
	return x
}

func (l blockList) Visit(v *nn.Visitor) {
	for i, b := range l {
		v.Child(strconv.Itoa(i), b)
	}
}

// encoder is the part ViT and ViTAutoEnc share: patch embedding,
// optional cls token, blocks and the final LayerNorm.
type encoder struct {
	cfg    Config
	cls    *nn.Tensor // [1, 1, hidden] or nil
	patch  *patchEmbedding
	blocks blockList
	norm   *nn.LayerNorm
}

func newEncoder(c Config, withCLS bool) *encoder {
	ctor, r := initRNGs(c, 0)
	e := &encoder{cfg: c, patch: newPatchEmbedding(c, ctor, r), norm: newLayerNorm(c.HiddenSize)}
	for range c.NumLayers {
		e.blocks = append(e.blocks, newBlock(c, ctor, r))
	}
	if withCLS {
		e.cls = newParam(1, 1, c.HiddenSize) // MONAI: zeros
	}
	return e
}

// initRNGs returns the generator of nn's constructors (PyTorch's default
// initialisation) and that of MONAI's re-initialisation, nil with
// SkipInit.
func initRNGs(c Config, salt uint64) (ctor, monai *nn.RNG) {
	ctor = nn.NewRNG(c.Seed ^ salt ^ 0x2545f4914f6cdd1d)
	if !c.SkipInit {
		monai = nn.NewRNG(c.Seed ^ salt)
	}
	return ctor, monai
}

// Encoding is what a transformer encoder computes for a batch.
type Encoding struct {
	// Hidden holds every block's output (B, T, hidden), MONAI's
	// hidden_states_out; token 0 is the cls token when CLS is set.
	Hidden []*nn.Tensor
	// Normed is the last block's output after the final LayerNorm; nil
	// when the caller did not ask for it.
	Normed *nn.Tensor
	// CLS reports whether token 0 is a cls token.
	CLS bool
}

// Last returns the last block's output (before the final LayerNorm).
func (e *Encoding) Last() *nn.Tensor { return e.Hidden[len(e.Hidden)-1] }

// checkInput validates x against the configuration.
func (e *encoder) checkInput(g *nn.Graph, x *nn.Tensor) bool {
	c := e.cfg
	if x == nil || len(x.Shape) != 5 || x.Shape[0] < 1 || x.Shape[1] != c.InChannels ||
		x.Shape[2] != c.ImgSize[0] || x.Shape[3] != c.ImgSize[1] || x.Shape[4] != c.ImgSize[2] {
		var shape []int
		if x != nil {
			shape = x.Shape
		}
		g.SetErr(wrapInput(shape, c))
		return false
	}
	// A tensor assembled by hand may hold fewer values than its shape says.
	if !x.Filled() {
		g.SetErr(fmt.Errorf("%w: %d values for shape %v", ErrInput, len(x.Data), x.Shape))
		return false
	}
	return true
}

// firstNonFinite returns the index of the first NaN or infinite value of
// data, or -1.
func firstNonFinite(data []float32) int {
	for i, v := range data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return i
		}
	}
	return -1
}

// tokens is the first block's input: the patch embedding of x (checked
// by the caller), after the cls token when the model has one.
func (e *encoder) tokens(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	t := e.patch.Forward(g, x)
	if e.cls == nil {
		return t
	}
	b := x.Shape[0]
	cls := e.cls
	if b > 1 { // cls_token.expand(B, -1, -1)
		rep := make([]*nn.Tensor, b)
		for i := range rep {
			rep[i] = e.cls
		}
		cls = g.Concat(0, rep...)
	}
	return g.Concat(1, cls, t)
}

// encode runs the encoder; norm false skips the final LayerNorm.
func (e *encoder) encode(g *nn.Graph, x *nn.Tensor, norm bool) *Encoding {
	enc := &Encoding{CLS: e.cls != nil}
	if g.Err() != nil || !e.checkInput(g, x) {
		return nil
	}
	t := e.tokens(g, x)
	if g.Recording() {
		for _, blk := range e.blocks {
			t = blk.Forward(g, t)
			enc.Hidden = append(enc.Hidden, t)
		}
	} else {
		// Inference: each block's intermediates live in a scratch arena
		// reused by the next block, so a pass holds one block's worth
		// (ONNX Runtime frees them likewise); only the block outputs
		// are kept, in g.
		o := g.Options()
		s := scratchPool.Get().(*nn.Arena)
		defer scratchPool.Put(s)
		sg := nn.NewGraph(nn.Options{Arena: s, RNG: o.RNG, BF16: o.BF16})
		for _, blk := range e.blocks {
			sg.Reset()
			y := blk.Forward(sg, t)
			if err := sg.Err(); err != nil {
				g.SetErr(err)
				return nil
			}
			t = g.Alloc(y.Shape...)
			copy(t.Data, y.Data)
			enc.Hidden = append(enc.Hidden, t)
		}
	}
	if norm {
		enc.Normed = e.norm.Forward(g, t)
	}
	if g.Err() != nil {
		return nil
	}
	return enc
}

func (e *encoder) setTraining(on bool) {
	e.patch.training = on
	for _, b := range e.blocks {
		b.mlp.training = on
		b.attn.Training = on
	}
}

// visit declares the encoder's state in MONAI's order.
func (e *encoder) visit(v *nn.Visitor) {
	v.Param("cls_token", e.cls)
	v.Child("patch_embedding", e.patch)
	v.Child("blocks", e.blocks)
	v.Child("norm", e.norm)
}
