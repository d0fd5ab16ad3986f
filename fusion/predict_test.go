package fusion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
	"github.com/metasurv/metasurv/volume"
)

func stackOf(c *Cohort, s Sample) *volume.Stack {
	pr := s.Present
	if pr == nil {
		pr = []bool{true, true, true, true}
	}
	return &volume.Stack{Dims: [3]int{c.Shape[1], c.Shape[2], c.Shape[3]}, Affine: volume.Identity(),
		Names: []string{"T1", "T1c", "T2", "FLAIR"}, Present: pr, Data: s.Image}
}

// trainedBundle trains a small gated model with an auxiliary task and
// returns it with its test cohort.
func trainedBundle(t *testing.T) (*Bundle, *Cohort) {
	t.Helper()
	c, _ := synthCohort(synthOptions{N: 60, Dim: 12, Seed: 11})
	for i := range c.Samples {
		if i%3 != 0 {
			c.Samples[i].Labels = map[string]string{"origin": []string{"lung", "breast"}[i%2]}
		}
	}
	train, test := c.Subset(seq(0, 48)), c.Subset(seq(48, 60))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(newTinyNet(4, 6, 2), ModelConfig{Fusion: Gated, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 2,
		Tasks: []Task{{Name: "origin", Levels: []string{"lung", "breast"}}}, CoxHead: true, Backbone: "test-tiny", BackboneConfig: json.RawMessage("6")})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 2, BatchSize: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b, test
}

func predictAll(t *testing.T, p *Predictor, c *Cohort) []*Prediction {
	t.Helper()
	var out []*Prediction
	for _, s := range c.Samples {
		pr, err := p.Predict(context.Background(), Patient{ID: s.ID, Stack: stackOf(c, s), Clinical: s.Clinical})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pr)
	}
	return out
}

// savedAndLoaded saves b under name in a temporary folder, loads it back,
// and fails the test unless the loaded predictor predicts every patient of
// c exactly as the in-memory one. It returns the loaded predictor and its
// predictions.
func savedAndLoaded(t *testing.T, b *Bundle, c *Cohort, name string) (*Predictor, []*Prediction) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	mem, _ := NewPredictor(b, PredictorOptions{})
	disk, err := Load(context.Background(), path, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, d := predictAll(t, mem, c), predictAll(t, disk, c)
	aj, _ := json.Marshal(a)
	dj, _ := json.Marshal(d)
	if string(aj) != string(dj) {
		t.Fatalf("%s bundle predicts differently after Save/Load", name)
	}
	return disk, d
}

func TestBundleRoundTrip(t *testing.T) {
	b, test := trainedBundle(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	mem, err := NewPredictor(b, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := Load(context.Background(), path, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := predictAll(t, mem, test)
	got := predictAll(t, disk, test)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Fatal("loaded bundle predicts differently")
	}
	p := want[0]
	if len(p.Probs) != 3 || len(p.Curve) != 64 || p.Curve[0].Surv != 1 || p.Tasks["origin"] == nil || len(p.Missing) != 0 || p.CoxRisk == nil {
		t.Fatalf("prediction %+v", p)
	}
	for i := 1; i < len(p.Curve); i++ {
		if p.Curve[i].Surv > p.Curve[i-1].Surv+1e-12 {
			t.Fatal("survival curve increases")
		}
	}

	// A new process gives the same bits.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPredict$")
	cmd.Env = append(os.Environ(), "FUSION_HELPER_BUNDLE="+path)
	outB, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process: %v", err)
	}
	var probs [][]float64
	line := string(outB)
	line = line[strings.Index(line, "PROBS ")+6:]
	line = line[:strings.Index(line, "\n")]
	if err := json.Unmarshal([]byte(line), &probs); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for k := range want[i].Probs {
			if probs[i][k] != want[i].Probs[k] {
				t.Fatalf("new process: patient %d class %d: %v vs %v", i, k, probs[i][k], want[i].Probs[k])
			}
		}
	}
}

// TestHelperPredict is run in a child process by TestBundleRoundTrip.
func TestHelperPredict(t *testing.T) {
	path := os.Getenv("FUSION_HELPER_BUNDLE")
	if path == "" {
		t.Skip("helper for TestBundleRoundTrip")
	}
	_, test := trainedBundleCohort()
	p, err := Load(context.Background(), path, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var probs [][]float64
	for _, pr := range predictAll(t, p, test) {
		probs = append(probs, pr.Probs)
	}
	j, _ := json.Marshal(probs)
	os.Stdout.WriteString("PROBS " + string(j) + "\n")
}

func trainedBundleCohort() (*Cohort, *Cohort) {
	c, _ := synthCohort(synthOptions{N: 60, Dim: 12, Seed: 11})
	return c.Subset(seq(0, 48)), c.Subset(seq(48, 60))
}

func TestBundleCorrupt(t *testing.T) {
	b, _ := trainedBundle(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-10] ^= 0x40
	for name, data := range map[string][]byte{
		"truncated": raw[:len(raw)-100],
		"flipped":   flipped,
		"empty":     nil,
		"header":    raw[:20],
	} {
		if _, err := Load(context.Background(), write(name, data), PredictorOptions{}); !errors.Is(err, ErrBundle) {
			t.Errorf("%s bundle: %v", name, err)
		}
	}
	// A plain safetensors file is not a bundle.
	plain := filepath.Join(dir, "plain.safetensors")
	if err := checkpoint.Save(plain, nn.StateDict(b.Model), checkpoint.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), plain, PredictorOptions{}); !errors.Is(err, ErrBundle) {
		t.Errorf("plain safetensors: %v", err)
	}
	// Another format version, with a consistent checksum.
	ck, err := checkpoint.Load(context.Background(), path, checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := strings.Replace(ck.Meta[metaKey].(string), `"version":1`, `"version":2`, 1)
	v2 := filepath.Join(dir, "v2.safetensors")
	if err := checkpoint.Save(v2, ck.Tensors, checkpoint.SaveOptions{Meta: map[string]string{metaKey: meta, sumKey: digest([]byte(meta), ck.Tensors)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), v2, PredictorOptions{}); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: %v", err)
	}
	// A description that asks for a huge model is refused before building it.
	meta = strings.Replace(ck.Meta[metaKey].(string), `"hidden":8`, `"hidden":9000000`, 1)
	huge := filepath.Join(dir, "huge.safetensors")
	checkpoint.Save(huge, ck.Tensors, checkpoint.SaveOptions{Meta: map[string]string{metaKey: meta, sumKey: digest([]byte(meta), ck.Tensors)}})
	if _, err := Load(context.Background(), huge, PredictorOptions{}); !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "fusion-layer parameters") {
		t.Errorf("huge hidden layer: %v", err)
	}
	// An unregistered backbone.
	meta = strings.Replace(ck.Meta[metaKey].(string), `"backbone":"test-tiny"`, `"backbone":"nope"`, 1)
	nb := filepath.Join(dir, "nb.safetensors")
	checkpoint.Save(nb, ck.Tensors, checkpoint.SaveOptions{Meta: map[string]string{metaKey: meta, sumKey: digest([]byte(meta), ck.Tensors)}})
	if _, err := Load(context.Background(), nb, PredictorOptions{}); !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unregistered backbone: %v", err)
	}
	// Weights that do not fit the model.
	delete(ck.Tensors, "gate.bias")
	meta = ck.Meta[metaKey].(string)
	mw := filepath.Join(dir, "mw.safetensors")
	checkpoint.Save(mw, ck.Tensors, checkpoint.SaveOptions{Meta: map[string]string{metaKey: meta, sumKey: digest([]byte(meta), ck.Tensors)}})
	if _, err := Load(context.Background(), mw, PredictorOptions{}); !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "gate.bias") {
		t.Errorf("missing weight: %v", err)
	}
	// The original still loads: nothing above touched it.
	if _, err := Load(context.Background(), path, PredictorOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A cancelled context stops Load and ReadBundle with context.Canceled
// (not ErrBundle: the file is fine) and returns no predictor.
func TestBundleLoadCancelled(t *testing.T) {
	b, _ := trainedBundle(t)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p, err := Load(ctx, path, PredictorOptions{}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrBundle) || p != nil {
		t.Fatalf("Load with a cancelled context: %v, %v", p, err)
	}
	if rb, err := ReadBundle(ctx, path, LoadOptions{}); !errors.Is(err, context.Canceled) || rb != nil {
		t.Fatalf("ReadBundle with a cancelled context: %v, %v", rb, err)
	}
	if _, err := Load(context.Background(), path, PredictorOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPredictInputs(t *testing.T) {
	b, test := trainedBundle(t)
	p, _ := NewPredictor(b, PredictorOptions{})
	s := test.Samples[0]
	ctx := context.Background()
	st := stackOf(test, s)

	bad := *st
	bad.Names = []string{"T1c", "T1", "T2", "FLAIR"}
	small := *st
	small.Dims = [3]int{12, 12, 11}
	three := *st
	three.Names, three.Present, three.Data = st.Names[:3], st.Present[:3], st.Data[:3*12*12*12]
	nanStack := *st
	nanStack.Data = append([]float32(nil), st.Data...)
	nanStack.Data[5000] = float32(math.NaN())
	for name, c := range map[string]struct {
		pt   Patient
		want error
	}{
		"channel order":   {Patient{Stack: &bad, Clinical: s.Clinical}, ErrShape},
		"grid":            {Patient{Stack: &small, Clinical: s.Clinical}, ErrShape},
		"three channels":  {Patient{Stack: &three, Clinical: s.Clinical}, ErrShape},
		"unknown field":   {Patient{Stack: st, Clinical: Record{"weight": "80"}}, ErrUnknownColumn},
		"bad number":      {Patient{Stack: st, Clinical: Record{"age": "sixty"}}, ErrBadCell},
		"nothing":         {Patient{}, ErrMissingInput},
		"raw, no atlas":   {Patient{Raw: nil, Stack: nil, Clinical: nil}, ErrMissingInput},
		"embedding given": {Patient{Embedding: make([]float32, 6)}, ErrShape},
		"NaN voxel":       {Patient{Stack: &nanStack, Clinical: s.Clinical}, ErrShape},
	} {
		if _, err := p.Predict(ctx, c.pt); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// Missing modalities still give a prediction and are reported.
	noT2 := *st
	noT2.Present = []bool{true, true, false, true}
	noT2.Data = append([]float32(nil), st.Data...)
	clear(noT2.Data[2*12*12*12 : 3*12*12*12])
	for name, c := range map[string]struct {
		pt   Patient
		miss string
	}{
		"no T2":       {Patient{Stack: &noT2, Clinical: s.Clinical}, "T2"},
		"no imaging":  {Patient{Clinical: s.Clinical}, "imaging"},
		"no clinical": {Patient{Stack: st}, "clinical"},
		"no age":      {Patient{Stack: st, Clinical: Record{"kps": "70"}}, "clinical:age"},
	} {
		pr, err := p.Predict(ctx, c.pt)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		found := false
		for _, m := range pr.Missing {
			found = found || m == c.miss
		}
		sum := 0.0
		for _, v := range pr.Probs {
			sum += v
		}
		if !found || sum < 0.999 || sum > 1.001 {
			t.Errorf("%s: missing %v, probs %v", name, pr.Missing, pr.Probs)
		}
	}
}

// TestPredictConcurrent runs 8 goroutines against one Predictor; run with
// -race. Every answer must equal the serial one.
func TestPredictConcurrent(t *testing.T) {
	b, test := trainedBundle(t)
	p, _ := NewPredictor(b, PredictorOptions{})
	want := predictAll(t, p, test)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				for i, s := range test.Samples {
					i = (i + w) % len(test.Samples)
					s = test.Samples[i]
					pr, err := p.Predict(context.Background(), Patient{ID: s.ID, Stack: stackOf(test, s), Clinical: s.Clinical})
					if err != nil {
						errs <- err
						return
					}
					if r == 0 {
						ex, err := p.Explain(context.Background(), Patient{ID: s.ID, Stack: stackOf(test, s), Clinical: s.Clinical})
						if err != nil || ex.Risk != want[i].Risk || ex.Saliency == nil {
							errs <- fmt.Errorf("concurrent Explain: %v", err)
							return
						}
					}
					for k := range pr.Probs {
						if pr.Probs[k] != want[i].Probs[k] {
							errs <- errors.New("concurrent prediction differs from the serial one")
							return
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
