package nn_test

import (
	"math"
	"testing"
	"time"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/optim"
)

// shapes returns n noisy 16³ volumes, half spheres (label 0) and half
// axis-aligned cubes (label 1) of random size and position.
func shapes(n int, r *nn.RNG) (*nn.Tensor, []int) {
	const s = 16
	x := nn.NewTensor(n, 1, s, s, s)
	y := make([]int, n)
	for i := range n {
		y[i] = i % 2
		rad := r.Uniform(3, 5.5)
		var c [3]float64
		for a := range c {
			c[a] = r.Uniform(rad+1, s-rad-1)
		}
		vol := x.Data[i*s*s*s : (i+1)*s*s*s]
		for z := range s {
			for yy := range s {
				for xx := range s {
					d := [3]float64{float64(z) - c[0], float64(yy) - c[1], float64(xx) - c[2]}
					var in bool
					if y[i] == 0 {
						in = d[0]*d[0]+d[1]*d[1]+d[2]*d[2] <= rad*rad
					} else {
						in = math.Abs(d[0]) <= rad && math.Abs(d[1]) <= rad && math.Abs(d[2]) <= rad
					}
					v := 0.2 * r.Normal()
					if in {
						v++
					}
					vol[(z*s+yy)*s+xx] = float32(v)
				}
			}
		}
	}
	return x, y
}

func batch(x *nn.Tensor, y []int, idx []int) (*nn.Tensor, []int) {
	per := len(x.Data) / x.Shape[0]
	bx := nn.NewTensor(append([]int{len(idx)}, x.Shape[1:]...)...)
	by := make([]int, len(idx))
	for k, i := range idx {
		copy(bx.Data[k*per:(k+1)*per], x.Data[i*per:(i+1)*per])
		by[k] = y[i]
	}
	return bx, by
}

// A small 3-D CNN learns spheres vs cubes to ≥ 95% test accuracy.
func TestConvergenceSpheresVsCubes(t *testing.T) {
	start := time.Now()
	r := nn.NewRNG(42)
	const bs, epochs, nTrain = 32, 6, 256
	xtr, ytr := shapes(nTrain, r)
	xte, yte := shapes(128, r)
	m := nn.NewSequential(
		nn.NewConv3d(1, 8, nn.Cube(3), nn.ConvOptions{Padding: nn.Cube(1), NoBias: true}, r), nn.NewBatchNorm3d(8), nn.ReLU,
		&nn.MaxPool3d{Options: nn.PoolOptions{Kernel: nn.Cube(2)}},
		nn.NewConv3d(8, 16, nn.Cube(3), nn.ConvOptions{Padding: nn.Cube(1), NoBias: true}, r), nn.NewBatchNorm3d(16), nn.ReLU,
		&nn.MaxPool3d{Options: nn.PoolOptions{Kernel: nn.Cube(2)}},
		nn.NewConv3d(16, 16, nn.Cube(3), nn.ConvOptions{Padding: nn.Cube(1), NoBias: true}, r), nn.NewBatchNorm3d(16), nn.ReLU,
		&nn.AdaptiveAvgPool3d{Size: nn.Cube(1)},
		nn.Flatten(1),
		nn.NewLinear(16, 2, nn.LinearOptions{}, r))
	opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	g := nn.NewGraph(nn.Options{Grad: true, Arena: nn.NewArena(), RNG: r})
	sched := optim.Cosine{Base: 0.01, Min: 0.001, Steps: epochs * nTrain / bs}
	step := 0
	for range epochs {
		perm := r.Perm(nTrain)
		for b := 0; b < nTrain; b += bs {
			optim.Apply(opt, sched, step)
			step++
			bx, by := batch(xtr, ytr, perm[b:b+bs])
			g.Reset()
			opt.ZeroGrad()
			loss := g.CrossEntropy(m.Forward(g, bx), by, nn.CEOptions{})
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	nn.SetTraining(m, false)
	ge := nn.NewGraph(nn.Options{})
	logits := m.Forward(ge, xte)
	if ge.Err() != nil {
		t.Fatal(ge.Err())
	}
	correct := 0
	for i, lab := range yte {
		pred := 0
		if logits.Data[2*i+1] > logits.Data[2*i] {
			pred = 1
		}
		if pred == lab {
			correct++
		}
	}
	acc := float64(correct) / float64(len(yte))
	t.Logf("test accuracy %.3f after %d steps in %v", acc, step, time.Since(start))
	if acc < 0.95 {
		t.Fatalf("accuracy %.3f < 0.95", acc)
	}
}

// The same seed gives bit-identical training runs (initialisation, dropout
// masks, shuffling, parallel reductions).
func TestSameSeedSameRun(t *testing.T) {
	run := func() []float32 {
		r := nn.NewRNG(7)
		x, y := shapes(16, r)
		m := nn.NewSequential(
			nn.NewConv3d(1, 4, nn.Cube(3), nn.ConvOptions{Stride: nn.Cube(2), Padding: nn.Cube(1)}, r),
			nn.NewBatchNorm3d(4), nn.ReLU, nn.NewDropout(0.2),
			&nn.AdaptiveAvgPool3d{Size: nn.Cube(1)}, nn.Flatten(1), nn.NewLinear(4, 2, nn.LinearOptions{}, r))
		opt, err := optim.NewAdamW(nn.Parameters(m), optim.AdamOptions{LR: 0.01, WeightDecay: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		g := nn.NewGraph(nn.Options{Grad: true, RNG: r})
		for range 3 {
			bx, by := batch(x, y, r.Perm(16)[:8])
			g.Reset()
			opt.ZeroGrad()
			if err := g.Backward(g.CrossEntropy(m.Forward(g, bx), by, nn.CEOptions{})); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
		}
		var all []float32
		for _, p := range nn.NamedParameters(m) {
			all = append(all, p.Tensor.Data...)
		}
		return all
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("parameter %d differs between runs: %v vs %v", i, a[i], b[i])
		}
	}
}
