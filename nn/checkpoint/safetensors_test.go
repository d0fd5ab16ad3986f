package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// TestSafetensorsRoundTripFixtures converts every fixture model to
// safetensors and back and requires identical bits, sorted names,
// contiguous offsets and an 8-byte aligned header.
func TestSafetensorsRoundTripFixtures(t *testing.T) {
	for _, path := range modelFiles(t) {
		name := filepath.Base(path)
		c, err := loadFixture(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, c.Tensors, SaveOptions{Format: FormatSafetensors, Meta: map[string]string{"source": name}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := buf.Bytes()
		checkLayout(t, name, b)
		back, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if back.Meta["source"] != name {
			t.Errorf("%s: metadata %v", name, back.Meta)
		}
		sha, sum := digest(back.Tensors)
		if want := fixtureDigests[name]; sha != want.sha || sum != want.sum {
			t.Errorf("%s: round trip digest %s sum %v, want %s %v", name, sha, sum, want.sha, want.sum)
		}
	}
}

// checkLayout verifies the file layout the reference implementation writes.
func checkLayout(t *testing.T, label string, b []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("%s: header length %d not a multiple of 8", label, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	type ent struct {
		name string
		off  [2]int64
	}
	var ents []ent
	for k, v := range hdr {
		if k == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(v, &e); err != nil || e.DType != "F32" {
			t.Fatalf("%s: %s: %v %s", label, k, err, e.DType)
		}
		ents = append(ents, ent{k, [2]int64{e.Offsets[0], e.Offsets[1]}})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].off[0] < ents[j].off[0] })
	end := int64(0)
	for i, e := range ents {
		if e.off[0] != end || (i > 0 && e.name < ents[i-1].name) {
			t.Fatalf("%s: %s at %v after %d: not contiguous in sorted name order", label, e.name, e.off, end)
		}
		end = e.off[1]
	}
	if int64(len(b)) != 8+int64(n)+end {
		t.Fatalf("%s: file of %d bytes, header covers %d", label, len(b), 8+int64(n)+end)
	}
}

// stFile builds a safetensors file from header entries and data.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestSafetensorsDTypes(t *testing.T) {
	var data []byte
	le := binary.LittleEndian
	data = le.AppendUint16(data, 0x3c00) // F16 1
	data = le.AppendUint16(data, 0xc000) // F16 -2
	data = le.AppendUint16(data, 0x7c00) // F16 +Inf
	data = le.AppendUint16(data, 0x0001) // F16 2^-24 (subnormal)
	data = le.AppendUint16(data, 0x3f80) // BF16 1
	data = le.AppendUint16(data, 0xc040) // BF16 -3
	data = le.AppendUint64(data, math.Float64bits(0.1))
	data = le.AppendUint64(data, uint64(1<<40))
	data = le.AppendUint32(data, uint32(0xfffffffb)) // I32 -5
	data = append(data, 1, 0, 250)                   // BOOL 1 0, U8 250
	hdr := `{"__metadata__":{"format":"pt"},` +
		`"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},` +
		`"d":{"dtype":"F64","shape":[],"data_offsets":[12,20]},` +
		`"l":{"dtype":"I64","shape":[1],"data_offsets":[20,28]},` +
		`"i":{"dtype":"I32","shape":[1],"data_offsets":[28,32]},` +
		`"t":{"dtype":"BOOL","shape":[2],"data_offsets":[32,34]},` +
		`"u":{"dtype":"U8","shape":[1],"data_offsets":[34,35]},` +
		`"e":{"dtype":"F32","shape":[0,3],"data_offsets":[35,35]}}`
	f := stFile(hdr, data)
	c, err := Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"h": {1, -2, float32(math.Inf(1)), 1.0 / (1 << 24)}, "b": {1, -3}, "d": {float32(0.1)},
		"l": {1 << 40}, "i": {-5}, "t": {1, 0}, "u": {250}, "e": {},
	}
	for k, w := range want {
		got := c.Tensors[k]
		if got == nil || len(got.Data) != len(w) {
			t.Fatalf("%s: %v, want %v", k, got, w)
		}
		for i := range w {
			if got.Data[i] != w[i] {
				t.Errorf("%s: %v, want %v", k, got.Data, w)
			}
		}
	}
	if c.Ints["l"].Data[0] != 1<<40 || c.Ints["i"].Data[0] != -5 || c.DTypes["b"] != "bfloat16" || c.Meta["format"] != "pt" {
		t.Errorf("ints %v %v dtypes %v meta %v", c.Ints["l"], c.Ints["i"], c.DTypes, c.Meta)
	}
	if sh := c.Tensors["h"].Shape; len(sh) != 2 || sh[0] != 2 || len(c.Tensors["d"].Shape) != 0 {
		t.Errorf("shapes %v %v", sh, c.Tensors["d"].Shape)
	}
}

func TestSafetensorsMalformed(t *testing.T) {
	data := make([]byte, 16)
	cases := map[string][]byte{
		"overlap":      stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data),
		"beyond data":  stFile(`{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`, data),
		"size differs": stFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data),
		"reversed":     stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, data),
		"negative":     stFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, data),
		"overflow":     stFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}`, data),
		"dtype":        stFile(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, data),
		"bad json":     stFile(`{"a":`, data),
		"not object":   stFile(`[1,2]   `, data),
		"metadata":     stFile(`{"__metadata__":{"a":1}}`, data),
		"offsets":      stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, data),
		"huge header":  append(binary.LittleEndian.AppendUint64(nil, 1<<40), '{'),
		"short":        {1, 0, 0},
	}
	for name, f := range cases {
		if _, err := Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f := stFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data)
	if _, err := Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{MaxBytes: 8}); err == nil {
		t.Error("MaxBytes not enforced")
	}
	if err := Write(&bytes.Buffer{}, map[string]*nn.Tensor{"x": {Shape: []int{3}, Data: []float32{1}}}, SaveOptions{Format: FormatSafetensors}); err == nil {
		t.Error("inconsistent tensor written")
	}
	if err := Write(&bytes.Buffer{}, map[string]*nn.Tensor{"__metadata__": nn.Scalar(1)}, SaveOptions{Format: FormatSafetensors}); err == nil {
		t.Error("tensor named __metadata__ written")
	}
}

func TestSafetensorsStripPrefix(t *testing.T) {
	var buf bytes.Buffer
	in := map[string]*nn.Tensor{"module.a": nn.Scalar(1), "module.b.c": nn.Scalar(2)}
	if err := Write(&buf, in, SaveOptions{Format: FormatSafetensors}); err != nil {
		t.Fatal(err)
	}
	c, err := Read(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), Options{StripPrefix: "module."})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Keys(), ",") != "a,b.c" {
		t.Fatalf("keys %v", c.Keys())
	}
}
