package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refSoftmax is the float64 softmax (or log-softmax) of each row.
func refSoftmax(x []float64, cols int, log bool) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < len(x); r += cols {
		m := math.Inf(-1)
		for _, v := range x[r : r+cols] {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range x[r : r+cols] {
			s += math.Exp(v - m)
		}
		for i, v := range x[r : r+cols] {
			if log {
				y[r+i] = v - m - math.Log(s)
			} else {
				y[r+i] = math.Exp(v-m) / s
			}
		}
	}
	return y
}

func TestSoftmax(t *testing.T) { atLevels(t, testSoftmax) }

func testSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {2, 16}, {5, 216}, {1, 1000}} {
		rows, cols := sh[0], sh[1]
		x := randN(r, rows*cols, 4)
		dy := randN(r, rows*cols, 1)
		for _, log := range []bool{false, true} {
			y := make([]float32, len(x))
			fwd, bwd := Softmax, SoftmaxBackward
			if log {
				fwd, bwd = LogSoftmax, LogSoftmaxBackward
			}
			if err := fwd(y, x, cols); err != nil {
				t.Fatal(err)
			}
			f := func(x []float64) []float64 { return refSoftmax(x, cols, log) }
			closeTo(t, "softmax", y, f(to64(x)), 1e-5)
			dx := make([]float32, len(x))
			if err := bwd(dx, y, dy, cols); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "softmax backward", dx, fdGrad(f, to64(x), to64(dy)), 1e-5)
		}
	}
	big := []float32{100, 0, -100, 99}
	if err := Softmax(big, big, 4); err != nil || math.Abs(float64(big[0])-1/(1+math.Exp(-1))) > 1e-6 {
		t.Fatalf("softmax of large inputs = %v (%v); the max shift is missing", big, err)
	}
	if err := Softmax(make([]float32, 5), make([]float32, 5), 2); err == nil {
		t.Fatal("5 values accepted as rows of 2")
	}
}

// refNorm normalizes groups of size n (stride 1) and applies a per-element affine.
func refNorm(x []float64, n int, eps float64, scale func(i int) (g, b float64)) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < len(x); r += n {
		var m, v float64
		for _, e := range x[r : r+n] {
			m += e
		}
		m /= float64(n)
		for _, e := range x[r : r+n] {
			v += (e - m) * (e - m)
		}
		v /= float64(n)
		for i, e := range x[r : r+n] {
			g, b := scale(r + i)
			y[r+i] = (e-m)/math.Sqrt(v+eps)*g + b
		}
	}
	return y
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sh := range [][2]int{{1, 3}, {4, 17}, {3, 64}} {
		rows, cols := sh[0], sh[1]
		x, dy := randN(r, rows*cols, 2), randN(r, rows*cols, 1)
		for i := range x {
			x[i] += 3 // mean offset
		}
		gamma, beta := randN(r, cols, 1), randN(r, cols, 1)
		y, mean, rstd := make([]float32, len(x)), make([]float32, rows), make([]float32, rows)
		if err := LayerNorm(y, x, gamma, beta, cols, 1e-5, mean, rstd); err != nil {
			t.Fatal(err)
		}
		ref := func(gm, bt []float64) func(x []float64) []float64 {
			return func(x []float64) []float64 {
				return refNorm(x, cols, 1e-5, func(i int) (float64, float64) { return gm[i%cols], bt[i%cols] })
			}
		}
		g64, b64 := to64(gamma), to64(beta)
		closeTo(t, "layernorm", y, ref(g64, b64)(to64(x)), 1e-5)
		dx, dg, db := make([]float32, len(x)), make([]float32, cols), make([]float32, cols)
		if err := LayerNormBackward(dx, dg, db, dy, x, gamma, mean, rstd, cols); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "layernorm dx", dx, fdGrad(ref(g64, b64), to64(x), to64(dy)), 1e-5)
		closeTo(t, "layernorm dgamma", dg, fdGrad(func(g []float64) []float64 { return ref(g, b64)(to64(x)) }, g64, to64(dy)), 1e-5)
		closeTo(t, "layernorm dbeta", db, fdGrad(func(b []float64) []float64 { return ref(g64, b)(to64(x)) }, b64, to64(dy)), 1e-5)
	}
}

func TestGroupNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		s      NormShape
		groups int
	}{{NormShape{1, 4, 5}, 2}, {NormShape{2, 6, 8}, 6}, {NormShape{2, 3, 1}, 1}} {
		s, G := c.s, c.groups
		n := s.N * s.C * s.S
		x, dy := randN(r, n, 1.5), randN(r, n, 1)
		gamma, beta := randN(r, s.C, 1), randN(r, s.C, 1)
		ref := func(gm, bt []float64) func(x []float64) []float64 {
			return func(x []float64) []float64 {
				return refNorm(x, s.C/G*s.S, 1e-5, func(i int) (float64, float64) { c := i / s.S % s.C; return gm[c], bt[c] })
			}
		}
		y, mean, rstd := make([]float32, n), make([]float32, s.N*G), make([]float32, s.N*G)
		if err := GroupNorm(y, x, s, G, gamma, beta, 1e-5, mean, rstd); err != nil {
			t.Fatal(err)
		}
		g64, b64 := to64(gamma), to64(beta)
		closeTo(t, "groupnorm", y, ref(g64, b64)(to64(x)), 1e-5)
		dx, dg, db := make([]float32, n), make([]float32, s.C), make([]float32, s.C)
		if err := GroupNormBackward(dx, dg, db, dy, x, s, G, gamma, mean, rstd); err != nil {
			t.Fatal(err)
		}
		if s.C/G*s.S > 1 {
			closeTo(t, "groupnorm dx", dx, fdGrad(ref(g64, b64), to64(x), to64(dy)), 1e-5)
		}
		closeTo(t, "groupnorm dgamma", dg, fdGrad(func(g []float64) []float64 { return ref(g, b64)(to64(x)) }, g64, to64(dy)), 1e-5)
		closeTo(t, "groupnorm dbeta", db, fdGrad(func(b []float64) []float64 { return ref(g64, b)(to64(x)) }, b64, to64(dy)), 1e-5)
	}
	if err := GroupNorm(make([]float32, 12), make([]float32, 12), NormShape{1, 3, 4}, 2, nil, nil, 1e-5, nil, nil); err == nil {
		t.Fatal("2 groups of 3 channels accepted")
	}
}

// bnRef is training-mode batch norm in float64 on (N, C, S).
func bnRef(s NormShape, gm, bt []float64) func(x []float64) []float64 {
	return func(x []float64) []float64 {
		// move channel first, normalize each channel's N*S values, move back
		t := make([]float64, len(x))
		for n := range s.N {
			for c := range s.C {
				for i := range s.S {
					t[(c*s.N+n)*s.S+i] = x[(n*s.C+c)*s.S+i]
				}
			}
		}
		t = refNorm(t, s.N*s.S, 1e-5, func(i int) (float64, float64) { c := i / (s.N * s.S); return gm[c], bt[c] })
		y := make([]float64, len(x))
		for n := range s.N {
			for c := range s.C {
				for i := range s.S {
					y[(n*s.C+c)*s.S+i] = t[(c*s.N+n)*s.S+i]
				}
			}
		}
		return y
	}
}

func TestBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	s := NormShape{3, 4, 10}
	n := s.N * s.C * s.S
	x, dy := randN(r, n, 2), randN(r, n, 1)
	bn := &BatchNorm{Gamma: randN(r, s.C, 1), Beta: randN(r, s.C, 1), RunningMean: make([]float32, s.C),
		RunningVar: []float32{1, 1, 1, 1}, Eps: 1e-5, Momentum: 0.1}
	y, sm, si := make([]float32, n), make([]float32, s.C), make([]float32, s.C)
	if err := bn.Train(y, x, s, sm, si); err != nil {
		t.Fatal(err)
	}
	g64, b64 := to64(bn.Gamma), to64(bn.Beta)
	closeTo(t, "batchnorm", y, bnRef(s, g64, b64)(to64(x)), 1e-5)
	// running stats: 0.9*old + 0.1*batch (unbiased variance)
	for c := range s.C {
		var m, v float64
		cnt := float64(s.N * s.S)
		for nn := range s.N {
			for i := range s.S {
				m += float64(x[(nn*s.C+c)*s.S+i])
			}
		}
		m /= cnt
		for nn := range s.N {
			for i := range s.S {
				d := float64(x[(nn*s.C+c)*s.S+i]) - m
				v += d * d
			}
		}
		v /= cnt - 1
		closeTo(t, "running", []float32{bn.RunningMean[c], bn.RunningVar[c]}, []float64{0.1 * m, 0.9 + 0.1*v}, 1e-6)
	}
	dx, dg, db := make([]float32, n), make([]float32, s.C), make([]float32, s.C)
	if err := bn.Backward(dx, dg, db, dy, x, s, sm, si); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "batchnorm dx", dx, fdGrad(bnRef(s, g64, b64), to64(x), to64(dy)), 1e-5)
	closeTo(t, "batchnorm dgamma", dg, fdGrad(func(g []float64) []float64 { return bnRef(s, g, b64)(to64(x)) }, g64, to64(dy)), 1e-5)
	closeTo(t, "batchnorm dbeta", db, fdGrad(func(b []float64) []float64 { return bnRef(s, g64, b)(to64(x)) }, b64, to64(dy)), 1e-5)
	// eval mode uses the running statistics
	if err := bn.Infer(y, x, s); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n)
	for i := range want {
		c := i / s.S % s.C
		want[i] = (float64(x[i])-float64(bn.RunningMean[c]))/math.Sqrt(float64(bn.RunningVar[c])+1e-5)*g64[c] + b64[c]
	}
	closeTo(t, "batchnorm eval", y, want, 1e-5)
}

func TestInstanceNormIsGroupNormPerChannel(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	s := NormShape{2, 3, 7}
	x := randN(r, 42, 1)
	a, b := make([]float32, 42), make([]float32, 42)
	m, rs := make([]float32, 6), make([]float32, 6)
	if err := InstanceNorm(a, x, s, nil, nil, 1e-5, m, rs); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "instance norm", a, refNorm(to64(x), 7, 1e-5, func(int) (float64, float64) { return 1, 0 }), 1e-5)
	dy := randN(r, 42, 1)
	if err := InstanceNormBackward(b, nil, nil, dy, x, s, nil, m, rs); err != nil {
		t.Fatal(err)
	}
	f := func(x []float64) []float64 { return refNorm(x, 7, 1e-5, func(int) (float64, float64) { return 1, 0 }) }
	closeTo(t, "instance norm backward", b, fdGrad(f, to64(x), to64(dy)), 1e-5)
}
