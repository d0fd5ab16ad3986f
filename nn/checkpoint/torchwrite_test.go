package checkpoint

import (
	"archive/zip"
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// TestWritePyTorchRoundTrip writes every fixture model with WritePyTorch
// and reads it back bit for bit. The written files were also read by
// testdata/refsums.py (Python's own pickle machine, as torch.load uses)
// and gave the fixture digests.
func TestWritePyTorchRoundTrip(t *testing.T) {
	for _, path := range modelFiles(t) {
		name := filepath.Base(path)
		c, err := loadFixture(path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, c.Tensors, SaveOptions{Format: FormatTorchZip}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := buf.Bytes()
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range z.File {
			off, err := f.DataOffset()
			if err != nil || off%torchAlign != 0 || f.Method != zip.Store {
				t.Fatalf("%s: %s at offset %d (method %d): %v", name, f.Name, off, f.Method, err)
			}
		}
		back, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sha, sum := digest(back.Tensors)
		if want := fixtureDigests[name]; sha != want.sha || sum != want.sum || len(back.Tensors) != want.n {
			t.Errorf("%s: round trip digest %s sum %v, want %s %v", name, sha, sum, want.sha, want.sum)
		}
	}
}

func TestWritePyTorchShapes(t *testing.T) {
	big := &nn.Tensor{Shape: []int{0, 3000000000}, Data: []float32{}}
	in := map[string]*nn.Tensor{"s": nn.Scalar(2.5), "e": big, "m": {Shape: []int{2, 1, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}}
	var buf bytes.Buffer
	if err := Write(&buf, in, SaveOptions{Format: FormatTorchZip}); err != nil {
		t.Fatal(err)
	}
	c, err := Read(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tensors["s"].Shape) != 0 || c.Tensors["s"].Data[0] != 2.5 || c.Tensors["e"].Shape[1] != 3000000000 || c.Tensors["m"].Data[5] != 6 {
		t.Fatalf("%+v", c.Tensors)
	}
	// An empty view far beyond its storage is valid and reads nothing.
	st := &storageRef{dt: dtFloat32, key: "0", numel: 1}
	v, err := rebuildTensor(pyTuple{st, int64(1 << 40), pyTuple{int64(0), int64(5)}, pyTuple{int64(5), int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	sd := newDict()
	sd.set("x", v)
	if c, err := assemble(context.Background(), sd, constSource{1}, Options{}, newBudget(0)); err != nil || len(c.Tensors["x"].Data) != 0 {
		t.Fatalf("empty view: %v", err)
	}
	if err := Write(&buf, map[string]*nn.Tensor{"x": {Shape: []int{2}, Data: []float32{1}}}, SaveOptions{Format: FormatTorchZip}); err == nil {
		t.Fatal("inconsistent tensor written")
	}
}
