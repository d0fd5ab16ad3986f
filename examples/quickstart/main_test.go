package main

import (
	"os"
	"path/filepath"
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
