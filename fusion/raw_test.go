package fusion

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// rawSetup returns an atlas, a raw patient on its own grids and an
// untrained bundle for 4×16³ stacks.
func rawSetup(t testing.TB) (*volume.Volume, norm.Sequences, *Bundle) {
	dims, aff, err := synth.Grid([3]float64{168, 200, 176}, [3]float64{4, 4, 4}, "RAS")
	if err != nil {
		t.Fatal(err)
	}
	atlas, err := synth.Head(synth.T1, dims, aff, synth.HeadOptions{LesionRadius: -1})
	if err != nil {
		t.Fatal(err)
	}
	pd, pa, err := synth.Grid([3]float64{210, 240, 210}, [3]float64{3, 3, 3}, "LPS")
	if err != nil {
		t.Fatal(err)
	}
	vols, err := synth.Patient(pd, pa, synth.HeadOptions{LesionRadius: 2, Motion: volume.Translation([3]float64{18, -12, 9})})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(newTinyNet(4, 6, 3), ModelConfig{Fusion: ImageOnly, Hidden: 8, Seed: 3, Backbone: "test-tiny", BackboneConfig: json.RawMessage("6")})
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Model: m, Shape: [4]int{4, 16, 16, 16}, Channels: []string{"T1", "T1c", "T2", "FLAIR"}, Prep: Preprocessing{SkipN4: true}}
	return atlas, norm.Sequences{T1: vols[0], T1c: vols[1], T2: vols[2], FLAIR: vols[3]}, b
}

func TestPredictRaw(t *testing.T) {
	atlas, seqs, b := rawSetup(t)
	p, err := NewPredictor(b, PredictorOptions{Atlas: atlas})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	ex, err := p.Explain(ctx, Patient{ID: "raw", Raw: &seqs})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raw explanation in %v", time.Since(t0))
	if ex.Preprocessing == nil || ex.Preprocessing.Shape != [4]int{4, 16, 16, 16} {
		t.Fatalf("preprocessing report %+v", ex.Preprocessing)
	}
	st, _, err := norm.Preprocess(ctx, seqs, atlas, norm.Options{SkipN4: true, Target: [3]int{16, 16, 16}})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.Predict(ctx, Patient{Stack: st})
	if err != nil {
		t.Fatal(err)
	}
	for k := range ps.Probs {
		if ps.Probs[k] != ex.Probs[k] {
			t.Fatalf("raw and preprocessed inputs disagree: %v vs %v", ex.Probs, ps.Probs)
		}
	}
	if ex.Native == nil || ex.Native.Dims != seqs.T1c.Dims || ex.Native.Affine != seqs.T1c.Affine {
		t.Fatalf("native saliency not on the T1c grid: %+v", ex.Native)
	}
	// The saliency's centre of mass maps through the atlas → T1c transform
	// (the head moved by 18, −12, 9 mm between atlas and scan).
	var toT1c volume.Affine
	for _, sr := range ex.Preprocessing.Sequences {
		if sr.Name == "T1c" {
			toT1c = (*sr.AtlasToImage)
		}
	}
	c1, c2 := centreOfMass(ex.Saliency), centreOfMass(ex.Native)
	want := toT1c.Apply(c1)
	dist := func(a, b [3]float64) float64 {
		return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
	}
	t.Logf("saliency centre of mass: atlas %.1f, T1c grid %.1f, expected %.1f (mm)", c1, c2, want)
	if d := dist(want, c2); d > 6 || dist(c1, c2) < 10 {
		t.Errorf("saliency centre on the T1c grid is %.1f mm from where the transform puts it", d)
	}
}

// TestPredictRawMissingSequence: the bundle's missing-sequence policy is
// applied to raw input, and the missing sequence is reported.
func TestPredictRawMissingSequence(t *testing.T) {
	atlas, seqs, b := rawSetup(t)
	seqs.T2 = nil
	p, _ := NewPredictor(b, PredictorOptions{Atlas: atlas})
	if _, err := p.Predict(context.Background(), Patient{Raw: &seqs}); err == nil {
		t.Fatal("missing T2 accepted under the default (error) policy")
	}
	b.Prep.Missing = norm.MissingZeroFill
	p, _ = NewPredictor(b, PredictorOptions{Atlas: atlas})
	pr, err := p.Predict(context.Background(), Patient{Raw: &seqs})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Missing) != 1 || pr.Missing[0] != "T2" {
		t.Fatalf("missing %v, want [T2]", pr.Missing)
	}
}

func centreOfMass(v *volume.Volume) [3]float64 {
	var c [3]float64
	var s float64
	for k := 0; k < v.Dims[2]; k++ {
		for j := 0; j < v.Dims[1]; j++ {
			for i := 0; i < v.Dims[0]; i++ {
				w := float64(v.At(i, j, k))
				p := v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
				for a := range c {
					c[a] += w * p[a]
				}
				s += w
			}
		}
	}
	for a := range c {
		c[a] /= s
	}
	return c
}

// A bundle trained on brain-masked stacks refuses raw sequences without a
// mask (the unmasked stack would not be what it learnt from), and takes
// them with the atlas mask.
func TestPredictRawNeedsTheTrainingMask(t *testing.T) {
	atlas, seqs, b := rawSetup(t)
	b.Prep.BrainMask = true
	p, err := NewPredictor(b, PredictorOptions{Atlas: atlas})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Predict(ctx, Patient{ID: "raw", Raw: &seqs}); !errors.Is(err, ErrMissingInput) || !strings.Contains(err.Error(), "BrainMask") {
		t.Fatalf("raw sequences without the mask: %v, want ErrMissingInput naming BrainMask", err)
	}
	mask, err := volume.NonzeroMask(atlas)
	if err != nil {
		t.Fatal(err)
	}
	p, err = NewPredictor(b, PredictorOptions{Atlas: atlas, Preprocess: norm.Options{AtlasMask: mask}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Predict(ctx, Patient{ID: "raw", Raw: &seqs}); err != nil {
		t.Fatalf("raw sequences with the mask: %v", err)
	}
	// The flag survives a save and a load.
	path := filepath.Join(t.TempDir(), "b.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	rb, err := ReadBundle(ctx, path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Prep.BrainMask {
		t.Fatal("Prep.BrainMask lost in the bundle file")
	}
}
