package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstart runs the whole tour: the phantom written on two grids must
// survive the NIfTI round trip and agree after reorientation and resizing.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	if err := runChecks(dir); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scanners {
		if _, err := os.Stat(filepath.Join(dir, sc.file)); err != nil {
			t.Errorf("%s not written: %v", sc.file, err)
		}
	}
}

// TestQuickstartStudy runs the study end to end on a tiny cohort (12
// patients at 4 mm, 24³ model grid) so that CI keeps the README's main job
// working: every figure, the bundle and the prediction are produced, and a
// second run with the same seed prints the same comparison tables, paired
// difference and ceilings.
func TestQuickstartStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses and trains a tiny cohort")
	}
	dir := t.TempDir()
	args := []string{"-n", "12", "-spacing", "4", "-grid", "24", "-quiet", "-dir", dir}
	var out1, out2, errb bytes.Buffer
	if err := run(context.Background(), args, &out1, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out1.String())
	}
	res := filepath.Join(dir, "results")
	for _, f := range []string{"figure1.png", "figure2.png", "comparison.png", "km_predicted.png", "saliency.png",
		"figure1.svg", "figure2.svg", "comparison.svg", "km_predicted.svg", "saliency.svg",
		"fusion.safetensors", "embedding.json", "bundle.json", "saliency.nii.gz", "embeddings.npy", "umap.npy"} {
		if _, err := os.Stat(filepath.Join(res, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	s := out1.String()
	for _, want := range []string{"| MLP late |", "| Cox, clinical + image |", "ΔC =", "its imaging part", `"probs"`, `"contributions"`, `"sequence_occlusion"`} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// The explanation is of the risk the C-index ranks: the late fusion's
	// Cox head, not the expected class.
	var pred struct {
		Risk     float64  `json:"risk"`
		CoxRisk  *float64 `json:"cox_risk"`
		RankRisk *float64 `json:"rank_risk"`
	}
	if i := strings.Index(s, "6. predict"); i < 0 {
		t.Error("no prediction printed")
	} else if j, k := strings.Index(s[i:], "{"), strings.Index(s[i:], "\n   }\n"); j < 0 || k < j {
		t.Errorf("no prediction JSON in %q", s[i:])
	} else if err := json.Unmarshal([]byte(s[i+j:i+k+5]), &pred); err != nil {
		t.Errorf("prediction JSON: %v", err)
	} else if pred.CoxRisk == nil || pred.RankRisk == nil || *pred.RankRisk != *pred.CoxRisk {
		t.Errorf("rank_risk %v, cox_risk %v: the explanation must be of the Cox risk", pred.RankRisk, pred.CoxRisk)
	}
	if err := run(context.Background(), append(args, "-saliency=false"), &out2, &errb); err != nil {
		t.Fatal(err)
	}
	if a, b := tables(out1.String()), tables(out2.String()); a != b || a == "" {
		t.Errorf("same seed, different tables:\n%s\n---\n%s", a, b)
	}
}

// tables keeps the numbers of the output: the Markdown table rows, the
// paired difference and the ceilings.
func tables(s string) string {
	var rows []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "| ") || strings.Contains(l, "ΔC =") || strings.Contains(l, "ceilings") || strings.Contains(l, "part alone") {
			rows = append(rows, l)
		}
	}
	return strings.Join(rows, "\n")
}

func TestQuickstartFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "3"}, {"-spacing", "0.1"}, {"-grid", "2"}, {"stray"}, {"-bogus"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
