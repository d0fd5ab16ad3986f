package nn

import (
	"math"
	"testing"
	"unsafe"

	"github.com/metasurv/metasurv/internal/hugepage"
)

// A layer's large weight lies on huge pages (where the system gives
// them), and the layer computes the same bits as with its weight in a
// plain Go slice: the placement changes no number.
func TestWeightsOnHugePages(t *testing.T) {
	r := NewRNG(7)
	l := NewLinear(768, 3072, LinearOptions{}, r) // 9.4 MB weight
	w := l.Weight.Data
	if got, err := hugepage.Backed(w); err != nil {
		t.Logf("huge pages not checked: %v", err)
	} else {
		if p := uintptr(unsafe.Pointer(&w[0])); p%hugepage.Size != 0 {
			t.Errorf("weight at %#x, not 2 MB-aligned", p)
		}
		if got < len(w)*4-hugepage.Size/2 {
			t.Errorf("%d of %d weight bytes on huge pages", got, len(w)*4)
		}
		t.Logf("%d of %d weight bytes on huge pages", got, len(w)*4)
	}
	x := NewTensor(9, 768)
	InitNormal(x, 0, 1, r)
	plain := &Linear{Weight: &Tensor{Shape: l.Weight.Shape, Data: append(make([]float32, 0, len(w)), w...)}, Bias: l.Bias, packs: newPackCache()}
	for _, o := range []Options{{}, {BF16: true}} {
		g1, g2 := NewGraph(o), NewGraph(o)
		y1, y2 := l.Forward(g1, x), plain.Forward(g2, x)
		if g1.Err() != nil || g2.Err() != nil {
			t.Fatal(g1.Err(), g2.Err())
		}
		for i := range y1.Data {
			if math.Float32bits(y1.Data[i]) != math.Float32bits(y2.Data[i]) {
				t.Fatalf("BF16 %v: y[%d] = %v on huge pages, %v in a plain slice", o.BF16, i, y1.Data[i], y2.Data[i])
			}
		}
	}
}
