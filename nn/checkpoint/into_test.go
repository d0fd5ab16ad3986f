package checkpoint

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// dictModule exposes a map of tensors as a module (names as keys).
type dictModule map[string]*nn.Tensor

func (d dictModule) Forward(_ *nn.Graph, x *nn.Tensor) *nn.Tensor { return x }
func (d dictModule) Visit(v *nn.Visitor) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Param(k, d[k])
	}
}

// TestLoadIntoMatchesLoad streams every synthetic checkpoint (zip and
// legacy, float16/bfloat16/float64/integer storages, shared storages,
// permuted views) into zero tensors and compares with what Load
// materialises: the direct path and the decoding path agree with it bit
// for bit.
func TestLoadIntoMatchesLoad(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pt*"))
	if len(files) == 0 {
		t.Skip("no testdata")
	}
	for _, f := range files {
		ck, err := Load(context.Background(), f, Options{AllowUnknownGlobals: true})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ref := ck.Tensors
		m := dictModule{}
		for k, v := range ref {
			m[k] = nn.NewTensor(v.Shape...)
		}
		rep, err := LoadInto(context.Background(), f, m, IntoOptions{Options: Options{AllowUnknownGlobals: true}})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rep.Loaded != len(ref) {
			t.Errorf("%s: loaded %d of %d", f, rep.Loaded, len(ref))
		}
		for k, v := range ref {
			for i, want := range v.Data {
				if got := m[k].Data[i]; math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
					t.Fatalf("%s: %s[%d] = %g, want %g", f, k, i, got, want)
				}
			}
		}
	}
}

// A round trip through both writers, with Rename dropping and renaming
// keys, and one error naming every missing, unexpected and mis-shaped key.
func TestLoadIntoRenameAndErrors(t *testing.T) {
	src := map[string]*nn.Tensor{"module.a": nn.NewTensor(2, 3), "module.b": nn.NewTensor(4), "module.skip": nn.NewTensor(1)}
	for i := range src["module.a"].Data {
		src["module.a"].Data[i] = float32(i) + 0.5
	}
	src["module.b"].Data[3] = -7
	dir := t.TempDir()
	for _, save := range []func(string) error{
		func(p string) error { return Save(p, src, SaveOptions{Format: FormatTorchZip}) },
		func(p string) error { return Save(p, src, SaveOptions{Format: FormatSafetensors}) },
	} {
		p := filepath.Join(dir, "x")
		if err := save(p); err != nil {
			t.Fatal(err)
		}
		m := dictModule{"a": nn.NewTensor(2, 3), "b2": nn.NewTensor(4)}
		ren := func(k string) string {
			switch k {
			case "skip":
				return ""
			case "b":
				return "b2"
			}
			return k
		}
		if _, err := LoadInto(context.Background(), p, m, IntoOptions{Options: Options{StripPrefix: "module."}, Rename: ren}); err != nil {
			t.Fatal(err)
		}
		if m["a"].Data[5] != 5.5 || m["b2"].Data[3] != -7 {
			t.Errorf("values not loaded: %v %v", m["a"].Data, m["b2"].Data)
		}
		bad := dictModule{"a": nn.NewTensor(3, 2), "c": nn.NewTensor(1)}
		_, err := LoadInto(context.Background(), p, bad, IntoOptions{Options: Options{StripPrefix: "module."}})
		var le *nn.LoadError
		if !errors.As(err, &le) {
			t.Fatalf("error %v, want *nn.LoadError", err)
		}
		for _, k := range []string{"a: got [2 3], want [3 2]", "c", "b", "skip"} {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("error does not name %q: %v", k, err)
			}
		}
		if bad["a"].Data[0] != 0 {
			t.Error("refused load wrote into the module")
		}
	}
}

// Hostile bytes: truncations and garbage give errors, never panics.
func TestLoadIntoHostile(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pt*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := Load(context.Background(), f, Options{AllowUnknownGlobals: true})
		if err != nil {
			t.Fatal(err)
		}
		ref := ck.Tensors
		m := dictModule{}
		for k, v := range ref {
			m[k] = nn.NewTensor(v.Shape...)
		}
		for _, n := range []int{0, 3, len(b) / 2, len(b) - 1} {
			r := strings.NewReader(string(b[:n]))
			if _, err := ReadInto(context.Background(), r, int64(n), m, IntoOptions{Options: Options{AllowUnknownGlobals: true}}); !errors.Is(err, ErrFormat) {
				t.Errorf("%s truncated to %d: %v, want ErrFormat", f, n, err)
			}
		}
	}
}

// FuzzReadInto: whatever the bytes, streaming into a module returns an
// error or fills it, never panics; when Read accepts the bytes, ReadInto
// gives the same values, and a refused ReadInto leaves the module as it
// was (every check, checksums included, comes before the copy).
func FuzzReadInto(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pt*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := Read(context.Background(), strings.NewReader(string(b)), int64(len(b)), Options{AllowUnknownGlobals: true, MaxBytes: 1 << 24})
		m := dictModule{"x": nn.NewTensor(2, 3)}
		if err == nil {
			m = filledModule(ck)
		}
		_, ierr := ReadInto(context.Background(), strings.NewReader(string(b)), int64(len(b)), m, IntoOptions{Options: Options{AllowUnknownGlobals: true, MaxBytes: 1 << 24}, AllowMissing: true, AllowUnexpected: true})
		if err != nil {
			return
		}
		if ierr != nil {
			if !untouched(m) {
				t.Fatalf("refused ReadInto wrote into the module: %v", ierr)
			}
			t.Fatalf("Read accepts the bytes, ReadInto refuses them: %v", ierr)
		}
		if !sameTensors(m, ck.Tensors) {
			t.Fatal("ReadInto and Read disagree")
		}
	})
}
