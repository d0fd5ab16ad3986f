package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
)

// forceWinograd makes every 3×3×3 stride-1 plan use Winograd, however few
// its channels and tiles.
func forceWinograd() (restore func()) {
	c, t := winoMinChannels, winoMinTiles
	winoMinChannels, winoMinTiles = 1, 1
	return func() { winoMinChannels, winoMinTiles = c, t }
}

// smallBlocks makes every block one sliver of tiles, so that samples have
// many blocks and the workers take whole blocks.
func smallBlocks() (restore func()) {
	b := winoBlockBytes
	winoBlockBytes = 1
	return func() { winoBlockBytes = b }
}

// winoParams draws a stride-1 3×3×3 convolution with ragged tile counts
// (odd outputs), 1-sized axes, padding 0–2 and channel counts that are not
// multiples of the micro-kernel tile.
func winoParams(r *rand.Rand) Params {
	for {
		p := Params{N: 1 + r.IntN(2), InC: 1 + r.IntN(20), OutC: 1 + r.IntN(40), Kernel: [3]int{3, 3, 3}}
		for i := range 3 {
			p.In[i] = 1 + r.IntN(9)
			p.Pad[i] = r.IntN(3)
		}
		if p.Validate() == nil {
			return p
		}
	}
}

func TestWinogradMatchesReference(t *testing.T) {
	defer forceWinograd()()
	r := rand.New(rand.NewPCG(3, 4))
	cases := []*convCase{
		newCase(Params{N: 2, InC: 17, OutC: 33, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, r),
		newCase(Params{N: 1, InC: 3, OutC: 5, In: [3]int{12, 11, 10}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, r), // several blocks
		newCase(Params{N: 1, InC: 2, OutC: 2, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}}, r),                          // one output
	}
	for range 12 {
		cases = append(cases, newCase(winoParams(r), r))
	}
	check := func(t *testing.T) {
		for _, c := range cases {
			pl, err := NewPlan(c.p)
			if err != nil {
				t.Fatal(err)
			}
			if (winoLevel() > cpu.Portable) != (pl.Algorithm() == "winograd-f2x3") {
				t.Fatalf("%+v: algorithm %s", c.p, pl.Algorithm())
			}
			c.check(t)
		}
	}
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			check(t)
		})
	}
	t.Run("blocks", func(t *testing.T) {
		defer smallBlocks()()
		check(t)
	})
}

// Bias, residual and activation are fused into the output transform
// (GELU as a pass after it).
func TestWinogradEpilogue(t *testing.T) {
	defer forceWinograd()()
	r := rand.New(rand.NewPCG(5, 6))
	p := Params{N: 1, InC: 5, OutC: 7, In: [3]int{5, 6, 7}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	c := newCase(p, r)
	res := randSlice(r, p.OutLen())
	pl, _ := NewPlan(p)
	if err := pl.SetWeights(c.w); err != nil {
		t.Fatal(err)
	}
	for _, l := range cpu.Levels() {
		defer cpu.SetLevel(l)()
		checkEpilogues(t, pl, c, res)
	}
}

func checkEpilogues(t *testing.T, pl *Plan, c *convCase, res []float32) {
	p := c.p
	for _, act := range []gemm.Activation{gemm.None, gemm.ReLU, gemm.GELU} {
		y := make([]float32, p.OutLen())
		if err := pl.Forward(y, c.x, &Epilogue{Bias: c.bias, Residual: res, Act: act}); err != nil {
			t.Fatal(err)
		}
		want, scale := make([]float64, len(y)), make([]float64, len(y))
		for i := range want {
			v := c.ref.y[i] + float64(res[i])
			switch act {
			case gemm.ReLU:
				v = max(v, 0)
			case gemm.GELU:
				v = v / 2 * (1 + math.Erf(v/math.Sqrt2))
			}
			want[i] = v
			scale[i] = c.ref.ys[i] + math.Abs(float64(res[i]))
		}
		checkClose(t, fmt.Sprintf("%s epilogue %d", pl.Algorithm(), act), y, want, scale, tol)
	}
}

// FuzzWinograd checks every pass of the Winograd path against the float64
// reference on fuzzed 3×3×3 stride-1 shapes: channel counts around the
// micro-kernel's 14/16/32 lanes, odd and 1-sized outputs, padding 0–2, one
// or many tile blocks.
func FuzzWinograd(f *testing.F) {
	f.Add(uint8(1), uint8(17), uint8(33), uint8(7), uint8(6), uint8(5), uint8(0x15), false)
	f.Add(uint8(0), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), true)
	f.Fuzz(func(t *testing.T, n, ic, oc, d, h, w, pads uint8, small bool) {
		defer forceWinograd()()
		if small {
			defer smallBlocks()()
		}
		p := Params{N: 1 + int(n)%2, InC: 1 + int(ic)%40, OutC: 1 + int(oc)%40, Kernel: [3]int{3, 3, 3},
			In: [3]int{1 + int(d)%12, 1 + int(h)%12, 1 + int(w)%20}}
		for i := range 3 {
			p.Pad[i] = int(pads>>(2*i)) % 3
		}
		if p.Validate() != nil {
			return
		}
		r := rand.New(rand.NewPCG(uint64(ic), uint64(oc)))
		c := newCase(p, r)
		for _, l := range cpu.Levels()[1:] { // AVX2 and AVX-512 transforms
			defer cpu.SetLevel(l)()
			c.check(t)
		}
	})
}

// After warm-up the Winograd passes allocate nothing: their workspaces come
// from the package's scratch pool.
func TestWinogradPassesDoNotAllocate(t *testing.T) {
	p := Params{N: 2, InC: 16, OutC: 16, In: [3]int{8, 8, 8}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	r := rand.New(rand.NewPCG(7, 7))
	x, w, y := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), make([]float32, p.OutLen())
	dx, dw := make([]float32, p.InLen()), make([]float32, p.WeightLen())
	for _, l := range cpu.Levels() {
		defer cpu.SetLevel(l)()
		checkNoAllocs(t, p, x, w, y, dx, dw)
	}
}

func checkNoAllocs(t *testing.T, p Params, x, w, y, dx, dw []float32) {
	for _, shared := range []bool{false, true} {
		restore := func() {}
		if !shared {
			restore = smallBlocks() // many blocks: workers take whole blocks
		}
		pl, _ := NewPlan(p)
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		passes := func() {
			_ = pl.Forward(y, x, nil)
			_ = pl.BackwardData(dx, y)
			_ = pl.BackwardWeight(dw, nil, x, y)
		}
		passes()
		if a := testing.AllocsPerRun(10, passes); a > 0 {
			t.Errorf("%s passes (shared blocks %v) allocate %.1f times per call", pl.Algorithm(), shared, a)
		}
		restore()
	}
}
