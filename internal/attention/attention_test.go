package attention

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// roundP makes refHead round the softmax numerators to bfloat16 before
// the product with V (their sum stays exact), as Config.BF16 does.
var roundP bool

// refAttention is float64 attention for one head given row accessors.
func refHead(q, k, v [][]float64, scale float64) [][]float64 {
	T, D := len(q), len(q[0])
	out := make([][]float64, T)
	for i := range T {
		s := make([]float64, T)
		m := math.Inf(-1)
		for j := range T {
			for e := range D {
				s[j] += q[i][e] * k[j][e]
			}
			s[j] *= scale
			m = math.Max(m, s[j])
		}
		var z float64
		for j := range s {
			s[j] = math.Exp(s[j] - m)
			z += s[j]
			if roundP { // the bfloat16 product's rounding of the numerators
				s[j] = float64(gemm.FromBF16(gemm.ToBF16(float32(s[j]))))
			}
		}
		out[i] = make([]float64, D)
		for j := range T {
			for e := range D {
				out[i][e] += s[j] / z * v[j][e]
			}
		}
	}
	return out
}

// reference applies refHead to every head of flat float64 buffers laid out as c says.
func reference(c Config, q, k, v []float64, outLen int) []float64 {
	out := make([]float64, outLen)
	rows := func(buf []float64, l Layout, b, h int) [][]float64 {
		r := make([][]float64, c.T)
		for t := range c.T {
			o := b*l.Batch + h*l.Head + t*l.Row
			r[t] = buf[o : o+c.D]
		}
		return r
	}
	for b := range c.B {
		for h := range c.Heads {
			o := refHead(rows(q, c.Q, b, h), rows(k, c.K, b, h), rows(v, c.V, b, h), float64(c.Scale))
			for t := range c.T {
				copy(out[b*c.Out.Batch+h*c.Out.Head+t*c.Out.Row:], o[t])
			}
		}
	}
	return out
}

func rnd(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// closeTo fails when |got-want| > tol*(|want| + rms(want)) anywhere that want is defined.
func closeTo(t *testing.T, what string, got []float32, want []float64, mask func(i int) bool, tol float64) {
	t.Helper()
	var ss float64
	n := 0
	for i, w := range want {
		if mask(i) {
			ss += w * w
			n++
		}
	}
	rms := math.Sqrt(ss / float64(max(n, 1)))
	for i, w := range want {
		if mask(i) && !(math.Abs(float64(got[i])-w) <= tol*(math.Abs(w)+rms)) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], w)
		}
	}
}

func TestAttention(t *testing.T) {
	type tc struct {
		c     Config
		fused bool // Q, K, V in one packed qkv buffer, output token-major
	}
	cases := []tc{
		{Config{B: 1, Heads: 1, T: 1, D: 1}, false},
		{Config{B: 2, Heads: 3, T: 5, D: 4}, false},
		{Config{B: 1, Heads: 2, T: 17, D: 8, Scale: 0.3}, false},
		{Config{B: 2, Heads: 3, T: 7, D: 5}, true},
		{Config{B: 1, Heads: 12, T: 27, D: 64}, true},
	}
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			r := rand.New(rand.NewPCG(1, uint64(l)))
			for _, tc := range cases {
				c := tc.c
				var qkvLen, outLen int
				if tc.fused {
					c.Q, c.K, c.V = PackedQKV(c.Heads, c.T, c.D), PackedQKV(c.Heads, c.T, c.D), PackedQKV(c.Heads, c.T, c.D)
					c.Out = TokenMajor(c.Heads, c.T, c.D)
					qkvLen, outLen = c.B*c.T*3*c.Heads*c.D, c.B*c.T*c.Heads*c.D
				} else {
					qkvLen, outLen = c.B*c.Heads*c.T*c.D, c.B*c.Heads*c.T*c.D
				}
				pl, err := NewPlan(c)
				if err != nil {
					t.Fatal(err)
				}
				c = pl.Config()
				hd := c.Heads * c.D
				// operand views: separate buffers, or one fused buffer at offsets 0, hd, 2hd
				var qb, kb, vb []float32
				var qkv []float32
				if tc.fused {
					qkv = rnd(r, qkvLen)
					qb, kb, vb = qkv, qkv[hd:], qkv[2*hd:]
				} else {
					qb, kb, vb = rnd(r, qkvLen), rnd(r, qkvLen), rnd(r, qkvLen)
				}
				out := make([]float32, outLen)
				if err := pl.Forward(out, qb, kb, vb); err != nil {
					t.Fatal(err)
				}
				all := func(int) bool { return true }
				ref := func(q, k, v []float64) []float64 { return reference(c, q, k, v, outLen) }
				closeTo(t, "out", out, ref(f64(qb), f64(kb), f64(vb)), all, 1e-5)

				// gradients against central differences of the float64 reference
				dout := rnd(r, outLen)
				var dq, dk, dv []float32
				var dqkv []float32
				if tc.fused {
					dqkv = make([]float32, qkvLen)
					dq, dk, dv = dqkv, dqkv[hd:], dqkv[2*hd:]
				} else {
					dq, dk, dv = make([]float32, qkvLen), make([]float32, qkvLen), make([]float32, qkvLen)
				}
				if err := pl.Backward(dq, dk, dv, dout, qb, kb, vb); err != nil {
					t.Fatal(err)
				}
				if c.T*c.D*c.B*c.Heads > 2000 {
					continue // finite differences too slow; the small cases cover the formulas
				}
				grad := func(which int, g []float32) {
					base := [][]float64{f64(qb), f64(kb), f64(vb)}
					x := base[which]
					want := make([]float64, len(x))
					for i := range x {
						save := x[i]
						h := 1e-6
						x[i] = save + h
						fp := ref(base[0], base[1], base[2])
						x[i] = save - h
						fm := ref(base[0], base[1], base[2])
						x[i] = save
						for j := range fp {
							want[i] += float64(dout[j]) * (fp[j] - fm[j]) / (2 * h)
						}
					}
					closeTo(t, []string{"dq", "dk", "dv"}[which], g, want, all, 1e-5)
				}
				if tc.fused {
					// In the fused buffer q, k, v alias with offsets; differentiate each view
					// by perturbing only its own elements.
					for which, g := range [][]float32{dq, dk, dv} {
						gradFused(t, c, which, qkv, dout, g, outLen)
					}
					continue
				}
				grad(0, dq)
				grad(1, dk)
				grad(2, dv)
			}
		})
	}
}

// gradFused checks the gradient of the which-th view (0 q, 1 k, 2 v) of a
// fused qkv buffer by perturbing the elements that view owns.
func gradFused(t *testing.T, c Config, which int, qkv, dout, g []float32, outLen int) {
	t.Helper()
	hd := c.Heads * c.D
	x := f64(qkv)
	want := make([]float64, len(x)-which*hd)
	own := func(i int) bool { return (i/hd)%3 == 0 } // index relative to the view
	for i := range want {
		if !own(i) {
			continue
		}
		a := which*hd + i
		save := x[a]
		h := 1e-6
		eval := func() []float64 { return reference(c, x, x[hd:], x[2*hd:], outLen) }
		x[a] = save + h
		fp := eval()
		x[a] = save - h
		fm := eval()
		x[a] = save
		for j := range fp {
			want[i] += float64(dout[j]) * (fp[j] - fm[j]) / (2 * h)
		}
	}
	closeTo(t, []string{"dq", "dk", "dv"}[which]+" fused", g, want, own, 1e-5)
}

func TestErrors(t *testing.T) {
	if _, err := NewPlan(Config{B: 1, Heads: 0, T: 3, D: 2}); !errors.Is(err, ErrShape) {
		t.Fatal("zero heads accepted")
	}
	pl, _ := NewPlan(Config{B: 1, Heads: 2, T: 3, D: 2})
	buf := make([]float32, 12)
	if err := pl.Forward(buf, buf, buf, buf[:5]); !errors.Is(err, ErrShape) {
		t.Fatal("short V accepted")
	}
}

// TestSerialHeads: with at least two heads per worker (or a whole number
// of heads each) a head's products run on its worker alone, with the bits
// of the pooled run on one worker; with fewer heads they may use the pool.
func TestSerialHeads(t *testing.T) {
	for _, tc := range []struct {
		heads, workers int
		serial         bool
	}{{12, 2, true}, {3, 2, false}, {4, 2, true}, {2, 2, true}, {12, 1, false}} {
		c := Config{B: 1, Heads: tc.heads, T: 216, D: 64}
		c.Q, c.K, c.V = PackedQKV(tc.heads, 216, 64), PackedQKV(tc.heads, 216, 64), PackedQKV(tc.heads, 216, 64)
		c.Out = TokenMajor(tc.heads, 216, 64)
		pl, err := NewPlan(c)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, uint64(tc.heads)))
		hd := tc.heads * 64
		qkv := rnd(r, 216*3*hd)
		run := func(w int) []float32 {
			defer parallel.SetMaxWorkers(w)()
			out := make([]float32, 216*hd)
			if err := pl.Forward(out, qkv, qkv[hd:], qkv[2*hd:]); err != nil {
				t.Fatal(err)
			}
			return out
		}
		ref := run(1)
		got := run(tc.workers)
		if pl.serial != tc.serial {
			t.Errorf("%d heads on %d workers: serial %v, want %v", tc.heads, tc.workers, pl.serial, tc.serial)
		}
		for i := range ref {
			if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
				t.Fatalf("%d heads on %d workers: out[%d] = %v, one worker %v", tc.heads, tc.workers, i, got[i], ref[i])
			}
		}
	}
}

// TestBF16: Config.BF16 against float64 attention within bfloat16's
// precision (Q, K, V and the softmax numerators rounded to 8-bit
// mantissas), for odd sizes, a negative scale, packed and contiguous
// layouts; a product really ran in bfloat16 (bits differ from float32);
// on 2 workers (heads serial) the bits of 1 worker (the pooled products).
// Without AVX512_BF16 the flag must change nothing.
func TestBF16(t *testing.T) {
	for _, c := range []Config{
		{B: 1, Heads: 12, T: 216, D: 64},
		{B: 2, Heads: 3, T: 7, D: 5},
		{B: 1, Heads: 2, T: 17, D: 8, Scale: 0.3},
		{B: 1, Heads: 4, T: 40, D: 33, Scale: -0.2},
	} {
		c.Q, c.K, c.V = PackedQKV(c.Heads, c.T, c.D), PackedQKV(c.Heads, c.T, c.D), PackedQKV(c.Heads, c.T, c.D)
		c.Out = TokenMajor(c.Heads, c.T, c.D)
		hd := c.Heads * c.D
		r := rand.New(rand.NewPCG(3, uint64(c.T)))
		qkv := rnd(r, c.B*c.T*3*hd)
		run := func(bf bool, workers int) ([]float32, Config) {
			defer parallel.SetMaxWorkers(workers)()
			cc := c
			cc.BF16 = bf
			pl, err := NewPlan(cc)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, c.B*c.T*hd)
			if err := pl.Forward(out, qkv, qkv[hd:], qkv[2*hd:]); err != nil {
				t.Fatal(err)
			}
			return out, pl.Config()
		}
		f32, cfg := run(false, 2)
		bf, _ := run(true, 2)
		one, _ := run(true, 1)
		all := func(int) bool { return true }
		want := reference(cfg, f64(qkv), f64(qkv[hd:]), f64(qkv[2*hd:]), len(f32))
		closeTo(t, "bf16 out", bf, want, all, 5e-2)
		if gemm.HaveBF16() { // the same roundings in float64: float32 accuracy
			rq := make([]float32, len(qkv))
			for i, v := range qkv {
				rq[i] = gemm.FromBF16(gemm.ToBF16(v))
			}
			roundP = true
			want = reference(cfg, f64(rq), f64(rq[hd:]), f64(rq[2*hd:]), len(f32))
			roundP = false
			closeTo(t, "bf16 out (rounded reference)", bf, want, all, 5e-3) // a numerator may round the other way
		}
		same := true
		for i := range bf {
			if math.Float32bits(bf[i]) != math.Float32bits(one[i]) {
				t.Fatalf("%+v: out[%d] = %v on 2 workers, %v on 1", c, i, bf[i], one[i])
			}
			same = same && math.Float32bits(bf[i]) == math.Float32bits(f32[i])
		}
		if same != !gemm.HaveBF16() {
			t.Fatalf("%+v: bfloat16 output equal to float32's: %v, HaveBF16 %v", c, same, gemm.HaveBF16())
		}
	}
}
