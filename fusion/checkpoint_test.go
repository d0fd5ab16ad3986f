package fusion

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

func smallSetup(t *testing.T) (*Cohort, *Cohort, *Encoder) {
	t.Helper()
	c, _ := synthCohort(synthOptions{N: 40, Dim: 10, Seed: 13})
	train, val := c.Subset(seq(0, 32)), c.Subset(seq(32, 40))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	return train, val, enc
}

func TestCheckpointResume(t *testing.T) {
	train, val, enc := smallSetup(t)
	dir := t.TempDir()
	newModel := func() *Model {
		m, err := NewModel(newTinyNet(4, 4, 1), ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// A run "crashes" (is cancelled) after epoch 1 of 5.
	ctx, cancel := context.WithCancel(context.Background())
	o := TrainOptions{Epochs: 5, BatchSize: 8, Seed: 2, IPCW: true, CheckpointDir: dir, Progress: func(e EpochStats) {
		if e.Epoch == 1 {
			cancel()
		}
	}}
	if _, _, err := Train(ctx, newModel(), enc, train, val, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	last, err := ReadBundle(context.Background(), filepath.Join(dir, "last.safetensors"), LoadOptions{Backbone: newTinyNet(4, 4, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if last.Training == nil || last.Training.Epoch != 1 || len(last.Training.History) != 2 {
		t.Fatalf("checkpoint state %+v", last.Training)
	}
	if _, err := os.Stat(filepath.Join(dir, "best.safetensors")); err != nil {
		t.Fatal("no best checkpoint")
	}
	// Resume: epochs 2..4 run, history continues.
	var seen []int
	o.Resume, o.Progress = true, func(e EpochStats) { seen = append(seen, e.Epoch) }
	m := newModel()
	_, h, err := Train(context.Background(), m, enc, train, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if h.Resumed != 1 || !reflect.DeepEqual(seen, []int{2, 3, 4}) || len(h.Epochs) != 5 || h.Epochs[0].Epoch != 0 {
		t.Fatalf("resumed %d, epochs run %v, history %d", h.Resumed, seen, len(h.Epochs))
	}
	// The returned model holds the best epoch's weights, as best.safetensors.
	best, err := ReadBundle(context.Background(), filepath.Join(dir, "best.safetensors"), LoadOptions{Backbone: newTinyNet(4, 4, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if best.Training.Epoch != h.BestEpoch {
		t.Fatalf("best checkpoint from epoch %d, history says %d", best.Training.Epoch, h.BestEpoch)
	}
	for k, v := range nn.StateDict(best.Model) {
		if !reflect.DeepEqual(v.Data, nn.StateDict(m)[k].Data) {
			t.Fatalf("%s differs from the best checkpoint", k)
		}
	}
	// A resume against a model of another shape is refused.
	o.Resume = true
	m2, _ := NewModel(newTinyNet(4, 4, 1), ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 9, Seed: 1})
	if _, _, err := Train(context.Background(), m2, enc, train, val, o); err == nil {
		t.Fatal("resumed a checkpoint of another architecture")
	}
}

// TestAtomicSave: a write that fails midway leaves the previous file
// intact and no temporary file behind.
func TestAtomicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.safetensors")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeAtomic(path, func(w io.Writer) error {
		w.Write([]byte("half a bun"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("failed write reported success")
	}
	if b, _ := os.ReadFile(path); string(b) != "previous" {
		t.Fatalf("previous file changed: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// nanNet poisons its embedding from the given call on.
type nanNet struct {
	*tinyNet
	calls, from int
}

func (n *nanNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	n.calls++
	e := n.tinyNet.Embed(g, x)
	if n.calls > n.from {
		return g.Scale(e, float32(math.NaN()))
	}
	return e
}

func TestNonFiniteLoss(t *testing.T) {
	train, _, enc := smallSetup(t)
	m, _ := NewModel(&nanNet{tinyNet: newTinyNet(4, 4, 1), from: 2}, ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 8})
	_, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 2, BatchSize: 8, Workers: 1})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 2") {
		t.Fatalf("got %v, want a non-finite loss error at step 2", err)
	}
}

func TestFrozenBackbone(t *testing.T) {
	train, val, enc := smallSetup(t)
	net := newTinyNet(4, 4, 1)
	before := net.c1.Weight.Clone()
	m, _ := NewModel(net, ModelConfig{Fusion: Gated, ClinicalDim: enc.Dim(), Hidden: 8})
	calls := 0
	counting := &countNet{tinyNet: net, calls: &calls}
	m.Backbone = counting
	if _, _, err := Train(context.Background(), m, enc, train, val, TrainOptions{Epochs: 3, BatchSize: 8, FrozenBackbone: true}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.Data, net.c1.Weight.Data) {
		t.Fatal("frozen backbone weights changed")
	}
	// Embeddings computed once per patient: 4 batches of train + 1 of val.
	if calls != 5 {
		t.Fatalf("backbone ran %d times (want 5: cached once)", calls)
	}
	if !net.c1.Weight.RequiresGrad() {
		t.Fatal("backbone left frozen after training")
	}
}

type countNet struct {
	*tinyNet
	calls *int
}

func (c *countNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	*c.calls++
	return c.tinyNet.Embed(g, x)
}

func TestAugment(t *testing.T) {
	shape := [4]int{2, 5, 6, 7}
	n := 2 * 5 * 6 * 7
	src := make([]float32, n)
	r := nn.NewRNG(1)
	for i := range src {
		src[i] = float32(r.Normal())
	}
	dst := make([]float32, n)
	Augment{}.apply(dst, src, shape, nil, 0, nn.NewRNG(1))
	if !reflect.DeepEqual(dst, src) {
		t.Fatal("zero Augment changed the image")
	}
	for ax := 0; ax < 3; ax++ {
		copy(dst, src)
		flip(dst, shape, ax)
		if reflect.DeepEqual(dst, src) {
			t.Fatalf("flip %d did nothing", ax)
		}
		flip(dst, shape, ax)
		if !reflect.DeepEqual(dst, src) {
			t.Fatalf("flip %d twice is not the identity", ax)
		}
	}
	copy(dst, src)
	affine3(dst, shape, rotation([3]float64{}), 1, [3]float64{})
	for i := range dst {
		if math.Abs(float64(dst[i]-src[i])) > 1e-6 {
			t.Fatal("identity affine changed the image")
		}
	}
	// A shift by one voxel along W moves the data by one voxel.
	copy(dst, src)
	affine3(dst, shape, rotation([3]float64{}), 1, [3]float64{0, 0, 1})
	if math.Abs(float64(dst[3]-src[2])) > 1e-6 || dst[0] != 0 {
		t.Fatalf("shift: %v %v", dst[:4], src[:4])
	}
	full := Augment{Prob: 1, Flip: true, RotateDeg: 10, Scale: 0.1, Translate: 1, IntensityScale: 0.2, IntensityShift: 0.2, NoiseStd: 0.1}
	a, b := make([]float32, n), make([]float32, n)
	full.apply(a, src, shape, []bool{true, false}, 0, nn.NewRNG(sampleSeed(3, 1, 4)))
	full.apply(b, src, shape, []bool{true, false}, 0, nn.NewRNG(sampleSeed(3, 1, 4)))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("augmentation is not reproducible for a seed")
	}
	if reflect.DeepEqual(a[:n/2], src[:n/2]) {
		t.Fatal("augmentation did nothing")
	}
	// Sequence dropout zeroes one channel.
	full = Augment{}
	full.apply(a, src, shape, nil, 1, nn.NewRNG(5))
	zero := 0
	for c := 0; c < 2; c++ {
		allZero := true
		for _, v := range a[c*n/2 : (c+1)*n/2] {
			allZero = allZero && v == 0
		}
		if allZero {
			zero++
		}
	}
	if zero != 1 {
		t.Fatalf("sequence dropout zeroed %d channels", zero)
	}
}

// TestResumeBitExact: a run interrupted after epoch 1 and resumed from its
// checkpoint ends with the same weights, optimizer state and losses as an
// uninterrupted run, bit for bit (AdamW's moments are in the checkpoint).
func TestResumeBitExact(t *testing.T) {
	train, val, enc := smallSetup(t)
	newModel := func() *Model {
		m, err := NewModel(newTinyNet(4, 4, 1), ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	const epochs = 4
	full := t.TempDir()
	o := TrainOptions{Epochs: epochs, BatchSize: 8, Seed: 3, CheckpointDir: full, Monitor: MonitorLoss}
	_, hFull, err := Train(context.Background(), newModel(), enc, train, val, o)
	if err != nil {
		t.Fatal(err)
	}

	cut := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o.CheckpointDir = cut
	o.Progress = func(e EpochStats) {
		if e.Epoch == 1 {
			cancel()
		}
	}
	if _, _, err := Train(ctx, newModel(), enc, train, val, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	o.Progress, o.Resume = nil, true
	_, hRes, err := Train(context.Background(), newModel(), enc, train, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if hRes.Resumed != 1 || len(hRes.Epochs) != len(hFull.Epochs) {
		t.Fatalf("resumed after %d with %d epochs, want 1 and %d", hRes.Resumed, len(hRes.Epochs), len(hFull.Epochs))
	}
	for i := range hFull.Epochs {
		a, b := hFull.Epochs[i], hRes.Epochs[i]
		if math.Float64bits(a.TrainLoss) != math.Float64bits(b.TrainLoss) || math.Float64bits(a.Val.Loss) != math.Float64bits(b.Val.Loss) {
			t.Fatalf("epoch %d: losses %v/%v uninterrupted, %v/%v resumed", i, a.TrainLoss, a.Val.Loss, b.TrainLoss, b.Val.Loss)
		}
	}
	read := func(dir string) *Bundle {
		b, err := ReadBundle(context.Background(), filepath.Join(dir, "last.safetensors"), LoadOptions{Backbone: newTinyNet(4, 4, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bf, br := read(full), read(cut)
	if len(bf.Training.Optimizer) == 0 {
		t.Fatal("checkpoint holds no optimizer state")
	}
	same := func(what string, a, b map[string]*nn.Tensor) {
		if len(a) != len(b) {
			t.Fatalf("%s: %d tensors uninterrupted, %d resumed", what, len(a), len(b))
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || len(w.Data) != len(v.Data) {
				t.Fatalf("%s: %s missing or resized after resume", what, k)
			}
			for i := range v.Data {
				if math.Float32bits(v.Data[i]) != math.Float32bits(w.Data[i]) {
					t.Fatalf("%s: %s[%d] = %v uninterrupted, %v resumed", what, k, i, v.Data[i], w.Data[i])
				}
			}
		}
	}
	same("weights", nn.StateDict(bf.Model), nn.StateDict(br.Model))
	same("optimizer", bf.Training.Optimizer, br.Training.Optimizer)
}
