package nn

import "testing"

// An inference pass through an arena allocates nothing after warm-up (the
// operations of this package; convolution and pooling kernels are measured
// by BenchmarkForward).
func TestInferenceZeroAllocs(t *testing.T) {
	r := NewRNG(1)
	bn := NewBatchNorm3d(8)
	bn.Training = false
	fc := NewLinear(8, 3, LinearOptions{}, r)
	x := randT(r, 2, 8, 16, 16, 16)
	g := NewGraph(Options{Arena: NewArena()})
	var out *Tensor
	run := func() {
		g.Reset()
		y := g.ReLU(bn.Forward(g, x))
		y = g.ReLU(g.Add(g.Scale(y, 0.5), y))
		out = g.Softmax(fc.Forward(g, g.Reshape(g.Mean(y, 2, 3, 4), 2, 8)), 1)
	}
	run()
	want := out.Clone()
	allocs := testing.AllocsPerRun(5, run)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	for i := range want.Data {
		if out.Data[i] != want.Data[i] {
			t.Fatal("arena reuse changed the result")
		}
	}
	if allocs != 0 {
		t.Errorf("%v allocations per inference pass, want 0", allocs)
	}
}

// With an arena, intermediate gradients are recycled during Backward and
// a steady-state training pass reuses the same buffers.
func TestArenaRecyclesGradients(t *testing.T) {
	r := NewRNG(2)
	w := randT(r, 4, 4)
	x := randT(r, 3, 4)
	x.SetRequiresGrad(false)
	a := NewArena()
	g := NewGraph(Options{Grad: true, Arena: a})
	var h *Tensor
	step := func() {
		g.Reset()
		w.ZeroGrad()
		h = g.Tanh(g.Linear(x, w, nil))
		if err := g.Backward(g.Sum(g.Square(h))); err != nil {
			t.Fatal(err)
		}
	}
	step()
	first := w.Grad().Clone()
	before := a.Bytes()
	for range 3 {
		step()
	}
	if h.Grad() != nil {
		t.Error("intermediate gradient retained after Backward")
	}
	if a.Bytes() != before {
		t.Errorf("arena grew from %d to %d bytes in steady state", before, a.Bytes())
	}
	for i := range first.Data {
		if w.Grad().Data[i] != first.Data[i] {
			t.Fatal("recycled buffers changed the gradient")
		}
	}
}

// Several goroutines can run one model at once, each with its own graph
// (convolution plans are checked out per call, never shared).
func TestConcurrentInference(t *testing.T) {
	r := NewRNG(3)
	m := smallNet(r)
	SetTraining(m, false)
	x := randT(r, 2, 2, 8, 8, 8)
	want := m.Forward(NewGraph(Options{}), x).Clone()
	done := make(chan []float32, 4)
	for range 4 {
		go func() {
			g := NewGraph(Options{Arena: NewArena()})
			var out []float32
			for range 5 {
				g.Reset()
				out = m.Forward(g, x).Clone().Data
			}
			done <- out
		}()
	}
	for range 4 {
		got := <-done
		for i := range want.Data {
			if got[i] != want.Data[i] {
				t.Fatalf("concurrent result differs at %d: %v vs %v", i, got[i], want.Data[i])
			}
		}
	}
}
