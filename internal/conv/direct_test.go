package conv

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
)

// directShapes exercise the direct kernel's code paths: forward tiles per
// output plane and over the flattened grid, several sliver groups with a
// ragged last sliver, more input channels than one K block, and kernels
// with more than 64 taps (K blocks of one kd plane).
var directShapes = []struct {
	name   string
	p      Params
	tiling string // forward tiles per "plane", "row" or over the "flat" grid
}{
	{"per-plane", Params{N: 1, InC: 3, OutC: 5, In: [3]int{4, 8, 10}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "plane"},
	{"flat-strided", Params{N: 2, InC: 5, OutC: 20, In: [3]int{10, 10, 10}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}, "flat"},
	{"sliver-groups", Params{N: 1, InC: 2, OutC: 75, In: [3]int{5, 6, 7}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "flat"},
	{"channel-blocks", Params{N: 1, InC: 23, OutC: 9, In: [3]int{6, 5, 7}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{1, 2, 1}, Pad: [3]int{1, 1, 0}}, "flat"},
	{"long-rows", Params{N: 1, InC: 2, OutC: 8, In: [3]int{3, 4, 53}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "plane"},
	{"rows-of-48", Params{N: 1, InC: 3, OutC: 10, In: [3]int{3, 2, 48}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}, "row"},
	{"rows-of-96", Params{N: 1, InC: 2, OutC: 9, In: [3]int{3, 4, 191}, Kernel: [3]int{5, 3, 3}, Stride: [3]int{1, 2, 2}, Pad: [3]int{2, 1, 1}}, "row"},
	{"long-grid", Params{N: 1, InC: 6, OutC: 7, In: [3]int{20, 19, 21}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}, "plane"},
	{"stem", Params{N: 1, InC: 3, OutC: 17, In: [3]int{13, 11, 12}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}, "flat"},
}

func TestDirectShapes(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	defer forceDirect()()
	testDirectShapes(t)
	old := bwBlockBytes
	defer func() { bwBlockBytes = old }()
	bwBlockBytes = 1 // one input channel per weight-gradient block
	testDirectShapes(t)
}

func testDirectShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range directShapes {
		t.Run(s.name, func(t *testing.T) {
			pl, err := NewPlan(s.p)
			if err != nil {
				t.Fatal(err)
			}
			if pl.Algorithm() != "direct-avx512" {
				t.Fatalf("algorithm %s", pl.Algorithm())
			}
			d := pl.dir
			tiling := "plane"
			switch {
			case d.bRows > 1:
				tiling = "row"
			case d.blocks == 1 && pl.g.out[0] > 1:
				tiling = "flat"
			}
			if tiling != s.tiling {
				t.Errorf("forward tiles per %s, want %s", tiling, s.tiling)
			}
			o := pl.g.out
			if n := d.blocks * d.per; n > d.qTiles || n > o[0]*d.perPlane || n > o[0]*o[1]*((o[2]+dirNR-1)/dirNR) {
				t.Errorf("%d forward tiles, more than a cheaper tiling", n)
			}
			checkConv(t, s.p, r)
		})
	}
}

// TestDeinterleave2 checks the stride-2 row split of every length up to
// three vectors against the scalar definition, and that it writes nothing
// past the phase rows, at every CPU level (assembly and portable).
func TestDeinterleave2(t *testing.T) {
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			testDeinterleave2(t)
		})
	}
}

func testDeinterleave2(t *testing.T) {
	for n := 1; n <= 49; n++ {
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(i + 1)
		}
		even, odd := make([]float32, (n+1)/2+1), make([]float32, n/2+1)
		deinterleave2(row, even[:(n+1)/2], odd[:n/2])
		for i, v := range row {
			got := even[i/2]
			if i%2 == 1 {
				got = odd[i/2]
			}
			if got != v {
				t.Fatalf("n=%d: element %d went to %v, want %v", n, i, got, v)
			}
		}
		if even[(n+1)/2] != 0 || odd[n/2] != 0 {
			t.Fatalf("n=%d: wrote past the phase rows", n)
		}
	}
}

// TestAddRow checks the biased run store for lengths around the vector
// width, and that it leaves the floats after the run alone.
func TestAddRow(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	for n := 1; n <= 50; n++ {
		src, dst := make([]float32, n), make([]float32, n+1)
		for i := range src {
			src[i] = float32(i)
		}
		dst[n] = -1
		addRow(&dst[0], &src[0], n, 0.5)
		for i, v := range dst[:n] {
			if v != float32(i)+0.5 {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, v, float32(i)+0.5)
			}
		}
		if dst[n] != -1 {
			t.Fatalf("n=%d: wrote past the run", n)
		}
	}
}

// ocShapes run the channel-vector forward (groups of 64 output channels):
// stem-like K blocks with a ragged channel block, rows that are not a
// multiple of 6 outputs, two groups, strided 3×3×3.
var ocShapes = []Params{
	{N: 2, InC: 5, OutC: 64, In: [3]int{9, 10, 13}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}},
	{N: 1, InC: 5, OutC: 128, In: [3]int{8, 8, 8}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}},
	{N: 1, InC: 4, OutC: 128, In: [3]int{6, 7, 14}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 2},
	{N: 1, InC: 3, OutC: 64, In: [3]int{4, 5, 36}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Dilation: [3]int{1, 1, 2}},
}

func TestDirectOC(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	defer forceDirect()()
	r := rand.New(rand.NewPCG(13, 14))
	for _, p := range ocShapes {
		pl, err := NewPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		if pl.dir == nil || pl.dir.oc == nil {
			t.Fatalf("%+v: channel-vector forward not chosen", p)
		}
		checkConv(t, p, r)
		// the epilogue with residual and activation
		x, w, b, res := randSlice(r, p.InLen()), randSlice(r, p.WeightLen()), randSlice(r, p.OutC), randSlice(r, p.OutLen())
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, p.OutLen())
		if err := pl.Forward(y, x, &Epilogue{Bias: b, Residual: res, Act: gemm.ReLU}); err != nil {
			t.Fatal(err)
		}
		want, scale := refForward(p, x, w, b)
		for i := range want {
			want[i] = math.Max(want[i]+float64(res[i]), 0)
			scale[i] += math.Abs(float64(res[i]))
		}
		checkClose(t, "channel-vector epilogue", y, want, scale, tol)
	}
}

// TestDirectOCRandom checks the channel-vector forward (and the weight
// gradient tiles) on random small geometries with 64 or 128 output
// channels per group: kernel sizes 1-4 per axis, strides 1-2, padding,
// dilation, ragged rows.
func TestDirectOCRandom(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	defer forceDirect()()
	r := rand.New(rand.NewPCG(15, 16))
	checked := 0
	for checked < 30 {
		p := Params{N: 1, InC: 1 + r.IntN(5), OutC: 64 * (1 + r.IntN(2))}
		for i := range 3 {
			p.In[i] = 1 + r.IntN(9)
			p.Kernel[i] = 1 + r.IntN(4)
			p.Stride[i] = 1 + r.IntN(2)
			p.Dilation[i] = 1 + r.IntN(2)
			p.Pad[i] = r.IntN(3)
		}
		if p.Validate() != nil {
			continue
		}
		pl, err := NewPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		if pl.dir == nil || pl.dir.oc == nil {
			continue
		}
		checkConv(t, p, r)
		checked++
	}
}

// TestDirectSetWeightsDoesNotAllocate: layers repack after every optimizer
// step, so repacking the direct kernels' weights must not allocate.
func TestDirectSetWeightsDoesNotAllocate(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	defer forceDirect()()
	for _, p := range []Params{ocShapes[0], directShapes[0].p} {
		pl, err := NewPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		w := randSlice(rand.New(rand.NewPCG(1, 1)), p.WeightLen())
		if err := pl.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(5, func() { _ = pl.SetWeights(w) }); a > 0 {
			t.Errorf("%+v: SetWeights allocates %.1f times per call", p, a)
		}
	}
}

// TestOCStore checks the transposing store of a channel-vector tile
// against the definition for every valid position count, and that nothing
// outside the np outputs of each channel row is written.
func TestOCStore(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(17, 18))
	tile, bias := randSlice(r, ocNP*ocNB), randSlice(r, ocNB)
	const ld = 19 // floats between channel rows
	for name, store := range map[string]func(tile, y *float32, ldy, np int, bias *float32){"gather": ocStore} {
		for np := 1; np <= ocNP; np++ {
			y := make([]float32, ocNB*ld+16)
			for i := range y {
				y[i] = -7
			}
			store(&tile[0], &y[8], 4*ld, np, &bias[0])
			for i, v := range y {
				want := float32(-7)
				if o := i - 8; o >= 0 && o/ld < ocNB && o%ld < np {
					want = tile[o%ld*ocNB+o/ld] + bias[o/ld]
				}
				if v != want {
					t.Fatalf("%s np=%d: y[%d] = %v, want %v", name, np, i-8, v, want)
				}
			}
		}
	}
}

// poisonScratch fills the package's pool with NaN buffers of every power
// of two size up to 4 Mi floats, so that a kernel that reads a pooled
// cell it did not write produces NaN.
func poisonScratch() {
	for e := 6; e <= 22; e++ {
		b := alignedZeros(1 << e)
		for i := range b {
			b[i] = float32(math.NaN())
		}
		scratch.put(b)
	}
}

// TestDirectPooledPadding: the direct kernels borrow their padded input
// from the pool, whose buffers hold whatever the last user left; every
// padding cell (planes, rows, columns of each stride phase, the slack)
// must be zeroed, for the forward, data-gradient and weight-gradient
// passes, strided, dilated, asymmetric and channel-vector shapes.
func TestDirectPooledPadding(t *testing.T) {
	if !haveDirect() {
		t.Skip("no AVX-512")
	}
	defer forceDirect()()
	r := rand.New(rand.NewPCG(17, 18))
	shapes := []Params{ocShapes[0]}
	for _, s := range directShapes {
		shapes = append(shapes, s.p)
	}
	for len(shapes) < 40 {
		p := Params{N: 1 + r.IntN(2), InC: 1 + r.IntN(5), OutC: 1 + r.IntN(70)}
		for i := range 3 {
			p.In[i] = 1 + r.IntN(9)
			p.Kernel[i] = 1 + r.IntN(4)
			p.Stride[i] = 1 + r.IntN(2)
			p.Dilation[i] = 1 + r.IntN(2)
			p.Pad[i] = r.IntN(4)
		}
		if p.Validate() != nil {
			continue
		}
		if pl, err := NewPlan(p); err != nil || pl.dir == nil {
			continue
		}
		shapes = append(shapes, p)
	}
	for _, p := range shapes {
		poisonScratch()
		checkConv(t, p, r)
	}
}

func TestPhaseCells(t *testing.T) {
	for n := 1; n < 7; n++ {
		for p := range 4 {
			for s := 1; s < 4; s++ {
				grid := (n + 2*p + s - 1) / s
				for a := range s {
					lo, hi := phaseCells(n, p, s, a, grid)
					for c := range grid {
						i := c*s + a - p
						if got, want := c >= lo && c < hi, i >= 0 && i < n; got != want {
							t.Fatalf("n=%d p=%d s=%d phase %d: cell %d in [%d,%d) = %v, holds input %d", n, p, s, a, c, lo, hi, got, i)
						}
					}
				}
			}
		}
	}
}
