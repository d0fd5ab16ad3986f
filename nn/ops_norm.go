package nn

import (
	"math"

	"github.com/metasurv/metasurv/internal/ops"
)

// bnOptions configures the batch-norm operations.
type bnOptions struct {
	// Training normalises with the batch statistics and updates the running
	// statistics; otherwise the running statistics are used.
	Training bool
	// Momentum of the running statistics (PyTorch: new = (1-m)·old + m·batch);
	// zero means PyTorch's default 0.1.
	Momentum float64
	// Eps is added to the variance; zero means 1e-5.
	Eps float64
}

// batchNorm normalises x (N, C, ...) per channel. gamma/beta (C) may be nil
// (no affine). runMean/runVar (C) may be nil (no tracking); in training they
// are updated in place with the unbiased batch variance, as PyTorch does.
func (g *Graph) batchNorm(x, gamma, beta, runMean, runVar *Tensor, o bnOptions) *Tensor {
	return g.batchNormAct(x, gamma, beta, runMean, runVar, o, fuse{})
}

// batchNormAct computes act(BatchNorm(x) + f.Residual) — ResNet's
// relu(bn(conv(x))) and relu(bn(conv(y)) + skip) — in one sweep over
// memory, forward and backward, with the same rounding as the composition
// of BatchNorm, Add and ReLU. Only the input and the output are kept for
// the backward pass (the composition also keeps the normalised and summed
// tensors), and with an arena the output gradient's buffer is reused for
// the input's or the residual's gradient.
func (g *Graph) batchNormAct(x, gamma, beta, runMean, runVar *Tensor, o bnOptions, f fuse) *Tensor {
	if g.bad() {
		return g.dead
	}
	b, ok := g.bnSetup(x, gamma, beta, runMean, runVar, &o, f)
	if !ok {
		return g.dead
	}
	rec := g.rec(x, orSelf(gamma, x), orSelf(beta, x), orSelf(f.Residual, x))
	if rec && f.Into != nil {
		return g.refuseInto("BatchNorm")
	}
	y := g.output(f.Into, "BatchNorm", x.Shape...)
	if y == g.dead {
		return y
	}
	g.bnRun(&b, y.Data, runMean, runVar, o) // elementwise: y may be x
	if rec {
		g.recordBN(y, b)
	}
	return y
}

// recordBN records BatchNormAct's backward (apart, so that b moves to the
// heap only when recording).
func (g *Graph) recordBN(y *Tensor, b bnBack) {
	b.y = y
	g.record(y, func(gout []float32) {
		g.bnBackward(&b, gout, func(t *Tensor) bool { return g.passGrad(y, t) })
	})
}

// batchNormActPool computes MaxPool3d (or with avg AvgPool3d) of
// act(BatchNorm(x) + f.Residual) — the stem of MONAI's ResNet and DenseNet
// (conv, norm, ReLU, max pool), DenseNet's transitions (norm, ReLU, then
// the average pool that we apply before their 1×1×1 convolution) — without
// keeping the full-resolution activation: in inference it is normalised a
// few channels at a time (bnPoolChunks); otherwise it lives in a transient
// buffer during the forward pass (with an arena, the buffer that later
// holds its gradient). The max pool's backward masks the pooled gradient
// by the pooled output (the ReLU of a window maximum is the maximum of the
// ReLUs), scatters it to the argmax positions and runs the batch-norm
// backward from there; a recorded average pool is the composition. The
// results equal the composition bit for bit.
func (g *Graph) batchNormActPool(x, gamma, beta, runMean, runVar *Tensor, o bnOptions, f fuse, p PoolOptions, avg bool) *Tensor {
	if g.bad() {
		return g.dead
	}
	n, c, in, out, q, ok := p.geom(x.Shape)
	if !ok {
		return g.fail("pooling: window %+v does not fit input %v (want 5-D, padding ≤ kernel/2)", p, x.Shape)
	}
	b, ok := g.bnSetup(x, gamma, beta, runMean, runVar, &o, f)
	if !ok {
		return g.dead
	}
	rec := g.rec(x, orSelf(gamma, x), orSelf(beta, x), orSelf(f.Residual, x))
	switch {
	case rec && f.Into != nil:
		return g.refuseInto("BatchNorm")
	case rec && avg:
		f.Into = nil
		return g.AvgPool3d(g.batchNormAct(x, gamma, beta, runMean, runVar, o, f), p)
	}
	y := g.output(f.Into, "BatchNorm", n, c, out[0], out[1], out[2])
	if y == g.dead {
		return y
	}
	pool := poolOp{op: ops.Pool{Kernel: q.Kernel, Stride: q.Stride, Pad: q.Padding, ExcludePad: q.ExcludePad}, in: in, avg: avg}
	if !rec && !o.Training && f.Residual == nil {
		if err := g.bnPoolChunks(&b, y, runMean, runVar, o, pool); err != nil {
			return g.fail("pooling: %v", err)
		}
		return y
	}
	z := g.scratch(len(x.Data))
	g.bnRun(&b, z, runMean, runVar, o)
	var arg []int32
	switch {
	case avg:
	case rec && g.arena != nil:
		arg = g.arena.int32s(len(y.Data))
	case rec:
		arg = make([]int32, len(y.Data))
	default:
		arg = g.idxBuf(len(y.Data))
	}
	err := pool.run(y.Data, arg, z, n*c)
	g.unscratch(z)
	if err != nil {
		return g.fail("pooling: %v", err)
	}
	if rec {
		g.recordBNPool(y, b, arg, in, pool.op)
	}
	return y
}

// poolOp is the pooling of batchNormActPool.
type poolOp struct {
	op  ops.Pool
	in  [3]int
	avg bool
}

// run pools planes channel planes of z into y (max: argmax into arg).
func (p poolOp) run(y []float32, arg []int32, z []float32, planes int) error {
	if p.avg {
		return ops.AvgPool3d(y, z, planes, p.in, p.op)
	}
	return ops.MaxPool3d(y, arg, z, planes, p.in, p.op)
}

// idxBuf returns the graph's reusable max-pool index buffer of n entries
// (inference: the indices are not kept).
func (g *Graph) idxBuf(n int) []int32 {
	if cap(g.idx) < n {
		g.idx = make([]int32, n)
	}
	return g.idx[:n]
}

// bnPoolChunkFloats bounds the normalised values bnPoolChunks holds at
// once (4 MB).
var bnPoolChunkFloats = 1 << 20

// bnPoolChunks is inference's batchNormActPool: it normalises (with
// the running statistics) and pools a few channel planes at a time, so
// the full-size normalised tensor — a CNN stem's largest, 28 MB for 64
// channels at 48³ — never exists. Planes are independent in both steps,
// so the result is bit for bit that of normalising everything first.
func (g *Graph) bnPoolChunks(b *bnBack, y, runMean, runVar *Tensor, o bnOptions, pool poolOp) error {
	planes, s := b.n*b.c, max(b.s, 1)
	outSp := len(y.Data) / max(planes, 1)
	// One buffer length for every large input (an arena recycles released
	// buffers by length: the stem's and the transitions' chunks share one).
	z := g.scratch(min(planes*s, max(bnPoolChunkFloats, s)))
	defer g.unscratch(z)
	per := len(z) / s
	var idx []int32
	if !pool.avg {
		idx = g.idxBuf(per * outSp)
	}
	for p0 := 0; p0 < planes; p0 += per {
		p1 := min(p0+per, planes)
		j := g.job
		j.s[0], j.s[1] = b.x.Data, z
		j.t = [4]*Tensor{b.gamma, b.beta, runMean, runVar}
		j.i[0], j.i[1], j.i[2] = b.c, s, p0
		j.d[1] = o.Eps
		j.b2 = b.relu
		g.runJob(p1-p0, 2*s, bnPlanesBody)
		if idx != nil {
			idx = idx[:(p1-p0)*outSp]
		}
		if err := pool.run(y.Data[p0*outSp:p1*outSp], idx, z[:(p1-p0)*s], p1-p0); err != nil {
			return err
		}
	}
	return nil
}

// bnPlanesBody normalises planes p0+lo … p0+hi-1 (plane = sample·C +
// channel) of x into z[(plane-p0)·s:], with the running statistics, as
// bnForwardBody does in evaluation.
func bnPlanesBody(j *pjob, lo, hi int) {
	x, z := j.s[0], j.s[1]
	gamma, beta, runMean, runVar := j.t[0], j.t[1], j.t[2], j.t[3]
	c, s, p0 := j.i[0], j.i[1], j.i[2]
	eps := j.d[1]
	for k := lo; k < hi; k++ {
		p := p0 + k
		ch := p % c
		mu, vr := float64(runMean.Data[ch]), float64(runVar.Data[ch])
		is := 1 / math.Sqrt(vr+eps)
		a, bb := float32(is), float32(-mu*is)
		if gamma != nil {
			a, bb = a*gamma.Data[ch], bb*gamma.Data[ch]
		}
		if beta != nil {
			bb += beta.Data[ch]
		}
		bnApply(z[k*s:(k+1)*s], x[p*s:(p+1)*s], nil, a, bb, j.b2)
	}
}

// recordBNPool records BatchNormActMaxPool's backward.
func (g *Graph) recordBNPool(y *Tensor, b bnBack, arg []int32, in [3]int, op ops.Pool) {
	relu := b.relu
	b.relu = false // the mask is applied to the pooled gradient
	g.record(y, func(gout []float32) {
		if relu { // gout is ours until this backward returns
			reluMaskInto(gout, gout, y.Data, true)
		}
		d := g.scratch(len(b.x.Data))
		if err := ops.MaxPool3dBackward(d, gout, arg, b.n*b.c, in, op); err != nil {
			panic(err) // shapes were checked by the forward pass
		}
		kept := false
		g.bnBackward(&b, d, func(t *Tensor) bool {
			if g.adoptGrad(t, d) {
				kept = true
			}
			return kept
		})
		if !kept {
			g.unscratch(d)
		}
	})
}

// bnSetup checks BatchNormAct's operands, fills the option defaults and
// returns the geometry of the backward record.
func (g *Graph) bnSetup(x, gamma, beta, runMean, runVar *Tensor, o *bnOptions, f fuse) (bnBack, bool) {
	if len(x.Shape) < 2 {
		g.fail("BatchNorm: input %v needs a channel dimension", x.Shape)
		return bnBack{}, false
	}
	n, c := x.Shape[0], x.Shape[1]
	s := len(x.Data) / max(n*c, 1)
	for _, p := range []*Tensor{gamma, beta, runMean, runVar} {
		if p != nil && len(p.Data) != c {
			g.fail("BatchNorm: parameter of shape %v for %d channels", p.Shape, c)
			return bnBack{}, false
		}
	}
	if f.Residual != nil && !SameShape(f.Residual.Shape, x.Shape) {
		g.fail("BatchNorm: residual %v does not match input %v", f.Residual.Shape, x.Shape)
		return bnBack{}, false
	}
	if !o.Training && (runMean == nil || runVar == nil) {
		o.Training = true // no running statistics: always batch statistics (track_running_stats=False)
	}
	if o.Momentum == 0 {
		o.Momentum = 0.1
	}
	if o.Eps == 0 {
		o.Eps = 1e-5
	}
	if o.Training && n*s <= 1 {
		g.fail("BatchNorm: expected more than 1 value per channel in training, got input %v", x.Shape)
		return bnBack{}, false
	}
	return bnBack{x: x, res: f.Residual, gamma: gamma, beta: beta, n: n, c: c, s: s,
		training: o.Training, relu: f.ReLU}, true
}

// bnRun computes the statistics (kept in b.stats) and writes act(bn(x) +
// residual) to y.
func (g *Graph) bnRun(b *bnBack, y []float32, runMean, runVar *Tensor, o bnOptions) {
	stats := g.alloc(2, b.c) // mean, invstd
	b.stats = stats.Data
	j := g.job
	j.s[0], j.s[1], j.s[2] = b.x.Data, y, stats.Data
	if b.res != nil {
		j.s[3] = b.res.Data
	}
	j.t = [4]*Tensor{b.gamma, b.beta, runMean, runVar}
	j.i[0], j.i[1], j.i[2] = b.n, b.c, b.s
	j.d = [2]float64{o.Momentum, o.Eps}
	j.b, j.b2 = o.Training, b.relu
	g.runJob(b.c, 2*b.n*b.s, bnForwardBody)
}

// bnBack is what the backward pass of BatchNormAct needs.
type bnBack struct {
	x, y, res, gamma, beta *Tensor
	stats                  []float32 // mean (c), invstd (c)
	n, c, s                int
	training, relu         bool
}

// bnBackward computes the gradients of BatchNormAct's inputs from the
// output gradient gout. The gradient reaching the normalisation is
// d = gout masked by y > 0 (ReLU) and is also the residual's gradient.
// hand(t) tries to make gout's buffer t's gradient (see passGrad): then it
// becomes the residual's gradient (rewritten to d) or else the input's
// (rewritten to dx), and the pass allocates no new gradient buffer.
func (g *Graph) bnBackward(b *bnBack, gout []float32, hand func(t *Tensor) bool) {
	var w bnGrads
	w.dres = b.res != nil && b.res.needsGrad()
	distinct := b.res != b.x
	switch {
	case w.dres && distinct && hand(b.res):
		w.rd, w.rFresh, w.rStolen = gout, true, true
	case w.dres:
		w.rd, w.rFresh = g.gradBuf(b.res)
	}
	if b.x.needsGrad() {
		if w.rd == nil && distinct && hand(b.x) {
			w.gx, w.xFresh = gout, true
		} else {
			w.gx, w.xFresh = g.gradBuf(b.x)
		}
	}
	w.gg, w.gFresh = g.gradBufOpt(b.gamma)
	w.gb, w.bFresh = g.gradBufOpt(b.beta)
	m := b.n * b.s
	pfor(b.c, 3*m, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			b.channelBackward(ch, gout, &w)
		}
	})
}

// bnGrads are the gradient destinations of one BatchNormAct backward;
// fresh ones are overwritten, the others added to.
type bnGrads struct {
	gx, rd, gg, gb                 []float32
	xFresh, rFresh, gFresh, bFresh bool
	dres, rStolen                  bool // rStolen: rd is gout's buffer
}

// channelBackward does channel ch: the sums Σd and Σd·x̂ (also the beta and
// gamma gradients), then dx = ga·(d - Σd/m - x̂·Σd·x̂/m) and the residual
// gradient d. gout may alias w.gx or w.rd (element-wise in place).
func (b *bnBack) channelBackward(ch int, gout []float32, w *bnGrads) {
	mu, is := b.stats[ch], b.stats[b.c+ch]
	var sdy, sdyx float64
	if w.gx != nil || w.gg != nil || w.gb != nil {
		for i := 0; i < b.n; i++ {
			off := (i*b.c + ch) * b.s
			var y []float32
			if b.relu {
				y = b.y.Data[off : off+b.s]
			}
			a, c := dotStats(gout[off:off+b.s], b.x.Data[off:off+b.s], y, mu)
			sdy += a
			sdyx += c * float64(is)
		}
	}
	if w.gg != nil {
		w.gg[ch] = accumulate(w.gg[ch], float32(sdyx), w.gFresh)
	}
	if w.gb != nil {
		w.gb[ch] = accumulate(w.gb[ch], float32(sdy), w.bFresh)
	}
	ga := is
	if b.gamma != nil {
		ga *= b.gamma.Data[ch]
	}
	k := bnBackK{mu: mu, is: is, ga: ga}
	if b.training {
		m := float64(b.n * b.s)
		k.k1, k.k2 = float32(sdy/m), float32(sdyx/m)
	}
	for i := 0; i < b.n; i++ {
		off := (i*b.c + ch) * b.s
		dy := gout[off : off+b.s]
		var y []float32
		if b.relu {
			y = b.y.Data[off : off+b.s]
		}
		mask := b.relu
		switch {
		case w.dres && b.relu:
			reluMaskInto(w.rd[off:off+b.s], dy, y, w.rFresh)
			if w.rFresh { // the residual gradient is d itself
				dy, mask = w.rd[off:off+b.s], false
			}
		case w.dres && !w.rStolen:
			addOrCopy(w.rd[off:off+b.s], dy, w.rFresh)
		}
		if w.gx != nil {
			bnBackBody(w.gx[off:off+b.s], dy, b.x.Data[off:off+b.s], y, k, w.xFresh, mask)
		}
	}
}

// addOrCopy sets (fresh) or adds src into dst.
func addOrCopy(dst, src []float32, fresh bool) {
	if fresh {
		copy(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

func accumulate(old, v float32, fresh bool) float32 {
	if fresh {
		return v
	}
	return old + v
}

func orSelf(p, x *Tensor) *Tensor {
	if p == nil {
		return x
	}
	return p
}

func (g *Graph) gradBufOpt(t *Tensor) ([]float32, bool) {
	if t == nil {
		return nil, false
	}
	return g.gradBuf(t)
}

// channelStats returns the mean and biased variance of channel ch of x
// (n, c, s), in float64 with a shifted two-pass sum.
func channelStats(x []float32, n, c, s, ch int) (mean, variance float64) {
	var sum float64
	for i := 0; i < n; i++ {
		sum += blockSum(x[(i*c+ch)*s:(i*c+ch+1)*s], 0, false)
	}
	mean = sum / float64(n*s)
	var ss float64
	for i := 0; i < n; i++ {
		ss += blockSum(x[(i*c+ch)*s:(i*c+ch+1)*s], float32(mean), true)
	}
	return mean, ss / float64(n*s)
}

// groupNorm normalises x (N, C, ...) over groups of C/groups channels and
// all positions, then applies per-channel gamma/beta (either may be nil).
func (g *Graph) groupNorm(x *Tensor, groups int, gamma, beta *Tensor, eps float64) *Tensor {
	if g.bad() {
		return g.dead
	}
	if len(x.Shape) < 2 || groups < 1 || x.Shape[1]%groups != 0 {
		return g.fail("GroupNorm: %d groups for input %v (want C divisible by groups)", groups, x.Shape)
	}
	n, c := x.Shape[0], x.Shape[1]
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && len(p.Data) != c {
			return g.fail("GroupNorm: parameter of shape %v for %d channels", p.Shape, c)
		}
	}
	s := len(x.Data) / max(n*c, 1)
	return g.rowNorm(x, rowNormGeom{rows: n * groups, m: c / groups * s, groups: groups, cPerG: c / groups, s: s}, gamma, beta, eps)
}

// instanceNorm normalises each channel of each sample over its positions
// (InstanceNorm3d without running statistics); gamma/beta may be nil.
func (g *Graph) instanceNorm(x *Tensor, gamma, beta *Tensor, eps float64) *Tensor {
	if len(x.Shape) < 2 {
		return g.fail("InstanceNorm: input %v needs a channel dimension", x.Shape)
	}
	return g.groupNorm(x, x.Shape[1], gamma, beta, eps)
}

// layerNorm normalises over the last len(gamma) elements (the normalized
// shape) of x; gamma/beta may be nil, then size gives the normalized size.
func (g *Graph) layerNorm(x *Tensor, size int, gamma, beta *Tensor, eps float64) *Tensor {
	if g.bad() || g.refuseBF16("LayerNorm", x) {
		return g.dead
	}
	if !trailingProduct(x.Shape, size) {
		return g.fail("LayerNorm: normalized size %d is not the product of trailing dimensions of input %v", size, x.Shape)
	}
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && len(p.Data) != size {
			return g.fail("LayerNorm: parameter of shape %v for normalized size %d", p.Shape, size)
		}
	}
	return g.rowNorm(x, rowNormGeom{rows: len(x.Data) / size, m: size, groups: 1, cPerG: size, s: 1}, gamma, beta, eps)
}

// rowNormGeom: x is rows × m; the affine index of element j of row r is
// (r mod groups)·cPerG + j/s.
type rowNormGeom struct{ rows, m, groups, cPerG, s int }

func (g *Graph) rowNorm(x *Tensor, q rowNormGeom, gamma, beta *Tensor, eps float64) *Tensor {
	if eps == 0 {
		eps = 1e-5
	}
	stats := g.alloc(2, q.rows)
	mean, inv := stats.Data[:q.rows], stats.Data[q.rows:]
	y := g.alloc(x.Shape...)
	j := g.job
	j.s[0], j.s[1], j.s[2] = x.Data, y.Data, stats.Data
	j.t[0], j.t[1] = gamma, beta
	j.i = [4]int{q.rows, q.m, q.groups, q.cPerG}
	j.d[0] = eps
	g.runJob(q.rows, 3*q.m, rowNormBody)
	if g.rec(x, orSelf(gamma, x), orSelf(beta, x)) {
		g.record(y, func(gout []float32) {
			if gx, fresh := g.gradBuf(x); gx != nil {
				pfor(q.rows, 4*q.m, func(lo, hi int) {
					for r := lo; r < hi; r++ {
						q.rowBackward(r, x.Data, gout, gx, mean[r], inv[r], gamma, fresh)
					}
				})
			}
			gg, gb := g.gradAccOpt(gamma), g.gradAccOpt(beta)
			if gg == nil && gb == nil {
				return
			}
			for r := 0; r < q.rows; r++ {
				mf, is := mean[r], inv[r]
				base := (r % q.groups) * q.cPerG
				for k := 0; k < q.cPerG; k++ {
					off := r*q.m + k*q.s
					var sg, sb float32
					for i, d := range gout[off : off+q.s] {
						sg += d * (x.Data[off+i] - mf) * is
						sb += d
					}
					if gg != nil {
						gg[base+k] += sg
					}
					if gb != nil {
						gb[base+k] += sb
					}
				}
			}
		})
	}
	return y
}

// rowBackward writes (or adds) the input gradient of row r:
// dx = is·(d - mean(d) - x̂·mean(d·x̂)) with d = dy·gamma.
func (q rowNormGeom) rowBackward(r int, x, dy, dx []float32, mf, is float32, gamma *Tensor, fresh bool) {
	base := (r % q.groups) * q.cPerG
	var sd, sdx float64
	for k := 0; k < q.cPerG; k++ {
		off := r*q.m + k*q.s
		ga := float32(1)
		if gamma != nil {
			ga = gamma.Data[base+k]
		}
		var a, b float32
		for i, d := range dy[off : off+q.s] {
			d *= ga
			a += d
			b += d * (x[off+i] - mf) * is
		}
		sd += float64(a)
		sdx += float64(b)
	}
	k1, k2 := float32(sd/float64(q.m)), float32(sdx/float64(q.m))
	for k := 0; k < q.cPerG; k++ {
		off := r*q.m + k*q.s
		ga := float32(1)
		if gamma != nil {
			ga = gamma.Data[base+k]
		}
		dst := dx[off : off+q.s]
		for i, d := range dy[off : off+q.s] {
			v := is * (d*ga - k1 - (x[off+i]-mf)*is*k2)
			if !fresh {
				v += dst[i]
			}
			dst[i] = v
		}
	}
}

// rowNormBody normalises rows [lo, hi) (see Graph.rowNorm).
func rowNormBody(j *pjob, lo, hi int) {
	x, y, stats := j.s[0], j.s[1], j.s[2]
	gamma, beta := j.t[0], j.t[1]
	rows, m, groups, cPerG := j.i[0], j.i[1], j.i[2], j.i[3]
	s := m / cPerG
	for r := lo; r < hi; r++ {
		row := x[r*m : (r+1)*m]
		mu, vr := channelStats(row, 1, 1, m, 0)
		mf, is := float32(mu), float32(1/math.Sqrt(vr+j.d[0]))
		stats[r], stats[rows+r] = mf, is
		base := (r % groups) * cPerG
		if s == 1 { // LayerNorm: one value per feature, no inner loop to set up
			affineRow(y[r*m:(r+1)*m], row, is, -mf*is, gamma, beta, base)
			continue
		}
		for k := 0; k < cPerG; k++ {
			a, b := is, -mf*is
			if gamma != nil {
				a, b = a*gamma.Data[base+k], b*gamma.Data[base+k]
			}
			if beta != nil {
				b += beta.Data[base+k]
			}
			dst := y[r*m+k*s : r*m+(k+1)*s]
			for i, v := range row[k*s : (k+1)*s] {
				dst[i] = a*v + b
			}
		}
	}
}

// affineRow is rowNormBody's inner loop when every feature holds one value:
// dst[k] = a_k·x[k] + b_k with a_k, b_k those of the general loop
// (is, -mean·is, scaled by gamma[base+k], plus beta[base+k]).
func affineRow(dst, x []float32, is, shift float32, gamma, beta *Tensor, base int) {
	dst = dst[:len(x)]
	var gm, bt []float32
	if gamma != nil {
		gm = gamma.Data[base : base+len(x)]
	}
	if beta != nil {
		bt = beta.Data[base : base+len(x)]
	}
	if gm != nil && bt != nil { // LayerNorm's affine parameters
		n := lnAffineVec(dst, x, gm, bt, is, shift)
		dst, x, gm, bt = dst[n:], x[n:], gm[n:], bt[n:]
	}
	for k, v := range x {
		a, b := is, shift
		if gm != nil {
			a, b = a*gm[k], b*gm[k]
		}
		if bt != nil {
			b += bt[k]
		}
		dst[k] = a*v + b
	}
}

func (g *Graph) gradAccOpt(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return g.gradAcc(t)
}

// bnForwardBody normalises channels [lo, hi) (see Graph.BatchNormAct):
// y = a·x + b (+ residual) (then max(·, 0)), rounded step by step as the
// unfused operations.
func bnForwardBody(j *pjob, lo, hi int) {
	x, y, stats, res := j.s[0], j.s[1], j.s[2], j.s[3]
	gamma, beta, runMean, runVar := j.t[0], j.t[1], j.t[2], j.t[3]
	n, c, s := j.i[0], j.i[1], j.i[2]
	momentum, eps := j.d[0], j.d[1]
	m := n * s
	mean, inv := stats[:c], stats[c:]
	for ch := lo; ch < hi; ch++ {
		var mu, vr float64
		if j.b {
			mu, vr = channelStats(x, n, c, s, ch)
			if runMean != nil {
				runMean.Data[ch] = float32((1-momentum)*float64(runMean.Data[ch]) + momentum*mu)
			}
			if runVar != nil {
				runVar.Data[ch] = float32((1-momentum)*float64(runVar.Data[ch]) + momentum*vr*float64(m)/float64(m-1))
			}
		} else {
			mu, vr = float64(runMean.Data[ch]), float64(runVar.Data[ch])
		}
		is := 1 / math.Sqrt(vr+eps)
		mean[ch], inv[ch] = float32(mu), float32(is)
		a, b := float32(is), float32(-mu*is)
		if gamma != nil {
			a, b = a*gamma.Data[ch], b*gamma.Data[ch]
		}
		if beta != nil {
			b += beta.Data[ch]
		}
		for i := 0; i < n; i++ {
			lo, hi := (i*c+ch)*s, (i*c+ch+1)*s
			var r []float32
			if res != nil {
				r = res[lo:hi]
			}
			bnApply(y[lo:hi], x[lo:hi], r, a, b, j.b2)
		}
	}
}

// trailingProduct reports whether some trailing dimensions of shape
// multiply to exactly size (LayerNorm's normalized_shape).
func trailingProduct(shape []int, size int) bool {
	p := 1
	for i := len(shape) - 1; i >= 0 && p < size; i-- {
		p *= shape[i]
	}
	return size >= 1 && p == size
}
