package fusion

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// benchBackbone is the image model of the Predict benchmarks: MONAI's
// ResNet18 with the MedicalNet/peers' stride-2 stem, on 4×96³.
var benchBackbone = func() (nn.Backbone, string) {
	bb, err := cnn.New("resnet18", cnn.Config{InChannels: 4, Conv1TStride: 2})
	if err != nil {
		panic(err)
	}
	return bb, "resnet18 (conv1 stride 2)"
}

func benchPredictor(b *testing.B, dim int) (*Predictor, *volume.Stack, string) {
	bb, name := benchBackbone()
	enc, err := FitEncoder(synthSchema(), []Record{{"age": "60", "kps": "70", "histology": "lung", "extracranial": "no"}, {"age": "50", "kps": "90", "histology": "breast", "extracranial": "yes"}})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(bb, ModelConfig{Fusion: Gated, ClinicalDim: enc.Dim(), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	bu := &Bundle{Model: m, Encoder: enc, Shape: [4]int{4, dim, dim, dim}, Channels: []string{"T1", "T1c", "T2", "FLAIR"}}
	p, err := NewPredictor(bu, PredictorOptions{})
	if err != nil {
		b.Fatal(err)
	}
	n := dim * dim * dim
	data := make([]float32, 4*n)
	r := nn.NewRNG(1)
	for i := range data {
		data[i] = float32(r.Normal())
	}
	st := &volume.Stack{Dims: [3]int{dim, dim, dim}, Affine: volume.Identity(), Names: bu.Channels, Present: []bool{true, true, true, true}, Data: data}
	return p, st, name
}

// cpuSeconds is the user+system CPU time of the process so far: on a
// machine shared with other jobs it measures the work better than the
// wall clock.
func cpuSeconds() float64 { return cputime.Now().Seconds() }

// maxRSSMiB is the process's peak resident set in MiB.
func maxRSSMiB() float64 { return float64(cputime.PeakRSS()) / (1 << 20) }

// BenchmarkPredictStack times one patient from a preprocessed 4×96³ stack
// plus a clinical record, and reports the process's peak RSS.
func BenchmarkPredictStack(b *testing.B) {
	p, st, name := benchPredictor(b, 96)
	b.Log("backbone ", name)
	rec := Record{"age": "61", "kps": "80", "histology": "lung", "extracranial": "yes"}
	ctx := context.Background()
	c0 := cpuSeconds()
	for b.Loop() {
		if _, err := p.Predict(ctx, Patient{Stack: st, Clinical: rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(maxRSSMiB(), "peakRSS-MiB")
}

// BenchmarkExplainStack times Predict plus Grad-CAM and the occlusion
// contributions.
func BenchmarkExplainStack(b *testing.B) {
	p, st, _ := benchPredictor(b, 96)
	rec := Record{"age": "61", "kps": "80", "histology": "lung", "extracranial": "yes"}
	ctx := context.Background()
	c0 := cpuSeconds()
	for b.Loop() {
		if _, err := p.Explain(ctx, Patient{Stack: st, Clinical: rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(maxRSSMiB(), "peakRSS-MiB")
}

// BenchmarkPredictRaw times one patient from raw NIfTI files (four 3 mm
// scans written as .nii.gz, read with nifti.Load, preprocessed onto a 4 mm
// atlas without N4, then the model): preprocessing dominates.
func BenchmarkPredictRaw(b *testing.B) {
	atlas, seqs, bu := rawSetup(b)
	p, err := NewPredictor(bu, PredictorOptions{Atlas: atlas})
	if err != nil {
		b.Fatal(err)
	}
	benchRaw(b, p, seqs)
}

// BenchmarkPredictRawResNet18 times the study's path for one patient from
// raw NIfTI: four 1.5 mm scans in LPS order written as .nii.gz, read with
// nifti.Load, preprocessed with the defaults (N4 for registration, rigid
// registration to a 1 mm atlas, brain mask, 96³, z-score), then ResNet18
// and a gated fusion head with a clinical record.
func BenchmarkPredictRawResNet18(b *testing.B) {
	dims, aff, err := synth.Grid([3]float64{168, 200, 176}, [3]float64{1, 1, 1}, "RAS")
	if err != nil {
		b.Fatal(err)
	}
	atlas, err := synth.Head(synth.T1, dims, aff, synth.HeadOptions{LesionRadius: -1})
	if err != nil {
		b.Fatal(err)
	}
	pd, pa, err := synth.Grid([3]float64{210, 240, 210}, [3]float64{1.5, 1.5, 1.5}, "LPS")
	if err != nil {
		b.Fatal(err)
	}
	vols, err := synth.Patient(pd, pa, synth.HeadOptions{LesionRadius: 8, Motion: volume.Translation([3]float64{6, -4, 3})})
	if err != nil {
		b.Fatal(err)
	}
	p, _, name := benchPredictor(b, 96)
	b.Log("backbone ", name)
	p, err = NewPredictor(p.Bundle(), PredictorOptions{Atlas: atlas})
	if err != nil {
		b.Fatal(err)
	}
	benchRaw(b, p, norm.Sequences{T1: vols[0], T1c: vols[1], T2: vols[2], FLAIR: vols[3]})
}

// benchRaw writes seqs as .nii.gz and times reading them back and
// predicting from the raw volumes.
func benchRaw(b *testing.B, p *Predictor, seqs norm.Sequences) {
	dir := b.TempDir()
	var paths []string
	for i, v := range []*volume.Volume{seqs.T1, seqs.T1c, seqs.T2, seqs.FLAIR} {
		path := filepath.Join(dir, fmt.Sprintf("seq%d.nii.gz", i))
		if err := nifti.Save(path, v); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path)
	}
	rec := Record{"age": "61", "kps": "80", "histology": "lung", "extracranial": "yes"}
	c0 := cpuSeconds()
	for b.Loop() {
		var in [4]*volume.Volume
		for i, path := range paths {
			v, err := nifti.Load(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			in[i] = v
		}
		raw := norm.Sequences{T1: in[0], T1c: in[1], T2: in[2], FLAIR: in[3]}
		if _, err := p.Predict(context.Background(), Patient{Raw: &raw, Clinical: rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(maxRSSMiB(), "peakRSS-MiB")
}
