package vit

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/volume"
)

// HeadFusion says how the heads' attention matrices of one block are
// combined before the rollout.
type HeadFusion int

const (
	// HeadMean averages the heads (Abnar & Zuidema's choice).
	HeadMean HeadFusion = iota
	// HeadMax keeps, per token pair, the strongest head: sharper maps
	// that follow the most selective head.
	HeadMax
	// HeadMin keeps the weakest head: what every head attends to.
	HeadMin
)

func (h HeadFusion) String() string {
	switch h {
	case HeadMean:
		return "mean"
	case HeadMax:
		return "max"
	case HeadMin:
		return "min"
	}
	return fmt.Sprintf("HeadFusion(%d)", int(h))
}

// Upsampling says how the patch-grid map is brought to the input grid.
type Upsampling int

const (
	// UpsampleNearest gives every voxel its patch's value: the blocks the
	// model actually sees.
	UpsampleNearest Upsampling = iota
	// UpsampleTrilinear interpolates between patch centres (PyTorch's
	// interpolate, align_corners=False): a smoother overlay.
	UpsampleTrilinear
)

// RolloutOptions tune AttentionRollout. The zero value is Abnar &
// Zuidema's rollout: heads averaged, nothing discarded, every block, a
// nearest-neighbour map.
type RolloutOptions struct {
	// Heads combines the heads of a block.
	Heads HeadFusion
	// DiscardRatio in [0, 1) zeroes that fraction of the lowest entries of
	// each block's fused attention matrix before the identity is added, as
	// the common implementation (jacobgil/vit-explain) does to remove the
	// diffuse background attention. The cls token's attention to itself
	// is never discarded.
	DiscardRatio float64
	// StartBlock is the first block multiplied in (0: all); later blocks
	// attend to more abstract tokens, so starting late shows what the
	// upper blocks add.
	StartBlock int
	// Upsample chooses the interpolation from patches to voxels.
	Upsample Upsampling
}

// Rollout is the attention rollout of a batch.
type Rollout struct {
	// CLS reports whether token 0 is the cls token: the map is then the
	// cls token's row of the rollout, else the mean of all rows.
	CLS bool
	// Tokens is the number of tokens T (patches, plus the cls token).
	Tokens int
	// Grid is the patch grid (D, H, W); ImgSize the input grid.
	Grid, ImgSize [3]int
	// Matrix holds, per sample, the rolled-out attention T×T, row-major:
	// row i is how much output token i draws on each input token through
	// the attention and residual paths. Every row sums to 1.
	Matrix [][]float64
	// Patches holds, per sample, the rollout weight of every patch in
	// (d, h, w) raster order — the token order of the patch embedding.
	Patches [][]float64
	// Map holds, per sample, Patches upsampled to ImgSize and scaled so
	// that its maximum is 1, in tensor order (D, H, W; W fastest) like
	// the input; it overlays the input as a saliency map.
	Map [][]float32
}

// Volume returns sample i's map as a volume on the grid of affine aff —
// the affine of the stack the input came from (volume.Stack.Affine) —
// ready to overlay on it or to save as NIfTI.
func (r *Rollout) Volume(i int, aff volume.Affine) (*volume.Volume, error) {
	if i < 0 || i >= len(r.Map) {
		return nil, fmt.Errorf("%w: sample %d of a rollout of %d", ErrInput, i, len(r.Map))
	}
	v, err := volume.New(r.ImgSize, aff)
	if err != nil {
		return nil, fmt.Errorf("vit: rollout volume: %w", err)
	}
	nx, ny, nz := r.ImgSize[0], r.ImgSize[1], r.ImgSize[2]
	m := r.Map[i]
	for a := 0; a < nx; a++ {
		for b := 0; b < ny; b++ {
			for c := 0; c < nz; c++ {
				v.Data[a+nx*(b+ny*c)] = m[(a*ny+b)*nz+c]
			}
		}
	}
	return v, nil
}

// rolloutEncoder is implemented by the package's models.
type rolloutEncoder interface{ encoderOf() *encoder }

func (m *ViT) encoderOf() *encoder             { return m.enc }
func (m *AutoEnc) encoderOf() *encoder         { return m.enc }
func (m *LaMIMClassifier) encoderOf() *encoder { return m.Model.enc }

// AttentionRollout computes Abnar & Zuidema's attention rollout
// ("Quantifying Attention Flow in Transformers", 2020) of a ViT, ViTAutoEnc
// or LaMIM classifier for x (N, InChannels, ImgSize...): where the model
// looks. For every block from StartBlock on, the heads' attention
// probabilities are fused into one T×T matrix, the identity is added for
// the residual connection and the rows are renormalised; the product of
// these matrices, last block on the left, traces each output token back to
// the input tokens. The map is the cls token's row (ViT with
// classification, whose head reads the cls token) or the mean of all rows
// (no cls token: ViTAutoEnc and LaMIM, whose heads read every token),
// restricted to the patches and upsampled to the input grid.
//
// The fused attention kernel the forward pass uses never materialises the
// probabilities, so rollout recomputes them: for each block, softmax(QKᵀ/√d)
// per head from the block's input through its own norm1 and qkv weights,
// in float32 products with float64 sums. This is a separate, slower path
// (the blocks run once more, and the attention matrices are formed
// explicitly; about 1.5× one inference pass of the full-size LaMIM
// encoder) meant for explaining one patient, not for inference; it
// runs the model in inference mode (no dropout) and fails if the model is
// set to train with dropout.
func AttentionRollout(ctx context.Context, m Encoder, x *nn.Tensor, o RolloutOptions) (*Rollout, error) {
	re, ok := m.(rolloutEncoder)
	if !ok {
		return nil, fmt.Errorf("%w: attention rollout needs a model of package vit, got %T", ErrConfig, m)
	}
	e := re.encoderOf()
	c := e.cfg
	switch {
	case o.Heads < HeadMean || o.Heads > HeadMin:
		return nil, fmt.Errorf("%w: head fusion %v (want HeadMean, HeadMax or HeadMin)", ErrConfig, o.Heads)
	case !(o.DiscardRatio >= 0 && o.DiscardRatio < 1):
		return nil, fmt.Errorf("%w: discard ratio %g (want 0 ≤ r < 1)", ErrConfig, o.DiscardRatio)
	case o.StartBlock < 0 || o.StartBlock >= len(e.blocks):
		return nil, fmt.Errorf("%w: start block %d of %d blocks", ErrConfig, o.StartBlock, len(e.blocks))
	case o.Upsample != UpsampleNearest && o.Upsample != UpsampleTrilinear:
		return nil, fmt.Errorf("%w: upsampling %d", ErrConfig, o.Upsample)
	case c.DropoutRate > 0 && (e.patch.training || e.blocks[0].mlp.training):
		return nil, fmt.Errorf("%w: the model is in training mode with dropout; call SetTraining(false) before the rollout", ErrConfig)
	}
	g := nn.NewGraph(nn.Options{})
	if !e.checkInput(g, x) {
		return nil, g.Err()
	}
	if i := firstNonFinite(x.Data); i >= 0 {
		return nil, fmt.Errorf("%w: input value %d is %v (want finite values: the map would be NaN)", ErrInput, i, x.Data[i])
	}
	t := e.tokens(g, x)
	if err := g.Err(); err != nil {
		return nil, fmt.Errorf("vit: rollout: %w", err)
	}
	grid, np := c.grid()
	nb, nt := x.Shape[0], t.Shape[1]
	r := &Rollout{CLS: e.cls != nil, Tokens: nt, Grid: grid, ImgSize: c.ImgSize}
	for range nb {
		r.Matrix = append(r.Matrix, identity(nt))
	}
	fused := make([]float64, nt*nt)
	next := make([]float64, nt*nt)
	for bi, blk := range e.blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sg := nn.NewGraph(nn.Options{})
		if bi >= o.StartBlock {
			qkv := blk.attn.QKV.Forward(sg, blk.norm1.Forward(sg, t)) // (N, T, 3·hidden)
			if err := sg.Err(); err != nil {
				return nil, fmt.Errorf("vit: rollout block %d: %w", bi, err)
			}
			for s := range nb {
				fuseHeads(fused, qkv.Data[s*nt*3*c.HiddenSize:(s+1)*nt*3*c.HiddenSize], nt, c.HiddenSize, c.NumHeads, o.Heads)
				discard(fused, o.DiscardRatio, r.CLS)
				addIdentityNormalise(fused, nt)
				matMul(next, fused, r.Matrix[s], nt)
				r.Matrix[s], next = next, r.Matrix[s]
			}
		}
		if bi == len(e.blocks)-1 {
			break
		}
		y := blk.Forward(sg, t)
		if err := sg.Err(); err != nil {
			return nil, fmt.Errorf("vit: rollout block %d: %w", bi, err)
		}
		t = nn.NewTensor(y.Shape...)
		copy(t.Data, y.Data)
	}
	first := 0
	if r.CLS {
		first = 1
	}
	for s := range nb {
		mat := r.Matrix[s]
		p := make([]float64, np)
		if r.CLS {
			copy(p, mat[first:nt])
		} else {
			for i := range nt {
				for j := range np {
					p[j] += mat[i*nt+j]
				}
			}
			for j := range p {
				p[j] /= float64(nt)
			}
		}
		r.Patches = append(r.Patches, p)
		m, err := upsample(p, grid, c.ImgSize, o.Upsample)
		if err != nil {
			return nil, fmt.Errorf("vit: rollout map: %w", err)
		}
		r.Map = append(r.Map, m)
	}
	return r, nil
}

func identity(n int) []float64 {
	a := make([]float64, n*n)
	for i := range n {
		a[i*n+i] = 1
	}
	return a
}

// fuseHeads writes into dst (T×T) the heads' attention probabilities of
// one sample, combined by f. qkv is the sample's (T, 3·hidden) output of
// the qkv projection, laid out (qkv, head, dim) along the features as
// MONAI's SABlock rearranges it; the scores are q·k scaled by 1/√d in
// float32, as the forward pass scales them, summed in float64.
func fuseHeads(dst []float64, qkv []float32, nt, hidden, heads int, f HeadFusion) {
	d := hidden / heads
	scale := float64(float32(1 / math.Sqrt(float64(d))))
	parallel.For(nt, func(lo, hi int) {
		row := make([]float64, nt)
		for i := lo; i < hi; i++ {
			out := dst[i*nt : (i+1)*nt]
			for h := range heads {
				q := qkv[i*3*hidden+h*d : i*3*hidden+(h+1)*d]
				mx := math.Inf(-1)
				for j := range nt {
					k := qkv[j*3*hidden+hidden+h*d : j*3*hidden+hidden+(h+1)*d]
					s := 0.0
					for a, qa := range q {
						s += float64(qa) * float64(k[a])
					}
					row[j] = s * scale
					mx = max(mx, row[j])
				}
				sum := 0.0
				for j, v := range row {
					row[j] = math.Exp(v - mx)
					sum += row[j]
				}
				for j, v := range row {
					p := v / sum
					switch {
					case h == 0:
						out[j] = p
					case f == HeadMax:
						out[j] = max(out[j], p)
					case f == HeadMin:
						out[j] = min(out[j], p)
					default:
						out[j] += p
					}
				}
			}
			if f == HeadMean {
				for j := range out {
					out[j] /= float64(heads)
				}
			}
		}
	})
}

// discard zeroes the lowest ratio of a's entries (ties broken by index),
// sparing entry 0 — the cls token's attention to itself — when cls is set,
// as jacobgil/vit-explain does.
func discard(a []float64, ratio float64, cls bool) {
	k := int(float64(len(a)) * ratio)
	if k == 0 {
		return
	}
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		switch {
		case a[x] < a[y]:
			return -1
		case a[x] > a[y]:
			return 1
		}
		return 0
	})
	for _, i := range idx[:k] {
		if i != 0 || !cls {
			a[i] = 0
		}
	}
}

// addIdentityNormalise adds the identity — the residual connection, which
// carries every token on unchanged beside the attention — and scales each
// row to sum 1.
func addIdentityNormalise(a []float64, n int) {
	for i := range n {
		row := a[i*n : (i+1)*n]
		row[i]++
		s := 0.0
		for _, v := range row {
			s += v
		}
		for j := range row {
			row[j] /= s
		}
	}
}

// matMul sets dst = a·b for n×n row-major matrices.
func matMul(dst, a, b []float64, n int) {
	parallel.For(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out := dst[i*n : (i+1)*n]
			clear(out)
			for k, aik := range a[i*n : (i+1)*n] {
				if aik == 0 {
					continue
				}
				for j, bkj := range b[k*n : (k+1)*n] {
					out[j] += aik * bkj
				}
			}
		}
	})
}

// upsample brings the patch-grid map p (raster d, h, w) to size, in
// tensor order, scaled to a maximum of 1 (all zero stays zero). The
// resampling is volume.Resize (torch's interpolate rules, as MONAI's
// Resize): a (d, h, w) raster with w fastest is a volume of dims
// (w, h, d) in volume's i-fastest order, so the axes are handed over
// reversed and the result is already in tensor order.
func upsample(p []float64, grid, size [3]int, how Upsampling) ([]float32, error) {
	src := make([]float32, len(p))
	for i, v := range p {
		src[i] = float32(v)
	}
	v, err := volume.FromData([3]int{grid[2], grid[1], grid[0]}, volume.Identity(), src)
	if err != nil {
		return nil, err
	}
	mode := volume.ResizeTrilinear
	if how == UpsampleNearest {
		mode = volume.ResizeNearest
	}
	if v, err = v.Resize([3]int{size[2], size[1], size[0]}, mode); err != nil {
		return nil, err
	}
	mx := float32(0)
	for _, x := range v.Data {
		mx = max(mx, x)
	}
	if mx > 0 {
		for i := range v.Data {
			v.Data[i] /= mx
		}
	}
	return v.Data, nil
}
