package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCohortCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"-out", dir, "-n", "3", "-spacing", "4", "-seed", "9"}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wrote 3 patients") {
		t.Errorf("output %q", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "clinical.csv"))
	if err != nil || strings.Count(string(b), "\n") != 4 {
		t.Fatalf("clinical.csv: %v %q", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "BM0001")); err != nil {
		t.Fatal(err)
	}
	// a second run refuses to overwrite without the flag
	if err := run(context.Background(), args, &out, &errb); err == nil || !strings.Contains(err.Error(), "-overwrite") {
		t.Fatalf("second run: %v", err)
	}
	if err := run(context.Background(), append(args, "-overwrite", "-quiet"), &out, &errb); err != nil {
		t.Fatal(err)
	}
}

func TestCohortFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-out", "x", "-n", "0"}, {"-out", "x", "-spacing", "0.1"}, {"-out", "x", "-missing", "1.5"},
		{"-out", "x", "extra"}, {"-out", "x", "-first-id", "0"}, {"-nosuchflag"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
