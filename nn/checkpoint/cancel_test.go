package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// cancelFiles returns every synthetic checkpoint (zip, legacy) plus a
// safetensors file written from one of them.
func cancelFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pt*"))
	if len(files) == 0 {
		t.Skip("no testdata")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	ck, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, ck.Tensors, SaveOptions{Format: FormatSafetensors}); err != nil {
		t.Fatal(err)
	}
	out["p4.safetensors"] = buf.Bytes()
	return out
}

// cancelAfter is a ReaderAt that cancels its context once it has served
// calls reads: a load cancelled while it is under way.
type cancelAfter struct {
	r      *bytes.Reader
	calls  int64
	cancel context.CancelFunc
	n      atomic.Int64
}

func (c *cancelAfter) ReadAt(p []byte, off int64) (int, error) {
	if c.n.Add(1) > c.calls {
		c.cancel()
	}
	return c.r.ReadAt(p, off)
}

// TestReadCancelled: a context done before Read starts, or cancelled at
// any read while it runs, gives an error wrapping context.Canceled
// (never a format error, never a half-built checkpoint); a load whose
// context is cancelled only after its last read may still succeed.
func TestReadCancelled(t *testing.T) {
	opts := Options{AllowUnknownGlobals: true}
	for name, b := range cancelFiles(t) {
		done, cancel := context.WithCancel(context.Background())
		cancel()
		if c, err := Read(done, bytes.NewReader(b), int64(len(b)), opts); !errors.Is(err, context.Canceled) || c != nil {
			t.Errorf("%s: cancelled before: %v, %v; want context.Canceled and no checkpoint", name, c, err)
		}
		if _, err := Load(done, filepath.Join("testdata", name), opts); name != "p4.safetensors" && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Load cancelled before: %v", name, err)
		}
		sawCancel := false
		for k := int64(0); ; k++ {
			ctx, cancel := context.WithCancel(context.Background())
			r := &cancelAfter{r: bytes.NewReader(b), calls: k, cancel: cancel}
			c, err := Read(ctx, r, int64(len(b)), opts)
			cancel()
			if err == nil {
				if c == nil || len(c.Tensors) == 0 {
					t.Fatalf("%s: nil error and no tensors", name)
				}
				break // cancelled after the last read
			}
			if !errors.Is(err, context.Canceled) || c != nil {
				t.Fatalf("%s: cancelled after %d reads: %v; want context.Canceled", name, k, err)
			}
			sawCancel = true
			if k > 100000 {
				t.Fatalf("%s: never finished", name)
			}
		}
		if !sawCancel {
			t.Errorf("%s: no cancellation point", name)
		}
	}
}

// TestReadIntoCancelled: a context done before ReadInto starts refuses
// the load before anything is copied (the module keeps its values);
// cancelled while tensors are copied, it stops with context.Canceled and
// reports how many tensors were loaded, the rest keeping their values.
func TestReadIntoCancelled(t *testing.T) {
	opts := IntoOptions{Options: Options{AllowUnknownGlobals: true}}
	for name, b := range cancelFiles(t) {
		ck, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), opts.Options)
		if err != nil {
			t.Fatal(err)
		}
		fresh := func() dictModule {
			m := dictModule{}
			for k, v := range ck.Tensors {
				m[k] = nn.NewTensor(v.Shape...)
				for i := range m[k].Data {
					m[k].Data[i] = 7
				}
			}
			return m
		}
		untouched := func(m dictModule) int {
			n := 0
			for _, v := range m {
				same := true
				for _, x := range v.Data {
					same = same && x == 7
				}
				if same && len(v.Data) > 0 {
					n++
				}
			}
			return n
		}
		nonEmpty := 0
		for _, v := range ck.Tensors {
			if len(v.Data) > 0 {
				nonEmpty++
			}
		}
		done, cancel := context.WithCancel(context.Background())
		cancel()
		m := fresh()
		if rep, err := ReadInto(done, bytes.NewReader(b), int64(len(b)), m, opts); !errors.Is(err, context.Canceled) || rep.Loaded != 0 {
			t.Errorf("%s: cancelled before: %+v, %v; want context.Canceled, nothing loaded", name, rep, err)
		}
		if got := untouched(m); got != nonEmpty {
			t.Errorf("%s: cancelled before: %d of %d tensors untouched", name, got, nonEmpty)
		}
		if _, err := LoadInto(done, filepath.Join("testdata", name), m, opts); name != "p4.safetensors" && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: LoadInto cancelled before: %v", name, err)
		}
		sawPartial := false
		for k := int64(0); ; k++ {
			ctx, cancel := context.WithCancel(context.Background())
			m := fresh()
			rep, err := ReadInto(ctx, &cancelAfter{r: bytes.NewReader(b), calls: k, cancel: cancel}, int64(len(b)), m, opts)
			cancel()
			if err == nil {
				if rep.Loaded != len(ck.Tensors) {
					t.Fatalf("%s: loaded %d of %d", name, rep.Loaded, len(ck.Tensors))
				}
				break
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: cancelled after %d reads: %v; want context.Canceled", name, k, err)
			}
			// Tensors not reported loaded keep their values (a tensor
			// of 7s in the file would be counted as untouched too).
			if got := untouched(m); got < nonEmpty-rep.Loaded {
				t.Fatalf("%s: %d tensors loaded but only %d of %d untouched", name, rep.Loaded, got, nonEmpty)
			}
			if rep.Loaded > 0 {
				sawPartial = true
			}
			if k > 100000 {
				t.Fatalf("%s: never finished", name)
			}
		}
		if !sawPartial && len(ck.Tensors) > 1 {
			t.Logf("%s: no cancellation between tensors observed", name)
		}
	}
}

// TestCtxReaderAtChunks: one large ReadAt (a storage, or a float32
// parameter read in place) looks at the context between chunks, so a
// 2 GB tensor does not have to finish before a cancellation is seen.
func TestCtxReaderAtChunks(t *testing.T) {
	src := make([]byte, 3*cancelChunk+5)
	for i := range src {
		src[i] = byte(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := ctxReaderAt{ctx, &cancelAfter{r: bytes.NewReader(src), calls: 1, cancel: cancel}}
	p := make([]byte, len(src))
	n, err := r.ReadAt(p, 0)
	if !errors.Is(err, context.Canceled) || n != 2*cancelChunk {
		t.Fatalf("read %d bytes, %v; want %d and context.Canceled", n, err, 2*cancelChunk)
	}
	n, err = ctxReaderAt{context.Background(), bytes.NewReader(src)}.ReadAt(p, 0)
	if err != nil || n != len(src) || !bytes.Equal(p, src) {
		t.Fatalf("uncancelled: %d bytes, %v", n, err)
	}
}
