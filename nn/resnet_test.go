package nn_test

import (
	"fmt"
	"math"
	"testing"

	. "github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/optim"
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

// resnet18 is MONAI resnet18(spatial_dims=3) with MONAI's state-dict names.
type resnet18 struct {
	conv1   *Conv3d
	bn1     *BatchNorm
	maxpool *MaxPool3d
	layers  [4]*Sequential
	fc      *Linear
}

func newResNet18(inCh, classes int, r *RNG) *resnet18 {
	m := &resnet18{
		conv1:   NewConv3d(inCh, 64, Cube(7), ConvOptions{Stride: Cube(2), Padding: Cube(3), NoBias: true}, r),
		bn1:     NewBatchNorm3d(64),
		maxpool: &MaxPool3d{PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)}},
	}
	in := 64
	for i, out := range []int{64, 128, 256, 512} {
		stride := 2
		if i == 0 {
			stride = 1
		}
		m.layers[i] = NewSequential(newBasicBlock(in, out, stride, r), newBasicBlock(out, out, 1, r))
		in = out
	}
	m.fc = NewLinear(512, classes, LinearOptions{}, r)
	return m
}

func (m *resnet18) Forward(g *Graph, x *Tensor) *Tensor {
	y := m.bn1.ForwardAct(g, m.conv1.Forward(g, x), ActOptions{ReLU: true, MaxPool: &m.maxpool.Options})
	for _, l := range m.layers {
		y = l.Forward(g, y)
	}
	return m.fc.Forward(g, g.Mean(y, 2, 3, 4))
}

// forwardUnfused is Forward with separate BatchNorm, Add and ReLU
// operations everywhere.
func (m *resnet18) forwardUnfused(g *Graph, x *Tensor) *Tensor {
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
func TestResNet18FusedTrainingMatchesUnfused(t *testing.T) {
	run := func(fused bool) []float32 {
		m := newResNet18(2, 3, NewRNG(5))
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

func (m *resnet18) fold() error {
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

func (m *resnet18) forwardFolded(g *Graph, x *Tensor) *Tensor {
	y := m.conv1.ForwardAct(g, x, ActOptions{ReLU: true})
	y = m.maxpool.Forward(g, y)
	for _, l := range m.layers {
		for _, b := range l.Layers {
			y = b.(*basicBlock).forwardFolded(g, y)
		}
	}
	return m.fc.Forward(g, g.Mean(y, 2, 3, 4))
}

func TestResNet18FoldedMatches(t *testing.T) {
	m := newResNet18(2, 3, NewRNG(5))
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

func (m *resnet18) Visit(v *Visitor) {
	v.Child("conv1", m.conv1)
	v.Child("bn1", m.bn1)
	for i, l := range m.layers {
		v.Child(fmt.Sprintf("layer%d", i+1), l)
	}
	v.Child("fc", m.fc)
}

func TestResNet18StateDictNames(t *testing.T) {
	m := newResNet18(4, 3, NewRNG(1))
	sd := StateDict(m)
	for _, k := range []string{"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
		"layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "layer4.1.bn2.weight", "fc.weight", "fc.bias"} {
		if _, ok := sd[k]; !ok {
			t.Errorf("missing key %s", k)
		}
	}
	if got := len(NamedParameters(m)); got != 62 {
		t.Errorf("%d parameters, want 62 (as torch's resnet18: 20 conv, 20 bn pairs, fc pair)", got)
	}
}

func benchInput(n int) *Tensor {
	x := NewTensor(n, 4, 96, 96, 96)
	InitNormal(x, 0, 1, NewRNG(3))
	return x
}

// trainBench is the state of BenchmarkTrainStep. The testing package calls
// a benchmark function more than once (b.N = 1 first); building the
// network, optimizer and arena once per process keeps the peak RSS that of
// one training run, as in the PyTorch peer, instead of two models' worth.
var trainBench struct {
	step func() error
}

func trainStep() func() error {
	if trainBench.step != nil {
		return trainBench.step
	}
	m := newResNet18(4, 3, NewRNG(1))
	x := benchInput(2)
	g := NewGraph(Options{Grad: true, Arena: NewArena()})
	opt, err := optim.NewAdam(Parameters(m), optim.AdamOptions{LR: 1e-3})
	if err != nil {
		panic(err)
	}
	trainBench.step = func() error {
		g.Reset()
		opt.ZeroGrad()
		loss := g.CrossEntropy(m.Forward(g, x), []int{0, 2}, CEOptions{})
		if err := g.Backward(loss); err != nil {
			return err
		}
		return opt.Step()
	}
	return trainBench.step
}

// BenchmarkTrainStep times one forward+backward+Adam step of MONAI's
// resnet18 layout on a batch of 2 × 4×96³ (PyTorch 1.13: 0.91 s here),
// and reports the CPU time per step and the process's peak RSS.
func BenchmarkTrainStep(b *testing.B) {
	b.Run("resnet18_b2", func(b *testing.B) {
		step := trainStep()
		if err := step(); err != nil { // warm-up: arena, plans, optimizer state
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		c0 := cpuTime()
		for range b.N {
			if err := step(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/op")
		b.ReportMetric(float64(peakRSS())/1e6, "peak-RSS-MB")
	})
}

// BenchmarkForward times inference of the same network on one 4×96³
// volume with an arena (0 allocations per op expected after warm-up).
func BenchmarkForward(b *testing.B) {
	b.Run("resnet18_b1", func(b *testing.B) {
		m := newResNet18(4, 3, NewRNG(1))
		SetTraining(m, false)
		x := benchInput(1)
		g := NewGraph(Options{Arena: NewArena()})
		run := func() {
			g.Reset()
			m.Forward(g, x)
			if g.Err() != nil {
				b.Fatal(g.Err())
			}
		}
		run()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			run()
		}
	})
	// The same network with batch norms folded into the convolutions and
	// bias/residual/ReLU fused into their epilogues.
	b.Run("resnet18_b1_folded", func(b *testing.B) {
		m := newResNet18(4, 3, NewRNG(1))
		SetTraining(m, false)
		if err := m.fold(); err != nil {
			b.Fatal(err)
		}
		x := benchInput(1)
		g := NewGraph(Options{Arena: NewArena()})
		run := func() {
			g.Reset()
			m.forwardFolded(g, x)
			if g.Err() != nil {
				b.Fatal(g.Err())
			}
		}
		run()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			run()
		}
	})
}
