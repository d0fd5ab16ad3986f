package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// forEachLevel runs f once per usable SIMD level with that level forced.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			f(t)
		})
	}
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	alpha, beta    float32
	nanC           bool
	ep             *Epilogue
	a, b, c0       []float32
	want, bound    []float64 // cached reference
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// newCase builds random operands with strides padded by up to 3.
func newCase(r *rand.Rand, transA, transB bool, m, n, k int) *gemmCase {
	gc := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	gc.lda = max(1, ac) + r.IntN(3)
	gc.ldb = max(1, bc) + r.IntN(3)
	gc.ldc = max(1, n) + r.IntN(3)
	gc.a = randSlice(r, ar*gc.lda)
	gc.b = randSlice(r, br*gc.ldb)
	gc.c0 = randSlice(r, m*gc.ldc)
	return gc
}

// reference computes the expected C in float64 and a per-element error
// bound: float32 accumulation of k products has error ≲ k·eps·Σ|terms|.
func (gc *gemmCase) reference() (want, bound []float64) {
	want = make([]float64, len(gc.c0))
	bound = make([]float64, len(gc.c0))
	for i := range want {
		want[i] = float64(gc.c0[i]) // untouched padding must stay as is
	}
	// op(A) as m×k and op(B)ᵀ as n×k in float64, so the inner loop is a
	// contiguous dot product.
	opA := make([]float64, gc.m*gc.k)
	opBT := make([]float64, gc.n*gc.k)
	for i := range gc.m {
		for p := range gc.k {
			if gc.transA {
				opA[i*gc.k+p] = float64(gc.a[p*gc.lda+i])
			} else {
				opA[i*gc.k+p] = float64(gc.a[i*gc.lda+p])
			}
		}
	}
	for j := range gc.n {
		for p := range gc.k {
			if gc.transB {
				opBT[j*gc.k+p] = float64(gc.b[j*gc.ldb+p])
			} else {
				opBT[j*gc.k+p] = float64(gc.b[p*gc.ldb+j])
			}
		}
	}
	eps := 1e-7 * float64(gc.k+4)
	for i := range gc.m {
		ai := opA[i*gc.k : (i+1)*gc.k]
		for j := range gc.n {
			bj := opBT[j*gc.k : (j+1)*gc.k]
			var s, mag float64
			for p, x := range ai {
				t := x * bj[p]
				s += t
				mag += math.Abs(t)
			}
			v := float64(gc.alpha) * s
			mag *= math.Abs(float64(gc.alpha))
			if gc.beta != 0 {
				v += float64(gc.beta) * float64(gc.c0[i*gc.ldc+j])
				mag += math.Abs(float64(gc.beta) * float64(gc.c0[i*gc.ldc+j]))
			}
			if ep := gc.ep; ep != nil {
				if ep.Bias != nil {
					if ep.BiasPerRow {
						v += float64(ep.Bias[i])
					} else {
						v += float64(ep.Bias[j])
					}
				}
				if ep.Residual != nil {
					v += float64(ep.Residual[i*gc.ldc+j])
				}
				mag += math.Abs(v)
				switch ep.Act {
				case ReLU:
					v = math.Max(v, 0)
				case GELU:
					v = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
				}
			}
			want[i*gc.ldc+j] = v
			bound[i*gc.ldc+j] = eps*mag + 1e-6
		}
	}
	return want, bound
}

func (gc *gemmCase) startC() []float32 {
	c := append([]float32(nil), gc.c0...)
	if gc.nanC {
		for i := range gc.m {
			for j := range gc.n {
				c[i*gc.ldc+j] = float32(math.NaN())
			}
		}
	}
	return c
}

func (gc *gemmCase) check(t *testing.T, name string, got []float32) {
	t.Helper()
	if gc.want == nil {
		gc.want, gc.bound = gc.reference()
	}
	want, bound := gc.want, gc.bound
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= bound[i]) {
			t.Fatalf("%s: %s: C[%d,%d] = %g, want %g (|diff| %.3g > %.3g)", gc, name, i/gc.ldc, i%gc.ldc, got[i], want[i], d, bound[i])
		}
	}
}

func (gc *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g nanC=%v ep=%v",
		gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.lda, gc.ldb, gc.ldc, gc.alpha, gc.beta, gc.nanC, gc.ep != nil)
}

func (gc *gemmCase) runSgemm() []float32 {
	c := gc.startC()
	SgemmEx(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, gc.a, gc.lda, gc.b, gc.ldb, gc.beta, c, gc.ldc, gc.ep)
	return c
}

func (gc *gemmCase) runPackedB() []float32 {
	c := gc.startC()
	pb := PackB(gc.transB, gc.k, gc.n, gc.b, gc.ldb)
	SgemmPackedB(gc.transA, gc.m, gc.alpha, gc.a, gc.lda, pb, gc.beta, c, gc.ldc, gc.ep)
	return c
}

func (gc *gemmCase) runPackedA() []float32 {
	c := gc.startC()
	pa := PackA(gc.transA, gc.m, gc.k, gc.alpha, gc.a, gc.lda)
	SgemmPackedA(pa, gc.transB, gc.n, gc.b, gc.ldb, gc.beta, c, gc.ldc, gc.ep)
	return c
}

// dims mixes tiny, ragged and multi-block sizes for every kernel's tiles.
var dims = []int{1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 31, 33, 47, 64, 97}

func TestSgemmMatchesFloat64Reference(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, uint64(cpu.Current())))
		for iter := 0; iter < 120; iter++ {
			gc := newCase(r, iter&1 == 1, iter&2 == 2, dims[r.IntN(len(dims))], dims[r.IntN(len(dims))], dims[r.IntN(len(dims))])
			switch iter % 5 {
			case 1:
				gc.alpha, gc.beta = -0.5, 0
				gc.nanC = true
			case 2:
				gc.alpha, gc.beta = 1.5, 1
			case 3:
				gc.alpha, gc.beta = 0.25, -2
			}
			gc.check(t, "Sgemm", gc.runSgemm())
		}
	})
}

func TestSgemmLargeMultiBlock(t *testing.T) {
	// Sizes past MC, KC and NC of every kernel so all loops wrap, with
	// the partition over workers exercised (4200 columns with B transposed:
	// two B panels of the pipelined shared scheme at AVX-512, the second
	// narrower, and stages that cross the panel boundary). References are
	// shared by levels.
	r := rand.New(rand.NewPCG(2, 0))
	var cases []*gemmCase
	for _, s := range [][3]int{{301, 263, 517}, {64, 2100, 300}, {700, 40, 260}, {50, 4200, 300}} {
		for ta := range 2 {
			gc := newCase(r, ta == 1, ta == 0, s[0], s[1], s[2])
			gc.beta = 0.5
			cases = append(cases, gc)
		}
	}
	forEachLevel(t, func(t *testing.T) {
		for _, gc := range cases {
			gc.check(t, "Sgemm", gc.runSgemm())
		}
	})
}

func TestSgemmEpilogues(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 0))
		for iter := 0; iter < 40; iter++ {
			gc := newCase(r, iter&1 == 1, iter&2 == 2, dims[r.IntN(len(dims))], dims[r.IntN(len(dims))], 1+r.IntN(300))
			ep := &Epilogue{Act: Activation(iter % 3), BiasPerRow: iter&4 == 4}
			if iter%5 != 0 {
				ep.Bias = randSlice(r, max(gc.m, gc.n))
			}
			if iter%3 != 1 {
				ep.Residual = randSlice(r, gc.m*gc.ldc)
			}
			gc.ep = ep
			gc.beta = float32(iter%2) * 0.5
			gc.check(t, "SgemmEx", gc.runSgemm())
		}
	})
}

func TestPackedOperands(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 0))
		for iter := 0; iter < 40; iter++ {
			n := dims[r.IntN(len(dims))]
			if iter%8 == 0 {
				n = 600
			}
			gc := newCase(r, iter&1 == 1, iter&2 == 2, dims[r.IntN(len(dims))], n, 1+r.IntN(600))
			gc.alpha, gc.beta = 0.75, float32(iter%3)*0.5
			if iter%4 == 3 {
				gc.ep = &Epilogue{Bias: randSlice(r, gc.m), BiasPerRow: true, Act: ReLU}
			}
			gc.check(t, "SgemmPackedB", gc.runPackedB())
			gc.check(t, "SgemmPackedA", gc.runPackedA())
		}
	})
}

// TestTallProducts covers the row bands of the shared multi-threaded scheme
// (m above maxSharedRows), with A packed per call and pre-packed.
func TestTallProducts(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(10, 0))
		gc := newCase(r, false, true, maxSharedRows+300, 40, 21)
		gc.beta = 0.5
		gc.check(t, "Sgemm", gc.runSgemm())
		// k past KC: each row band runs several pipelined stages
		deep := newCase(r, false, true, maxSharedRows+50, 20, 600)
		deep.check(t, "Sgemm", deep.runSgemm())
		gc.check(t, "SgemmPackedA", gc.runPackedA())
		gc.check(t, "SgemmPackedB", gc.runPackedB())
	})
}

func TestZeroAlphaOrK(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 0))
	for _, beta := range []float32{0, 1, -3} {
		gc := newCase(r, false, false, 5, 7, 0)
		gc.beta = beta
		gc.nanC = beta == 0
		gc.ep = &Epilogue{Bias: randSlice(r, 7), Act: GELU}
		gc.check(t, "k=0", gc.runSgemm())
		gc = newCase(r, true, false, 5, 7, 9)
		gc.alpha, gc.beta = 0, beta
		gc.nanC = beta == 0
		for i := range gc.a {
			gc.a[i] = float32(math.NaN()) // alpha == 0 must not read A
		}
		want := gc.startC()
		if beta == 0 {
			clear(want)
		}
		for i := range want {
			want[i] *= beta
			if beta == 0 {
				want[i] = 0
			}
		}
		gc.ep = nil
		got := gc.runSgemm()
		for i := 0; i < gc.m; i++ {
			for j := 0; j < gc.n; j++ {
				if v := float32(beta) * gc.c0[i*gc.ldc+j]; got[i*gc.ldc+j] != v && !(beta == 0 && got[i*gc.ldc+j] == 0) {
					t.Fatalf("alpha=0 beta=%g: C[%d,%d]=%g want %g", beta, i, j, got[i*gc.ldc+j], v)
				}
			}
		}
	}
}

func TestInvalidArgumentsPanic(t *testing.T) {
	a := make([]float32, 6)
	cases := map[string]func(){
		"negative m":    func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) },
		"lda too small": func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) },
		"short B":       func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, a[:5], 2, 0, a, 2) },
		"short bias": func() {
			SgemmEx(false, false, 2, 2, 3, 1, a, 3, a, 2, 0, a, 2, &Epilogue{Bias: a[:1]})
		},
		"bad act":    func() { SgemmEx(false, false, 2, 2, 3, 1, a, 3, a, 2, 0, a, 2, &Epilogue{Act: 7}) },
		"nil packed": func() { SgemmPackedB(false, 2, 1, a, 3, nil, 0, a, 2, nil) },
		"kernel run": func() { KernelFor(cpu.Current()).Run(1, a[:1], a, a, 1, 0) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestErfAndGelu(t *testing.T) {
	for x := -6.0; x <= 6; x += 1.0 / 64 {
		if d := math.Abs(float64(Erf(float32(x))) - math.Erf(x)); d > 3e-7 {
			t.Fatalf("Erf(%g) off by %g", x, d)
		}
		want := 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		if d := math.Abs(float64(Gelu(float32(x))) - want); d > 1e-6*math.Max(1, math.Abs(x)) {
			t.Fatalf("Gelu(%g) off by %g", x, d)
		}
	}
}

func TestKernelForRunsOneTile(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		kn := KernelFor(cpu.Current())
		if kn.Level != cpu.Current() || kn.MR < 1 || kn.NR < 1 || kn.KC < 1 {
			t.Fatalf("KernelFor(%v) = %+v", cpu.Current(), kn)
		}
		r := rand.New(rand.NewPCG(6, 0))
		k := 37
		a, b := randSlice(r, k*kn.MR), randSlice(r, k*kn.NR)
		ldc := kn.NR + 3
		c := randSlice(r, kn.MR*ldc)
		c0 := append([]float32(nil), c...)
		kn.Run(k, a, b, c, ldc, 2)
		for i := range kn.MR {
			for j := range kn.NR {
				var s float64
				for p := range k {
					s += float64(a[p*kn.MR+i]) * float64(b[p*kn.NR+j])
				}
				s += 2 * float64(c0[i*ldc+j])
				if d := math.Abs(float64(c[i*ldc+j]) - s); d > 1e-4 {
					t.Fatalf("tile[%d,%d]=%g want %g", i, j, c[i*ldc+j], s)
				}
			}
		}
	})
}

func TestZeroAllocationsAfterWarmUp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	m, n, k := 200, 300, 150
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	ep := &Epilogue{Bias: randSlice(r, n), Act: ReLU}
	f := func() { SgemmEx(false, true, m, n, k, 1, a, k, b, k, 0, c, n, ep) }
	f()
	if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
		t.Fatalf("SgemmEx allocates %.1f times per call after warm-up", allocs)
	}
}

func TestEpilogueApplyMatchesFusedPath(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 0))
		for _, w := range []int{1, 5, 16, 17, 40} {
			m, ldc := 3, w+2
			c := randSlice(r, m*ldc)
			res := randSlice(r, m*ldc)
			for act := None; act <= GELU; act++ {
				for _, perRow := range []bool{false, true} {
					ep := &Epilogue{Bias: randSlice(r, max(m, w)), BiasPerRow: perRow, Act: act, Residual: res}
					got := append([]float32(nil), c...)
					ep.Apply(got, ldc, m, w)
					for i := range m {
						for j := range ldc {
							want := float64(c[i*ldc+j])
							if j < w {
								b := ep.Bias[j]
								if perRow {
									b = ep.Bias[i]
								}
								want += float64(b) + float64(res[i*ldc+j])
								switch act {
								case ReLU:
									want = math.Max(want, 0)
								case GELU:
									want = 0.5 * want * (1 + math.Erf(want/math.Sqrt2))
								}
							}
							if d := math.Abs(float64(got[i*ldc+j]) - want); d > 2e-6*math.Max(1, math.Abs(want)) {
								t.Fatalf("w=%d act=%d perRow=%v: c[%d,%d]=%g want %g", w, act, perRow, i, j, got[i*ldc+j], want)
							}
						}
					}
				}
			}
		}
		var nilEp *Epilogue
		nilEp.Apply(nil, 1, 1, 1) // no-op
	})
}

// TestRaggedTiles covers every row remainder of every kernel (edge kernels
// r = 1…13 on AVX-512) and column remainders, packed and in-place B.
func TestRaggedTiles(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 0))
		for m := 1; m <= 29; m++ {
			for _, n := range []int{1, 17, 31, 32, 33, 63} {
				for _, k := range []int{1, 7} {
					for _, tb := range []bool{false, true} {
						gc := newCase(r, m%2 == 0, tb, m, n, k)
						gc.beta = float32(m%3) * 0.5
						gc.nanC = gc.beta == 0
						gc.check(t, "Sgemm", gc.runSgemm())
					}
				}
			}
		}
	})
}

// RunRows computes exactly the first rows of the tile and leaves the
// others untouched.
func TestKernelRunRows(t *testing.T) {
	for _, l := range cpu.Levels() {
		kn := KernelFor(l)
		r := rand.New(rand.NewPCG(4, 4))
		k := 37
		a, b := randSlice(r, k*kn.MR), randSlice(r, k*kn.NR)
		full := make([]float32, kn.MR*kn.NR)
		kn.Run(k, a, b, full, kn.NR, 0)
		for rows := 1; rows <= kn.MR; rows++ {
			c := make([]float32, kn.MR*kn.NR)
			for i := range c {
				c[i] = -7
			}
			kn.RunRows(rows, k, a, b, c, kn.NR, 0)
			for i, v := range c {
				row := i / kn.NR
				switch {
				case row < rows && v != full[i]:
					t.Fatalf("%v rows=%d: c[%d] = %g, Run gives %g", l, rows, i, v, full[i])
				case row >= rows && kn.bl.edge != nil && v != -7:
					t.Fatalf("%v rows=%d: row %d written", l, rows, row)
				}
			}
		}
	}
}
