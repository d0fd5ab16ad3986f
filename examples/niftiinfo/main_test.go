package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// TestRun prints a known fixture and a missing file and checks the JSON
// lines against nibabel's values for anatomical.nii (from
// nifti_expected.json).
func TestRun(t *testing.T) {
	var out bytes.Buffer
	good := fixture.Path(t, "testdata", "nifti", "anatomical.nii")
	ok, err := run(&out, []string{good, "/nonexistent.nii"})
	if err != nil || ok {
		t.Fatalf("run = %v, %v; want a failure for the missing file only", ok, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	var got struct {
		Shape     []int     `json:"shape"`
		Dtype     string    `json:"dtype"`
		Axcodes   []string  `json:"axcodes"`
		Sum       float64   `json:"scaled_sum"`
		Max       float64   `json:"scaled_max"`
		Zooms     []float64 `json:"zooms"`
		SformCode int       `json:"sform_code"`
		Error     string    `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Error != "" || got.Dtype != ">i2" || strings.Join(got.Axcodes, "") != "LAS" ||
		got.Sum != 284166082 || got.Max != 30393 || got.SformCode != 2 || len(got.Shape) != 3 || got.Shape[0] != 33 {
		t.Errorf("anatomical.nii: %+v", got)
	}
	if !strings.Contains(lines[1], `"error"`) {
		t.Errorf("missing file line has no error: %s", lines[1])
	}
}
