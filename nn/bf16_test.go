package nn

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// linearRef is x·Wᵀ + b in float64 on bfloat16-rounded x and W, with the
// sum of |terms| of each output.
func linearRef(x, w, b *Tensor) (want, scale []float64) {
	out, in := w.Shape[0], w.Shape[1]
	rows := len(x.Data) / in
	r := func(v float32) float64 { return float64(gemm.FromBF16(gemm.ToBF16(v))) }
	want, scale = make([]float64, rows*out), make([]float64, rows*out)
	for i := range rows {
		for j := range out {
			s, abs := float64(b.Data[j]), math.Abs(float64(b.Data[j]))
			for p := range in {
				t := r(x.Data[i*in+p]) * r(w.Data[j*in+p])
				s += t
				abs += math.Abs(t)
			}
			want[i*out+j], scale[i*out+j] = s, abs
		}
	}
	return want, scale
}

// TestLinearBF16 checks a small Linear (packed bfloat16 weights, cached)
// and one at streamBF16Min (weights rounded per call, nothing cached).
func TestLinearBF16(t *testing.T) {
	if !HaveBF16() {
		t.Skip("no AMX bfloat16 here")
	}
	for _, s := range [][2]int{{100, 70}, {2048, streamBF16Min / 2048}} {
		linearBF16Case(t, s[0], s[1])
	}
}

func linearBF16Case(t *testing.T, in, out int) {
	r := NewRNG(3)
	lin := NewLinear(in, out, LinearOptions{}, r)
	x := randT(r, 3, 11, in)
	check := func(what string) {
		t.Helper()
		g := NewGraph(Options{BF16: true})
		y := lin.Forward(g, x)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		want, scale := linearRef(x, lin.Weight, lin.Bias)
		for i, w := range want {
			if d := math.Abs(float64(y.Data[i]) - w); d > 1e-5*scale[i] {
				t.Fatalf("%d→%d %s: y[%d] = %g, want %g (scale %g)", in, out, what, i, y.Data[i], w, scale[i])
			}
		}
	}
	check("first call")
	check("cached weights")
	if cached := len(lin.packs.bf16) > 0; cached == streamBF16(lin.Weight) {
		t.Fatalf("%d→%d: packed bfloat16 weights cached = %v, streamed = %v", in, out, cached, streamBF16(lin.Weight))
	}
	for i := range lin.Weight.Data {
		lin.Weight.Data[i] *= -0.5
	}
	check("after a direct write to Data")

	// a training graph ignores BF16: float32 exactly
	g32, gtr := NewGraph(Options{}), NewGraph(Options{Grad: true, BF16: true})
	y32, ytr := lin.Forward(g32, x), lin.Forward(gtr, x)
	for i := range y32.Data {
		if y32.Data[i] != ytr.Data[i] {
			t.Fatalf("%d→%d: training graph with BF16: y[%d] = %g, float32 %g", in, out, i, ytr.Data[i], y32.Data[i])
		}
	}
}

// BenchmarkViTBlockInfer times the inference forward of one ViT-B/16
// encoder block on 216 tokens × 768, in float32 and with Options.BF16.
func BenchmarkViTBlockInfer(b *testing.B) {
	for _, bf := range []bool{false, true} {
		name := "fp32"
		if bf {
			name = "bf16"
			if !HaveBF16() {
				continue
			}
		}
		b.Run(name, func(b *testing.B) {
			r := NewRNG(1)
			blk := newViTBlock(768, 3072, 12, r)
			x := randT(r, 1, 216, 768)
			g := NewGraph(Options{Arena: NewArena(), BF16: bf})
			step := func() {
				g.Reset()
				blk.Forward(g, x)
			}
			step()
			b.ResetTimer()
			for range b.N {
				step()
			}
			flops := 2 * 216 * (4*768*768 + 2*768*3072)
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// A patch embedding (a column-matrix convolution) of an Options.BF16 graph
// equals the float32 convolution of the bfloat16-rounded input and weights.
func TestConv3dBF16(t *testing.T) {
	if !HaveBF16() {
		t.Skip("no AMX bfloat16 here")
	}
	r := NewRNG(5)
	conv := NewConv3d(4, 24, [3]int{4, 4, 4}, ConvOptions{Stride: [3]int{4, 4, 4}}, r)
	x := randT(r, 1, 4, 8, 8, 12)
	round := func(src *Tensor) *Tensor {
		o := NewTensor(src.Shape...)
		for i, v := range src.Data {
			o.Data[i] = gemm.FromBF16(gemm.ToBF16(v))
		}
		return o
	}
	ref := &Conv3d{Weight: round(conv.Weight), Bias: conv.Bias, Options: conv.Options}
	want := ref.Forward(NewGraph(Options{}), round(x))
	got := conv.Forward(NewGraph(Options{BF16: true}), x)
	scale := 0.0
	for _, v := range want.Data {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i, w := range want.Data {
		if d := math.Abs(float64(got.Data[i] - w)); d > 1e-5*scale {
			t.Fatalf("y[%d] = %g, want %g", i, got.Data[i], w)
		}
	}
}

// TestSelfAttentionBF16: with Options.BF16 fused self-attention runs its
// products in bfloat16 (internal/attention's Config.BF16, tested there
// against float64): the output differs from float32's in its bits but
// stays within bfloat16 precision of it.
func TestSelfAttentionBF16(t *testing.T) {
	if !HaveBF16() {
		t.Skip("no AVX512_BF16 here")
	}
	r := NewRNG(5)
	qkv := randT(r, 2, 30, 3*64)
	run := func(bf bool) []float32 {
		g := NewGraph(Options{BF16: bf})
		y := g.selfAttentionPacked(qkv, 4, 0.25, nil)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		return y.Data
	}
	f32, bf := run(false), run(true)
	var ss float64
	for _, v := range f32 {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(f32)))
	same := true
	for i := range f32 {
		if d := math.Abs(float64(bf[i] - f32[i])); d > 2e-2*(math.Abs(float64(f32[i]))+rms) {
			t.Fatalf("out[%d] = %g in bfloat16, %g in float32", i, bf[i], f32[i])
		}
		same = same && bf[i] == f32[i]
	}
	if same {
		t.Fatal("Options.BF16 left self-attention in float32")
	}
}
