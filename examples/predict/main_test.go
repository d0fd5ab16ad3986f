package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPredictFlagsAndInputs(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-bundle", "b"}, {"-bundle", "b", "-patient", "p"},
		{"-bundle", "b", "-patient", "p", "-clinical", "c", "-saliency", "s.png"},
		{"-bundle", "b", "-patient", "p", "-clinical", "c", "-figure", "f.png"},
		{"-bundle", "b", "-patient", "p", "-clinical", "c", "-saliency", "s.nii", "-figure", "f.jpg"},
		{"-bundle", "b", "-patient", "p", "-clinical", "c", "stray"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-bundle", filepath.Join(t.TempDir(), "none.safetensors"), "-patient", "p", "-clinical", "c"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "bundle") {
		t.Errorf("missing bundle: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if _, err := patientFolder(dir, "P"); err == nil || !strings.Contains(err.Error(), "no MRI sequence file") {
		t.Errorf("folder without scans: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "t2_tse_tra.nii.gz"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "t2_tse_cor.nii"), []byte("x"), 0o644)
	if _, err := patientFolder(dir, "P"); err == nil || !strings.Contains(err.Error(), "two T2 files") {
		t.Errorf("two T2 files: %v", err)
	}
}
