package conv

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
)

// TestMain turns lean plans off for the other tests: they run the packed,
// Winograd and direct kernels on small shapes, which would all be lean.
// TestLean turns them on.
func TestMain(m *testing.M) {
	leanColumns = 0
	os.Exit(m.Run())
}

func withLean(n int) (restore func()) {
	old := leanColumns
	leanColumns = n
	return func() { leanColumns = old }
}

// TestLean: plans with few output columns multiply by the weights as
// stored — no packed, Winograd-transformed or direct copy is kept — and
// still match the reference in every pass, at every cpu level, with the
// fused epilogue, and after their weights change (nothing stale).
func TestLean(t *testing.T) {
	defer withLean(1 << 30)()
	r := rand.New(rand.NewPCG(7, 8))
	named := []Params{
		{N: 1, InC: 4, OutC: 5, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},
		{N: 1, InC: 32, OutC: 32, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},          // ResNet layer3 at 6³, Winograd-eligible
		{N: 2, InC: 16, OutC: 24, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},          // batched small outputs
		{N: 2, InC: 6, OutC: 3, In: [3]int{3, 4, 5}, Kernel: [3]int{1, 1, 1}},                                  // pointwise
		{N: 1, InC: 8, OutC: 8, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 2}, // ResNeXt
		{N: 2, InC: 3, OutC: 4, In: [3]int{9, 9, 9}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}},
		{N: 1, InC: 64, OutC: 8, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, // column tiles of 128 when leanColBudget is low
	}
	var cases []*convCase
	for _, p := range named {
		cases = append(cases, newCase(p, r))
	}
	for range 20 {
		cases = append(cases, newCase(randParams(r), r))
	}
	for i, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			if i%2 == 1 { // forward column tiles smaller than the output (no offset table)
				defer func(old int) { leanColBudget = old }(leanColBudget)
				leanColBudget = 1
			}
			for _, c := range cases {
				c.check(t)
				pl, err := NewPlan(c.p)
				if err != nil {
					t.Fatal(err)
				}
				if pl.algo == algoDepthwise {
					continue // depthwise kernels read the weights as stored anyway
				}
				if !pl.lean {
					t.Fatalf("%+v: not lean", c.p)
				}
				y := make([]float32, c.p.OutLen())
				// Weights that change between passes are always the current ones.
				for pass := range 2 {
					w := c.w
					if pass == 1 {
						w = randSlice(r, c.p.WeightLen())
					}
					if err := pl.SetWeights(w); err != nil {
						t.Fatal(err)
					}
					if err := pl.Forward(y, c.x, &Epilogue{Bias: c.bias}); err != nil {
						t.Fatal(err)
					}
					want, scale := refForward(c.p, c.x, w, c.bias)
					checkClose(t, "lean forward", y, want, scale, tol)
				}
				if len(pl.packed) != 0 || pl.dir != nil || pl.wg != nil && pl.wg.uOK || pl.pa16 != nil {
					t.Fatalf("%+v: a lean plan kept packed weights (%s)", c.p, pl.Algorithm())
				}
			}
		})
	}
	t.Run("epilogue", testEpilogue)
}

// TestLeanThreshold: the deep low-resolution layers of a ResNet at 96³
// are lean, the early high-resolution ones keep their packs.
func TestLeanThreshold(t *testing.T) {
	defer withLean(512)()
	for _, c := range []struct {
		p    Params
		lean bool
	}{
		{Params{N: 1, InC: 512, OutC: 512, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true},
		{Params{N: 1, InC: 256, OutC: 256, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true},
		{Params{N: 1, InC: 128, OutC: 128, In: [3]int{12, 12, 12}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, false},
		{Params{N: 4, InC: 256, OutC: 256, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, false},
	} {
		pl, err := NewPlan(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if pl.lean != c.lean {
			t.Errorf("%+v: lean %v, want %v", c.p, pl.lean, c.lean)
		}
	}
}

// TestPooledForwardDoesNotAllocate: the buffers lean and direct forwards
// borrow from the pool (column tiles, padded inputs) and the per-call
// rounding of lean bfloat16 weights allocate nothing after warm-up. The
// pools' contents go at a garbage collection, and refilling them (a GEMM
// call state with its bound loop bodies, worker buffers) costs a few
// allocations once: an allocation per call shows as ≥ 1 on average over
// 50 calls, a collection during the count does not.
func TestPooledForwardDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		p    Params
		lean bool
		bf16 bool
	}{
		{Params{N: 1, InC: 16, OutC: 24, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true, false},
		{Params{N: 1, InC: 16, OutC: 24, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true, true},
		{Params{N: 1, InC: 64, OutC: 8, In: [3]int{6, 6, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, true, true},
		{Params{N: 1, InC: 3, OutC: 16, In: [3]int{12, 11, 10}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}, false, false},
	} {
		if c.bf16 && !gemm.HaveBF16() {
			continue
		}
		defer func(old int) { leanStreamMin = old }(leanStreamMin)
		leanStreamMin = 0
		restore := withLean(0)
		if c.lean {
			restore()
			restore = withLean(1 << 30)
		}
		pl, err := NewPlan(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if pl.lean != c.lean || !c.lean && !pl.direct() && haveDirect() {
			t.Fatalf("%+v: lean %v, algorithm %s", c.p, pl.lean, pl.Algorithm())
		}
		x, w, y := randSlice(r, c.p.InLen()), randSlice(r, c.p.WeightLen()), make([]float32, c.p.OutLen())
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		if err := pl.SetBF16(c.bf16); err != nil {
			t.Fatal(err)
		}
		ep := &Epilogue{Bias: randSlice(r, c.p.OutC), Act: gemm.ReLU}
		_ = pl.Forward(y, x, ep)
		if a := testing.AllocsPerRun(50, func() { _ = pl.Forward(y, x, ep) }); a > 0 {
			t.Errorf("%+v (bf16 %v): %s forward allocates %.1f times per call", c.p, c.bf16, pl.Algorithm(), a)
		}
		restore()
	}
}
