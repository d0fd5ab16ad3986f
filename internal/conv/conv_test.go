package conv

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
)

// tol is the accepted error relative to the sum of |terms| of each output.
const tol = 1e-5

// winoTol is the accepted Winograd error relative to its normwise scale
// (winoScales), which is larger than the term sums: about ten float32
// roundings of the transformed values, with a few times that in margin.
const winoTol = 2e-6

// randParams draws a small random convolution, including 1-sized and
// ragged dimensions, groups, strides, padding and dilation.
func randParams(r *rand.Rand) Params {
	for {
		p := Params{N: 1 + r.IntN(2), Groups: 1 + r.IntN(3)}
		if r.IntN(4) == 0 {
			p.Groups = 1
		}
		p.InC = p.Groups * (1 + r.IntN(4))
		p.OutC = p.Groups * (1 + r.IntN(5))
		for i := range 3 {
			p.In[i] = 1 + r.IntN(8)
			p.Kernel[i] = 1 + r.IntN(4)
			p.Stride[i] = 1 + r.IntN(3)
			p.Dilation[i] = 1 + r.IntN(2)
			p.Pad[i] = r.IntN(3)
		}
		if p.Validate() == nil {
			return p
		}
	}
}

// convCase is one convolution with random data and its float64 results.
type convCase struct {
	p              Params
	x, w, bias, dy []float32
	ref            *refResult
	tileN          int // > 0 forces small column tiles
}

func newCase(p Params, r *rand.Rand) *convCase {
	c := &convCase{p: p, x: randSlice(r, p.InLen()), w: randSlice(r, p.WeightLen()),
		bias: randSlice(r, p.OutC), dy: randSlice(r, p.OutLen())}
	c.ref = refAll(p, c.x, c.w, c.bias, c.dy)
	return c
}

// check runs every pass of a plan for the case against the reference.
func (c *convCase) check(t testing.TB) {
	t.Helper()
	p := c.p
	pl, err := NewPlan(p)
	if err != nil {
		t.Fatalf("%+v: %v", p, err)
	}
	if c.tileN > 0 && pl.algo == algoIm2col {
		pl.tileN = c.tileN
	}
	if err := pl.SetWeights(c.w); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, p.OutLen())
	if err := pl.Forward(y, c.x, &Epilogue{Bias: c.bias}); err != nil {
		t.Fatal(err)
	}
	// Winograd's transforms mix the values of a tile and the taps of a
	// kernel: its error is bounded normwise (see winoScales), not by each
	// output's own term sum
	wino := pl.winograd() != nil
	ys, dxs, sdw0, rtol := c.ref.ys, c.ref.dxs, c.ref.dws, tol
	if wino {
		ys, dxs, sdw0 = c.winoScales()
		rtol = winoTol
	}
	checkClose(t, pl.Algorithm()+" forward", y, c.ref.y, ys, rtol)

	dx := make([]float32, p.InLen())
	for i := range dx {
		dx[i] = 7 // garbage must be overwritten
	}
	if err := pl.BackwardData(dx, c.dy); err != nil {
		t.Fatal(err)
	}
	checkClose(t, pl.Algorithm()+" backward data", dx, c.ref.dx, dxs, rtol)

	dw, db := make([]float32, len(c.w)), make([]float32, p.OutC)
	dw[0], db[0] = 1, 1 // gradients accumulate
	if err := pl.BackwardWeight(dw, db, c.x, c.dy); err != nil {
		t.Fatal(err)
	}
	wdw, sdw, wdb := append([]float64(nil), c.ref.dw...), append([]float64(nil), sdw0...), append([]float64(nil), c.ref.db...)
	wdw[0]++
	sdw[0]++
	wdb[0]++
	checkClose(t, pl.Algorithm()+" backward weight", dw, wdw, sdw, rtol)
	checkClose(t, "bias gradient", db, wdb, nil, tol)
}

func checkConv(t testing.TB, p Params, r *rand.Rand) { newCase(p, r).check(t) }

func TestConvMatchesReference(t *testing.T) {
	named := []Params{
		{N: 1, InC: 4, OutC: 5, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                                     // 3x3x3 block
		{N: 2, InC: 3, OutC: 4, In: [3]int{9, 9, 9}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}},            // stem
		{N: 1, InC: 2, OutC: 6, In: [3]int{16, 16, 32}, Kernel: [3]int{16, 16, 16}, Stride: [3]int{16, 16, 16}},                         // patch embedding
		{N: 2, InC: 6, OutC: 3, In: [3]int{3, 4, 5}, Kernel: [3]int{1, 1, 1}},                                                           // pointwise
		{N: 1, InC: 6, OutC: 6, In: [3]int{5, 6, 7}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 6},                          // depthwise
		{N: 2, InC: 4, OutC: 8, In: [3]int{6, 5, 4}, Kernel: [3]int{5, 3, 3}, Stride: [3]int{2, 1, 2}, Pad: [3]int{2, 1, 1}, Groups: 4}, // depthwise ×2
		{N: 1, InC: 8, OutC: 8, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 2},                          // ResNeXt
		{N: 1, InC: 3, OutC: 2, In: [3]int{8, 7, 9}, Kernel: [3]int{3, 2, 3}, Pad: [3]int{2, 0, 2}, Dilation: [3]int{2, 1, 3}},          // dilation
		{N: 1, InC: 3, OutC: 4, In: [3]int{5, 5, 5}, Kernel: [3]int{1, 1, 1}, Stride: [3]int{2, 2, 2}},                                  // strided 1x1 shortcut
		{N: 1, InC: 3, OutC: 3, In: [3]int{5, 5, 5}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Stride: [3]int{1, 2, 3}, Groups: 3}, // depthwise, stride 3 along W
	}
	r := rand.New(rand.NewPCG(1, 2))
	var cases []*convCase
	for _, p := range named {
		cases = append(cases, newCase(p, r))
	}
	for _, p := range named[:3] { // several ragged column tiles, in every pass
		c := newCase(p, r)
		c.tileN = 37
		cases = append(cases, c)
	}
	for range 30 {
		cases = append(cases, newCase(randParams(r), r))
	}
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			for _, c := range cases {
				c.check(t)
			}
		})
	}
	if haveDirect() {
		t.Run("direct", func(t *testing.T) {
			defer forceDirect()()
			for _, c := range cases {
				c.check(t)
			}
		})
	}
}

// forceDirect makes every eligible plan use the direct kernel, however
// small its shape.
func forceDirect() (restore func()) {
	old := maxGridWaste
	maxGridWaste = 1e9
	return func() { maxGridWaste = old }
}

func TestTilesAreBounded(t *testing.T) {
	p := Params{N: 1, InC: 64, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	pl, err := NewPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if pl.g.k*pl.tileN > colBudget || pl.tileN < 64 {
		t.Fatalf("column tile %d×%d exceeds the %d-float budget", pl.g.k, pl.tileN, colBudget)
	}
}

func TestEpilogue(t *testing.T) {
	testEpilogue(t)
	if haveDirect() {
		defer forceDirect()()
		testEpilogue(t)
	}
}

func testEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range []Params{
		{N: 2, InC: 3, OutC: 4, In: [3]int{5, 4, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},
		{N: 2, InC: 3, OutC: 4, In: [3]int{5, 4, 3}, Kernel: [3]int{1, 1, 1}},
		{N: 1, InC: 4, OutC: 4, In: [3]int{5, 4, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 4},
		{N: 2, InC: 3, OutC: 9, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 1, 2}, Pad: [3]int{1, 1, 1}},
	} {
		for _, act := range []gemm.Activation{gemm.None, gemm.ReLU, gemm.GELU} {
			pl, _ := NewPlan(p)
			x, w, b, res := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), randSlice(r, p.OutC), randSlice(r, p.OutLen())
			if err := pl.SetWeights(w); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, p.OutLen())
			if err := pl.Forward(y, x, &Epilogue{Bias: b, Residual: res, Act: act}); err != nil {
				t.Fatal(err)
			}
			want, scale := refForward(p, x, w, b)
			for i := range want {
				want[i] += float64(res[i])
				scale[i] += math.Abs(float64(res[i]))
				switch act {
				case gemm.ReLU:
					want[i] = math.Max(want[i], 0)
				case gemm.GELU:
					want[i] = 0.5 * want[i] * math.Erfc(-want[i]/math.Sqrt2)
				}
			}
			checkClose(t, pl.Algorithm()+" epilogue", y, want, scale, tol)
		}
	}
}

func TestTransposed(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	cases := []TransposedParams{
		{Params: Params{N: 1, InC: 4, OutC: 3, In: [3]int{3, 3, 3}, Kernel: [3]int{2, 2, 2}, Stride: [3]int{2, 2, 2}}}, // U-Net up
		{Params: Params{N: 2, InC: 4, OutC: 6, In: [3]int{3, 4, 2}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}, Groups: 2},
			OutputPadding: [3]int{1, 0, 1}},
		{Params: Params{N: 1, InC: 5, OutC: 2, In: [3]int{2, 2, 2}, Kernel: [3]int{16, 16, 16}, Stride: [3]int{16, 16, 16}}}, // ViTAutoEnc decoder
	}
	for _, tc := range cases {
		tp, err := NewTransposedPlan(tc)
		if err != nil {
			t.Fatal(err)
		}
		adj, _ := tc.Adjoint()
		o := tc.Out()
		x, w, b := randSlice(r, adj.OutLen()), randSlice(r, adj.WeightLen()), randSlice(r, tc.OutC)
		if err := tp.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, adj.InLen())
		if adj.InLen() != tc.N*tc.OutC*o[0]*o[1]*o[2] {
			t.Fatalf("adjoint input %d != transposed output %v", adj.InLen(), o)
		}
		if err := tp.Forward(y, x, b); err != nil {
			t.Fatal(err)
		}
		want, scale := refBackwardData(adj, x, w)
		sp := o[0] * o[1] * o[2]
		for i := range want {
			want[i] += float64(b[i/sp%tc.OutC])
			scale[i] += math.Abs(float64(b[i/sp%tc.OutC]))
		}
		checkClose(t, "transposed forward", y, want, scale, tol)
		dy := randSlice(r, len(y))
		dx := make([]float32, len(x))
		if err := tp.BackwardData(dx, dy); err != nil {
			t.Fatal(err)
		}
		wdx, sdx := refForward(adj, dy, w, nil)
		checkClose(t, "transposed backward data", dx, wdx, sdx, tol)
		dw, db := make([]float32, len(w)), make([]float32, tc.OutC)
		if err := tp.BackwardWeight(dw, db, x, dy); err != nil {
			t.Fatal(err)
		}
		wdw, sdw, _ := refBackwardWeight(adj, dy, x)
		checkClose(t, "transposed backward weight", dw, wdw, sdw, tol)
		wdb := make([]float64, tc.OutC)
		for i, v := range dy {
			wdb[i/sp%tc.OutC] += float64(v)
		}
		checkClose(t, "transposed bias gradient", db, wdb, nil, tol)
	}
	// torch: ConvTranspose3d(k=3, s=2, p=1, output_padding=1) doubles the size
	tp := TransposedParams{Params: Params{N: 1, InC: 1, OutC: 1, In: [3]int{5, 5, 5}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}, OutputPadding: [3]int{1, 1, 1}}
	if o := tp.Out(); o != [3]int{10, 10, 10} {
		t.Fatalf("transposed out = %v, want 10³", o)
	}
	tp.OutputPadding = [3]int{2, 0, 0}
	if _, err := tp.Adjoint(); !errors.Is(err, ErrParams) {
		t.Fatalf("output padding >= stride accepted: %v", err)
	}
}

func TestFoldBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	p := Params{N: 1, InC: 3, OutC: 4, In: [3]int{4, 4, 4}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	x, w, b := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), randSlice(r, p.OutC)
	gamma, beta, mean := randSlice(r, 4), randSlice(r, 4), randSlice(r, 4)
	variance := []float32{0.5, 1, 2, 0.1}
	conv, _ := refForward(p, x, w, b)
	sp := 64
	want := make([]float64, len(conv))
	for i, v := range conv {
		c := i / sp
		want[i] = (v-float64(mean[c]))/math.Sqrt(float64(variance[c])+1e-5)*float64(gamma[c]) + float64(beta[c])
	}
	fb, err := FoldBatchNorm(w, b, gamma, beta, mean, variance, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := NewPlan(p)
	if err := pl.SetWeights(w); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, p.OutLen())
	if err := pl.Forward(y, x, &Epilogue{Bias: fb}); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "folded", y, want, nil, 1e-4)
	if _, err := FoldBatchNorm(w, nil, gamma[:3], beta, mean, variance, 1e-5); !errors.Is(err, ErrParams) {
		t.Fatal("mismatched lengths accepted")
	}
}

func TestErrors(t *testing.T) {
	bad := []Params{
		{N: 0, InC: 1, OutC: 1, In: [3]int{3, 3, 3}, Kernel: [3]int{1, 1, 1}},
		{N: 1, InC: 3, OutC: 2, In: [3]int{3, 3, 3}, Kernel: [3]int{1, 1, 1}, Groups: 2},
		{N: 1, InC: 1, OutC: 1, In: [3]int{3, 3, 3}, Kernel: [3]int{5, 1, 1}},
		{N: 1, InC: 1, OutC: 1, In: [3]int{3, 3, 3}, Kernel: [3]int{1, 1, 1}, Pad: [3]int{-1, 0, 0}},
		{N: 1, InC: 1, OutC: 1, In: [3]int{3, 3, 3}, Kernel: [3]int{1, 1, 1}, Stride: [3]int{-1, 1, 1}},
	}
	for _, p := range bad {
		if _, err := NewPlan(p); !errors.Is(err, ErrParams) {
			t.Errorf("%+v accepted: %v", p, err)
		}
	}
	p := Params{N: 1, InC: 2, OutC: 2, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	pl, _ := NewPlan(p)
	y, x := make([]float32, p.OutLen()), make([]float32, p.InLen())
	if err := pl.Forward(y, x, nil); !errors.Is(err, ErrParams) {
		t.Error("Forward before SetWeights accepted")
	}
	if err := pl.SetWeights(make([]float32, 3)); !errors.Is(err, ErrParams) {
		t.Error("short weights accepted")
	}
	_ = pl.SetWeights(make([]float32, p.WeightLen()))
	if err := pl.Forward(y[:5], x, nil); !errors.Is(err, ErrParams) {
		t.Error("short output accepted")
	}
	if err := pl.Forward(y, x, &Epilogue{Bias: []float32{1}}); !errors.Is(err, ErrParams) {
		t.Error("short bias accepted")
	}
}

// FuzzConv3d checks every pass of random small convolutions against the
// float64 reference.
func FuzzConv3d(f *testing.F) {
	f.Add(uint8(1), uint8(2), uint8(3), uint8(1), uint8(5), uint64(1))
	f.Fuzz(func(t *testing.T, n, ic, oc, groups, shape uint8, seed uint64) {
		r := rand.New(rand.NewPCG(seed, uint64(shape)))
		g := 1 + int(groups)%3
		p := Params{N: 1 + int(n)%2, InC: g * (1 + int(ic)%4), OutC: g * (1 + int(oc)%4), Groups: g}
		for i := range 3 {
			p.In[i] = 1 + r.IntN(8)
			p.Kernel[i] = 1 + r.IntN(4)
			p.Stride[i] = 1 + r.IntN(3)
			p.Dilation[i] = 1 + r.IntN(3)
			p.Pad[i] = r.IntN(4)
		}
		if err := p.Validate(); err != nil {
			if _, perr := NewPlan(p); !errors.Is(perr, ErrParams) {
				t.Fatalf("invalid %+v: NewPlan said %v", p, perr)
			}
			return
		}
		checkConv(t, p, r)
		if haveDirect() {
			defer forceDirect()()
			checkConv(t, p, r)
		}
	})
}

func TestAlgorithmChoice(t *testing.T) {
	for _, c := range []struct {
		p    Params
		want string
	}{
		{Params{N: 1, InC: 64, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "winograd-f2x3"},
		{Params{N: 1, InC: 64, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Dilation: [3]int{2, 2, 2}}, "direct-avx512"},
		{Params{N: 1, InC: 4, OutC: 5, In: [3]int{7, 6, 5}, Kernel: [3]int{1, 1, 1}}, "pointwise-gemm"},
		{Params{N: 1, InC: 4, OutC: 4, In: [3]int{7, 6, 5}, Kernel: [3]int{3, 3, 3}, Groups: 4}, "depthwise-avx512"},
		{Params{N: 1, InC: 4, OutC: 64, In: [3]int{96, 96, 96}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}, "direct-avx512"},
		{Params{N: 1, InC: 4, OutC: 5, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "im2col-gemm"},             // 48-position tiles for 27 outputs
		{Params{N: 1, InC: 4, OutC: 8, In: [3]int{32, 32, 32}, Kernel: [3]int{16, 16, 16}, Stride: [3]int{16, 16, 16}}, "im2col-gemm"}, // patch embedding
	} {
		pl, err := NewPlan(c.p)
		if err != nil {
			t.Fatal(err)
		}
		want := c.want
		if want == "winograd-f2x3" && winoLevel() == cpu.Portable || want == "direct-avx512" && !haveDirect() {
			want = "im2col-gemm"
		}
		if want == "depthwise-avx512" && !haveDirect() {
			want = "depthwise-direct"
		}
		if got := pl.Algorithm(); got != want {
			t.Errorf("%+v: algorithm %s, want %s", c.p, got, want)
		}
	}
}

func TestForwardDoesNotAllocate(t *testing.T) {
	for _, p := range []Params{
		{N: 1, InC: 16, OutC: 16, In: [3]int{8, 8, 8}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},
		{N: 1, InC: 16, OutC: 16, In: [3]int{8, 8, 8}, Kernel: [3]int{1, 1, 1}},
		{N: 1, InC: 16, OutC: 16, In: [3]int{8, 8, 8}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 16},
	} {
		pl, _ := NewPlan(p)
		r := rand.New(rand.NewPCG(9, 9))
		x, w, y := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), make([]float32, p.OutLen())
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		_ = pl.Forward(y, x, nil)
		if a := testing.AllocsPerRun(10, func() { _ = pl.Forward(y, x, nil) }); a > 0 {
			t.Errorf("%s forward allocates %.1f times per call", pl.Algorithm(), a)
		}
		// a training step re-packs the weights: that must reuse the packs
		if a := testing.AllocsPerRun(10, func() { _ = pl.SetWeights(w) }); a > 0 {
			t.Errorf("%s SetWeights allocates %.1f times per call", pl.Algorithm(), a)
		}
	}
}

// After SetWeights every pass must use the new weights (training updates
// them every step), including the cached adjoint of the data gradient.
func TestSetWeightsRefreshesEveryPass(t *testing.T) {
	defer forceDirect()()
	r := rand.New(rand.NewPCG(11, 11))
	for _, p := range []Params{
		{N: 1, InC: 4, OutC: 6, In: [3]int{6, 5, 4}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},
		{N: 1, InC: 16, OutC: 18, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}},                        // Winograd
		{N: 1, InC: 3, OutC: 8, In: [3]int{9, 9, 9}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}, // direct, packed lazily
		{N: 1, InC: 4, OutC: 4, In: [3]int{6, 5, 4}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 4},
		{N: 1, InC: 4, OutC: 6, In: [3]int{6, 5, 4}, Kernel: [3]int{1, 1, 1}},
	} {
		pl, _ := NewPlan(p)
		x, dy := randSlice(r, p.InLen()), randSlice(r, p.OutLen())
		y, dx := make([]float32, p.OutLen()), make([]float32, p.InLen())
		for range 2 {
			w := randSlice(r, p.WeightLen())
			if err := pl.SetWeights(w); err != nil {
				t.Fatal(err)
			}
			if err := pl.Forward(y, x, nil); err != nil {
				t.Fatal(err)
			}
			if err := pl.BackwardData(dx, dy); err != nil {
				t.Fatal(err)
			}
			ref := refAll(p, x, w, nil, dy)
			checkClose(t, pl.Algorithm()+" forward after SetWeights", y, ref.y, ref.ys, tol)
			checkClose(t, pl.Algorithm()+" backward data after SetWeights", dx, ref.dx, ref.dxs, tol)
		}
	}
}
