package checkpoint

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// Regression tests for issue 12: hostile .pt and safetensors files must
// give errors within the caller's memory budget, never crash the process.

// torchZip builds a torch.save zip archive from data.pkl and storages,
// deflating the entries (as a hostile file would, to shrink a bomb).
func torchZip(t *testing.T, pkl []byte, storages map[string]func(w io.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	add := func(name string, fill func(w io.Writer)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		fill(w)
	}
	add("archive/data.pkl", func(w io.Writer) { w.Write(pkl) })
	for k, fill := range storages {
		add("archive/data/"+k, fill)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// viewPickle is a state dict {"w": a view of shape (n,) at offset 0 of
// float32 storage "0" of storageN elements}.
func viewPickle(storageN, n int64) []byte {
	var p pickleWriter
	p.WriteString("\x80\x02}(")
	p.unicode("w")
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteString("((")
	p.unicode("storage")
	p.global("torch", "FloatStorage")
	p.unicode("0")
	p.unicode("cpu")
	p.int(storageN)
	p.WriteString("tQ")
	p.int(0)
	p.WriteByte('(')
	p.int(n)
	p.WriteString("t(")
	p.int(1)
	p.WriteString("t\x89")
	p.global("collections", "OrderedDict")
	p.WriteString(")RtRu.")
	return p.Bytes()
}

// allocDuring returns the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// Five million nested TUPLE1 opcodes: formatting the value with %v in an
// error message recursed until "fatal error: stack overflow", which no
// recover catches. Now the message describes the value in bounded space.
func TestDeeplyNestedPickle(t *testing.T) {
	b := []byte("\x80\x02N" + strings.Repeat("\x85", 5_000_000) + ".")
	_, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
	if !errors.Is(err, ErrFormat) || len(err.Error()) > 400 {
		t.Fatalf("nested tuples: %.400v", err)
	}
	if !strings.Contains(err.Error(), "a tuple of 1 items") {
		t.Fatalf("the message does not describe the value briefly: %v", err)
	}
	// The same nesting as a state-dict key.
	key := "\x80\x02}(N" + strings.Repeat("\x85", 100_000) + "Nu."
	if _, err := Read(context.Background(), bytes.NewReader(torchZip(t, []byte(key), nil)), int64(len(torchZip(t, []byte(key), nil))), Options{}); err == nil {
		t.Fatal("a tuple key was accepted")
	}
}

// A 65 kB zip whose data.pkl appends a list to itself millions of times
// reached 2 GB RSS; the unpickler's values are now charged to the budget.
func TestListBombBudget(t *testing.T) {
	const budgetBytes = 64 << 20
	pkl := []byte("\x80\x02]" + strings.Repeat("2a", 8_000_000) + ".")
	f := torchZip(t, pkl, nil)
	if len(f) > 200<<10 {
		t.Fatalf("bomb of %d bytes, want a small file", len(f))
	}
	var err error
	alloc := allocDuring(func() {
		_, err = Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{MaxBytes: budgetBytes})
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("list bomb: %v", err)
	}
	if alloc > 2*budgetBytes {
		t.Fatalf("list bomb allocated %d MB under a %d MB budget", alloc>>20, budgetBytes>>20)
	}
}

// A 1-element view of a 256 MiB deflated storage: only the 4 bytes the
// view needs are read (before, the whole storage was inflated and held).
func TestStorageReadOnlyWhatViewsNeed(t *testing.T) {
	const storageN = 64 << 20 // float32 elements: 256 MiB
	zero := make([]byte, 1<<20)
	f := torchZip(t, viewPickle(storageN, 1), map[string]func(io.Writer){"0": func(w io.Writer) {
		for range 4 * storageN / len(zero) {
			w.Write(zero)
		}
	}})
	var (
		c   *Checkpoint
		err error
	)
	alloc := allocDuring(func() {
		c, err = Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{MaxBytes: 16 << 20})
	})
	if err != nil {
		t.Fatalf("one-element view of a large storage: %v", err)
	}
	if w := c.Tensors["w"]; w == nil || len(w.Data) != 1 || w.Data[0] != 0 {
		t.Fatalf("w = %v", c.Tensors["w"])
	}
	if alloc > 8<<20 {
		t.Fatalf("reading a 4-byte view allocated %d MB", alloc>>20)
	}
}

// Output tensors and the storages held while converting them are summed:
// two 4 MB tensors need 8 MB of output plus one 4 MB storage at a time.
func TestBudgetSumsStoragesAndOutput(t *testing.T) {
	w1, _ := nn.FromData(make([]float32, 1<<20), 1<<20)
	w2, _ := nn.FromData(make([]float32, 1<<20), 1<<20)
	var buf bytes.Buffer
	if err := Write(&buf, map[string]*nn.Tensor{"a": w1, "b": w2}, SaveOptions{Format: FormatTorchZip}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if _, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxBytes: 10 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("8 MB of output + a 4 MB storage under a 10 MB budget: %v", err)
	}
	if _, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxBytes: 13 << 20}); err != nil {
		t.Fatalf("under a 13 MB budget: %v", err)
	}
}

// A safetensors header naming a tensor twice is refused: JSON decoding kept
// the last entry silently.
func TestSafetensorsDuplicateKey(t *testing.T) {
	hdr := `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
	var f bytes.Buffer
	f.Write([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0})
	f.WriteString(hdr)
	f.Write(make([]byte, 8))
	b := f.Bytes()
	_, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate key: %v", err)
	}
	// The check sees only the top level: nested objects may repeat names.
	if k, dup := duplicateKey([]byte(`{"a":{"x":1},"b":{"x":2}}`)); dup {
		t.Fatalf("nested names reported as duplicate key %q", k)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal([]byte(hdr), &probe) != nil || len(probe) != 1 {
		t.Fatal("test header is not the ambiguous JSON it should be")
	}
}
