package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

// TestSgemmBF16StreamA checks the per-call rounding of A against a
// float64 product of the rounded operands: ragged m, n and k (odd, over
// several K chunks of 32 and 64 values), the 24-column tail kernel, padded strides, every
// epilogue, C overwritten (NaN before), on 1 to 3 workers; and that it
// equals SgemmBF16PackedA when k fits one K chunk and both use VDPBF16PS
// (same roundings, same kernel sums; beyond, the chunks' partial sums are
// added in C's order; with AMX, PackedA sums on the tiles in their order).
func TestSgemmBF16StreamA(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(31, 0))
	shapes := [][3]int{{1, 1, 1}, {32, 32, 32}, {33, 27, 345}, {256, 216, 3456}, {64, 24, 4097}, {40, 25, 2048}, {31, 100, 65}, {96, 1, 2050}}
	for it, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		lda, ldb, ldc := k+it%3, n+(it+1)%3, n+it%2
		a, b := randSlice(r, (m-1)*lda+k), randSlice(r, (k-1)*ldb+n)
		var ep *Epilogue
		if it%4 != 0 {
			ep = &Epilogue{Bias: randSlice(r, m), BiasPerRow: true, Residual: randSlice(r, (m-1)*ldc+n), Act: Activation(it % 3)}
		}
		want, scale := make([]float64, m*n), make([]float64, m*n)
		for i := range m {
			for j := range n {
				var sum, abs float64
				for p := range k {
					x := float64(FromBF16(ToBF16(a[i*lda+p]))) * float64(FromBF16(ToBF16(b[p*ldb+j])))
					sum += x
					abs += math.Abs(x)
				}
				if ep != nil {
					sum += float64(ep.Bias[i]) + float64(ep.Residual[i*ldc+j])
					abs += math.Abs(float64(ep.Bias[i])) + math.Abs(float64(ep.Residual[i*ldc+j]))
					switch ep.Act {
					case ReLU:
						sum = max(sum, 0)
					case GELU:
						sum = float64(Gelu(float32(sum)))
					}
				}
				want[i*n+j], scale[i*n+j] = sum, abs
			}
		}
		pa, err := PackABF16(false, m, k, 1, a, lda)
		if err != nil {
			t.Fatal(err)
		}
		ref := make([]float32, (m-1)*ldc+n)
		SgemmBF16PackedA(pa, false, n, b, ldb, 0, ref, ldc, ep)
		for _, workers := range []int{1, 2, 3} {
			chunk := []int{streamChunk, 2, 1}[workers-1] // K chunks of 64 and 32 too
			t.Run(fmt.Sprintf("%dx%dx%d/w%d/chunk%d", m, n, k, workers, chunk), func(t *testing.T) {
				defer parallel.SetMaxWorkers(workers)()
				defer func(old int) { streamChunk = old }(streamChunk)
				streamChunk = chunk
				c := make([]float32, (m-1)*ldc+n)
				for i := range c {
					c[i] = float32(math.NaN())
				}
				SgemmBF16StreamA(m, n, k, a, lda, b, ldb, c, ldc, ep)
				for i := range m {
					for j := range n {
						got, w := c[i*ldc+j], want[i*n+j]
						if d := math.Abs(float64(got) - w); !(d <= 1e-5*max(scale[i*n+j], 1e-30)+1e-6) {
							t.Fatalf("C[%d,%d] = %g, want %g (scale %g)", i, j, got, w, scale[i*n+j])
						}
						if k <= chunk*bfTile && !useAMX() && got != ref[i*ldc+j] { // one K chunk: the same sums (on AMX the reference's sums run on the tiles)
							t.Fatalf("C[%d,%d] = %g, SgemmBF16PackedA %g", i, j, got, ref[i*ldc+j])
						}
					}
				}
				for i := range m - 1 { // the stride padding of C is not written
					for j := n; j < ldc; j++ {
						if !math.IsNaN(float64(c[i*ldc+j])) {
							t.Fatalf("C[%d,%d] beyond n written", i, j)
						}
					}
				}
			})
		}
	}
}

// Degenerate shapes: k = 0 sets C to the epilogue of zero; empty m or n
// do nothing; below the AVX-512 level it panics with ErrNoBF16.
func TestSgemmBF16StreamADegenerate(t *testing.T) {
	needBF16(t)
	c := []float32{1, 2, 3, 4}
	SgemmBF16StreamA(2, 2, 0, nil, 1, nil, 2, c, 2, &Epilogue{Bias: []float32{1, 2}, BiasPerRow: true})
	for i, want := range []float32{1, 1, 2, 2} {
		if c[i] != want {
			t.Fatalf("k=0: C = %v, want [1 1 2 2]", c)
		}
	}
	SgemmBF16StreamA(0, 5, 3, nil, 3, make([]float32, 15), 5, nil, 5, nil)
	SgemmBF16StreamA(4, 0, 3, make([]float32, 12), 3, nil, 1, make([]float32, 4), 1, nil)
}

// After warm-up a call allocates nothing.
func TestSgemmBF16StreamAAllocations(t *testing.T) {
	needBF16(t)
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	r := rand.New(rand.NewPCG(32, 0))
	m, n, k := 96, 40, 300
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	run := func() { SgemmBF16StreamA(m, n, k, a, k, b, n, c, n, nil) }
	run()
	if got := testing.AllocsPerRun(20, run); got > 0 {
		t.Errorf("SgemmBF16StreamA allocates %.1f times per call", got)
	}
}

// BenchmarkSgemmBF16StreamA compares the per-call rounding with a packed
// A at ResNet18's deep layers (96³ input: layer3 at 6³, layer4 at 3³),
// cycling over four weight matrices as a network's layers do (their packs,
// 28–56 MB, do not stay in the L3 cache between calls).
func BenchmarkSgemmBF16StreamA(b *testing.B) {
	if !HaveBF16() {
		b.Skip("no AVX512_BF16")
	}
	r := rand.New(rand.NewPCG(33, 0))
	for _, s := range [][3]int{{256, 216, 6912}, {512, 27, 13824}} {
		m, n, k := s[0], s[1], s[2]
		const layers = 4
		var a [layers][]float32
		var pa [layers]*PackedBF16
		for i := range layers {
			a[i] = randSlice(r, m*k)
			pa[i], _ = PackABF16(false, m, k, 1, a[i], k)
		}
		bb, c := randSlice(r, k*n), make([]float32, m*n)
		for _, packed := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d/stream", m, n, k)
			if packed {
				name = fmt.Sprintf("%dx%dx%d/packed", m, n, k)
			}
			b.Run(name, func(b *testing.B) {
				cpu0 := cputime.Now()
				i := 0
				for b.Loop() {
					if packed {
						SgemmBF16PackedA(pa[i%layers], false, n, bb, n, 0, c, n, nil)
					} else {
						SgemmBF16StreamA(m, n, k, a[i%layers], k, bb, n, c, n, nil)
					}
					i++
				}
				flop := 2 * float64(m*n*k) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flop/(cputime.Now()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
	}
}
