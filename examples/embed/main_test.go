package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedFlagsAndBadFolders(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-data", "x"}, {"-out", "y"}, {"-data", "x", "-out", "y", "-grid", "4"},
		{"-data", "x", "-out", "y", "-require", "T3"}, {"-data", "x", "-out", "y", "-embedder", "vit"},
		{"-data", "x", "-out", "y", "-atlas", "a.nii"}, {"-data", "x", "-out", "y", "extra"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	empty := t.TempDir()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-data", empty, "-out", t.TempDir(), "-quiet"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "no patient folders") {
		t.Errorf("empty folder: %v", err)
	}
	err = run(context.Background(), []string{"-data", filepath.Join(empty, "nope"), "-out", t.TempDir(), "-quiet"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "cannot read the data folder") {
		t.Errorf("missing folder: %v", err)
	}
	os.MkdirAll(filepath.Join(empty, "P1"), 0o755)
	os.WriteFile(filepath.Join(empty, "P1", "t1_mprage_sag.nii.gz"), []byte("x"), 0o644)
	err = run(context.Background(), []string{"-data", empty, "-out", t.TempDir(), "-quiet"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "clinical") {
		t.Errorf("no clinical table: %v", err)
	}
}
