package conv

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// The bfloat16 forward of the GEMM-based paths equals the float64
// convolution of the bfloat16-rounded input and weights.
func TestForwardBF16(t *testing.T) {
	if !gemm.HaveBF16() {
		t.Skip("no AMX bfloat16 here")
	}
	r := rand.New(rand.NewPCG(7, 16))
	round := func(s []float32) []float32 {
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = gemm.FromBF16(gemm.ToBF16(v))
		}
		return o
	}
	for _, p := range []Params{
		{N: 2, InC: 40, OutC: 33, In: [3]int{5, 6, 7}, Kernel: [3]int{1, 1, 1}},                                               // pointwise
		{N: 1, InC: 4, OutC: 48, In: [3]int{32, 32, 16}, Kernel: [3]int{16, 16, 16}, Stride: [3]int{16, 16, 16}},              // patch embedding
		{N: 1, InC: 6, OutC: 20, In: [3]int{9, 8, 7}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, // column tiles
		{N: 2, InC: 24, OutC: 40, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                         // batched columns
		{N: 1, InC: 6, OutC: 8, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 2},                // groups
	} {
		pl, err := NewPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		x, w, bias := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), randSlice(r, p.OutC)
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		if err := pl.SetBF16(true); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, p.OutLen())
		if err := pl.Forward(y, x, &Epilogue{Bias: bias}); err != nil {
			t.Fatal(err)
		}
		want, scale := refForward(p, round(x), round(w), bias)
		name := pl.Algorithm() + " bf16 forward"
		if pl.direct() || pl.winograd() != nil {
			name += " (float32 kernel)"
			want, scale = refForward(p, x, w, bias)
		}
		checkClose(t, name, y, want, scale, tol)
	}
}

func TestSetBF16WithoutAMX(t *testing.T) {
	defer cpu.SetLevel(cpu.AVX2)()
	pl, _ := NewPlan(Params{N: 1, InC: 2, OutC: 2, In: [3]int{2, 2, 2}, Kernel: [3]int{1, 1, 1}})
	if err := pl.SetBF16(true); !errors.Is(err, gemm.ErrNoBF16) {
		t.Fatalf("SetBF16 below AVX-512: %v, want ErrNoBF16", err)
	}
}

// Lean plans in bfloat16 (without AMX) round their weights per call and
// keep no packed copy; the result equals the float64 convolution of the
// rounded operands with the fused epilogue (bias, residual, ReLU), on 1 to
// 3 workers, for odd sizes, strides, dilation, groups, batches, a K over
// several rounding chunks, and after the weights change (nothing stale).
func TestLeanBF16(t *testing.T) {
	if !gemm.HaveBF16() {
		t.Skip("no AVX512_BF16 here")
	}
	defer withLean(1 << 30)()
	defer func(old int) { leanStreamMin = old }(leanStreamMin)
	leanStreamMin = 0 // every shape rounds per call
	r := rand.New(rand.NewPCG(7, 17))
	round := func(s []float32) []float32 {
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = gemm.FromBF16(gemm.ToBF16(v))
		}
		return o
	}
	for _, p := range []Params{
		{N: 1, InC: 32, OutC: 40, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                   // layer3-like
		{N: 1, InC: 24, OutC: 33, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}},          // stride 2, odd
		{N: 1, InC: 9, OutC: 17, In: [3]int{7, 7, 6}, Kernel: [3]int{3, 3, 3}, Dilation: [3]int{2, 2, 2}, Pad: [3]int{2, 2, 2}},         // dilated
		{N: 1, InC: 16, OutC: 70, In: [3]int{5, 3, 4}, Kernel: [3]int{1, 1, 1}, Stride: [3]int{2, 2, 2}},                                // downsample
		{N: 2, InC: 6, OutC: 5, In: [3]int{3, 4, 5}, Kernel: [3]int{1, 1, 1}},                                                           // pointwise
		{N: 2, InC: 24, OutC: 40, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                   // batched columns
		{N: 1, InC: 12, OutC: 10, In: [3]int{6, 5, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 2},                        // groups
		{N: 1, InC: 620, OutC: 9, In: [3]int{2, 3, 2}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                   // k = 16740: two chunks
		{N: 1, InC: 3, OutC: 4, In: [3]int{9, 9, 9}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}},            // stem
		{N: 1, InC: 5, OutC: 3, In: [3]int{4, 5, 6}, Kernel: [3]int{2, 3, 1}, Stride: [3]int{1, 2, 1}, Pad: [3]int{1, 0, 0}, Groups: 1}, // ragged kernel
		{N: 1, InC: 64, OutC: 8, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                    // one tile of 216
		{N: 1, InC: 64, OutC: 8, In: [3]int{6, 6, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                    // tiles of 128 (below)
	} {
		if p.InC == 64 && p.In[2] == 5 {
			defer func(old int) { leanColBudget = old }(leanColBudget)
			leanColBudget = 1
		}
		pl, err := NewPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		if !pl.lean {
			t.Fatalf("%+v: not lean", p)
		}
		if p.InC == 64 && (pl.tab != nil) != (p.In[2] == 6) {
			t.Fatalf("%+v: forward tile %d of %d, offset table %v", p, pl.fwdTile, pl.g.outSp, pl.tab != nil)
		}
		if err := pl.SetBF16(true); err != nil {
			t.Fatal(err)
		}
		x, bias := randSlice(r, p.InLen()), randSlice(r, p.OutC)
		res := randSlice(r, p.OutLen())
		for pass, workers := range []int{1, 2, 3} {
			w := randSlice(r, p.WeightLen()) // new weights every pass
			if err := pl.SetWeights(w); err != nil {
				t.Fatal(err)
			}
			restore := parallel.SetMaxWorkers(workers)
			y := make([]float32, p.OutLen())
			ep := &Epilogue{Bias: bias}
			if pass > 0 {
				ep = &Epilogue{Bias: bias, Residual: res, Act: gemm.ReLU}
			}
			err := pl.Forward(y, x, ep)
			restore()
			if err != nil {
				t.Fatal(err)
			}
			want, scale := refForward(p, round(x), round(w), bias)
			if pass > 0 {
				for i := range want {
					want[i] = max(want[i]+float64(res[i]), 0)
					scale[i] += math.Abs(float64(res[i]))
				}
			}
			checkClose(t, fmt.Sprintf("%+v lean bf16 pass %d", p, pass), y, want, scale, tol)
		}
		if !gemm.UsesAMX() && (pl.pa16 != nil || len(pl.packed) != 0) {
			t.Fatalf("%+v: a lean bfloat16 plan kept packed weights", p)
		}
	}
}

// TestLeanBF16StreamThreshold: without AMX, lean bfloat16 plans keep a
// pack of small weights and round large ones (≥ leanStreamMin) per call.
func TestLeanBF16StreamThreshold(t *testing.T) {
	if !gemm.HaveBF16() || gemm.UsesAMX() {
		t.Skip("needs AVX512_BF16 without AMX")
	}
	defer withLean(1 << 30)()
	r := rand.New(rand.NewPCG(7, 18))
	for _, c := range []struct {
		p      Params
		stream bool
	}{
		{Params{N: 1, InC: 192, OutC: 1152, In: [3]int{3, 3, 3}, Kernel: [3]int{1, 1, 1}}, false}, // EfficientNet-B0 pointwise, 221 K
		{Params{N: 1, InC: 128, OutC: 96, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true},
	} {
		pl, err := NewPlan(c.p)
		if err != nil {
			t.Fatal(err)
		}
		x, w, y := randSlice(r, c.p.InLen()), randSlice(r, c.p.WeightLen()), make([]float32, c.p.OutLen())
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		if err := pl.SetBF16(true); err != nil {
			t.Fatal(err)
		}
		if err := pl.Forward(y, x, nil); err != nil {
			t.Fatal(err)
		}
		if kept := pl.pa16 != nil; kept == c.stream {
			t.Errorf("%+v (%d weights): bfloat16 pack kept %v", c.p, c.p.WeightLen(), kept)
		}
	}
}
