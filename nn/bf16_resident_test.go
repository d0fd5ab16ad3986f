package nn

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// tinyNet is a LaMIM-shaped stack in miniature: a patch-embedding Conv3d
// (kernel = stride), a Linear over the tokens, GELU, a second Linear, and
// a 3-class head.
type tinyNet struct {
	patch       *Conv3d
	fc1, fc2    *Linear
	head        *Linear
	hidden, mlp int
}

func newTinyNet(seed uint64, hidden, mlp int) *tinyNet {
	r := NewRNG(seed)
	return &tinyNet{
		patch:  NewConv3d(2, hidden, Cube(4), ConvOptions{Stride: Cube(4)}, r),
		fc1:    NewLinear(hidden, mlp, LinearOptions{}, r),
		fc2:    NewLinear(mlp, hidden, LinearOptions{}, r),
		head:   NewLinear(hidden, 3, LinearOptions{}, r),
		hidden: hidden, mlp: mlp,
	}
}

func (m *tinyNet) Forward(g *Graph, x *Tensor) *Tensor {
	y := m.patch.Forward(g, x) // (N, hidden, 2, 2, 3)
	n := x.Shape[0]
	t := g.Transpose(g.Reshape(y, n, m.hidden, -1), 1, 2)
	t = g.Add(t, m.fc2.Forward(g, g.GELU(m.fc1.Forward(g, t))))
	return m.head.Forward(g, g.Mean(t, 1))
}

func (m *tinyNet) Visit(v *Visitor) {
	v.Child("patch", m.patch)
	v.Child("fc1", m.fc1)
	v.Child("fc2", m.fc2)
	v.Child("head", m.head)
}

func tinyInput() *Tensor {
	x := NewTensor(2, 2, 8, 8, 12)
	InitNormal(x, 0, 1, NewRNG(99))
	return x
}

func forwardT(t *testing.T, m Module, x *Tensor, o Options) *Tensor {
	t.Helper()
	g := NewGraph(o)
	y := m.Forward(g, x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	return y
}

// maxRel is max|a-b| / max|b|.
func maxRel(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
		s = max(s, math.Abs(float64(b[i])))
	}
	return d / max(s, 1e-30)
}

// A converted network equals the float32 one with bfloat16-rounded weights
// (float32 graph), its Options.BF16 pass equals the unconverted network's
// (both round the weights the same way), and the conversion keeps only
// bfloat16 weights.
func TestConvertBF16Parity(t *testing.T) {
	for _, sz := range [][2]int{{32, 48}, {512, 640}} { // the second above streamBF16Min
		x := tinyInput()
		ref, conv := newTinyNet(5, sz[0], sz[1]), newTinyNet(5, sz[0], sz[1])
		y32 := forwardT(t, ref, x, Options{})
		var yb *Tensor
		if HaveBF16() {
			yb = forwardT(t, ref, x, Options{BF16: true})
		}
		if err := ConvertBF16(conv); err != nil {
			t.Fatal(err)
		}
		for _, w := range []*Tensor{conv.patch.Weight, conv.fc1.Weight, conv.fc2.Weight, conv.head.Weight} {
			if !w.IsBF16() || w.Data != nil || w.RequiresGrad() {
				t.Fatalf("%v: converted = %v, Data %d values, requires grad %v", w.Shape, w.IsBF16(), len(w.Data), w.RequiresGrad())
			}
		}
		if conv.fc1.Bias.IsBF16() {
			t.Fatal("a bias was converted")
		}
		// float32 graph: the reference with rounded weights
		for _, l := range []*Tensor{ref.patch.Weight, ref.fc1.Weight, ref.fc2.Weight, ref.head.Weight} {
			l.Update(func(d []float32) {
				for i, v := range d {
					d[i] = gemm.FromBF16(gemm.ToBF16(v))
				}
			})
		}
		yr := forwardT(t, ref, x, Options{})
		yc32 := forwardT(t, conv, x, Options{})
		if e := maxRel(yc32.Data, yr.Data); e > 1e-5 {
			t.Errorf("%v float32 graph: converted vs rounded weights: max rel error %g", sz, e)
		}
		if e := maxRel(yc32.Data, y32.Data); e > 3e-2 || e == 0 {
			t.Errorf("%v float32 graph: converted vs float32 weights: max rel error %g", sz, e)
		}
		if yb == nil {
			continue
		}
		ycb := forwardT(t, conv, x, Options{BF16: true})
		if e := maxRel(ycb.Data, yb.Data); e > 2e-3 {
			t.Errorf("%v BF16: converted vs unconverted: max rel error %g", sz, e)
		}
		if e := maxRel(ycb.Data, y32.Data); e > 3e-2 {
			t.Errorf("%v BF16: converted vs float32: max rel error %g", sz, e)
		}
	}
}

// Above streamBF16Min, an unconverted BF16 Linear (weights rounded per
// call, weights-stationary kernel) and a converted one (resident packs)
// add the same VDPBF16PS pair products in the same order: equal bit for
// bit (AMX accumulates in another order).
func TestConvertBF16LinearIdentical(t *testing.T) {
	if !HaveBF16() || gemm.UsesAMX() {
		t.Skip("needs VDPBF16PS without AMX")
	}
	r := NewRNG(8)
	a := NewLinear(512, 768, LinearOptions{}, r)
	b := &Linear{Weight: a.Weight.Clone(), Bias: a.Bias.Clone(), packs: newPackCache()}
	x := randT(r, 3, 70, 512)
	ya := forwardT(t, a, x, Options{BF16: true})
	if err := ConvertBF16(b); err != nil {
		t.Fatal(err)
	}
	yb := forwardT(t, b, x, Options{BF16: true})
	for i := range ya.Data {
		if ya.Data[i] != yb.Data[i] {
			t.Fatalf("y[%d]: converted %g, unconverted %g", i, yb.Data[i], ya.Data[i])
		}
	}
}

// The state dict of a converted model holds the rounded weights exactly;
// loading, copying, updating and initialising a converted weight round
// the new values; Clone and Values widen.
func TestConvertBF16StateDict(t *testing.T) {
	orig := newTinyNet(6, 32, 48)
	conv := newTinyNet(6, 32, 48)
	want := orig.fc1.Weight.Clone()
	if err := ConvertBF16(conv); err != nil {
		t.Fatal(err)
	}
	sd := StateDict(conv)
	w := sd["fc1.weight"]
	if w.IsBF16() || len(w.Data) != want.Numel() || !SameShape(w.Shape, want.Shape) {
		t.Fatalf("state dict fc1.weight: converted %v, %d values, shape %v", w.IsBF16(), len(w.Data), w.Shape)
	}
	for i, v := range w.Data {
		if r := gemm.FromBF16(gemm.ToBF16(want.Data[i])); v != r {
			t.Fatalf("fc1.weight[%d] = %g, want the rounded %g", i, v, r)
		}
	}
	if sd["fc1.bias"] != conv.fc1.Bias {
		t.Fatal("a float32 tensor is copied by StateDict")
	}
	if conv.fc1.Weight.Numel() != want.Numel() {
		t.Fatalf("Numel %d, want %d", conv.fc1.Weight.Numel(), want.Numel())
	}
	// the rounded state dict into a float32 model gives the converted model's results
	fresh := newTinyNet(7, 32, 48)
	if _, err := LoadStateDict(fresh, sd, LoadOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	x := tinyInput()
	if e := maxRel(forwardT(t, conv, x, Options{}).Data, forwardT(t, fresh, x, Options{}).Data); e > 1e-5 {
		t.Errorf("reloaded float32 model differs from the converted one: %g", e)
	}
	// loading float32 values into a converted model reconverts
	if _, err := LoadStateDict(conv, StateDict(newTinyNet(9, 32, 48)), LoadOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	other := newTinyNet(9, 32, 48).fc1.Weight
	check := func(what string, got *Tensor, src []float32) {
		t.Helper()
		if !got.IsBF16() {
			t.Fatalf("%s: no longer converted", what)
		}
		v := got.Values()
		for i := range v {
			if r := gemm.FromBF16(gemm.ToBF16(src[i])); v[i] != r {
				t.Fatalf("%s: [%d] = %g, want %g", what, i, v[i], r)
			}
		}
	}
	check("LoadStateDict", conv.fc1.Weight, other.Data)
	if err := conv.fc1.Weight.CopyFrom(want.Data); err != nil {
		t.Fatal(err)
	}
	check("CopyFrom", conv.fc1.Weight, want.Data)
	if err := conv.fc1.Weight.CopyFrom(want.Data[1:]); !errors.Is(err, ErrShape) {
		t.Fatalf("CopyFrom of a wrong size: %v", err)
	}
	conv.fc1.Weight.Update(func(d []float32) {
		for i := range d {
			d[i] *= 2
		}
	})
	doubled := want.Clone()
	for i := range doubled.Data {
		doubled.Data[i] = 2 * gemm.FromBF16(gemm.ToBF16(want.Data[i]))
	}
	check("Update", conv.fc1.Weight, doubled.Data)
	InitConst(conv.fc1.Weight, 0.1)
	c := conv.fc1.Weight.Clone()
	for _, v := range c.Data {
		if v != gemm.FromBF16(gemm.ToBF16(0.1)) {
			t.Fatalf("InitConst then Clone: %g", v)
		}
	}
	if _, err := conv.fc1.Weight.View(-1); !errors.Is(err, ErrBF16) {
		t.Fatalf("View of a converted weight: %v", err)
	}
	if err := ConvertBF16(conv); err != nil { // again: nothing to do
		t.Fatal(err)
	}
}

// Converted weights are inference-only: recording graphs and float32
// operations on them fail with ErrBF16 (no panic); NoGrad inside a
// training graph runs.
func TestConvertBF16Refusals(t *testing.T) {
	m := newTinyNet(10, 32, 48)
	if err := ConvertBF16(m); err != nil {
		t.Fatal(err)
	}
	x := tinyInput()
	g := NewGraph(Options{Grad: true})
	m.Forward(g, x)
	if !errors.Is(g.Err(), ErrBF16) {
		t.Fatalf("training graph: %v, want ErrBF16", g.Err())
	}
	g = NewGraph(Options{Grad: true})
	tok := randT(NewRNG(1), 4, 32)
	m.fc1.Forward(g, tok)
	if !errors.Is(g.Err(), ErrBF16) {
		t.Fatalf("Linear in a training graph: %v, want ErrBF16", g.Err())
	}
	g = NewGraph(Options{Grad: true})
	var y *Tensor
	g.NoGrad(func() { y = m.Forward(g, x) })
	if g.Err() != nil || len(y.Data) != 6 {
		t.Fatalf("NoGrad: %v", g.Err())
	}
	w := m.fc1.Weight
	for name, op := range map[string]func(g *Graph){
		"MatMul":    func(g *Graph) { g.MatMul(tok, w, MatMulOptions{TransB: true}) },
		"Add":       func(g *Graph) { g.Add(w, w) },
		"Scale":     func(g *Graph) { g.Scale(w, 2) },
		"GELU":      func(g *Graph) { g.GELU(w) },
		"Reshape":   func(g *Graph) { g.Reshape(w, -1) },
		"Reshape 2": func(g *Graph) { g.Reshape(m.patch.Weight, 2, -1) },
		"Sum":       func(g *Graph) { g.Sum(w) },
		"Softmax":   func(g *Graph) { g.Softmax(w, -1) },
		"Concat":    func(g *Graph) { g.Concat(0, w, w) },
		"Linear x":  func(g *Graph) { g.Linear(w, w, nil) },
		"Transpose": func(g *Graph) { g.Transpose(w, 0, 1) },
		"Conv3d":    func(g *Graph) { g.Conv3d(x, m.patch.Weight, nil, ConvOptions{Stride: Cube(2)}) },
	} {
		g := NewGraph(Options{})
		op(g)
		if !errors.Is(g.Err(), ErrBF16) {
			t.Errorf("%s on a converted weight: %v, want ErrBF16", name, g.Err())
		}
	}
	bn := NewBatchNorm3d(32)
	if err := FoldBatchNorm(m.patch, bn); !errors.Is(err, ErrBF16) {
		t.Fatalf("FoldBatchNorm: %v", err)
	}
	// a patch convolution's fused form (residual, ReLU) still runs
	g = NewGraph(Options{})
	y0 := m.patch.Forward(g, x)
	y1 := m.patch.ForwardAct(g, x, ActOptions{Residual: y0, ReLU: true})
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	for i, v := range y1.Data {
		if want := max(2*y0.Data[i], 0); v != want {
			t.Fatalf("ForwardAct[%d] = %g, want %g", i, v, want)
		}
	}
	// a patch convolution's weight reshaped to [out, C·p³] is its Linear
	// weight, sharing the bfloat16 values (the patches-as-rows inference path)
	g = NewGraph(Options{})
	wl := g.Reshape(m.patch.Weight, m.hidden, -1)
	if g.Err() != nil || !wl.IsBF16() {
		t.Fatalf("Reshape to a Linear weight: %v", g.Err())
	}
	c, _ := newConvGeom(x.Shape, m.patch.Weight.Shape, m.patch.Options)
	vol := c.outVol()
	rows := NewTensor(c.n*vol, c.cin*c.kVol())
	conv.Patches(rows.Data, x.Data, c.n, c.cin, c.in, c.k)
	for _, bf := range []bool{false, true} {
		g = NewGraph(Options{BF16: bf})
		yl := g.Linear(rows, g.Reshape(m.patch.Weight, m.hidden, -1), m.patch.Bias)
		yc := m.patch.Forward(g, x)
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
		for n := range c.n {
			for o := range m.hidden {
				for v := range vol {
					if a, b := yl.Data[(n*vol+v)*m.hidden+o], yc.Data[(n*m.hidden+o)*vol+v]; a != b {
						t.Fatalf("BF16 %v: Linear on patches [%d, %d, %d] = %g, conv %g", bf, n, o, v, a, b)
					}
				}
			}
		}
	}
	// only patch convolutions are converted
	c3 := NewConv3d(2, 4, Cube(3), ConvOptions{Padding: Cube(1)}, NewRNG(2))
	if err := ConvertBF16(c3); err != nil || c3.Weight.IsBF16() {
		t.Fatalf("3×3×3 convolution: converted %v, %v", c3.Weight.IsBF16(), err)
	}
}

// Two graphs run one converted model at once (go test -race).
func TestConvertBF16Concurrent(t *testing.T) {
	m := newTinyNet(11, 64, 96)
	if err := ConvertBF16(m); err != nil {
		t.Fatal(err)
	}
	x := tinyInput()
	for _, bf := range []bool{false, true} {
		want := forwardT(t, m, x, Options{BF16: bf})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					g := NewGraph(Options{BF16: bf, Arena: NewArena()})
					y := m.Forward(g, x)
					if g.Err() != nil {
						errs[k] = g.Err()
						return
					}
					for i := range y.Data {
						if y.Data[i] != want.Data[i] {
							errs[k] = errors.New("concurrent result differs")
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// An inference pass of a converted model through an arena allocates
// nothing after warm-up, in float32 and in bfloat16. The GEMMs' pooled
// worker buffers still grow now and then, when a worker that served a
// smaller product takes a larger one (sync.Pool hands workers out in any
// order): a few times per hundred passes, more with the AMX emulation. An
// allocation per pass shows as ≥ 1 on average over 50 passes; those
// stragglers do not.
func TestConvertBF16ZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	m := newTinyNet(12, 256, 384)
	if err := ConvertBF16(m); err != nil {
		t.Fatal(err)
	}
	x := tinyInput()
	for _, bf := range []bool{false, true} {
		g := NewGraph(Options{Arena: NewArena(), BF16: bf})
		run := func() { // the layers of tinyNet without its allocating glue
			g.Reset()
			t := g.Reshape(m.patch.Forward(g, x), -1, m.hidden)
			m.head.Forward(g, m.fc2.Forward(g, g.ReLU(m.fc1.Forward(g, t))))
		}
		run()
		if a := testing.AllocsPerRun(50, run); a != 0 {
			t.Errorf("BF16 %v: %v allocations per pass, want 0", bf, a)
		}
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
	}
}
