package checkpoint

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unpickle runs the restricted machine on p, resolving storage ids as
// torch.save zip files do.
func unpickle(p []byte) (any, error) {
	u := newUnpickler(bytes.NewReader(p), int64(len(p)), func(pid any) (any, error) {
		st, _, err := parseStoragePID(pid)
		return st, err
	})
	return u.load()
}

func TestPickleRejects(t *testing.T) {
	storage := "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ"
	cases := map[string]struct{ pickle, want string }{
		"os.system":        {"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.", `"os.system" is not allowed`},
		"builtins.eval":    {"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.", `"builtins.eval" is not allowed`},
		"torch.load":       {"\x80\x02ctorch\nload\n.", `"torch.load" is not allowed`},
		"module class":     {"\x80\x02ctorch.nn.modules.linear\nLinear\n.", "torch.nn.modules.linear.Linear"},
		"INST":             {"\x80\x02(ios\nsystem\n.", "INST"},
		"protocol 0 INT":   {"I1\n.", "INT"},
		"protocol 6":       {"\x80\x06N.", "protocol 6"},
		"EXT1":             {"\x80\x02\x82\x01.", "EXT1"},
		"storage callable": {"\x80\x02ctorch\nFloatStorage\n)R.", "cannot be called"},
		"reduce non-tuple": {"\x80\x02ccollections\nOrderedDict\nNR.", "must be a tuple"},
		"memo undefined":   {"\x80\x02h\x05.", "memo key 5"},
		"underflow":        {"\x80\x02s.", "underflow"},
		"pop below mark":   {"\x80\x02N(0.", "underflow"},
		"no mark":          {"\x80\x02t.", "no MARK"},
		"append to dict":   {"\x80\x02}Na.", "want a list"},
		"setitem on list":  {"\x80\x02]NNs.", "want a dict"},
		"list key":         {"\x80\x02}]Ns.", "key type"},
		"long too big":     {"\x80\x02\x8b\xff\xff\x00\x00.", "exceeds"},
		"string too long":  {"\x80\x02X\xff\xff\xff\x7f.", "exceeds"},
		"truncated":        {"\x80\x02X\x05\x00\x00\x00ab", "exceeds"},
		"no STOP":          {"\x80\x02N", "truncated"},
		"bad pid":          {"\x80\x02X\x01\x00\x00\x00xQ.", "persistent id"},
		"bad storage type": {"\x80\x02(X\x07\x00\x00\x00storagectorch\nComplexFloatStorage\n.", "not allowed"},
		"view too large": {"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage +
			"K\x00K\x05\x85K\x01\x85\x89)tR.", "exceeds its storage"},
		"stride too large": {"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage +
			"K\x00K\x02K\x02\x86K\x03K\x01\x86\x89)tR.", "exceeds its storage"},
		"negative offset": {"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage +
			"J\xff\xff\xff\xffK\x01\x85K\x01\x85\x89)tR.", "offset"},
		"parameter of int": {"\x80\x02ctorch._utils\n_rebuild_parameter\nK\x01\x85R.", "want a tensor"},
	}
	for name, c := range cases {
		_, err := unpickle([]byte(c.pickle))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrPickle) {
			t.Errorf("%s: error %v, want one containing %q wrapping ErrPickle", name, err, c.want)
		}
	}
}

func TestPickleStackLimit(t *testing.T) {
	p := append([]byte("\x80\x02"), bytes.Repeat([]byte("("), maxStack+1)...)
	if _, err := unpickle(append(p, '.')); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("MARK flood: %v", err)
	}
	p = append([]byte("\x80\x02N"), bytes.Repeat([]byte("2"), maxStack+1)...)
	if _, err := unpickle(append(p, '.')); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("DUP flood: %v", err)
	}
}

func TestPickleValues(t *testing.T) {
	// {'a': [1, -2, 3.5, None, True, b'xy', 'é'], 7: (-129, 2**70)} in
	// protocol 2 (LONG1 for 2**70, _codecs.encode for bytes) as Python
	// writes it (pickle.dumps(..., protocol=2)).
	p := "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00N\x88c_codecs\nencode\nq\x03X\x02\x00\x00\x00xyq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07X\x02\x00\x00\x00\xc3\xa9q\x08eK\x07J\x7f\xff\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x86q\tu."
	v, err := unpickle([]byte(p))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := plain(v)
	if !ok {
		t.Fatalf("plain(%v) failed", v)
	}
	m := got.(map[string]any)
	a := m["a"].([]any)
	if a[0] != int64(1) || a[1] != int64(-2) || a[2] != 3.5 || a[3] != nil || a[4] != true || string(a[5].([]byte)) != "xy" || a[6] != "é" {
		t.Errorf("a = %#v", a)
	}
	tup := m["7"].([]any)
	if tup[0] != int64(-129) || tup[1].(interface{ String() string }).String() != "1180591620717411303424" {
		t.Errorf("7 = %#v", tup)
	}
}

// TestTruncatedFiles cuts the synthetic files and a fixture at many
// lengths: every cut must give an error, never a panic.
func TestTruncatedFiles(t *testing.T) {
	files := []string{filepath.Join("testdata", "zip_p4.pt"), filepath.Join("testdata", "legacy.pth")}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			if _, err := Read(context.Background(), bytes.NewReader(b[:n]), int64(n), Options{}); err == nil {
				t.Errorf("%s cut at %d/%d: no error", f, n, len(b))
			}
		}
	}
	// Every prefix of a real data.pkl.
	z, err := zip.OpenReader(modelFiles(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "data.pkl") {
			p, _ := readEntry(f, int64(f.UncompressedSize64))
			step := max(1, len(p)/500) // 500 cuts, plus the last 64 bytes one by one
			for n := 0; n < len(p); n += min(step, max(1, len(p)-64-n)) {
				if _, err := unpickle(p[:n]); err == nil {
					t.Fatalf("data.pkl cut at %d: no error", n)
				}
			}
		}
	}
}

// TestCorruptedFiles flips random bytes of the synthetic files: any
// outcome but a panic is acceptable.
func TestCorruptedFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range []string{"zip_p4.pt", "legacy.pth", "zip_p2_big.pt"} {
		orig, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3000; i++ {
			b := append([]byte(nil), orig...)
			for k := 0; k < 1+rng.IntN(4); k++ {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
			_, _ = Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxBytes: 1 << 24})
		}
	}
}

func TestSelection(t *testing.T) {
	if _, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{Key: "nothing"}); err == nil || !strings.Contains(err.Error(), "state_dict") {
		t.Errorf("missing key error %v should list the keys", err)
	}
	if _, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{MaxBytes: 16}); err == nil {
		t.Error("MaxBytes not enforced")
	}
	p := []byte("\x80\x02}X\x01\x00\x00\x00aK\x01s.")
	if _, _, err := selectStateDict(mustUnpickle(t, p), ""); err == nil {
		t.Error("dict without tensors accepted")
	}
	if _, _, err := selectStateDict(mustUnpickle(t, []byte("\x80\x02K\x01.")), ""); err == nil {
		t.Error("int root accepted")
	}
}

// TestPlainDAGBounded: 60 nested lists, each holding the previous one
// twice through the memo, describe 2^60 values; conversion must give up
// quickly instead of walking them.
func TestPlainDAGBounded(t *testing.T) {
	p := []byte("\x80\x02]q\x00")
	for i := 0; i < 60; i++ {
		p = append(p, ']', '(', 'h', byte(i), 'h', byte(i), 'e', 'q', byte(i+1))
	}
	p = append(p, '.')
	v := mustUnpickle(t, p)
	if _, ok := plain(v); ok {
		t.Fatal("a 2^60-value DAG was converted")
	}
	sd, root := newDict(), newDict()
	sd.set("w", &tensorRef{st: &storageRef{dt: dtFloat32, numel: 1}, size: []int{1}, stride: []int64{1}})
	root.set("meta", v)
	root.set("epoch", int64(2))
	root.set("state_dict", sd)
	if _, meta, err := selectStateDict(root, ""); err != nil || len(meta) != 1 || meta["epoch"] != int64(2) {
		t.Fatalf("meta %v err %v", meta, err)
	}
}

// TestExpandedViewBounded: a one-element storage viewed with stride 0 as
// 2^30 elements is refused instead of allocating 4 GB.
func TestExpandedViewBounded(t *testing.T) {
	st := &storageRef{dt: dtFloat32, key: "0", numel: 1}
	v, err := rebuildTensor(pyTuple{st, int64(0), pyTuple{int64(1 << 30)}, pyTuple{int64(0)}})
	if err != nil {
		t.Fatal(err)
	}
	sd := newDict()
	sd.set("x", v)
	_, err = assemble(context.Background(), sd, constSource{1}, Options{}, newBudget(0))
	if err == nil || !strings.Contains(err.Error(), "expand") {
		t.Fatalf("error %v", err)
	}
	// A small expansion is materialised.
	v, _ = rebuildTensor(pyTuple{st, int64(0), pyTuple{int64(2), int64(3)}, pyTuple{int64(0), int64(0)}})
	sd.set("x", v)
	c, err := assemble(context.Background(), sd, constSource{1}, Options{}, newBudget(0))
	if err != nil || len(c.Tensors["x"].Data) != 6 || c.Tensors["x"].Data[5] != 1 {
		t.Fatalf("%v %v", err, c)
	}
}

// constSource serves storages whose every float32 element is v.
type constSource struct{ v float32 }

func (s constSource) storage(st *storageRef, _ int64, _ []byte) ([]byte, error) {
	b := make([]byte, 0, 4*st.numel)
	for i := int64(0); i < st.numel; i++ {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s.v))
	}
	return b, nil
}

func mustUnpickle(t *testing.T, p []byte) any {
	v, err := unpickle(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seedFiles returns the synthetic files and the fixture models below
// 512 kB (larger inputs slow the mutator down without adding coverage).
func seedFiles(f *testing.F) [][]byte {
	var seeds [][]byte
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pt*"))
	for _, p := range append(paths, modelFiles(f)...) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 512<<10 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzPickle(f *testing.F) {
	for _, b := range seedFiles(f) {
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue
		}
		for _, e := range z.File {
			if strings.HasSuffix(e.Name, "data.pkl") {
				p, _ := readEntry(e, int64(e.UncompressedSize64))
				f.Add(p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		v, err := unpickle(p)
		if err == nil {
			plain(v)
			selectStateDict(v, "")
		}
	})
}

func FuzzReadPyTorch(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxBytes: 1 << 26})
		if err == nil && len(c.Tensors) == 0 {
			t.Fatal("success without tensors")
		}
	})
}

func FuzzSafetensors(f *testing.F) {
	for _, b := range seedFiles(f) {
		c, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		if err := Write(&buf, c.Tensors, SaveOptions{Format: FormatSafetensors, Meta: map[string]string{"k": "v"}}); err == nil {
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{MaxBytes: 1 << 26})
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, c.Tensors, SaveOptions{Format: FormatSafetensors}); err != nil {
			t.Fatalf("rewriting a valid file: %v", err)
		}
	})
}

// FuzzTensorView checks, for arbitrary (offset, size, stride) views of a
// storage holding 0, 1, 2, ...: either rebuildTensor rejects the view, or
// materialising it returns exactly element offset + Σ index·stride.
func FuzzTensorView(f *testing.F) {
	f.Add(int64(0), int64(2), int64(3), int64(3), int64(1), int64(6))
	f.Add(int64(5), int64(3), int64(1), int64(2), int64(0), int64(12))
	f.Add(int64(1<<40), int64(0), int64(5), int64(5), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, off, s0, s1, st0, st1, numel int64) {
		if numel < 0 || numel > 1<<12 {
			return
		}
		st := &storageRef{dt: dtInt32, key: "0", numel: numel}
		v, err := rebuildTensor(pyTuple{st, off, pyTuple{s0, s1}, pyTuple{st0, st1}})
		if err != nil {
			return
		}
		sd := newDict()
		sd.set("x", v)
		c, err := assemble(context.Background(), sd, iotaSource{}, Options{MaxBytes: 1 << 22}, newBudget(1<<22))
		if err != nil {
			return
		}
		got := c.Ints["x"].Data
		k := 0
		for i := int64(0); i < s0; i++ {
			for j := int64(0); j < s1; j++ {
				if want := off + i*st0 + j*st1; got[k] != want || c.Tensors["x"].Data[k] != float32(want) {
					t.Fatalf("element (%d,%d) = %d, want %d", i, j, got[k], want)
				}
				k++
			}
		}
	})
}

// iotaSource serves int32 storages whose element i holds i.
type iotaSource struct{}

func (iotaSource) storage(st *storageRef, _ int64, _ []byte) ([]byte, error) {
	b := make([]byte, 0, 4*st.numel)
	for i := int64(0); i < st.numel; i++ {
		b = binary.LittleEndian.AppendUint32(b, uint32(i))
	}
	return b, nil
}
