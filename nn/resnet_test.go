package nn_test

import (
	"fmt"
	"math"
	"testing"

	. "github.com/metasurv/metasurv/nn"
)

// basicBlock is MONAI's ResNetBlock (expansion 1).
type basicBlock struct {
	conv1, conv2 *Conv3d
	bn1, bn2     *BatchNorm
	down         *Sequential
}

func newBasicBlock(in, out, stride int, r *RNG) *basicBlock {
	b := &basicBlock{
		conv1: NewConv3d(in, out, Cube(3), ConvOptions{Stride: Cube(stride), Padding: Cube(1), NoBias: true}, r),
		bn1:   NewBatchNorm3d(out),
		conv2: NewConv3d(out, out, Cube(3), ConvOptions{Padding: Cube(1), NoBias: true}, r),
		bn2:   NewBatchNorm3d(out),
	}
	if stride != 1 || in != out {
		b.down = NewSequential(NewConv3d(in, out, Cube(1), ConvOptions{Stride: Cube(stride), NoBias: true}, r), NewBatchNorm3d(out))
	}
	return b
}

func (b *basicBlock) Forward(g *Graph, x *Tensor) *Tensor {
	res := x
	if b.down != nil {
		res = b.down.Forward(g, x)
	}
	y := b.bn1.ForwardAct(g, b.conv1.Forward(g, x), ActOptions{ReLU: true})
	return b.bn2.ForwardAct(g, b.conv2.Forward(g, y), ActOptions{Residual: res, ReLU: true})
}

// forwardUnfused is Forward as separate BatchNorm, Add and ReLU operations
// (the reference of the fused path).
func (b *basicBlock) forwardUnfused(g *Graph, x *Tensor) *Tensor {
	res := x
	if b.down != nil {
		res = b.down.Forward(g, x)
	}
	y := g.ReLU(b.bn1.Forward(g, b.conv1.Forward(g, x)))
	y = b.bn2.Forward(g, b.conv2.Forward(g, y))
	return g.ReLU(g.Add(y, res))
}

// fold folds the block's batch norms into its convolutions (inference).
func (b *basicBlock) fold() error {
	if err := FoldBatchNorm(b.conv1, b.bn1); err != nil {
		return err
	}
	if err := FoldBatchNorm(b.conv2, b.bn2); err != nil {
		return err
	}
	if b.down != nil {
		return FoldBatchNorm(b.down.Layers[0].(*Conv3d), b.down.Layers[1].(*BatchNorm))
	}
	return nil
}

// forwardFolded runs the folded block with fused epilogues.
func (b *basicBlock) forwardFolded(g *Graph, x *Tensor) *Tensor {
	res := x
	if b.down != nil {
		c := b.down.Layers[0].(*Conv3d)
		res = c.ForwardAct(g, x, ActOptions{})
	}
	y := b.conv1.ForwardAct(g, x, ActOptions{ReLU: true})
	return b.conv2.ForwardAct(g, y, ActOptions{Residual: res, ReLU: true})
}

func (b *basicBlock) Visit(v *Visitor) {
	v.Child("conv1", b.conv1)
	v.Child("bn1", b.bn1)
	v.Child("conv2", b.conv2)
	v.Child("bn2", b.bn2)
	v.Child("downsample", b.down)
}

// resNet is a small ResNet in MONAI's layout (stem with max pooling, four
// stages of two basic blocks, global pooling, classifier): the fused layers'
// reference composition. The real models and their benchmarks are in
// package cnn.
type resNet struct {
	conv1   *Conv3d
	bn1     *BatchNorm
	maxpool *MaxPool3d
	layers  [4]*Sequential
	fc      *Linear
}

func newResNet(inCh, classes int, r *RNG) *resNet {
	m := &resNet{
		conv1:   NewConv3d(inCh, 16, Cube(7), ConvOptions{Stride: Cube(2), Padding: Cube(3), NoBias: true}, r),
		bn1:     NewBatchNorm3d(16),
		maxpool: &MaxPool3d{PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)}},
	}
	in := 16
	for i, out := range []int{16, 32, 64, 128} {
		stride := 2
		if i == 0 {
			stride = 1
		}
		m.layers[i] = NewSequential(newBasicBlock(in, out, stride, r), newBasicBlock(out, out, 1, r))
		in = out
	}
	m.fc = NewLinear(128, classes, LinearOptions{}, r)
	return m
}

func (m *resNet) Forward(g *Graph, x *Tensor) *Tensor {
	y := m.bn1.ForwardAct(g, m.conv1.Forward(g, x), ActOptions{ReLU: true, MaxPool: &m.maxpool.Options})
	for _, l := range m.layers {
		y = l.Forward(g, y)
	}
	return m.fc.Forward(g, g.Mean(y, 2, 3, 4))
}

// forwardUnfused is Forward with separate BatchNorm, Add and ReLU
// operations everywhere.
func (m *resNet) forwardUnfused(g *Graph, x *Tensor) *Tensor {
	y := m.maxpool.Forward(g, g.ReLU(m.bn1.Forward(g, m.conv1.Forward(g, x))))
	for _, l := range m.layers {
		for _, b := range l.Layers {
			y = b.(*basicBlock).forwardUnfused(g, y)
		}
	}
	return m.fc.Forward(g, g.Mean(y, 2, 3, 4))
}

// A training step of the fused network computes what the unfused
// composition computes: loss, every parameter gradient and the running
// statistics, over two steps through one arena. (They agree bit for bit
// today; the tolerance only leaves room for convolution kernels that
// split reductions differently from one call to the next.)
func TestResNetFusedTrainingMatchesUnfused(t *testing.T) {
	run := func(fused bool) []float32 {
		m := newResNet(2, 3, NewRNG(5))
		x := NewTensor(2, 2, 16, 16, 16)
		InitNormal(x, 0, 1, NewRNG(6))
		g := NewGraph(Options{Grad: true, Arena: NewArena()})
		var out []float32
		for range 2 {
			g.Reset()
			for _, p := range Parameters(m) {
				p.ZeroGrad()
			}
			var logits *Tensor
			if fused {
				logits = m.Forward(g, x)
			} else {
				logits = m.forwardUnfused(g, x)
			}
			loss := g.CrossEntropy(logits, []int{0, 2}, CEOptions{})
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			out = append(out, loss.Item())
		}
		for _, nt := range NamedParameters(m) {
			out = append(out, nt.Tensor.Grad().Data...)
		}
		for _, l := range m.layers {
			out = append(out, l.Layers[1].(*basicBlock).bn2.RunningVar.Data...)
		}
		return out
	}
	want, got := run(false), run(true)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-7+1e-5*math.Abs(float64(want[i]))) {
			t.Fatalf("value %d: fused %v, unfused %v", i, got[i], want[i])
		}
	}
}

func (m *resNet) fold() error {
	if err := FoldBatchNorm(m.conv1, m.bn1); err != nil {
		return err
	}
	for _, l := range m.layers {
		for _, b := range l.Layers {
			if err := b.(*basicBlock).fold(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *resNet) forwardFolded(g *Graph, x *Tensor) *Tensor {
	y := m.conv1.ForwardAct(g, x, ActOptions{ReLU: true})
	y = m.maxpool.Forward(g, y)
	for _, l := range m.layers {
		for _, b := range l.Layers {
			y = b.(*basicBlock).forwardFolded(g, y)
		}
	}
	return m.fc.Forward(g, g.Mean(y, 2, 3, 4))
}

func TestResNetFoldedMatches(t *testing.T) {
	m := newResNet(2, 3, NewRNG(5))
	x := NewTensor(1, 2, 24, 24, 24)
	InitNormal(x, 0, 1, NewRNG(6))
	g := NewGraph(Options{Grad: true})
	m.Forward(g, x) // one training pass gives the running statistics some content
	SetTraining(m, false)
	ge := NewGraph(Options{})
	want := m.Forward(ge, x).Clone()
	if err := m.fold(); err != nil {
		t.Fatal(err)
	}
	got := m.forwardFolded(ge, x)
	if ge.Err() != nil {
		t.Fatal(ge.Err())
	}
	for i := range want.Data {
		if d := got.Data[i] - want.Data[i]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("folded logits %v, unfolded %v", got.Data, want.Data)
		}
	}
}

func (m *resNet) Visit(v *Visitor) {
	v.Child("conv1", m.conv1)
	v.Child("bn1", m.bn1)
	for i, l := range m.layers {
		v.Child(fmt.Sprintf("layer%d", i+1), l)
	}
	v.Child("fc", m.fc)
}
