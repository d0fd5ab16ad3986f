package pycall

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseManifestConstructors(t *testing.T) {
	c, err := Parse("LaMIMClassifier(ViTAutoEnc(in_channels=4, out_channels=4, img_size=32, patch_size=16, hidden_size=96), flat=(8 // 3) * (96 // 3))")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "LaMIMClassifier" || len(c.Args) != 1 || len(c.Kwargs) != 1 {
		t.Fatalf("got %s", c)
	}
	if inner := c.Args[0].(*Call); inner.Name != "ViTAutoEnc" || inner.Kwargs[4].Value != int64(96) {
		t.Fatalf("inner %s", inner)
	}
	if c.Kwargs[0].Value != int64(64) {
		t.Fatalf("flat = %v, want 64", Repr(c.Kwargs[0].Value))
	}
	c, err = Parse("SENet(spatial_dims=3, block=SEResNeXtBottleneck, layers=(1, 1, 1, 1), dropout_prob=None, input_3x3=False, x=[1.5e-3, -2], d={'eps': 1e-3}, s='a\\'b')  # comment")
	if err != nil {
		t.Fatal(err)
	}
	want := []Kwarg{{"spatial_dims", int64(3)}, {"block", Ident("SEResNeXtBottleneck")},
		{"layers", []Value{int64(1), int64(1), int64(1), int64(1)}}, {"dropout_prob", nil}, {"input_3x3", false},
		{"x", []Value{1.5e-3, int64(-2)}}, {"d", Dict{{"eps", 1e-3}}}, {"s", "a'b"}}
	if !reflect.DeepEqual(c.Kwargs, want) {
		t.Fatalf("got %#v", c.Kwargs)
	}
}

func TestArithmetic(t *testing.T) {
	for src, want := range map[string]Value{
		"f(x=-7 // 2)":      int64(-4),
		"f(x=-7 % 3)":       int64(2),
		"f(x=2 + 3 * 4)":    int64(14),
		"f(x=(2 + 3) * 4)":  int64(20),
		"f(x=7 / 2)":        3.5,
		"f(x=1 - 2 - 3)":    int64(-4),
		"f(x=--3)":          int64(3),
		"f(x=0.5 * 4)":      2.0,
		"f(x=(8 // 3) * 3)": int64(6),
	} {
		c, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := c.Kwargs[0].Value; got != want {
			t.Errorf("%s = %v, want %v", src, Repr(got), Repr(want))
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{"", "f(", "f(x=)", "f(x=1 // 0)", "3", "f(a=1, 2)", "f(x='abc)", "f(x=9223372036854775807 + 1)",
		"f(x=1) g()", "f(x=$)", "f(x='a' * 2)", strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)} {
		if c, err := Parse(src); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want a syntax error", src, c, err)
		}
	}
}

func TestBind(t *testing.T) {
	c, err := Parse("ResNet('basic', [1, 2], block_inplanes=(8, 16), no_max_pool=True, widen_factor=2, bogus=1, other=2)")
	if err != nil {
		t.Fatal(err)
	}
	a := Bind(c, "block", "layers", "block_inplanes", "no_max_pool", "widen_factor", "num_classes")
	if a.String("block", "") != "basic" || !reflect.DeepEqual(a.Ints("layers", 0, nil), []int{1, 2}) ||
		!reflect.DeepEqual(a.Ints("block_inplanes", 2, nil), []int{8, 16}) || !a.Bool("no_max_pool", false) ||
		a.Float("widen_factor", 1) != 2 || a.Int("num_classes", 400) != 400 {
		t.Fatal("bound values wrong")
	}
	err = a.Err()
	if err == nil || !IsArgs(err) || !strings.Contains(err.Error(), "bogus, other") {
		t.Fatalf("Err = %v, want both unknown arguments named", err)
	}
	c, _ = Parse("f(a=0, b=-2, c=3, d='x')")
	a = Bind(c, "a", "b", "c", "d", "e")
	if a.PositiveInt("c", 1) != 3 || a.PositiveInt("e", 7) != 7 || a.PositiveInt("a", 5) != 5 {
		t.Fatal("PositiveInt values wrong")
	}
	a.PositiveInt("b", 1)
	a.PositiveInt("d", 1)
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "a=0") || !strings.Contains(err.Error(), "b=-2") || !strings.Contains(err.Error(), "d=") {
		t.Fatalf("PositiveInt errors: %v", err)
	}
	c, _ = Parse("f('x', 2, 3)")
	a = Bind(c, "n", "b")
	a.Int("n", 0)
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "positional") || !strings.Contains(err.Error(), "want an integer") {
		t.Fatalf("Err = %v", err)
	}
	c, _ = Parse("f(1, a=2)")
	if err := Bind(c, "a").Err(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Err = %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	src := `Net(1, -2.5, "s", None, True, [1, (2, 3)], {"k": 1}, x=A.B, y=g(z=1))`
	c, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(c.String())
	if err != nil || !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip: %s -> %v %v", c, c2, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ResNet(block='basic', layers=[1, 1], x=(8 // 3) * (96 // 3))", "f(-1e3, {'a': [None]})", "a.b(c=d.e)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if _, err := Parse(c.String()); err != nil {
			t.Fatalf("re-parse of %s: %v", c, err)
		}
	})
}

// Hostile nesting and concatenation cost time and memory linear in the
// input: a dict used as a key (unhashable in Python) is refused, as its
// Repr, quoted again at each level, doubled per level (the fuzzer's
// "0*{{{…{0." took seconds at 20 levels and exhausted memory at 40), and
// implicit string concatenation no longer copies the string per piece.
func TestParseHostileInputIsCheap(t *testing.T) {
	for _, src := range []string{
		"0*" + strings.Repeat("{", 5000) + "0.",
		"f(" + strings.Repeat("{", 40) + "1:2" + strings.Repeat("}:3", 40) + ")",
		"f(x={{'a': 1}: 2})",
		"f(x=[" + strings.Repeat("'ab' ", 200000) + "])",
	} {
		t0 := time.Now()
		_, err := Parse(src)
		if d := time.Since(t0); d > time.Second {
			t.Errorf("%.40q…: %v", src, d)
		}
		if len(src) < 100 && !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want ErrSyntax", src, err)
		}
	}
	c, err := Parse("f(d={'a': 1, 2: 'b', None: 3.5})")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != `f(d={"a": 1, "2": "b", "None": 3.5})` {
		t.Errorf("scalar keys: %s", got)
	}
}
