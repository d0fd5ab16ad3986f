package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
)

// The packed weights widen back to exactly the bfloat16 rounding of W
// (ToBF16), and Repack gives what a fresh pack holds.
func TestPackWeightsBF16Widen(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][2]int{{1, 1}, {70, 45}, {33, 64}, {96, 100}} {
		n, k := s[0], s[1]
		ldw := k + 3
		w := randSlice(r, n*ldw)
		w[0] = float32(math.Inf(1))
		p := PackWeightsBF16(n, k, w, ldw)
		if !p.IsWeights() || p.Bytes() < 2*n*k {
			t.Fatalf("%d×%d: IsWeights %v, %d bytes", n, k, p.IsWeights(), p.Bytes())
		}
		got := make([]float32, n*k)
		p.WidenRows(got, 0, n)
		for i := range n {
			for j := range k {
				if want := FromBF16(ToBF16(w[i*ldw+j])); got[i*k+j] != want {
					t.Fatalf("%d×%d: W[%d][%d] widens to %g, want %g", n, k, i, j, got[i*k+j], want)
				}
			}
		}
		w2 := randSlice(r, n*k)
		q := PackWeightsBF16(n, k, w2, k)
		p2 := PackWeightsBF16(n, k, w, ldw)
		p2.Repack(w2, k)
		if len(p2.b) != len(q.b) {
			t.Fatalf("%d×%d: Repack changed the size", n, k)
		}
		for i := range q.b {
			if p2.b[i] != q.b[i] {
				t.Fatalf("%d×%d: Repack b[%d] = %#x, fresh pack %#x", n, k, i, p2.b[i], q.b[i])
			}
		}
		if HaveBF16() { // the vector rounding packs what the portable one does
			w3 := append([]float32(nil), w...)
			w3[min(1, k-1)], w3[len(w3)-1] = float32(math.Inf(-1)), float32(math.NaN())
			fast := PackWeightsBF16(n, k, w3, ldw)
			slow := make([]uint32, len(fast.b))
			kp := fast.ks * bfTile / 2
			for sb := range ceilDiv(n, bfTile) {
				packBSliver(slow[sb*kp*bfTile:], w3, ldw, true, sb*bfTile, n, k)
			}
			for i := range slow {
				if slow[i] != fast.b[i] {
					t.Fatalf("%d×%d: vector pack [%d] = %#x, portable %#x", n, k, i, fast.b[i], slow[i])
				}
			}
		}
		if n > 2 { // a middle range
			part := make([]float32, 2*k)
			p.WidenRows(part, 1, 3)
			for j := range part {
				if part[j] != got[k+j] {
					t.Fatalf("%d×%d: WidenRows(1, 3)[%d] = %g, want %g", n, k, j, part[j], got[k+j])
				}
			}
		}
	}
}

// SgemmBF16W with resident weights gives SgemmBF16's x·Wᵀ bit for bit
// without AMX (both VDPBF16PS kernels add the same pair products in the
// same order), also above maxRowsAM rows and with a fused epilogue;
// SgemmWidenW gives float32 x times the rounded W.
func TestSgemmBF16W(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, s := range [][3]int{{1, 3, 8}, {5, 70, 45}, {216, 300, 130}, {600, 700, 40}} {
		m, n, k := s[0], s[1], s[2]
		ldx, ldc := k+1, n+2
		x, w := randSlice(r, m*ldx), randSlice(r, n*k)
		ep := &Epilogue{Bias: randSlice(r, n), Residual: randSlice(r, m*ldc), Act: GELU}
		p := PackWeightsBF16(n, k, w, k)

		wr := make([]float32, n*k)
		p.WidenRows(wr, 0, n)
		want := make([]float32, m*ldc)
		SgemmEx(false, true, m, n, k, 1, x, ldx, wr, k, 0, want, ldc, ep)
		got := make([]float32, m*ldc)
		SgemmWidenW(m, x, ldx, p, got, ldc, ep)
		for i := range m {
			for j := range n {
				a, b := got[i*ldc+j], want[i*ldc+j]
				if d := math.Abs(float64(a - b)); d > 1e-5*(1+math.Abs(float64(b))) {
					t.Fatalf("%v: SgemmWidenW C[%d][%d] = %g, Sgemm on widened W %g", s, i, j, a, b)
				}
			}
		}
		if !HaveBF16() {
			continue
		}
		SgemmBF16(false, true, m, n, k, 1, x, ldx, w, k, 0, want, ldc, ep)
		SgemmBF16W(m, x, ldx, p, got, ldc, ep)
		for i := range m {
			for j := range n {
				a, b := got[i*ldc+j], want[i*ldc+j]
				exact := !UsesAMX()
				if exact && a != b || math.Abs(float64(a-b)) > 1e-4*(1+math.Abs(float64(b))) {
					t.Fatalf("%v: SgemmBF16W C[%d][%d] = %g, SgemmBF16 %g", s, i, j, a, b)
				}
			}
		}
	}
}

// After warm-up neither product allocates.
func TestSgemmWeightsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	r := rand.New(rand.NewPCG(11, 12))
	m, n, k := 40, 300, 64
	x, c := randSlice(r, m*k), make([]float32, m*n)
	p := PackWeightsBF16(n, k, randSlice(r, n*k), k)
	ep := &Epilogue{Bias: randSlice(r, n)}
	fns := map[string]func(){"SgemmWidenW": func() { SgemmWidenW(m, x, k, p, c, n, ep) }}
	if HaveBF16() {
		fns["SgemmBF16W"] = func() { SgemmBF16W(m, x, k, p, c, n, ep) }
	}
	for name, f := range fns {
		f()
		if a := testing.AllocsPerRun(20, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
}

// BenchmarkSgemmBF16W times x·Wᵀ with resident weights for the LaMIM
// encoder's Linear shapes (216 tokens), against SgemmBF16 rounding the
// float32 weights per call (the weights-stationary scheme).
func BenchmarkSgemmBF16W(b *testing.B) {
	if !HaveBF16() {
		b.Skip("no AVX512_BF16")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][2]int{{2048, 6144}, {2048, 2048}, {2048, 3072}, {3072, 2048}} {
		k, n := s[0], s[1]
		m := 216
		x, w, c := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
		bias := randSlice(r, n)
		p := PackWeightsBF16(n, k, w, k)
		for _, resident := range []bool{true, false} {
			name := "resident"
			if !resident {
				name = "rounded-per-call"
			}
			b.Run(fmt.Sprintf("%dx%d/%s", k, n, name), func(b *testing.B) {
				ep := &Epilogue{Bias: bias}
				c0 := cputime.Now()
				for range b.N {
					if resident {
						SgemmBF16W(m, x, k, p, c, n, ep)
					} else {
						SgemmBF16(false, true, m, n, k, 1, x, k, w, k, 0, c, n, ep)
					}
				}
				flop := 2 * float64(m*n*k) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cs := (cputime.Now() - c0).Seconds(); cs > 0 {
					b.ReportMetric(flop/cs/1e9, "GFLOP/cpu-s")
				}
			})
		}
	}
}

// BenchmarkSgemmBF16Cold runs ViT-B/16's four Linear shapes (216 tokens)
// over 4 layers of distinct weights (113 MB of float32, beyond L3), as a
// forward pass streams them, rounded per call with and without the
// kernels' prefetch of the next weight block, and resident.
func BenchmarkSgemmBF16Cold(b *testing.B) {
	if !HaveBF16() {
		b.Skip("no AVX512_BF16")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const m, layers = 216, 4
	shapes := [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} // k, n
	type lin struct {
		k, n int
		w    []float32
		p    *PackedBF16
	}
	var ls []lin
	flop := 0.0
	for range layers {
		for _, s := range shapes {
			w := randSlice(r, s[0]*s[1])
			ls = append(ls, lin{s[0], s[1], w, PackWeightsBF16(s[1], s[0], w, s[0])})
			flop += 2 * float64(m*s[0]*s[1])
		}
	}
	x, c := randSlice(r, m*3072), make([]float32, m*3072)
	for _, mode := range []string{"prefetch", "noprefetch", "resident"} {
		b.Run(mode, func(b *testing.B) {
			defer func(v bool) { bfPrefetch = v }(bfPrefetch)
			bfPrefetch = mode == "prefetch"
			c0 := cputime.Now()
			for range b.N {
				for _, l := range ls {
					if mode == "resident" {
						SgemmBF16W(m, x, l.k, l.p, c, l.n, nil)
					} else {
						SgemmBF16(false, true, m, l.n, l.k, 1, x, l.k, l.w, l.k, 0, c, l.n, nil)
					}
				}
			}
			f := flop * float64(b.N)
			b.ReportMetric(f/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cs := (cputime.Now() - c0).Seconds(); cs > 0 {
				b.ReportMetric(f/cs/1e9, "GFLOP/cpu-s")
			}
		})
	}
}
