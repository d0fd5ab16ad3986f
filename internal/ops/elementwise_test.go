package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

func gelu64(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }
func sig64(x float64) float64  { return 1 / (1 + math.Exp(-x)) }

// unary lists each activation with its float64 reference and gradient kernel.
var unary = []struct {
	name string
	fwd  func(dst, x []float32)
	ref  func(float64) float64
	// back computes dx from the forward input x, output y and dy.
	back func(dx, x, y, dy []float32)
}{
	{"relu", ReLU, func(x float64) float64 { return math.Max(x, 0) }, func(dx, x, y, dy []float32) { ReLUBackward(dx, x, dy) }},
	{"leaky", func(d, x []float32) { LeakyReLU(d, x, 0.01) },
		func(x float64) float64 { return math.Max(x, 0) + 0.01*math.Min(x, 0) },
		func(dx, x, y, dy []float32) { LeakyReLUBackward(dx, x, dy, 0.01) }},
	{"sigmoid", Sigmoid, sig64, func(dx, x, y, dy []float32) { SigmoidBackward(dx, y, dy) }},
	{"tanh", Tanh, math.Tanh, func(dx, x, y, dy []float32) { TanhBackward(dx, y, dy) }},
	{"silu", SiLU, func(x float64) float64 { return x * sig64(x) }, func(dx, x, y, dy []float32) { SiLUBackward(dx, x, dy) }},
	{"gelu", GELU, gelu64, func(dx, x, y, dy []float32) { GELUBackward(dx, x, dy) }},
}

func TestUnaryMatchesFloat64(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range []int{1, 7, 33, 1000, 3*grain + 5} {
			x := randN(r, n, 3)
			x[0] = -9.5 // far tail of GELU/sigmoid
			if n > 2 {
				x[1], x[2] = 1e-4, -0.03
			}
			dy := randN(r, n, 1)
			for _, u := range unary {
				y := make([]float32, n)
				u.fwd(y, x)
				want, dwant := make([]float64, n), make([]float64, n)
				for i, v := range x {
					xv := float64(v)
					want[i] = u.ref(xv)
					h := 1e-6 * math.Max(1, math.Abs(xv))
					if u.name == "relu" || u.name == "leaky" {
						h = 1e-9 * math.Abs(xv) // stay on one side of the kink
					}
					dwant[i] = float64(dy[i]) * (u.ref(xv+h) - u.ref(xv-h)) / (2 * h)
				}
				checkRelEach(t, u.name, y, want, 1e-5, 1e-30)
				dx := make([]float32, n)
				u.back(dx, x, y, dy)
				// Kernels that use the output y (as torch's do) inherit its
				// rounding where y saturates: measure relative to 10% of |dy|.
				for i := range dwant {
					if d := math.Abs(float64(dx[i]) - dwant[i]); !(d <= 1e-5*math.Max(math.Abs(dwant[i]), 0.1*math.Abs(float64(dy[i])))) {
						t.Fatalf("%s backward[%d] at x=%g: %g, want %g", u.name, i, x[i], dx[i], dwant[i])
					}
				}
			}
		}
	})
}

// checkRelEach fails when any value differs by more than tol relative to
// max(|want|, floor).
func checkRelEach(t *testing.T, what string, got []float32, want []float64, tol, floor float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*math.Max(math.Abs(w), floor)) {
			t.Fatalf("%s[%d] = %g, want %g (rel err %.3g)", what, i, got[i], w, d/math.Abs(w))
		}
	}
}

func TestBinary(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{0, 1, 15, 16, 17, 100, 2*grain + 3} {
			a, b := randN(r, n, 1), randN(r, n, 1)
			check := func(name string, got []float32, f func(i int) float64) {
				want := make([]float64, n)
				for i := range want {
					want[i] = f(i)
				}
				checkRelEach(t, name, got, want, 1e-6, 1e-30)
			}
			d := make([]float32, n)
			Add(d, a, b)
			check("add", d, func(i int) float64 { return float64(a[i] + b[i]) })
			Sub(d, a, b)
			check("sub", d, func(i int) float64 { return float64(a[i] - b[i]) })
			Mul(d, a, b)
			check("mul", d, func(i int) float64 { return float64(a[i] * b[i]) })
			Scale(d, 1.5, a)
			check("scale", d, func(i int) float64 { return float64(1.5 * a[i]) })
			AddScalar(d, -2, a)
			check("addscalar", d, func(i int) float64 { return float64(a[i] - 2) })
			y := append([]float32(nil), b...)
			Axpy(0.25, a, y)
			check("axpy", y, func(i int) float64 { return float64(b[i]) + 0.25*float64(a[i]) })
		}
	})
}

func TestReLUPropagatesNaN(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		x := []float32{float32(math.NaN()), -1, 2}
		ReLU(x, x)
		if x[0] == x[0] || x[1] != 0 || x[2] != 2 {
			t.Fatalf("relu(NaN,-1,2) = %v", x)
		}
	})
}

func TestExpErf(t *testing.T) {
	for x := -103.0; x < 88.7; x += 0.01713 {
		got, want := float64(Exp(float32(x))), math.Exp(float64(float32(x)))
		if want > 1.2e-38 && math.Abs(got-want) > 3e-7*want {
			t.Fatalf("Exp(%g) = %g, want %g", x, got, want)
		}
	}
	if !math.IsInf(float64(Exp(100)), 1) || Exp(-200) != 0 {
		t.Fatal("Exp overflow/underflow")
	}
	for x := -6.0; x < 6; x += 0.00371 {
		xf := float64(float32(x))
		if e, w := float64(Erf(float32(x))), math.Erf(xf); math.Abs(e-w) > 5e-7*math.Abs(w) {
			t.Fatalf("Erf(%g) = %g, want %g", x, e, w)
		}
		if e, w := float64(Erfc(float32(x))), math.Erfc(xf); math.Abs(e-w) > 5e-7*math.Abs(w) {
			t.Fatalf("Erfc(%g) = %g, want %g", x, e, w)
		}
	}
}

func TestVectorExp(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		var xs []float32
		for x := -110.0; x < 80; x += 0.0371 {
			xs = append(xs, float32(x))
		}
		xs = append(xs, float32(math.Inf(-1)), 0, -0.0, 80.5)
		got := make([]float32, len(xs))
		s := expAffine(got, xs, 1, 0)
		var want float64
		for i, x := range xs {
			w := math.Exp(float64(x))
			want += float64(got[i])
			if w > 1.2e-38 && w < 3e38 && math.Abs(float64(got[i])-w) > 3e-7*w {
				t.Fatalf("exp(%g) = %g, want %g", x, got[i], w)
			}
			if w < 1e-45 && got[i] > 1e-44 {
				t.Fatalf("exp(%g) = %g, want ~0", x, got[i])
			}
		}
		if math.Abs(float64(s)-want) > 1e-5*want {
			t.Fatalf("sum %g, want %g", s, want)
		}
		if m := maxOf(xs[:len(xs)-4]); m != xs[len(xs)-5] {
			t.Fatalf("max = %g, want %g", m, xs[len(xs)-5])
		}
	})
}

func TestGELUDenseGrid(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		var xs []float32
		for x := -13.0; x < 13; x += 0.00731 {
			xs = append(xs, float32(x))
		}
		y, dx, dy := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
		for i := range dy {
			dy[i] = 1
		}
		GELU(y, xs)
		GELUBackward(dx, xs, dy)
		for i, x := range xs {
			v := float64(x)
			w := gelu64(v)
			cdf, xpdf := 0.5*math.Erfc(-v/math.Sqrt2), v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi)
			dw := cdf + xpdf
			if d := math.Abs(float64(y[i]) - w); d > 1e-5*math.Abs(w) && d > 1e-37 {
				t.Fatalf("GELU(%g) = %g, want %g", x, y[i], w)
			}
			// relative to the sum of |terms|: GELU' crosses zero near -0.75
			if d := math.Abs(float64(dx[i]) - dw); d > 1e-5*(cdf+math.Abs(xpdf)) && d > 1e-37 {
				t.Fatalf("GELU'(%g) = %g, want %g", x, dx[i], dw)
			}
		}
	})
}

// TestExpScaleShiftRow: exp(scale·x - max(scale·x)) and its sum against
// float64, for positive, negative and zero scales, lengths around the
// vector width, in place and not.
func TestExpScaleShiftRow(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 15, 16, 17, 216} {
		for _, scale := range []float32{0.125, 1, -0.5, 0} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 8)
			}
			hi := math.Inf(-1)
			for _, v := range x {
				hi = max(hi, float64(scale)*float64(v))
			}
			for _, inPlace := range []bool{false, true} {
				src := append([]float32(nil), x...)
				dst := make([]float32, n)
				if inPlace {
					dst = src
				}
				sum := ExpScaleShiftRow(dst, src, scale)
				var ws float64
				for i, v := range x {
					w := math.Exp(float64(scale)*float64(v) - hi)
					ws += w
					if math.Abs(float64(dst[i])-w) > 1e-6*max(w, 1e-3) {
						t.Fatalf("n %d scale %g: dst[%d] = %g, want %g", n, scale, i, dst[i], w)
					}
				}
				if math.Abs(float64(sum)-ws) > 1e-5*ws {
					t.Fatalf("n %d scale %g: sum %g, want %g", n, scale, sum, ws)
				}
			}
		}
	}
}

// TestExpAffineTail: the last len%16 values of a row of at least 16 come
// from the vector kernel run on the row's last 16 (bit for bit, at
// AVX-512), in place and not, and the whole row and its sum agree with
// float64.
func TestExpAffineTail(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, n := range []int{15, 16, 17, 31, 33, 216} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64()*8) - 20
		}
		for _, inPlace := range []bool{false, true} {
			src := append([]float32(nil), x...)
			dst := make([]float32, n)
			if inPlace {
				dst = src
			}
			sum := expAffine(dst, src, 0.5, 3)
			var ws float64
			for i, v := range x {
				w := math.Exp(0.5*float64(v) + 3)
				ws += w
				if math.Abs(float64(dst[i])-w) > 3e-7*w {
					t.Fatalf("n %d: dst[%d] = %g, want %g", n, i, dst[i], w)
				}
			}
			if math.Abs(float64(sum)-ws) > 1e-5*ws {
				t.Fatalf("n %d: sum %g, want %g", n, sum, ws)
			}
			if vecExp() && n >= 16 {
				var last [16]float32
				expAffineAVX512(last[:], x[n-16:], 0.5, 3)
				for i := range 16 {
					if dst[n-16+i] != last[i] {
						t.Fatalf("n %d: dst[%d] = %g, the vector kernel %g", n, n-16+i, dst[n-16+i], last[i])
					}
				}
			}
		}
	}
}
