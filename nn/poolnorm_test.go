package nn

import (
	"math"
	"testing"
)

func TestGradPoolNorm(t *testing.T) {
	r := NewRNG(7)
	k3s2p1 := PoolOptions{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Padding: [3]int{1, 1, 1}}
	cases := []struct {
		name string
		in   [][]int
		f    func(g *Graph, in []*Tensor) *Tensor
	}{
		{"maxpool", [][]int{{2, 2, 5, 6, 7}}, func(g *Graph, in []*Tensor) *Tensor { return g.MaxPool3d(in[0], k3s2p1) }},
		{"maxpool_k2", [][]int{{1, 3, 4, 4, 4}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.MaxPool3d(in[0], PoolOptions{Kernel: [3]int{2, 2, 2}})
		}},
		{"avgpool", [][]int{{2, 2, 5, 6, 7}}, func(g *Graph, in []*Tensor) *Tensor { return g.AvgPool3d(in[0], k3s2p1) }},
		{"avgpool_excl", [][]int{{1, 2, 5, 4, 3}}, func(g *Graph, in []*Tensor) *Tensor {
			q := k3s2p1
			q.ExcludePad = true
			return g.AvgPool3d(in[0], q)
		}},
		{"adaptive", [][]int{{2, 3, 5, 7, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.AdaptiveAvgPool3d(in[0], [3]int{2, 3, 3}) }},
		{"batchnorm_train", [][]int{{3, 4, 2, 3, 2}, {4}, {4}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.batchNorm(in[0], in[1], in[2], NewTensor(4), NewTensor(4), bnOptions{Training: true})
		}},
		{"batchnorm_eval", [][]int{{2, 3, 4}, {3}, {3}}, func(g *Graph, in []*Tensor) *Tensor {
			rm, _ := FromData([]float32{0.1, -0.2, 0.3}, 3)
			rv, _ := FromData([]float32{0.5, 1.5, 2}, 3)
			return g.batchNorm(in[0], in[1], in[2], rm, rv, bnOptions{})
		}},
		{"groupnorm", [][]int{{2, 6, 2, 3, 2}, {6}, {6}}, func(g *Graph, in []*Tensor) *Tensor { return g.groupNorm(in[0], 3, in[1], in[2], 1e-5) }},
		{"instancenorm", [][]int{{2, 3, 2, 2, 3}}, func(g *Graph, in []*Tensor) *Tensor { return g.instanceNorm(in[0], nil, nil, 1e-5) }},
		{"layernorm", [][]int{{2, 3, 8}, {8}, {8}}, func(g *Graph, in []*Tensor) *Tensor { return g.layerNorm(in[0], 8, in[1], in[2], 1e-5) }},
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(c.in))
		for i, s := range c.in {
			ins[i] = randT(r, s...)
		}
		gradCheck(t, c.name, ins, c.f)
	}
}

// Reference numbers from PyTorch 1.13 (python3-torch):
//
//	x = torch.arange(16.).reshape(2,2,2,2,1)/4
//	bn = torch.nn.BatchNorm3d(2, affine=False).train(); y = bn(x)
//	bn.running_mean -> [0.1375, 0.2375]; bn.running_var -> [1.0232142, 1.0232142]
//	y.flatten()[0] -> -1.3242383
//
// (mean 1.375, biased var 1.078125 normalises; unbiased 1.2321 updates the
// running variance with momentum 0.1.)
func TestBatchNormRunningStatsPyTorch(t *testing.T) {
	x := NewTensor(2, 2, 2, 2, 1)
	for i := range x.Data {
		x.Data[i] = float32(i) / 4
	}
	rm, rv := NewTensor(2), NewTensor(2)
	InitConst(rv, 1)
	g := NewGraph(Options{})
	y := g.batchNorm(x, nil, nil, rm, rv, bnOptions{Training: true})
	want := [][2]float64{{0.1375, 1.0232142}, {0.2375, 1.0232142}}
	for ch := 0; ch < 2; ch++ {
		if math.Abs(float64(rm.Data[ch])-want[ch][0]) > 1e-6 || math.Abs(float64(rv.Data[ch])-want[ch][1]) > 1e-6 {
			t.Errorf("channel %d running (%v, %v), want %v", ch, rm.Data[ch], rv.Data[ch], want[ch])
		}
	}
	if got, w := float64(y.Data[0]), -1.3242383; math.Abs(got-w) > 1e-6 {
		t.Errorf("y[0] = %v, want %v", got, w)
	}
}

// LayerNorm and InstanceNorm equal the float64 formula
// (x-mean)/sqrt(var+eps)·γ+β with the biased variance.
// Sizes of 16 and more run the AVX-512 affine kernel on their leading
// multiple of 16 (37: 32 and a Go tail; 2048: the ViTs' hidden size).
func TestNormForwardFormula(t *testing.T) {
	for _, c := range []int{5, 16, 37, 2048} {
		testNormForwardFormula(t, c)
	}
}

func testNormForwardFormula(t *testing.T, c int) {
	r := NewRNG(15)
	x, gm, bt := randT(r, 3, c), randT(r, c), randT(r, c)
	g := NewGraph(Options{})
	ln := g.layerNorm(x, c, gm, bt, 1e-5)
	in := g.instanceNorm(g.Reshape(x, 1, 3, c), nil, nil, 1e-5)
	for row := 0; row < 3; row++ {
		var m, v float64
		for j := 0; j < c; j++ {
			m += float64(x.Data[row*c+j]) / float64(c)
		}
		for j := 0; j < c; j++ {
			d := float64(x.Data[row*c+j]) - m
			v += d * d / float64(c)
		}
		for j := 0; j < c; j++ {
			h := (float64(x.Data[row*c+j]) - m) / math.Sqrt(v+1e-5)
			if w := h*float64(gm.Data[j]) + float64(bt.Data[j]); math.Abs(float64(ln.Data[row*c+j])-w) > 1e-5 {
				t.Fatalf("size %d: LayerNorm[%d,%d] = %v, want %v", c, row, j, ln.Data[row*c+j], w)
			}
			if math.Abs(float64(in.Data[row*c+j])-h) > 1e-5 {
				t.Fatalf("size %d: InstanceNorm[%d,%d] = %v, want %v", c, row, j, in.Data[row*c+j], h)
			}
		}
	}
}

// Statistics of a zero-mean channel (the shifted sum must not degenerate),
// and of a large offset plane (no float32 cancellation).
func TestChannelStats(t *testing.T) {
	m, v := channelStats([]float32{-1, 1, -2, 2}, 1, 1, 4, 0)
	if m != 0 || math.Abs(v-2.5) > 1e-12 {
		t.Fatalf("mean %v var %v, want 0 and 2.5", m, v)
	}
	x := make([]float32, 100000)
	for i := range x {
		x[i] = 1000 + float32(i%2) // mean 1000.5, variance 0.25
	}
	m, v = channelStats(x, 1, 1, len(x), 0)
	if math.Abs(m-1000.5) > 1e-6 || math.Abs(v-0.25) > 1e-6 {
		t.Fatalf("mean %v var %v, want 1000.5 and 0.25", m, v)
	}
}

// Pooling values on a ramp: windows of 2 average neighbouring values; the
// maximum of a window is its last element; padding counts in the average
// unless excluded.
func TestPoolValues(t *testing.T) {
	x := NewTensor(1, 1, 2, 2, 4)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	g := NewGraph(Options{})
	avg := g.AvgPool3d(x, PoolOptions{Kernel: [3]int{2, 2, 2}})
	mx := g.MaxPool3d(x, PoolOptions{Kernel: [3]int{2, 2, 2}})
	// window (0..1, 0..1, 0..1): {0,1,4,5,8,9,12,13} mean 6.5, max 13.
	if avg.Data[0] != 6.5 || avg.Data[1] != 8.5 || mx.Data[0] != 13 || mx.Data[1] != 15 {
		t.Fatalf("avg %v max %v", avg.Data, mx.Data)
	}
	pad := PoolOptions{Kernel: [3]int{1, 1, 3}, Stride: [3]int{1, 1, 1}, Padding: [3]int{0, 0, 1}}
	in := g.AvgPool3d(x, pad)
	pad.ExcludePad = true
	ex := g.AvgPool3d(x, pad)
	if in.Data[0] != 1.0/3 || ex.Data[0] != 0.5 {
		t.Fatalf("padded averages %v (include) %v (exclude), want 1/3 and 1/2", in.Data[0], ex.Data[0])
	}
	// Mean over D, H is 6 plus the W-bin means 0.5, 1.5, 2.5 of [0,2) [1,3) [2,4).
	ad := g.AdaptiveAvgPool3d(x, [3]int{1, 1, 3})
	if ad.Data[0] != 6.5 || ad.Data[1] != 7.5 || ad.Data[2] != 8.5 {
		t.Fatalf("adaptive %v, want [6.5 7.5 8.5]", ad.Data)
	}
}

// TestLNAffineVec: the AVX-512 LayerNorm affine pass takes the leading
// multiple of 16 and matches the Go loop there.
func TestLNAffineVec(t *testing.T) {
	r := NewRNG(16)
	x, gm, bt := randT(r, 53), randT(r, 53), randT(r, 53)
	got, want := make([]float32, 53), make([]float32, 53)
	n := lnAffineVec(got, x.Data, gm.Data, bt.Data, 1.7, -0.3)
	if n != 0 && n != 48 {
		t.Fatalf("the kernel took %d of 53 values, want 48 (or 0 without AVX-512)", n)
	}
	for k, v := range x.Data {
		want[k] = 1.7*gm.Data[k]*v + (-0.3*gm.Data[k] + bt.Data[k])
	}
	for k := range n {
		if d := math.Abs(float64(got[k] - want[k])); d > 1e-6*(1+math.Abs(float64(want[k]))) {
			t.Fatalf("value %d = %v, want %v", k, got[k], want[k])
		}
	}
}
