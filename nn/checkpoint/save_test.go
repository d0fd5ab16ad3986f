package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

func TestSaveByExtensionRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, _ := nn.FromData([]float32{1, -2, 3.5, 4, 5, 6}, 2, 3)
	sd := map[string]*nn.Tensor{"fc.weight": w, "fc.bias": nn.Scalar(0.25)}
	for _, name := range []string{"m.safetensors", "m.pt", "m.pth", "m.bin", "m.ckpt"} {
		path := filepath.Join(dir, name)
		if err := Save(path, sd, SaveOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		head := make([]byte, 16)
		f, _ := os.Open(path)
		n, _ := f.Read(head)
		f.Close()
		want := FormatTorchZip
		if filepath.Ext(name) == ".safetensors" {
			want = FormatSafetensors
		}
		if got := Detect(head[:n]); got != want {
			t.Fatalf("%s written as %v, want %v", name, got, want)
		}
		c, err := Load(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := c.Tensors["fc.weight"]; got == nil || !nn.SameShape(got.Shape, w.Shape) || got.Data[2] != 3.5 {
			t.Fatalf("%s: fc.weight read back as %v", name, got)
		}
	}
	if err := Save(filepath.Join(dir, "m.txt"), sd, SaveOptions{}); !errors.Is(err, ErrInput) {
		t.Fatalf("unknown extension: %v", err)
	}
	if err := Write(&bytes.Buffer{}, sd, SaveOptions{}); !errors.Is(err, ErrInput) {
		t.Fatalf("Write without a format: %v", err)
	}
	if err := Save(filepath.Join(dir, "meta.pt"), sd, SaveOptions{Meta: map[string]string{"a": "b"}}); !errors.Is(err, ErrInput) {
		t.Fatalf("metadata in a torch file: %v", err)
	}
}

// A failed Save leaves the user's existing file as it was (issue 12:
// SaveSafetensors and SavePyTorch truncated it to 0 bytes) and creates
// nothing when there was none.
func TestSaveFailureKeepsExistingFile(t *testing.T) {
	dir := t.TempDir()
	bad := map[string]*nn.Tensor{"x": {Shape: []int{3}, Data: []float32{1}}}
	for _, name := range []string{"a.safetensors", "a.pt"} {
		path := filepath.Join(dir, name)
		old := []byte("precious weights")
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Save(path, bad, SaveOptions{}); !errors.Is(err, ErrInput) {
			t.Fatalf("%s: mis-shaped tensor: %v", name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
			t.Fatalf("%s: failed Save changed the existing file to %q", name, got)
		}
		if err := Save(filepath.Join(dir, "new_"+name), map[string]*nn.Tensor{"": nn.Scalar(1)}, SaveOptions{}); !errors.Is(err, ErrInput) {
			t.Fatalf("empty name: %v", err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v after failed saves, want only the two original files", names)
	}
	// A directory named like the target is refused, not replaced.
	sub := filepath.Join(dir, "d.pt")
	os.Mkdir(sub, 0o755)
	if err := Save(sub, map[string]*nn.Tensor{"x": nn.Scalar(1)}, SaveOptions{}); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	if st, err := os.Stat(sub); err != nil || !st.IsDir() {
		t.Fatal("Save removed a directory")
	}
}

func TestErrorSentinels(t *testing.T) {
	if _, err := Read(context.Background(), bytes.NewReader([]byte("hello, world, not weights")), 25, Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("text file: %v", err)
	}
	pk := []byte("\x80\x02cos\nsystem\nq\x00.")
	if _, err := Read(context.Background(), bytes.NewReader(pk), int64(len(pk)), Options{}); !errors.Is(err, ErrPickle) || !errors.Is(err, ErrFormat) {
		t.Fatalf("hostile pickle: %v", err)
	}
	if _, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{MaxBytes: 16}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the budget: %v", err)
	}
	if _, err := Load(context.Background(), filepath.Join("testdata", "no such file.pt"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
