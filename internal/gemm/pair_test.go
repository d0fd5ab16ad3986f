package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

// pairCase is one fused pair y = ep2(ep1(x·W1ᵀ)·W2ᵀ).
type pairCase struct {
	m, k, h, n int
	ldx, ldc   int
	x, w1, w2  []float32
	ep1, ep2   *Epilogue
}

func (p pairCase) String() string {
	return fmt.Sprintf("m=%d k=%d h=%d n=%d ldx=%d ldc=%d ep1=%v ep2=%v", p.m, p.k, p.h, p.n, p.ldx, p.ldc, p.ep1 != nil, p.ep2 != nil)
}

// pairShapes: ViT-B's MLP, tokens not a multiple of 32 (below and above
// rowsALongM, so both k blocks), a 24-wide last sliver and a full one,
// h odd and not a multiple of a band or of 32 (a ragged last W sliver and
// a half pair), h across several rowsAKC blocks with a block boundary
// inside a band, k not a multiple of 32, and strides padded. it selects
// the epilogues: none, bias only, bias+GELU, and on the second product
// bias + residual or GELU alone.
var pairShapes = [][4]int{
	{216, 768, 3072, 768}, {37, 45, 101, 77}, {200, 64, 2101, 230}, {128, 33, 1025, 129},
	{5, 7, 9, 11}, {33, 100, 331, 96}, {224, 96, 1109, 227},
}

func newPairCase(r *rand.Rand, it int, s [4]int) pairCase {
	p := pairCase{m: s[0], k: s[1], h: s[2], n: s[3], ldx: s[1] + it%3, ldc: s[3] + (it+1)%3}
	p.x = randSlice(r, (p.m-1)*p.ldx+p.k)
	p.w1 = randSlice(r, p.h*p.k) // W ends where its last row does
	p.w2 = randSlice(r, p.n*p.h)
	for i := range p.w1 {
		p.w1[i] *= float32(1 / math.Sqrt(float64(p.k)))
	}
	for i := range p.w2 {
		p.w2[i] *= float32(1 / math.Sqrt(float64(p.h)))
	}
	switch it % 4 {
	case 1:
		p.ep1 = &Epilogue{Bias: randSlice(r, p.h)}
	case 2, 3:
		p.ep1 = &Epilogue{Bias: randSlice(r, p.h), Act: GELU}
	}
	switch it % 3 {
	case 1:
		p.ep2 = &Epilogue{Bias: randSlice(r, p.n), Residual: randSlice(r, (p.m-1)*p.ldc+p.n)}
	case 2:
		p.ep2 = &Epilogue{Act: GELU}
	}
	if it == 0 { // ViT-B's block: GELU then bias + residual
		p.ep1 = &Epilogue{Bias: randSlice(r, p.h), Act: GELU}
		p.ep2 = &Epilogue{Bias: randSlice(r, p.n), Residual: randSlice(r, (p.m-1)*p.ldc+p.n)}
	}
	return p
}

// run returns C from the fused call (fused) or from the two unfused calls,
// C's padding filled with NaN (neither may write it).
func (p pairCase) run(t *testing.T, bf16, fused bool) []float32 {
	t.Helper()
	c := make([]float32, (p.m-1)*p.ldc+p.n)
	for i := range c {
		c[i] = float32(math.NaN())
	}
	if fused {
		poisonPools()
		f := SgemmPair
		if bf16 {
			f = SgemmBF16Pair
		}
		if !f(p.m, p.k, p.h, p.n, p.x, p.ldx, p.w1, p.ep1, p.w2, c, p.ldc, p.ep2) {
			t.Fatalf("%v: the fused scheme was not taken", p)
		}
		return c
	}
	h := make([]float32, p.m*p.h)
	f := SgemmEx
	if bf16 {
		f = SgemmBF16
	}
	f(false, true, p.m, p.h, p.k, 1, p.x, p.ldx, p.w1, p.k, 0, h, p.h, p.ep1)
	f(false, true, p.m, p.n, p.h, 1, h, p.h, p.w2, p.h, 0, c, p.ldc, p.ep2)
	return c
}

// sameBits fails unless got and want are equal bit for bit on C's
// elements (and got's padding is untouched).
func (p pairCase) sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range p.m {
		for j := range p.ldc {
			o := i*p.ldc + j
			if o >= len(got) {
				break
			}
			if j >= p.n {
				if !math.IsNaN(float64(got[o])) {
					t.Fatalf("%s %v: padding C[%d][%d] written", name, p, i, j)
				}
				continue
			}
			if math.Float32bits(got[o]) != math.Float32bits(want[o]) {
				t.Fatalf("%s %v: C[%d][%d] = %v, unfused %v", name, p, i, j, got[o], want[o])
			}
		}
	}
}

// TestSgemmPairBits checks SgemmPair and SgemmBF16Pair bit for bit
// against the two unfused calls, on 1, 2 and 3 workers, and that the
// fused scheme is taken where PairApplies says so.
func TestSgemmPairBits(t *testing.T) {
	for _, bf16 := range []bool{false, true} {
		if bf16 && !HaveBF16() {
			continue
		}
		if !bf16 && (cpu.Current() != cpu.AVX512 || !haveTranspose) {
			continue
		}
		r := rand.New(rand.NewPCG(31, 0))
		for it, s := range pairShapes {
			p := newPairCase(r, it, s)
			if !PairApplies(p.m, p.h, p.n, bf16) {
				t.Fatalf("bf16=%v %v: PairApplies is false", bf16, p)
			}
			want := p.run(t, bf16, false)
			for _, w := range []int{1, 2, 3} {
				if w != 2 && it%2 == 1 {
					continue
				}
				restore := parallel.SetMaxWorkers(w)
				got := p.run(t, bf16, true)
				restore()
				p.sameBits(t, fmt.Sprintf("bf16=%v workers=%d", bf16, w), got, want)
			}
		}
	}
}

// TestSgemmPairDeclines checks that the pair returns false, writing
// nothing, where the scheme does not apply: more tokens than hidden or
// output columns, more than maxRowsAM tokens, a residual on the first
// product, k 0.
func TestSgemmPairDeclines(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 0))
	for _, s := range [][4]int{{64, 16, 60, 100}, {64, 16, 100, 60}, {maxRowsAM + 1, 8, 1000, 1000}, {4, 0, 8, 8}} {
		m, k, h, n := s[0], s[1], s[2], s[3]
		x, w1, w2 := randSlice(r, m*k), randSlice(r, h*k), randSlice(r, n*h)
		c := make([]float32, m*n)
		for _, f := range []func(int, int, int, int, []float32, int, []float32, *Epilogue, []float32, []float32, int, *Epilogue) bool{SgemmPair, SgemmBF16Pair} {
			if f(m, k, h, n, x, k, w1, nil, w2, c, n, nil) {
				t.Fatalf("%v: taken", s)
			}
		}
	}
	x, w1, w2, c := randSlice(r, 8*4), randSlice(r, 40*4), randSlice(r, 40*40), make([]float32, 8*40)
	ep1 := &Epilogue{Residual: randSlice(r, 8*40)}
	if SgemmPair(8, 4, 40, 40, x, 4, w1, ep1, w2, c, 40, nil) || SgemmBF16Pair(8, 4, 40, 40, x, 4, w1, ep1, w2, c, 40, nil) {
		t.Fatal("taken with a residual on the first product")
	}
	for _, v := range c {
		if v != 0 {
			t.Fatal("C written by a declined pair")
		}
	}
}

// poisonPools fills the pooled buffers the fused pair takes its packed
// xᵀ from (bfWorker.b, job.xt) with NaN, so that a pair that leaves any
// of it unwritten where the second product reads it shows in C.
func poisonPools() {
	var ws [3]*bfWorker
	for i := range ws {
		ws[i] = bfPool.Get().(*bfWorker)
		ws[i].b = grow(ws[i].b, 1<<20)
		for j := range ws[i].b[:cap(ws[i].b)] {
			ws[i].b[:cap(ws[i].b)][j] = 0x7fc07fc0 // a pair of bfloat16 NaN
		}
	}
	for i := range ws {
		bfPool.Put(ws[len(ws)-1-i])
	}
	j1, j2 := getJob(), getJob()
	for _, j := range []*job{j1, j2} {
		j.xt = growAligned(j.xt, 1<<20)
		for i := range j.xt {
			j.xt[i] = float32(math.NaN())
		}
	}
	putJob(j2)
	putJob(j1)
}

// TestSgemmBF16WPairBits checks SgemmBF16WPair bit for bit against two
// SgemmBF16W calls on weights packed by PackWeightsBF16, on pairShapes
// and one with more tokens than hidden and output columns, on 1 and 2
// workers, with the A-block buffers poisoned.
func TestSgemmBF16WPairBits(t *testing.T) {
	if !HaveBF16() || useAMX() {
		t.Skip("no VDPBF16PS products on this CPU")
	}
	r := rand.New(rand.NewPCG(33, 0))
	for it, s := range append(pairShapes, [4]int{300, 50, 70, 40}) {
		p := newPairCase(r, it, s)
		w1, w2 := PackWeightsBF16(p.h, p.k, p.w1, p.k), PackWeightsBF16(p.n, p.h, p.w2, p.h)
		want := make([]float32, (p.m-1)*p.ldc+p.n)
		for i := range want {
			want[i] = float32(math.NaN())
		}
		hid := make([]float32, p.m*p.h)
		SgemmBF16W(p.m, p.x, p.ldx, w1, hid, p.h, p.ep1)
		SgemmBF16W(p.m, hid, p.h, w2, want, p.ldc, p.ep2)
		for _, w := range []int{1, 2} {
			got := make([]float32, len(want))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			restore := parallel.SetMaxWorkers(w)
			poisonA()
			ok := SgemmBF16WPair(p.m, p.x, p.ldx, w1, p.ep1, w2, got, p.ldc, p.ep2)
			restore()
			if !ok {
				t.Fatalf("%v: not taken", p)
			}
			p.sameBits(t, fmt.Sprintf("workers=%d", w), got, want)
		}
	}
	x, c := randSlice(r, 4*8), make([]float32, 4*8)
	w1, w2 := PackWeightsBF16(8, 8, randSlice(r, 64), 8), PackWeightsBF16(8, 9, randSlice(r, 72), 9)
	if SgemmBF16WPair(4, x, 8, w1, nil, w2, c, 8, nil) {
		t.Fatal("taken with weights that do not chain")
	}
}

// poisonA fills the pooled A-block and tile buffers with NaN.
func poisonA() {
	var ws [3]*bfWorker
	for i := range ws {
		ws[i] = bfPool.Get().(*bfWorker)
		ws[i].a = grow(ws[i].a, 1<<20)
		ws[i].a2 = grow(ws[i].a2, 1<<20)
		ws[i].t = grow(ws[i].t, 1<<18)
		for j := range ws[i].a {
			ws[i].a[j], ws[i].a2[j] = 0x7fc0, 0x7fc0
		}
		for j := range ws[i].t {
			ws[i].t[j] = float32(math.NaN())
		}
	}
	for i := range ws {
		bfPool.Put(ws[len(ws)-1-i])
	}
}
