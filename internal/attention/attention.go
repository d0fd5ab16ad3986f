package attention

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/ops"
	"github.com/metasurv/metasurv/internal/parallel"
)

// ErrShape is wrapped by every error about an invalid configuration or
// buffer, so callers can test for it with errors.Is.
var ErrShape = errors.New("attention: invalid shape")

// Layout gives the strides, in floats, of one (B, heads, T, D) operand;
// elements of a row (the D values of one token and head) are contiguous.
// The zero Layout means contiguous (B, heads, T, D).
type Layout struct{ Batch, Head, Row int }

// TokenMajor is the (B, T, heads*D) layout of a linear layer's output
// split into heads without a copy (MONAI's "b l (h d)"); it is also the
// layout the output projection wants.
func TokenMajor(heads, t, d int) Layout { return Layout{Batch: t * heads * d, Head: d, Row: heads * d} }

// PackedQKV is the layout of Q, K or V inside a fused qkv projection output
// (B, T, 3*heads*D) as MONAI's SABlock splits it ("b h (qkv l d)"): pass
// the same buffer offset by 0, heads*D and 2*heads*D for Q, K and V.
func PackedQKV(heads, t, d int) Layout {
	return Layout{Batch: t * 3 * heads * d, Head: d, Row: 3 * heads * d}
}

// Config describes scaled-dot-product self-attention over B batches of
// Heads heads, each with T tokens of dimension D.
type Config struct {
	B, Heads, T, D int
	// Scale multiplies Q·Kᵀ; zero means 1/sqrt(D).
	Scale float32
	// Layouts of the operands; zero values mean contiguous (B, Heads, T, D).
	Q, K, V, Out Layout
	// BF16 runs Forward's two products (Q·Kᵀ and P·V) in bfloat16 with
	// float32 accumulation where the CPU has AVX512_BF16 (gemm.HaveBF16),
	// as torch's autocast does: Q, K, V and the softmax numerators are
	// rounded to bfloat16 (8-bit mantissa), the scale, softmax and sums
	// stay float32. Elsewhere, and in Backward, it has no effect.
	BF16 bool
}

func (c Config) layout(l Layout) Layout {
	if l == (Layout{}) {
		return Layout{Batch: c.Heads * c.T * c.D, Head: c.T * c.D, Row: c.D}
	}
	return l
}

// need returns the minimum slice length for an operand with layout l.
func (c Config) need(l Layout) int {
	return (c.B-1)*l.Batch + (c.Heads-1)*l.Head + (c.T-1)*l.Row + c.D
}

// FLOPs is 4*B*Heads*T*T*D, the multiply-adds of Q·Kᵀ and P·V times two.
func (c Config) FLOPs() float64 {
	return 4 * float64(c.B*c.Heads) * float64(c.T) * float64(c.T) * float64(c.D)
}

// Plan runs attention for one Config with per-worker scratch (the T×T
// score matrices), so calls allocate nothing after the first. It is not
// safe for concurrent use.
type Plan struct {
	c       Config
	scratch [][]float32 // per worker: scores/probabilities and their gradient
	next    atomic.Int64

	// per-call operands
	q, k, v, o     []float32
	dq, dk, dv, do []float32
	backward       bool
	fn             func(lo, hi int)
	// serial: a head's products run on its worker alone (see run)
	serial bool
	bf16   bool // Config.BF16 on a CPU with bfloat16 products
}

// sgemm runs one of a head's products: gemm.SgemmSerial when the heads
// keep every worker busy (p.serial), gemm.Sgemm otherwise.
func (p *Plan) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p.serial {
		gemm.SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemm.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmBF16 is sgemm in bfloat16 (Config.BF16), C overwritten.
func (p *Plan) sgemmBF16(transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if p.serial {
		gemm.SgemmBF16Serial(false, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
		return
	}
	gemm.SgemmBF16(false, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, nil)
}

// NewPlan validates c (applying the defaults) and sizes the scratch.
func NewPlan(c Config) (*Plan, error) {
	if c.B <= 0 || c.Heads <= 0 || c.T <= 0 || c.D <= 0 {
		return nil, fmt.Errorf("%w: B, Heads, T, D must be positive, got %d, %d, %d, %d", ErrShape, c.B, c.Heads, c.T, c.D)
	}
	if c.Scale == 0 {
		c.Scale = float32(1 / math.Sqrt(float64(c.D)))
	}
	c.Q, c.K, c.V, c.Out = c.layout(c.Q), c.layout(c.K), c.layout(c.V), c.layout(c.Out)
	for _, l := range []Layout{c.Q, c.K, c.V, c.Out} {
		if l.Row < c.D || l.Batch < 0 || l.Head < 0 {
			return nil, fmt.Errorf("%w: layout %+v: row stride must be at least D=%d and strides non-negative", ErrShape, l, c.D)
		}
	}
	p := &Plan{c: c, bf16: c.BF16 && gemm.HaveBF16()}
	p.fn = p.work
	return p, nil
}

// Config returns the configuration with defaults applied.
func (p *Plan) Config() Config { return p.c }

func (p *Plan) check(names string, bufs ...[]float32) error {
	ls := []Layout{p.c.Q, p.c.K, p.c.V, p.c.Out}
	for i, b := range bufs {
		if need := p.c.need(ls[i%4]); len(b) < need {
			return fmt.Errorf("%w: %s operand %d has %d floats, its layout needs %d", ErrShape, names, i, len(b), need)
		}
	}
	return nil
}

// Forward computes out = softmax(scale·Q·Kᵀ)·V for every batch and head,
// with a numerically stable softmax over the keys.
func (p *Plan) Forward(out, q, k, v []float32) error {
	if err := p.check("forward", q, k, v, out); err != nil {
		return err
	}
	p.q, p.k, p.v, p.o, p.backward = q, k, v, out, false
	p.run()
	return nil
}

// Backward computes dq, dk, dv (overwritten; layouts of Q, K, V) from dout
// (layout of Out) and the forward inputs, recomputing the probabilities
// instead of storing them.
func (p *Plan) Backward(dq, dk, dv, dout, q, k, v []float32) error {
	if err := p.check("backward", q, k, v, dout, dq, dk, dv); err != nil {
		return err
	}
	p.q, p.k, p.v, p.do = q, k, v, dout
	p.dq, p.dk, p.dv, p.backward = dq, dk, dv, true
	p.run()
	return nil
}

// run processes the B*Heads heads, handed out one at a time to workers
// that each own a scratch buffer.
func (p *Plan) run() {
	w := min(parallel.Workers(), p.c.B*p.c.Heads)
	for len(p.scratch) < w {
		p.scratch = append(p.scratch, make([]float32, 2*p.c.T*p.c.T))
	}
	p.next.Store(0)
	// A head's products are a few MFLOP, enough for Sgemm to split them
	// across the pool: from inside a worker that only queues jobs nobody
	// else takes and adds barriers. They run serially when the heads
	// alone keep the workers busy: at least two per worker, or a whole
	// number per worker.
	n := p.c.B * p.c.Heads
	p.serial = w > 1 && (n >= 2*w || n%w == 0)
	parallel.For(w, p.fn)
	p.q, p.k, p.v, p.o, p.dq, p.dk, p.dv, p.do = nil, nil, nil, nil, nil, nil, nil, nil
}

func (p *Plan) work(lo, hi int) {
	c := &p.c
	for slot := lo; slot < hi; slot++ {
		s := p.scratch[slot]
		for {
			bh := int(p.next.Add(1)) - 1
			if bh >= c.B*c.Heads {
				break
			}
			b, h := bh/c.Heads, bh%c.Heads
			off := func(l Layout) int { return b*l.Batch + h*l.Head }
			if p.backward {
				p.headBackward(s, off(c.Q), off(c.K), off(c.V), off(c.Out))
			} else {
				p.headForward(s, off(c.Q), off(c.K), off(c.V), off(c.Out))
			}
		}
	}
}

// probs fills s (T×T) with softmax(scale·Q·Kᵀ) for one head.
func (p *Plan) probs(s []float32, qo, ko int) {
	c := &p.c
	p.sgemm(false, true, c.T, c.T, c.D, c.Scale, p.q[qo:], c.Q.Row, p.k[ko:], c.K.Row, 0, s, c.T)
	for r := range c.T {
		ops.SoftmaxRow(s[r*c.T:(r+1)*c.T], s[r*c.T:(r+1)*c.T])
	}
}

// headForward computes one head's output. The rows of exp(S - max) are
// multiplied by V unnormalised and the T×D product's rows divided by
// their sums, instead of the T×T probabilities' (D < T: fewer products,
// 10 % of a ViT head's time). The second half of s, the backward pass's
// gradient buffer, holds the reciprocal sums.
//
// With Config.BF16 the products run in bfloat16 and Q·Kᵀ comes out
// unscaled: the scale is applied inside the exponential (in float32),
// not to Q before rounding.
func (p *Plan) headForward(s []float32, qo, ko, vo, oo int) {
	c := &p.c
	t := c.T
	inv := s[t*t : t*t+t]
	if p.bf16 {
		p.sgemmBF16(true, t, t, c.D, p.q[qo:], c.Q.Row, p.k[ko:], c.K.Row, s, t)
		for r := range t {
			inv[r] = 1 / ops.ExpScaleShiftRow(s[r*t:(r+1)*t], s[r*t:(r+1)*t], c.Scale)
		}
		p.sgemmBF16(false, t, c.D, t, s, t, p.v[vo:], c.V.Row, p.o[oo:], c.Out.Row)
	} else {
		p.sgemm(false, true, t, t, c.D, c.Scale, p.q[qo:], c.Q.Row, p.k[ko:], c.K.Row, 0, s, t)
		for r := range t {
			inv[r] = 1 / ops.ExpShiftRow(s[r*t:(r+1)*t], s[r*t:(r+1)*t])
		}
		p.sgemm(false, false, t, c.D, t, 1, s, t, p.v[vo:], c.V.Row, 0, p.o[oo:], c.Out.Row)
	}
	for r, f := range inv {
		row := p.o[oo+r*c.Out.Row : oo+r*c.Out.Row+c.D]
		for i := range row {
			row[i] *= f
		}
	}
}

// headBackward: with P = softmax(S), dV = Pᵀ·dO, dP = dO·Vᵀ,
// dS = P∘(dP - rowsum(dP∘P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
func (p *Plan) headBackward(s []float32, qo, ko, vo, oo int) {
	c := &p.c
	T := c.T
	pm, dp := s[:T*T], s[T*T:]
	p.probs(pm, qo, ko)
	p.sgemm(true, false, T, c.D, T, 1, pm, T, p.do[oo:], c.Out.Row, 0, p.dv[vo:], c.V.Row)
	p.sgemm(false, true, T, T, c.D, 1, p.do[oo:], c.Out.Row, p.v[vo:], c.V.Row, 0, dp, T)
	for r := range T {
		ops.SoftmaxBackwardRow(dp[r*T:(r+1)*T], pm[r*T:(r+1)*T], dp[r*T:(r+1)*T])
	}
	p.sgemm(false, false, T, c.D, T, c.Scale, dp, T, p.k[ko:], c.K.Row, 0, p.dq[qo:], c.Q.Row)
	p.sgemm(true, false, T, c.D, T, c.Scale, dp, T, p.q[qo:], c.Q.Row, 0, p.dk[ko:], c.K.Row)
}
