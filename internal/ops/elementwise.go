package ops

import (
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// grain is the number of elements below which elementwise kernels stay on
// one goroutine: about 10 µs of work, enough to amortise waking a worker.
const grain = 1 << 15

// each runs fn over [0,n) in parallel chunks when n is large enough to pay.
func each(n int, fn func(lo, hi int)) {
	if n < 2*grain {
		fn(0, n)
		return
	}
	parallel.ForChunks(n, grain, fn)
}

// Every elementwise kernel below writes len(dst) results and reads the same
// number of elements from each input; inputs shorter than dst are a
// programming error (index out of range). dst may alias any input.

// Add sets dst = a + b.
func Add(dst, a, b []float32) {
	each(len(dst), func(lo, hi int) { addVec(dst[lo:hi], a[lo:hi], b[lo:hi]) })
}

// Sub sets dst = a - b.
func Sub(dst, a, b []float32) {
	each(len(dst), func(lo, hi int) {
		a, b := a[lo:hi], b[lo:hi]
		for i := range dst[lo:hi] {
			dst[lo+i] = a[i] - b[i]
		}
	})
}

// Mul sets dst = a * b (elementwise).
func Mul(dst, a, b []float32) {
	each(len(dst), func(lo, hi int) { mulVec(dst[lo:hi], a[lo:hi], b[lo:hi]) })
}

// Scale sets dst = alpha * x.
func Scale(dst []float32, alpha float32, x []float32) {
	each(len(dst), func(lo, hi int) { scaleVec(dst[lo:hi], alpha, x[lo:hi]) })
}

// Axpy sets y += alpha * x, the update step of optimizers and gradient
// accumulation.
func Axpy(alpha float32, x, y []float32) {
	each(len(y), func(lo, hi int) { axpyVec(alpha, x[lo:hi], y[lo:hi]) })
}

// AddScalar sets dst = x + c.
func AddScalar(dst []float32, c float32, x []float32) {
	each(len(dst), func(lo, hi int) {
		x := x[lo:hi]
		for i := range dst[lo:hi] {
			dst[lo+i] = x[i] + c
		}
	})
}

// ReLU sets dst = max(x, 0).
func ReLU(dst, x []float32) {
	each(len(dst), func(lo, hi int) { reluVec(dst[lo:hi], x[lo:hi]) })
}

// ReLUBackward sets dx = dy where x > 0 and 0 elsewhere (x may be the ReLU
// output instead of its input: both are positive at the same places).
func ReLUBackward(dx, x, dy []float32) {
	each(len(dx), func(lo, hi int) {
		x, dy := x[lo:hi], dy[lo:hi]
		for i := range dx[lo:hi] {
			if x[i] > 0 {
				dx[lo+i] = dy[i]
			} else {
				dx[lo+i] = 0
			}
		}
	})
}

// LeakyReLU sets dst = x for x > 0 and slope*x otherwise (torch default slope 0.01).
func LeakyReLU(dst, x []float32, slope float32) {
	each(len(dst), func(lo, hi int) {
		x := x[lo:hi]
		for i := range dst[lo:hi] {
			v := x[i]
			if v <= 0 {
				v *= slope
			}
			dst[lo+i] = v
		}
	})
}

// LeakyReLUBackward sets dx = dy for x > 0 and slope*dy otherwise.
func LeakyReLUBackward(dx, x, dy []float32, slope float32) {
	each(len(dx), func(lo, hi int) {
		x, dy := x[lo:hi], dy[lo:hi]
		for i := range dx[lo:hi] {
			g := dy[i]
			if x[i] <= 0 {
				g *= slope
			}
			dx[lo+i] = g
		}
	})
}

// sigmoid is 1/(1+e^-x); e^-x overflowing to +Inf correctly gives 0.
func sigmoid(x float32) float32 { return 1 / (1 + Exp(-x)) }

// block is the stack buffer size of kernels that need exp of a chunk.
const block = 256

// Sigmoid sets dst = 1/(1+exp(-x)).
func Sigmoid(dst, x []float32) {
	each(len(dst), func(lo, hi int) {
		var e [block]float32
		for i := lo; i < hi; i += block {
			xs := x[i:min(i+block, hi)]
			es := e[:len(xs)]
			expAffine(es, xs, -1, 0)
			for t, v := range es {
				dst[i+t] = 1 / (1 + v)
			}
		}
	})
}

// SigmoidBackward sets dx = dy * y * (1-y) from the forward output y.
func SigmoidBackward(dx, y, dy []float32) {
	each(len(dx), func(lo, hi int) {
		y, dy := y[lo:hi], dy[lo:hi]
		for i := range dx[lo:hi] {
			dx[lo+i] = dy[i] * y[i] * (1 - y[i])
		}
	})
}

// Tanh sets dst = tanh(x).
func Tanh(dst, x []float32) {
	each(len(dst), func(lo, hi int) {
		x := x[lo:hi]
		for i := range dst[lo:hi] {
			dst[lo+i] = tanh(x[i])
		}
	})
}

// tanh is 1 - 2/(e^{2x}+1) away from zero and an odd Taylor series near it,
// where the subtraction would cancel.
func tanh(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.0625 {
		x2 := x * x
		return x * (1 - x2*(1.0/3-x2*(2.0/15-x2*17.0/315)))
	}
	if a > 9.1 {
		return float32(math.Copysign(1, float64(x)))
	}
	return 1 - 2/(Exp(2*x)+1)
}

// TanhBackward sets dx = dy * (1 - y²) from the forward output y.
func TanhBackward(dx, y, dy []float32) {
	each(len(dx), func(lo, hi int) {
		y, dy := y[lo:hi], dy[lo:hi]
		for i := range dx[lo:hi] {
			dx[lo+i] = dy[i] * (1 - y[i]*y[i])
		}
	})
}

// SiLU sets dst = x * sigmoid(x) (Swish, EfficientNet's activation).
func SiLU(dst, x []float32) {
	each(len(dst), func(lo, hi int) {
		var e [block]float32
		for i := lo; i < hi; i += block {
			xs := x[i:min(i+block, hi)]
			es := e[:len(xs)]
			expAffine(es, xs, -1, 0)
			for t, v := range es {
				dst[i+t] = xs[t] / (1 + v)
			}
		}
	})
}

// SiLUBackward sets dx = dy * s * (1 + x*(1-s)), s = sigmoid(x).
func SiLUBackward(dx, x, dy []float32) {
	each(len(dx), func(lo, hi int) {
		var e [block]float32
		for i := lo; i < hi; i += block {
			xs := x[i:min(i+block, hi)]
			es := e[:len(xs)]
			expAffine(es, xs, -1, 0)
			for t, v := range es {
				s := 1 / (1 + v)
				dx[i+t] = dy[i+t] * s * (1 + xs[t]*(1-s))
			}
		}
	})
}

// invSqrt2Pi is 1/sqrt(2*pi), the peak of the standard normal density.
const invSqrt2Pi = 0.3989422804014327

// GELU sets dst = x * Φ(x) with the exact normal CDF Φ(x) = erfc(-x/√2)/2,
// torch.nn.GELU()'s default (approximate='none'), accurate to a few float32
// ulps including the negative tail.
func GELU(dst, x []float32) {
	each(len(dst), func(lo, hi int) { geluVec(dst[lo:hi], x[lo:hi]) })
}

func geluGo(dst, x []float32) {
	for i := range dst {
		v := float64(x[i])
		dst[i] = float32(v * normCDF(v))
	}
}

// GELUBackward sets dx = dy * (Φ(x) + x*φ(x)), φ the normal density.
func GELUBackward(dx, x, dy []float32) {
	each(len(dx), func(lo, hi int) {
		dx, x, dy := dx[lo:hi], x[lo:hi], dy[lo:hi]
		n16 := 0
		if vecExp() {
			n16 = len(dx) &^ 15
			if n16 > 0 {
				geluGradAVX512(dx[:n16], x[:n16], dy[:n16])
			}
		}
		for i := n16; i < len(dx); i++ {
			v := float64(x[i])
			d := normCDF(v) + v*invSqrt2Pi*math.Exp(-0.5*v*v)
			dx[i] = float32(float64(dy[i]) * d)
		}
	})
}

func addGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func mulGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func scaleGo(dst []float32, alpha float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = alpha * x[i]
	}
}

func axpyGo(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

func reluGo(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		v := x[i]
		if v < 0 { // NaN propagates, as in torch
			v = 0
		}
		dst[i] = v
	}
}
