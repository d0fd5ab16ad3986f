package fusion

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// TestCNNBackbone trains a fused model on a small ResNet18 from package
// cnn, saves it, loads it through the "cnn" registry entry and checks the
// predictions are bit-identical; Explain works on it.
func TestCNNBackbone(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 24, Dim: 16, Seed: 9})
	train, test := c.Subset(seq(0, 20)), c.Subset(seq(20, 24))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	bc := cnn.Config{InChannels: 4, WidenFactor: 0.125, Conv1TSize: 3, Conv1TStride: 2, Seed: 1}
	m, err := NewCNNModel("resnet18", bc, ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 2, BatchSize: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resnet18.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	mem, _ := NewPredictor(b, PredictorOptions{})
	disk, err := Load(path, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, d := predictAll(t, mem, test), predictAll(t, disk, test)
	aj, _ := json.Marshal(a)
	dj, _ := json.Marshal(d)
	if string(aj) != string(dj) {
		t.Fatal("ResNet18 bundle predicts differently after Save/Load")
	}
	// Concurrent predictions (run with -race) agree with the serial ones.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			i := w % len(test.Samples)
			s := test.Samples[i]
			pr, err := disk.Predict(context.Background(), Patient{Stack: stackOf(test, s), Clinical: s.Clinical})
			if err != nil {
				errs <- err
				return
			}
			for k := range pr.Probs {
				if pr.Probs[k] != d[i].Probs[k] {
					errs <- fmt.Errorf("goroutine %d: concurrent ResNet18 prediction differs", w)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := test.Samples[0]
	ex, err := disk.Explain(context.Background(), Patient{Stack: stackOf(test, s), Clinical: s.Clinical})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ResNet18 explanation by %s; top contribution %+v", ex.Method, ex.Contributions[0])
	if ex.Saliency == nil || ex.Saliency.Dims != [3]int{16, 16, 16} || ex.Method != "grad-cam" {
		t.Fatalf("no Grad-CAM map (method %q)", ex.Method)
	}
	if _, err := NewCNNModel("resnet7", bc, ModelConfig{Fusion: Early, ClinicalDim: enc.Dim()}); err == nil {
		t.Fatal("unknown cnn name accepted")
	}
}

// TestResNetFeatureMaps: the Grad-CAM split of every cnn family (ResNet
// with both stems and both block types, DenseNet, SE-ResNeXt,
// EfficientNet) reproduces its Embed.
func TestResNetFeatureMaps(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  cnn.Config
	}{
		{"resnet18", cnn.Config{InChannels: 4, WidenFactor: 0.125, Conv1TSize: 3, Conv1TStride: 2, Seed: 2}},
		{"resnet50", cnn.Config{InChannels: 4, WidenFactor: 0.0625, NoMaxPool: true, Seed: 3}},
		{"densenet121", cnn.Config{InChannels: 4, Classes: 3, Seed: 4}},
		{"seresnext50", cnn.Config{InChannels: 4, Classes: 3, Seed: 5}},
		{"efficientnet-b0", cnn.Config{InChannels: 4, Classes: 3, Seed: 6}},
	} {
		bb, err := cnn.New(c.name, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		fm, ok := featureMapper(bb)
		if !ok {
			t.Fatalf("%s has no feature maps", c.name)
		}
		x := nn.NewTensor(2, 4, 32, 32, 32)
		nn.InitNormal(x, 0, 1, nn.NewRNG(1))
		g := nn.NewGraph(nn.Options{})
		want := bb.Embed(g, x).Clone()
		g2 := nn.NewGraph(nn.Options{})
		maps := fm.FeatureMaps(g2, x)
		got := fm.EmbedFromMaps(g2, maps)
		if err := g2.Err(); err != nil {
			t.Fatal(err)
		}
		if len(maps.Shape) != 5 || !nn.SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: maps %v, embedding %v vs %v", c.name, maps.Shape, got.Shape, want.Shape)
		}
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-5*(1+math.Abs(float64(want.Data[i]))) {
				t.Fatalf("%s: embedding %d: %v vs %v", c.name, i, got.Data[i], want.Data[i])
			}
		}
	}
}
