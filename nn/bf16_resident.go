package nn

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// Resident bfloat16 weights: ConvertBF16, the analogue of PyTorch's
// model.to(torch.bfloat16) for inference. A converted weight tensor keeps
// its values only as bfloat16, packed once in the layout the bfloat16
// GEMM of this machine reads (internal/gemm PackWeightsBF16), and its
// float32 Data is released (nil). An Options.BF16 pass then reads 2 bytes
// per weight instead of 4 and rounds nothing per call; a float32 pass
// widens the bfloat16 values block by block (exactly) and multiplies in
// float32.

// ConvertBF16 converts m for bfloat16 inference: the weights of every
// Linear layer, and of every Conv3d whose kernel equals its stride
// (unpadded, undilated, ungrouped: a patch embedding, 134 MB of the
// LaMIM encoder), are rounded to bfloat16 and kept only in that form.
// Biases, norms and every other tensor stay float32.
//
// Why: a large model's inference is bound by reading its weights. With
// Options.BF16 an unconverted model rounds its float32 weights on every
// call (for the 2 GB LaMIM encoder, 2 GB read and 8 % of a pass); a
// converted one reads half the bytes, does no rounding, and its weights
// hold half the memory (the float32 copy is freed and returned to the
// operating system before ConvertBF16 returns).
//
// The price:
//   - The weights are rounded (about three significant digits). Every
//     pass, with or without Options.BF16, on any CPU, uses the rounded
//     values: a float32 graph multiplies float32 activations by the
//     widened bfloat16 weights. StateDict returns them as float32 copies
//     of the bfloat16 values (exact: widening loses nothing), so a state
//     dict saved from a converted model holds the rounded weights.
//   - Converted weights are inference-only: a recording graph (Options.Grad,
//     outside NoGrad) refuses them with ErrBF16, as do graph operations
//     other than the layer's own product, Tensor.View and FoldBatchNorm.
//     The weights are frozen (RequiresGrad false), so optimizers skip them.
//   - Writes stay possible and convert again: LoadStateDict,
//     checkpoint.LoadInto, Tensor.CopyFrom, Tensor.Update and the Init
//     functions round the new values to bfloat16. Reading them goes
//     through Tensor.Values or StateDict; Tensor.Data is nil.
//
// ConvertBF16 works on every CPU (the products then run in float32 on the
// widened weights, which saves memory but not time); it is meant for the
// CPUs where HaveBF16 holds. It must not run while a graph uses m. Weights
// already converted are left as they are.
func ConvertBF16(m Module) error {
	var todo []*Tensor
	seen := map[*Tensor]bool{}
	var err error
	WalkModules(m, func(name string, s Module) {
		var w *Tensor
		switch l := s.(type) {
		case *Linear:
			w = l.Weight
			if w != nil && len(w.Shape) != 2 && err == nil {
				err = fmt.Errorf("%w: ConvertBF16: Linear %q has a weight of shape %v, want [out, in]", ErrShape, name, w.Shape)
			}
			if l.packs != nil && w != nil {
				l.packs.mu.Lock()
				delete(l.packs.bf16, w)
				l.packs.mu.Unlock()
			}
		case *Conv3d:
			if !patchConv(l.Options, l.Weight) {
				return
			}
			w = l.Weight
			if l.packs != nil {
				l.packs = newPackCache() // drop the float32 plans
			}
		}
		if w != nil && !seen[w] && w.bf == nil {
			seen[w] = true
			todo = append(todo, w)
		}
	})
	if err != nil {
		return err
	}
	freed := 0
	for _, w := range todo {
		w.toBF16()
		if freed += w.Numel(); freed >= convertGCValues {
			runtime.GC() // lets the next packs reuse the freed float32 memory
			freed = 0
		}
	}
	if len(todo) > 0 {
		debug.FreeOSMemory()
	}
	return nil
}

// convertGCValues is the float32 values ConvertBF16 frees between garbage
// collections (64 MB), so that converting a large model does not hold its
// float32 and bfloat16 weights at once: the packs of the next layers
// reuse the memory of the last ones. (A collection costs little here:
// weights hold no pointers.)
const convertGCValues = 1 << 24

// patchConv reports whether a Conv3d with options o and weight w is a
// patch embedding ConvertBF16 converts: kernel = stride, no padding,
// dilation 1, one group.
func patchConv(o ConvOptions, w *Tensor) bool {
	o = o.norm()
	if w == nil || len(w.Shape) != 5 || o.Groups != 1 {
		return false
	}
	for i := range 3 {
		if o.Stride[i] != w.Shape[2+i] || o.Padding[i] != 0 || o.Dilation[i] != 1 {
			return false
		}
	}
	return true
}

// toBF16 makes t resident in bfloat16: its first dimension the rows, the
// others the columns of the packed matrix.
func (t *Tensor) toBF16() {
	rows, cols := bf16Dims(t.Shape)
	t.bf = gemm.PackWeightsBF16(rows, cols, t.Data, max(cols, 1))
	t.Data = nil
	t.reqGrad, t.grad, t.gradOK = false, nil, false
	t.bump()
}

// bf16Dims is the matrix a resident tensor of this shape is stored as.
func bf16Dims(shape []int) (rows, cols int) {
	n, _ := numel(shape)
	if len(shape) == 0 || shape[0] == 0 {
		return 0, 0
	}
	return shape[0], n / shape[0]
}

// IsBF16 reports whether t is resident in bfloat16 (ConvertBF16): its
// Data is nil and Values widens its values.
func (t *Tensor) IsBF16() bool { return t.bf != nil }

// Values returns t's values: Data itself for a float32 tensor, a new
// float32 copy of the bfloat16 values (exact) for a converted one.
func (t *Tensor) Values() []float32 {
	if t.bf == nil {
		return t.Data
	}
	rows, cols := bf16Dims(t.Shape)
	v := make([]float32, rows*cols)
	t.bf.WidenRows(v, 0, rows)
	return v
}

// setBF16 rounds src into the resident t (len(src) = t.Numel()), in
// place: reloading a converted model allocates no second copy.
func (t *Tensor) setBF16(src []float32) {
	_, cols := bf16Dims(t.Shape)
	t.bf.Repack(src, max(cols, 1))
	t.bump()
}

// updateBF16 is Update on a resident t: fn edits a float32 copy of the
// values (a buffer reused across calls, so that loading a checkpoint
// tensor by tensor does not pile up garbage), rounded back in place.
func (t *Tensor) updateBF16(fn func(data []float32)) {
	n := t.Numel()
	bp := widenPool.Get().(*[]float32)
	if cap(*bp) < n {
		*bp = make([]float32, n)
	}
	v := (*bp)[:n]
	rows, _ := bf16Dims(t.Shape)
	t.bf.WidenRows(v, 0, rows)
	fn(v)
	t.setBF16(v)
	widenPool.Put(bp)
}

// widenPool holds the float32 buffers of updateBF16 (released by the
// garbage collector when idle).
var widenPool = sync.Pool{New: func() any { return new([]float32) }}

// refuseBF16 fails the graph when x is a converted weight, which no
// float32 operation can read (what names the operation), or a float32
// tensor whose Data does not hold the values its Shape says.
func (g *Graph) refuseBF16(what string, x *Tensor) bool {
	if x == nil {
		return false
	}
	if x.bf == nil {
		// A Tensor assembled by hand may hold other than the values its
		// shape says; the operation would index past its data.
		if !x.Filled() {
			g.fail("%s: %d values for shape %v", what, len(x.Data), x.Shape)
			return true
		}
		return false
	}
	g.SetErr(fmt.Errorf("%w: %s on a weight of shape %v held in bfloat16 only (ConvertBF16): only its layer's product reads it", ErrBF16, what, x.Shape))
	return true
}

// reshapeBF16 is Reshape of a converted weight: a tensor sharing its
// packed values when the first dimension (the packed rows) is kept.
func (g *Graph) reshapeBF16(x *Tensor, shape []int) *Tensor {
	s, err := inferShape(x.Numel(), shape)
	if err != nil {
		return g.SetErr(err)
	}
	if len(s) == 0 || len(x.Shape) == 0 || s[0] != x.Shape[0] {
		return g.SetErr(fmt.Errorf("%w: Reshape of a weight held in bfloat16 only from %v to %v: only shapes keeping the first dimension share its packed values", ErrBF16, x.Shape, s))
	}
	if g.Recording() {
		return g.SetErr(fmt.Errorf("%w: Reshape of a weight %v held in bfloat16 only (ConvertBF16) in a recording graph: converted models are inference-only", ErrBF16, x.Shape))
	}
	return &Tensor{Shape: s, bf: x.bf}
}

// linearBF16 is linearProduct for a converted weight: in bfloat16 on a
// BF16 graph, else in float32 on the widened weights.
func (g *Graph) linearBF16(x, w *Tensor, rows, in, outF int, out *Tensor, ep *gemm.Epilogue) {
	if g.bf16 {
		gemm.SgemmBF16W(rows, x.Data, in, w.bf, out.Data, outF, ep)
		return
	}
	gemm.SgemmWidenW(rows, x.Data, in, w.bf, out.Data, outF, ep)
}

// conv3dBF16 is a patch-embedding Conv3d (kernel = stride, see patchConv)
// with a converted weight: the non-overlapping patches gathered as rows
// (batch, d, h, w) of (channel, kd, kh, kw), multiplied by Wᵀ as a Linear,
// then the [patches, out] product transposed into (N, out, D', H', W').
func (g *Graph) conv3dBF16(x, w, b *Tensor, o ConvOptions) *Tensor {
	if g.Recording() {
		return g.SetErr(fmt.Errorf("%w: conv3d on a weight held in bfloat16 only (ConvertBF16) in a recording graph: converted models are inference-only", ErrBF16))
	}
	c, err := newConvGeom(x.Shape, w.Shape, o)
	if err != nil {
		return g.fail("%v", err)
	}
	if !patchConv(c.o, w) {
		return g.SetErr(fmt.Errorf("%w: conv3d with a weight held in bfloat16 only needs kernel = stride, no padding, dilation 1 and one group, got stride %v padding %v dilation %v groups %d", ErrBF16, c.o.Stride, c.o.Padding, c.o.Dilation, c.o.Groups))
	}
	if b != nil && len(b.Data) != c.cout {
		return g.fail("conv3d: bias of %d values for %d output channels", len(b.Data), c.cout)
	}
	vol, kv := c.outVol(), c.kVol()
	rows, cols := c.n*vol, c.cin*kv
	patches := g.scratch(rows * cols)
	prod := g.scratch(rows * c.cout)
	conv.Patches(patches, x.Data, c.n, c.cin, c.in, c.k)
	var ep *gemm.Epilogue
	if b != nil {
		g.linEp = gemm.Epilogue{Bias: b.Data}
		ep = &g.linEp
	}
	xs := Tensor{Data: patches}
	ys := Tensor{Data: prod}
	g.linearBF16(&xs, w, rows, cols, c.cout, &ys, ep)
	g.linEp = gemm.Epilogue{}
	out := g.alloc(c.n, c.cout, c.out[0], c.out[1], c.out[2])
	for n := range c.n {
		transpose2D(out.Data[n*c.cout*vol:(n+1)*c.cout*vol], prod[n*vol*c.cout:(n+1)*vol*c.cout], vol, c.cout)
	}
	g.unscratch(prod)
	g.unscratch(patches)
	return out
}

// transpose2D writes the r×c matrix src transposed into dst (c×r).
func transpose2D(dst, src []float32, r, c int) {
	const blk = 32
	for i0 := 0; i0 < r; i0 += blk {
		for j0 := 0; j0 < c; j0 += blk {
			for i := i0; i < min(i0+blk, r); i++ {
				for j := j0; j < min(j0+blk, c); j++ {
					dst[j*r+i] = src[i*c+j]
				}
			}
		}
	}
}
