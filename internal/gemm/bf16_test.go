package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/cputime"
)

func needBF16(t testing.TB) {
	if !HaveBF16() {
		t.Skip("no AVX512_BF16 on this CPU")
	}
}

func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // halfway, even below: down
		{0x3f818000, 0x3f82}, // halfway, odd below: up
		{0x3f80c000, 0x3f81}, // above halfway
		{0xbf804000, 0xbf80}, // below halfway, negative
		{0x7f7fffff, 0x7f80}, // largest float rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f800001, 0x7fc0}, // signalling NaN: quiet, not Inf
		{0xffc00000, 0xffc0}, // quiet NaN keeps its sign
		{0x00000001, 0x0000}, // subnormal to zero
		{0x807fffff, 0x8000}, // negative subnormal to -0
		{0x00800000, 0x0080}, // smallest normal
	} {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	for _, x := range []float32{0, 1, -2.5, 3.140625, 65280} { // exact in bfloat16
		if got := FromBF16(ToBF16(x)); got != x {
			t.Errorf("FromBF16(ToBF16(%g)) = %g", x, got)
		}
	}
}

// The assembly packing must round exactly as ToBF16 (and thus as the
// reference below): random values, specials, ragged column masks.
func TestPackPairsMatchesToBF16(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(1, 16))
	specials := []uint32{0x7f800001, 0xffc00000, 0x00000001, 0x807fffff, 0x7f7fffff, 0x3f808000, 0x3f818000}
	const kp, ld = 5, 40
	src := make([]float32, 2*kp*ld)
	for i := range src {
		if r.IntN(8) == 0 {
			src[i] = math.Float32frombits(specials[r.IntN(len(specials))])
		} else {
			src[i] = math.Float32frombits(r.Uint32())
		}
	}
	for _, nw := range []int{32, 17, 16, 1} {
		dst := make([]uint32, kp*32)
		m0, m1 := uint64(1)<<min(16, nw)-1, uint64(1)<<max(0, nw-16)-1
		bf16PackPairs(&dst[0], &src[0], &src[ld], 2*ld, kp, m0, m1)
		for p := range kp {
			for j := range 32 {
				var want uint32
				if j < nw {
					want = uint32(ToBF16(src[2*p*ld+j])) | uint32(ToBF16(src[(2*p+1)*ld+j]))<<16
				}
				if got := dst[p*32+j]; got != want {
					t.Fatalf("nw=%d pair %d column %d: %#08x, want %#08x", nw, p, j, got, want)
				}
			}
		}
	}
}

func TestBF16RowMatchesToBF16(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(3, 16))
	src := make([]float32, 32)
	for i := range src {
		src[i] = math.Float32frombits(r.Uint32())
	}
	for _, n := range []int{32, 31, 17, 16, 1, 0} {
		dst := make([]uint16, 32)
		for i := range dst {
			dst[i] = 0xdead
		}
		if n > 0 {
			bf16Row(&dst[0], &src[0], n)
		} else {
			bf16Row(&dst[0], &src[0], 0)
		}
		for i, got := range dst {
			var want uint16
			if i < n {
				want = ToBF16(src[i])
			}
			if got != want {
				t.Fatalf("n=%d [%d] = %#04x, want %#04x", n, i, got, want)
			}
		}
	}
}

// bf16Ref is C = act(alpha·op(A)·op(B) + beta·C + bias + residual) in
// float64 on bfloat16-rounded operands, with the sum of |terms|.
func bf16Ref(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c, bias, res []float32) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				av, bv := a[i*k+p], b[p*n+j]
				if transA {
					av = a[p*m+i]
				}
				if transB {
					bv = b[j*k+p]
				}
				x := float64(FromBF16(ToBF16(alpha*av))) * float64(FromBF16(ToBF16(bv)))
				s += x
				abs += math.Abs(x)
			}
			v := s + float64(beta)*float64(c[i*n+j]) + float64(bias[i]) + float64(res[i*n+j])
			want[i*n+j] = max(v, 0)
			scale[i*n+j] = abs + math.Abs(float64(beta)*float64(c[i*n+j])) + math.Abs(float64(bias[i])) + math.Abs(float64(res[i*n+j]))
		}
	}
	return want, scale
}

func TestSgemmBF16MatchesReference(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(2, 16))
	shapes := [][3]int{{32, 32, 32}, {1, 1, 1}, {33, 31, 33}, {64, 300, 513}, {29, 70, 256}, {3, 100, 7}}
	for range 4 {
		shapes = append(shapes, [3]int{1 + r.IntN(70), 1 + r.IntN(100), 1 + r.IntN(300)})
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for variant := range 6 {
			transA, transB := variant&1 == 1, variant&2 == 2
			packed := variant / 2 // 0: on the fly, 1: A packed, 2: B packed (transA/B mixed by variant)
			t.Run(fmt.Sprintf("%dx%dx%d_v%d", m, n, k, variant), func(t *testing.T) {
				a, b := randSlice(r, m*k), randSlice(r, k*n)
				c := randSlice(r, m*n)
				bias, res := randSlice(r, m), randSlice(r, m*n)
				lda, ldb := k, n
				if transA {
					lda = m
				}
				if transB {
					ldb = k
				}
				alpha := float32(0.5)
				if packed == 2 {
					alpha = 1
				}
				want, scale := bf16Ref(transA, transB, m, n, k, alpha, a, b, 2, c, bias, res)
				ep := &Epilogue{Bias: bias, BiasPerRow: true, Residual: res, Act: ReLU}
				switch packed {
				case 0:
					SgemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, 2, c, n, ep)
				case 1:
					pa, err := PackABF16(transA, m, k, alpha, a, lda)
					if err != nil {
						t.Fatal(err)
					}
					SgemmBF16PackedA(pa, transB, n, b, ldb, 2, c, n, ep)
				case 2:
					pb, err := PackBBF16(transB, k, n, b, ldb)
					if err != nil {
						t.Fatal(err)
					}
					SgemmBF16PackedB(transA, m, alpha, a, lda, pb, 2, c, n, ep)
				}
				for i, w := range want {
					if d := math.Abs(float64(c[i]) - w); d > 1e-5*max(scale[i], 1e-30) {
						t.Fatalf("C[%d] = %g, want %g (scale %g)", i, c[i], w, scale[i])
					}
				}
			})
		}
	}
}

func TestBF16Errors(t *testing.T) {
	defer cpu.SetLevel(cpu.AVX2)()
	if HaveBF16() {
		t.Fatal("HaveBF16 at the AVX2 level")
	}
	if _, err := PackABF16(false, 2, 2, 1, make([]float32, 4), 2); !errors.Is(err, ErrNoBF16) {
		t.Fatalf("PackABF16 below AVX-512: %v, want ErrNoBF16", err)
	}
}

// BenchmarkSgemmBF16 times the AMX bfloat16 GEMM on the Sgemm shapes with
// the A operand packed once (a layer's weights), for comparison with
// BenchmarkSgemm.
func BenchmarkSgemmBF16(b *testing.B) {
	if !HaveBF16() {
		b.Skip("no AMX-BF16")
	}
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			pa, _ := PackABF16(false, s.m, s.k, 1, a, s.k)
			SgemmBF16PackedA(pa, false, s.n, bb, s.n, 0, c, s.n, nil)
			cpu0 := cputime.Now().Seconds()
			b.ResetTimer()
			for b.Loop() {
				SgemmBF16PackedA(pa, false, s.n, bb, s.n, 0, c, s.n, nil)
			}
			reportFlops(b, 2*float64(s.m)*float64(s.n)*float64(s.k), cpu0)
		})
	}
}

// After warm-up the BF16 GEMM allocates nothing: its call state and the
// bodies of its parallel loops are pooled (on the AMX path and the
// VDPBF16PS one; TestAMXEmulated runs it on the former), for packed
// operands too.
func TestSgemmBF16Allocations(t *testing.T) {
	needBF16(t)
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	r := rand.New(rand.NewPCG(5, 16))
	m, n, k := 64, 96, 100
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	SgemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, c, n, nil)
	if got := testing.AllocsPerRun(20, func() { SgemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, c, n, nil) }); got > 0 {
		t.Errorf("SgemmBF16 allocates %.1f times per call", got)
	}
	pa, err := PackABF16(false, m, k, 1, a, k)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := PackBBF16(false, k, n, b, n)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"PackedA": func() { SgemmBF16PackedA(pa, false, n, b, n, 0, c, n, nil) },
		"PackedB": func() { SgemmBF16PackedB(false, m, 1, a, k, pb, 0, c, n, nil) },
	} {
		f()
		if got := testing.AllocsPerRun(20, f); got > 0 {
			t.Errorf("SgemmBF16%s allocates %.1f times per call", name, got)
		}
	}
}

// Degenerate shapes: k = 0 scales C (and applies the epilogue) like Sgemm;
// empty m or n do nothing.
func TestSgemmBF16Degenerate(t *testing.T) {
	needBF16(t)
	c := []float32{1, 2, 3, 4}
	SgemmBF16(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2, &Epilogue{Bias: []float32{1, 1}})
	for i, want := range []float32{4, 7, 10, 13} {
		if c[i] != want {
			t.Fatalf("k=0: C = %v, want [4 7 10 13]", c)
		}
	}
	SgemmBF16(false, false, 0, 5, 3, 1, nil, 3, make([]float32, 15), 5, 0, nil, 5, nil)
	SgemmBF16(false, false, 4, 0, 3, 1, make([]float32, 12), 3, nil, 1, 0, make([]float32, 4), 1, nil)
}
