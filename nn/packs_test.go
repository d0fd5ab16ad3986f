package nn

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
	"weak"
)

// convOut runs c on x in a fresh inference graph.
func convOut(t *testing.T, c *Conv3d, x *Tensor) []float32 {
	t.Helper()
	g := NewGraph(Options{})
	y := c.Forward(g, x)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	return y.Data
}

func sameValues(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// The stale-pack bug: a layer packs its weights on first use; every way the
// public API offers to change them afterwards must reach the next forward
// pass. Before, a caller who wrote Data and forgot Tensor.Touch ran with
// the old packed weights (Winograd-transformed for this 3×3×3 layer).
func TestPackedWeightsFollowWrites(t *testing.T) {
	r := NewRNG(31)
	x := randT(r, 1, 4, 6, 6, 6)
	other := randT(r, 8, 4, 3, 3, 3)
	fresh := func(w []float32, b []float32) []float32 {
		c := NewConv3d(4, 8, Cube(3), ConvOptions{Padding: Cube(1)}, NewRNG(1))
		copy(c.Weight.Data, w)
		copy(c.Bias.Data, b)
		return convOut(t, c, x)
	}
	writes := []struct {
		name  string
		write func(c *Conv3d)
	}{
		{"copy into Data", func(c *Conv3d) { copy(c.Weight.Data, other.Data) }},
		{"replace Data", func(c *Conv3d) { c.Weight.Data = append([]float32(nil), other.Data...) }},
		{"scale Data in a loop", func(c *Conv3d) {
			for i := range c.Weight.Data {
				c.Weight.Data[i] *= 0.5
			}
		}},
		{"CopyFrom", func(c *Conv3d) { _ = c.Weight.CopyFrom(other.Data) }},
		{"Update of one value", func(c *Conv3d) { c.Weight.Update(func(d []float32) { d[17] += 3 }) }},
		{"InitConst", func(c *Conv3d) { InitConst(c.Weight, 0.01) }},
		{"InitNormal", func(c *Conv3d) { InitNormal(c.Weight, 0, 0.1, NewRNG(9)) }},
		{"LoadStateDict", func(c *Conv3d) {
			if _, err := LoadStateDict(c, map[string]*Tensor{"weight": other, "bias": c.Bias.Clone()}, LoadOptions{Strict: true}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, w := range writes {
		c := NewConv3d(4, 8, Cube(3), ConvOptions{Padding: Cube(1)}, NewRNG(1))
		convOut(t, c, x) // packs the initial weights
		w.write(c)
		got := convOut(t, c, x)
		if want := fresh(c.Weight.Data, c.Bias.Data); !sameValues(got, want) {
			t.Errorf("%s: forward after the write used stale packed weights", w.name)
		}
	}
}

// Optimizer steps and FoldBatchNorm reach the packs too (optim calls Update).
func TestPackedWeightsFollowFold(t *testing.T) {
	r := NewRNG(32)
	x := randT(r, 1, 2, 5, 5, 5)
	c := NewConv3d(2, 3, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	bn := NewBatchNorm3d(3)
	bn.Training = false
	copy(bn.RunningMean.Data, []float32{0.5, -1, 2})
	copy(bn.RunningVar.Data, []float32{4, 0.25, 1})
	g := NewGraph(Options{})
	want := bn.Forward(g, c.Forward(g, x)).Data
	if err := FoldBatchNorm(c, bn); err != nil {
		t.Fatal(err)
	}
	got := convOut(t, c, x)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("folded conv %v, conv+bn %v at %d: stale packed weights", got[i], want[i], i)
		}
	}
}

// Packs belong to the layer: none is cached at package level, a dropped
// layer's packs are collected with it, and one layer's cache is bounded.
func TestPacksOwnedAndBounded(t *testing.T) {
	r := NewRNG(22)
	var wc weak.Pointer[packCache]
	func() {
		c := NewConv3d(2, 3, Cube(3), ConvOptions{Padding: Cube(1), NoBias: true}, r)
		convOut(t, c, randT(r, 1, 2, 4, 4, 4))
		if n := c.packs.cachedPlans(c.Weight); n != 1 {
			t.Fatalf("%d cached plans for the layer, want 1", n)
		}
		wc = weak.Make(c.packs)
	}()
	for i := 0; i < 50 && wc.Value() != nil; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if wc.Value() != nil {
		t.Fatal("the packs of a dropped layer are still reachable")
	}
	c := NewConv3d(1, 2, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	for s := 2; s < 2+2*maxPacks; s++ {
		convOut(t, c, randT(r, 1, 1, s, 3, 3))
	}
	if c.packs.plans.n > maxPacks {
		t.Fatalf("%d plans cached by one layer, bound %d", c.packs.plans.n, maxPacks)
	}
	// A functional call keeps its packs in the graph.
	g := NewGraph(Options{})
	g.Conv3d(randT(r, 1, 1, 4, 4, 4), c.Weight, c.Bias, c.Options)
	if g.own == nil || g.own.cachedPlans(c.Weight) != 1 {
		t.Fatal("functional Conv3d did not cache its plan in the graph")
	}
}

func TestSetThreads(t *testing.T) {
	defer SetThreads(0)
	SetThreads(1)
	if Threads() != 1 {
		t.Fatalf("Threads() = %d after SetThreads(1)", Threads())
	}
	r := NewRNG(4)
	x := randT(r, 1, 4, 6, 6, 6)
	c := NewConv3d(4, 8, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	one := convOut(t, c, x)
	SetThreads(3)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
	three := convOut(t, c, x)
	for i := range one {
		if math.Abs(float64(one[i]-three[i])) > 1e-5 {
			t.Fatalf("1 thread %v, 3 threads %v at %d", one[i], three[i], i)
		}
	}
	SetThreads(0)
	if Threads() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Threads() = %d after SetThreads(0), want GOMAXPROCS %d", Threads(), runtime.GOMAXPROCS(0))
	}
}

func TestErrors(t *testing.T) {
	g := NewGraph(Options{})
	g.Add(NewTensor(2, 3), NewTensor(4))
	if !errors.Is(g.Err(), ErrShape) {
		t.Fatalf("broadcast failure %v does not wrap ErrShape", g.Err())
	}
	if _, err := FromData(make([]float32, 5), 2, 3); !errors.Is(err, ErrShape) {
		t.Fatalf("FromData: %v", err)
	}
	if _, err := NewMultiHeadAttention(8, 2, AttentionOptions{DropoutRate: 2}, NewRNG(1)); !errors.Is(err, ErrInput) {
		t.Fatalf("dropout 2: %v", err)
	}
	m := NewLinear(3, 2, LinearOptions{}, NewRNG(1))
	sd := map[string]*Tensor{"weight": NewTensor(2, 4), "extra": NewTensor(1)}
	_, err := LoadStateDict(m, sd, LoadOptions{Strict: true})
	var le *LoadError
	if !errors.Is(err, ErrStateDict) || !errors.As(err, &le) {
		t.Fatalf("LoadStateDict: %v", err)
	}
	if len(le.Report.Missing) != 1 || le.Report.Missing[0] != "bias" || len(le.Report.Unexpected) != 1 ||
		le.Report.Unexpected[0] != "extra" || len(le.Report.Mismatched) != 1 {
		t.Fatalf("report %+v, want bias missing, extra unexpected, weight mismatched", le.Report)
	}
}
