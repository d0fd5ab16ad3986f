package conv

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
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
