package nn

import (
	"fmt"
	"math"
)

// Reduction says how per-sample losses are combined.
type Reduction int

const (
	// ReduceMean averages (weighted mean when class weights are given, as
	// PyTorch). It is the default.
	ReduceMean Reduction = iota
	// ReduceSum adds the per-sample losses.
	ReduceSum
	// ReduceNone returns the per-sample losses.
	ReduceNone
)

// CEOptions configures CrossEntropy (torch.nn.functional.cross_entropy).
// Negative targets (PyTorch's default ignore_index is -100) are ignored and
// excluded from the mean.
type CEOptions struct {
	// Weight rescales each class (len C); nil means 1.
	Weight []float32
	// LabelSmoothing ε mixes the target with the uniform distribution.
	LabelSmoothing float64
	// Reduction combines the per-sample losses (mean by default).
	Reduction Reduction
}

// CrossEntropy is the softmax cross-entropy of logits (N, C) or
// (N, C, d1, ...) against class indices (N) or (N, d1, ...), with PyTorch
// semantics for class weights, label smoothing and ignored targets:
// loss_i = (1-ε)·w[y_i]·(-log p_{y_i}) + ε/C·Σ_c w[c]·(-log p_c), and the
// mean divides by Σ_i w[y_i] over non-ignored samples.
func (g *Graph) CrossEntropy(logits *Tensor, targets []int, o CEOptions) *Tensor {
	if g.bad() || g.refuseBF16("CrossEntropy", logits) {
		return g.dead
	}
	if len(logits.Shape) < 2 {
		return g.fail("CrossEntropy: logits %v need a class dimension (N, C, ...)", logits.Shape)
	}
	n, c, inner := axisSplit(logits.Shape, 1)
	if len(targets) != n*inner {
		return g.fail("CrossEntropy: %d targets for logits %v (want %d)", len(targets), logits.Shape, n*inner)
	}
	if o.Weight != nil && len(o.Weight) != c {
		return g.fail("CrossEntropy: %d class weights for %d classes", len(o.Weight), c)
	}
	for _, t := range targets {
		if t >= c {
			return g.fail("CrossEntropy: target %d out of range for %d classes", t, c)
		}
	}
	w := func(k int) float64 {
		if o.Weight == nil {
			return 1
		}
		return float64(o.Weight[k])
	}
	eps := o.LabelSmoothing
	rows := n * inner
	logp := make([]float64, rows*c) // row-major (sample, class)
	per := make([]float64, rows)
	var denom float64
	for r := 0; r < rows; r++ {
		base := (r/inner)*c*inner + r%inner
		lp := logp[r*c : (r+1)*c]
		m := math.Inf(-1)
		for k := 0; k < c; k++ {
			m = math.Max(m, float64(logits.Data[base+k*inner]))
		}
		var s float64
		for k := 0; k < c; k++ {
			s += math.Exp(float64(logits.Data[base+k*inner]) - m)
		}
		ls := m + math.Log(s)
		for k := 0; k < c; k++ {
			lp[k] = float64(logits.Data[base+k*inner]) - ls
		}
		t := targets[r]
		if t < 0 {
			continue
		}
		l := -(1 - eps) * w(t) * lp[t]
		if eps > 0 {
			var sm float64
			for k := 0; k < c; k++ {
				sm -= w(k) * lp[k]
			}
			l += eps / float64(c) * sm
		}
		per[r] = l
		denom += w(t)
	}
	out, scale := g.reduceLoss(per, n, inner, logits.Shape, o.Reduction, denom)
	if g.rec(logits) {
		g.record(out, func(gout []float32) {
			gx := g.gradAcc(logits)
			for r := 0; r < rows; r++ {
				t := targets[r]
				if t < 0 {
					continue
				}
				gs := lossGrad(gout, r, o.Reduction) * scale
				base := (r/inner)*c*inner + r%inner
				// a_k: coefficient of -log p_k in the loss; dL/dz_k = -a_k + p_k·Σa.
				var sa float64
				for k := 0; k < c; k++ {
					sa += ceCoef(k, t, c, eps, w)
				}
				for k := 0; k < c; k++ {
					p := math.Exp(logp[r*c+k])
					gx[base+k*inner] += float32(gs * (p*sa - ceCoef(k, t, c, eps, w)))
				}
			}
		})
	}
	return out
}

func ceCoef(k, t, c int, eps float64, w func(int) float64) float64 {
	a := eps / float64(c) * w(k)
	if k == t {
		a += (1 - eps) * w(t)
	}
	return a
}

// reduceLoss builds the loss tensor from per-sample values and returns the
// factor each sample's gradient is multiplied by.
func (g *Graph) reduceLoss(per []float64, n, inner int, shape []int, red Reduction, denom float64) (*Tensor, float64) {
	switch red {
	case ReduceNone:
		s := []int{n}
		if len(shape) > 2 {
			s = append(s, shape[2:]...)
		}
		out := g.alloc(s...)
		for i, v := range per {
			out.Data[i] = float32(v)
		}
		return out, 1
	case ReduceSum:
		var s float64
		for _, v := range per {
			s += v
		}
		out := g.alloc()
		out.Data[0] = float32(s)
		return out, 1
	default:
		var s float64
		for _, v := range per {
			s += v
		}
		out := g.alloc()
		if denom == 0 {
			out.Data[0] = float32(math.NaN()) // PyTorch: mean over no samples is NaN
			return out, 0
		}
		out.Data[0] = float32(s / denom)
		return out, 1 / denom
	}
}

func lossGrad(gout []float32, r int, red Reduction) float64 {
	if red == ReduceNone {
		return float64(gout[r])
	}
	return float64(gout[0])
}

// BCEOptions configures BCEWithLogits.
type BCEOptions struct {
	// PosWeight multiplies the positive term per class (last dimension),
	// as torch's pos_weight; nil means 1.
	PosWeight []float32
	Reduction Reduction
}

// BCEWithLogits is torch.nn.functional.binary_cross_entropy_with_logits:
// -[pw·y·log σ(x) + (1-y)·log(1-σ(x))], computed stably.
func (g *Graph) BCEWithLogits(logits, targets *Tensor, o BCEOptions) *Tensor {
	if g.bad() || g.refuseBF16("BCEWithLogits", logits) || g.refuseBF16("BCEWithLogits", targets) {
		return g.dead
	}
	if !SameShape(logits.Shape, targets.Shape) {
		return g.fail("BCEWithLogits: logits %v and targets %v differ", logits.Shape, targets.Shape)
	}
	last := 1
	if len(logits.Shape) > 0 {
		last = logits.Shape[len(logits.Shape)-1]
	}
	if o.PosWeight != nil && len(o.PosWeight) != last {
		return g.fail("BCEWithLogits: %d pos weights for last dimension %d", len(o.PosWeight), last)
	}
	pw := func(i int) float64 {
		if o.PosWeight == nil {
			return 1
		}
		return float64(o.PosWeight[i%last])
	}
	per := make([]float64, len(logits.Data))
	for i, xv := range logits.Data {
		x, y := float64(xv), float64(targets.Data[i])
		per[i] = pw(i)*y*softplus(-x) + (1-y)*softplus(x)
	}
	out, scale := g.flatLoss(per, logits.Shape, o.Reduction)
	if g.rec(logits, targets) {
		g.record(out, func(gout []float32) {
			if gx := g.gradAcc(logits); gx != nil {
				for i, xv := range logits.Data {
					x, y := float64(xv), float64(targets.Data[i])
					s := 1 / (1 + math.Exp(-x))
					gx[i] += float32(lossGrad(gout, i, o.Reduction) * scale * (pw(i)*y*(s-1) + (1-y)*s))
				}
			}
			if gt := g.gradAcc(targets); gt != nil {
				for i, xv := range logits.Data {
					x := float64(xv)
					gt[i] += float32(lossGrad(gout, i, o.Reduction) * scale * (pw(i)*softplus(-x) - softplus(x)))
				}
			}
		})
	}
	return out
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// flatLoss reduces elementwise losses (mean over all elements).
func (g *Graph) flatLoss(per []float64, shape []int, red Reduction) (*Tensor, float64) {
	if red == ReduceNone {
		out := g.alloc(shape...)
		for i, v := range per {
			out.Data[i] = float32(v)
		}
		return out, 1
	}
	var s float64
	for _, v := range per {
		s += v
	}
	out := g.alloc()
	if red == ReduceSum {
		out.Data[0] = float32(s)
		return out, 1
	}
	out.Data[0] = float32(s / float64(len(per)))
	return out, 1 / float64(len(per))
}

// MSE is the mean squared error (torch.nn.functional.mse_loss).
func (g *Graph) MSE(pred, target *Tensor, red Reduction) *Tensor {
	if g.bad() || g.refuseBF16("MSE", pred) || g.refuseBF16("MSE", target) {
		return g.dead
	}
	if !SameShape(pred.Shape, target.Shape) {
		return g.fail("MSE: prediction %v and target %v differ", pred.Shape, target.Shape)
	}
	d := g.Sub(pred, target)
	sq := g.Square(d)
	switch red {
	case ReduceNone:
		return sq
	case ReduceSum:
		return g.Sum(sq)
	}
	return g.Mean(sq)
}

// FocalOptions configures FocalLoss.
type FocalOptions struct {
	// Gamma is the focusing exponent (2 in Lin et al.).
	Gamma float64
	// Alpha weights each class (len C); nil means 1.
	Alpha     []float32
	Reduction Reduction
}

// FocalLoss is the multi-class focal loss of Lin et al. 2017,
// -α_y·(1-p_y)^γ·log p_y, over logits (N, C) and class indices (N);
// negative targets are ignored. The mean is over non-ignored samples.
func (g *Graph) FocalLoss(logits *Tensor, targets []int, o FocalOptions) *Tensor {
	if g.bad() || g.refuseBF16("FocalLoss", logits) {
		return g.dead
	}
	if len(logits.Shape) != 2 || len(targets) != logits.Shape[0] {
		return g.SetErr(fmt.Errorf("%w: FocalLoss: logits %v and %d targets (want (N, C) and N)", ErrShape, logits.Shape, len(targets)))
	}
	n, c := logits.Shape[0], logits.Shape[1]
	if o.Alpha != nil && len(o.Alpha) != c {
		return g.fail("FocalLoss: %d alphas for %d classes", len(o.Alpha), c)
	}
	alpha := func(k int) float64 {
		if o.Alpha == nil {
			return 1
		}
		return float64(o.Alpha[k])
	}
	probs := make([]float64, n*c)
	per := make([]float64, n)
	var cnt float64
	for i := 0; i < n; i++ {
		row := logits.Data[i*c : (i+1)*c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		for k, v := range row {
			probs[i*c+k] = math.Exp(float64(v)-m) / s
		}
		t := targets[i]
		if t < 0 {
			continue
		}
		if t >= c {
			return g.fail("FocalLoss: target %d out of range for %d classes", t, c)
		}
		lp := float64(row[t]) - m - math.Log(s)
		per[i] = -alpha(t) * math.Pow(1-probs[i*c+t], o.Gamma) * lp
		cnt++
	}
	out, scale := g.reduceLoss(per, n, 1, logits.Shape[:1], o.Reduction, cnt)
	if g.rec(logits) {
		g.record(out, func(gout []float32) {
			gx := g.gradAcc(logits)
			for i := 0; i < n; i++ {
				t := targets[i]
				if t < 0 {
					continue
				}
				p := probs[i*c+t]
				lp := math.Log(math.Max(p, 1e-300))
				q := 1 - p
				// dL/dz_k = -α(δ_kt - p_k)[(1-p)^γ - γ(1-p)^(γ-1)·p·log p]
				f := math.Pow(q, o.Gamma)
				if o.Gamma != 0 && q > 0 {
					f -= o.Gamma * math.Pow(q, o.Gamma-1) * p * lp
				}
				gs := lossGrad(gout, i, o.Reduction) * scale * alpha(t) * f
				for k := 0; k < c; k++ {
					d := -probs[i*c+k]
					if k == t {
						d++
					}
					gx[i*c+k] -= float32(gs * d)
				}
			}
		})
	}
	return out
}
