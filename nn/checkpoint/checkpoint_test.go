package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/nn"
)

// fixtureDigests are the outputs of testdata/refsums.py, an independent
// loader written on Python's stdlib pickle machine: number of tensors,
// SHA-256 over (key, python repr of the shape, float32 little-endian
// C-order bytes) in sorted key order, and the float64 sum of all values in
// the same order. The tensor counts and SHA-256 digests were cross-checked
// with torch 1.13's own torch.load (Debian python3-torch): all ten agree.
var fixtureDigests = map[string]struct {
	n   int
	sha string
	sum float64
}{
	"densenet_small.pt":             {139, "6bd5eff42527316a5a736e25edfa64ac7fee392be143efeec36406b20b66f4b1", 584.5606700061567},
	"efficientnet_b0.pt":            {360, "b8ed81d3edf8545c007f4a0b603f8659ed74acbc2323681902f93ba8d71f0226", 21448.918407149657},
	"lamim_classifier_small.pt":     {37, "59603a5b50627d84a24155f705da01ee7645141624a12d164d2667185f649933", 6.381458108266552},
	"resnet_basic_small.pt":         {77, "b22ba8ef5efb12ac8a90cec5b06d7978e615e7accfa8406bd2dc040ddd62a75d", 362.4954462244263},
	"resnet_bottleneck_small.pt":    {126, "f38b75192ed641717c25d9ccb27cc7b840ce9fc7fb0fffb19a424f533d6eef72", 1303.7465491510477},
	"resnet_shortcutA_nomaxpool.pt": {56, "b9fda72b5970b85e34658b79f261fcc1f67ee73fe9eb1c8a11c043b3bcaa78a2", 232.70658565891415},
	"senext_small.pt":               {120, "bed8036bc985fcaba8a66dd6b1f916ceba8e85475ce2c6ccc26c6c129f260162", 8427.693400242822},
	"vit_cls_small.pt":              {30, "002682ef124a60d365d736acfd0faeeb5452e22ccd49e7d4017836f37b427aed", -12.762751162132464},
	"vit_feat_p8_qkvbias.pt":        {41, "ce5f74b7ff7837836b2415301f24c1f2aaaf336e9ce6245f836208106cad862b", -44.53760659831634},
	"vitautoenc_small.pt":           {31, "b731e4ed69fbcf8261ce872a5e92c454e16efa952d4b1ea300f7e168e1a00042", 146.25711215897917},
}

// digest computes what refsums.py prints.
func digest(tensors map[string]*nn.Tensor) (string, float64) {
	keys := make([]string, 0, len(tensors))
	for k := range tensors {
		keys = append(keys, k)
	}
	sortStrings(keys)
	h := sha256.New()
	sum := 0.0
	var b [4]byte
	for _, k := range keys {
		t := tensors[k]
		shape := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = fmt.Sprint(d)
		}
		h.Write([]byte(k + "[" + strings.Join(shape, ", ") + "]"))
		for _, v := range t.Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
			sum += float64(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), sum
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type manifest struct {
	Fixtures map[string]struct {
		Weights string `json:"weights"`
		Params  int    `json:"params"`
	} `json:"fixtures"`
}

func modelFiles(tb testing.TB) []string {
	dir := filepath.Dir(fixture.Path(tb, "golden", "models", "manifest.json"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.pt"))
	if len(files) == 0 {
		tb.Fatal("no .pt fixtures")
	}
	return files
}

var (
	fixtureMu    sync.Mutex
	fixtureCache = map[string]*Checkpoint{}
)

// loadFixture loads a fixture model once per test binary; TestFixtureModels
// checks what it returns, the other tests reuse it.
func loadFixture(path string) (*Checkpoint, error) {
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if c, ok := fixtureCache[path]; ok {
		return c, nil
	}
	c, err := Load(context.Background(), path, Options{})
	if err == nil {
		fixtureCache[path] = c
	}
	return c, err
}

func isBuffer(k string) bool {
	for _, s := range []string{".running_mean", ".running_var", ".num_batches_tracked"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// TestFixtureModels loads every .pt in ../shared/golden/models and checks
// the values bit for bit against the independent digests, the parameter
// count against manifest.json, and the integer buffers.
func TestFixtureModels(t *testing.T) {
	var man manifest
	b, err := os.ReadFile(fixture.Path(t, "golden", "models", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	params := map[string]int{}
	for _, f := range man.Fixtures {
		params[f.Weights] = f.Params
	}
	for _, path := range modelFiles(t) {
		name := filepath.Base(path)
		c, err := Load(context.Background(), path, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, ok := fixtureDigests[name]
		if !ok {
			t.Errorf("%s: no reference digest", name)
			continue
		}
		sha, sum := digest(c.Tensors)
		if len(c.Tensors) != want.n || sha != want.sha || sum != want.sum {
			t.Errorf("%s: %d tensors, sha %s, sum %v; want %d, %s, %v", name, len(c.Tensors), sha, sum, want.n, want.sha, want.sum)
		}
		np := 0
		for k, v := range c.Tensors {
			if !isBuffer(k) {
				np += v.Numel()
			}
			if strings.HasSuffix(k, ".num_batches_tracked") {
				it := c.Ints[k]
				if c.DTypes[k] != "int64" || it == nil || len(it.Shape) != 0 || len(it.Data) != 1 || float32(it.Data[0]) != v.Data[0] {
					t.Errorf("%s: %s: dtype %s, ints %+v, tensor %v", name, k, c.DTypes[k], it, v)
				}
			} else if c.DTypes[k] != "float32" {
				t.Errorf("%s: %s has dtype %s", name, k, c.DTypes[k])
			}
		}
		if np != params[name] {
			t.Errorf("%s: %d parameters, manifest says %d", name, np, params[name])
		}
	}
}

type expected map[string]struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

var storageToDType = map[string]string{
	"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
	"BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
	"ByteStorage": "uint8", "BoolStorage": "bool",
}

func loadExpected(t *testing.T) expected {
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// checkExpected compares a checkpoint with testdata/expected.json, written
// by testdata/gen.py together with the synthetic files.
func checkExpected(t *testing.T, label string, c *Checkpoint, exp expected) {
	t.Helper()
	if len(c.Tensors) != len(exp) {
		t.Errorf("%s: keys %v, want %d keys", label, c.Keys(), len(exp))
	}
	for k, e := range exp {
		got, ok := c.Tensors[k]
		if !ok {
			t.Errorf("%s: missing %q", label, k)
			continue
		}
		if !reflect.DeepEqual(append([]int{}, got.Shape...), append([]int{}, e.Shape...)) {
			t.Errorf("%s: %s shape %v, want %v", label, k, got.Shape, e.Shape)
		}
		if c.DTypes[k] != storageToDType[e.DType] {
			t.Errorf("%s: %s dtype %s, want %s", label, k, c.DTypes[k], storageToDType[e.DType])
		}
		for i, v := range e.Values {
			if i >= len(got.Data) || math.Float32bits(got.Data[i]) != math.Float32bits(float32(v)) {
				t.Errorf("%s: %s = %v, want %v", label, k, got.Data, e.Values)
				break
			}
		}
		if it, isInt := c.Ints[k]; isInt {
			for i, v := range e.Values {
				if it.Data[i] != int64(v) {
					t.Errorf("%s: %s ints %v, want %v", label, k, it.Data, e.Values)
					break
				}
			}
		} else if strings.Contains("LongStorage IntStorage ByteStorage BoolStorage", e.DType) {
			t.Errorf("%s: %s (%s) missing from Ints", label, k, e.DType)
		}
	}
}

// TestSyntheticFormats reads the files of testdata/gen.py: zip with
// protocol 4 and a wrapper dict, zip with big-endian storages, legacy with
// storage views; every dtype, permuted/offset/expanded views, a Parameter.
func TestSyntheticFormats(t *testing.T) {
	exp := loadExpected(t)
	c, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{StripPrefix: "module."})
	if err != nil {
		t.Fatal(err)
	}
	checkExpected(t, "zip_p4", c, exp)
	if !reflect.DeepEqual(c.Meta, map[string]any{"epoch": int64(7), "best": 0.5, "arch": "resnet"}) {
		t.Errorf("zip_p4 meta %v", c.Meta)
	}
	if c.Ints["bn.num_batches_tracked"].Data[0] != 123456789012 {
		t.Errorf("int64 scalar not exact: %v", c.Ints["bn.num_batches_tracked"])
	}
	raw, err := Load(context.Background(), filepath.Join("testdata", "zip_p4.pt"), Options{Key: "state_dict"})
	if err != nil || raw.Tensors["module.conv.weight"] == nil {
		t.Errorf("without StripPrefix: %v, keys %d", err, len(raw.Tensors))
	}
	for _, f := range []string{"zip_p2_big.pt", "legacy.pth"} {
		c, err := Load(context.Background(), filepath.Join("testdata", f), Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		checkExpected(t, f, c, exp)
	}
}

func TestDetect(t *testing.T) {
	var st bytes.Buffer
	if err := Write(&st, map[string]*nn.Tensor{"a": nn.Scalar(1)}, SaveOptions{Format: FormatSafetensors}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]Format{"zip_p4.pt": FormatTorchZip, "legacy.pth": FormatTorchLegacy}
	for f, want := range cases {
		b, _ := os.ReadFile(filepath.Join("testdata", f))
		if got := Detect(b[:16]); got != want {
			t.Errorf("%s detected as %v, want %v", f, got, want)
		}
	}
	if got := Detect(st.Bytes()); got != FormatSafetensors {
		t.Errorf("safetensors detected as %v", got)
	}
	if _, err := Read(context.Background(), bytes.NewReader([]byte("hello world, not weights")), 24, Options{}); err == nil {
		t.Error("garbage accepted")
	}
}

// TestUnknownGlobals: zip_extras.pt wraps the state dict with a numpy
// scalar (outside the allow-list) and stores one tensor through
// _rebuild_from_type_v2. Strict mode names the global; the lenient option
// loads the weights and leaves the scalar out of Meta.
func TestUnknownGlobals(t *testing.T) {
	path := filepath.Join("testdata", "zip_extras.pt")
	if _, err := Load(context.Background(), path, Options{}); err == nil || !strings.Contains(err.Error(), "numpy.core.multiarray.scalar") {
		t.Fatalf("strict load error %v, want one naming numpy.core.multiarray.scalar", err)
	}
	c, err := Load(context.Background(), path, Options{AllowUnknownGlobals: true})
	if err != nil {
		t.Fatal(err)
	}
	checkExpected(t, "zip_extras", c, loadExpected(t))
	if !reflect.DeepEqual(c.Meta, map[string]any{"epoch": int64(3)}) {
		t.Errorf("meta %v", c.Meta)
	}
}

func TestDetectSafetensorsLikePickle(t *testing.T) {
	// A safetensors header of 0x280 bytes begins with 0x80 0x02 (PROTO 2).
	hdr := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	hdr += strings.Repeat(" ", 0x280-len(hdr))
	f := append(stFile(hdr, nil), 0, 0, 0x80, 0x3f)
	if Detect(f[:16]) != FormatSafetensors {
		t.Fatalf("detected as %v", Detect(f[:16]))
	}
	c, err := Read(context.Background(), bytes.NewReader(f), int64(len(f)), Options{})
	if err != nil || c.Tensors["a"].Data[0] != 1 {
		t.Fatalf("%v %v", err, c)
	}
}

// TestFixtureKeyNames checks that the small fixtures use the same
// state-dict names as the full-size MONAI models listed in manifest.json
// ("keys"), with tensors of the same rank: every key of the small model
// (below prefix) must exist in the full model.
func TestFixtureKeyNames(t *testing.T) {
	var man struct {
		Keys map[string]struct {
			StateDict map[string][]int `json:"state_dict"`
		} `json:"keys"`
	}
	b, err := os.ReadFile(fixture.Path(t, "golden", "models", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	pairs := []struct{ small, full, prefix string }{
		{"densenet_small.pt", "DenseNet121", ""},
		{"resnet_basic_small.pt", "resnet18", ""},
		{"resnet_bottleneck_small.pt", "resnet50", ""},
		{"resnet_shortcutA_nomaxpool.pt", "resnet18", ""},
		{"senext_small.pt", "SENet154", ""},
		{"vit_cls_small.pt", "ViT", ""},
		{"vitautoenc_small.pt", "ViTAutoEnc", ""},
		{"lamim_classifier_small.pt", "LaMIM_ViTAutoEnc", "model."},
	}
	dir := filepath.Dir(fixture.Path(t, "golden", "models", "manifest.json"))
	for _, p := range pairs {
		full := man.Keys[p.full].StateDict
		if len(full) == 0 {
			t.Fatalf("manifest has no keys for %s", p.full)
		}
		c, err := loadFixture(filepath.Join(dir, p.small))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, v := range c.Tensors {
			if !strings.HasPrefix(k, p.prefix) {
				continue
			}
			n++
			shape, ok := full[strings.TrimPrefix(k, p.prefix)]
			if !ok || len(shape) != len(v.Shape) {
				t.Errorf("%s: %s (shape %v) not in %s (%v)", p.small, k, v.Shape, p.full, shape)
			}
		}
		if n == 0 {
			t.Errorf("%s: no key with prefix %q", p.small, p.prefix)
		}
	}
}
