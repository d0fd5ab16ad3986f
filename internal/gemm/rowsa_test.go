package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

// TestRowsAScheme checks the weights-stationary scheme (x·Wᵀ with W read
// in place) on ragged sizes: tokens not a multiple of NR, outputs not a
// multiple of MR or of the band, k across several KC blocks (of both
// schemes) and odd, with
// alpha, padded strides, every epilogue, and W ending exactly where its
// last row does, so a read past it would panic. At AVX-512 it also checks
// that the scheme was taken.
func TestRowsAScheme(t *testing.T) {
	shapes := [][3]int{{1, 2, 1}, {5, 13, 7}, {14, 15, 16}, {31, 97, 257}, {33, 112, 300}, {216, 229, 517}, {216, 767, 64}, {97, 1000, 33}, {5, 40, 1100}, {216, 229, 2049}}
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 0))
		for it, s := range shapes {
			gc := newCase(r, false, true, s[0], s[1], s[2])
			gc.b = gc.b[:(gc.n-1)*gc.ldb+gc.k]
			gc.alpha = []float32{1, 0.5, -2}[it%3]
			gc.nanC = it%2 == 1
			if it%4 != 0 {
				gc.ep = &Epilogue{Bias: randSlice(r, gc.n), Act: Activation(it % 3)}
				if it%4 == 3 {
					gc.ep.Residual = randSlice(r, gc.m*gc.ldc)
				}
			}
			op := operands{transB: true, m: gc.m, n: gc.n, k: gc.k}
			if used := op.useRowsA(blockingFor(cpu.Current())); cpu.Current() == cpu.AVX512 && haveTranspose && !used {
				t.Fatalf("%v: the weights-stationary scheme was not used", gc)
			}
			gc.check(t, "SgemmEx", gc.runSgemm())
		}
	})
}

// TestRowsAThreads runs the scheme single-threaded and on the pool and
// compares both with the reference (bands handed out dynamically).
func TestRowsAThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 0))
	gc := newCase(r, false, true, 216, 2000, 700)
	gc.ep = &Epilogue{Bias: randSlice(r, gc.n), Act: GELU}
	for _, w := range []int{1, 2, 3} {
		restore := parallel.SetMaxWorkers(w)
		gc.check(t, "SgemmEx", gc.runSgemm())
		restore()
	}
}

// BenchmarkLinearShapes times x·Wᵀ at the LaMIM encoder's shapes (216
// tokens, hidden 2048, mlp 3072), with W read in place (the
// weights-stationary scheme) and with W packed per call (the blocked
// scheme, forced by a beta of 1 on a zeroed C).
func BenchmarkLinearShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(23, 0))
	for _, s := range [][3]int{{216, 6144, 2048}, {216, 2048, 3072}} {
		m, n, k := s[0], s[1], s[2]
		x, w, c := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
		for _, beta := range []float32{0, 1} {
			name := fmt.Sprintf("%dx%dx%d/rowsA", m, n, k)
			if beta == 1 {
				name = fmt.Sprintf("%dx%dx%d/packed", m, n, k)
			}
			b.Run(name, func(b *testing.B) {
				cpu0 := cputime.Now()
				for b.Loop() {
					Sgemm(false, true, m, n, k, 1, x, k, w, k, beta, c, n)
				}
				flop := 2 * float64(m*n*k) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flop/(cputime.Now()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// TestRowsABF16 checks the bfloat16 weights-stationary scheme on ragged
// sizes (tokens, outputs and k not multiples of 32, k odd; tokens above
// maxRowsAM, taken in chunks), with alpha,
// padded strides, every epilogue and W ending where its last row does.
// The operands are bfloat16 values already, so rounding is exact and the
// float32 reference bound of Sgemm applies.
func TestRowsABF16(t *testing.T) {
	needBF16(t)
	r := rand.New(rand.NewPCG(24, 0))
	for it, s := range [][3]int{{1, 2, 1}, {5, 13, 7}, {31, 97, 257}, {33, 100, 300}, {216, 229, 517}, {64, 65, 32}, {1100, 600, 40}} {
		gc := newCase(r, false, true, s[0], s[1], s[2])
		gc.b = gc.b[:(gc.n-1)*gc.ldb+gc.k]
		for _, x := range [][]float32{gc.a, gc.b} {
			for i, v := range x {
				x[i] = FromBF16(ToBF16(v))
			}
		}
		gc.alpha = []float32{1, 0.5, -2}[it%3]
		gc.nanC = it%2 == 1
		if it%3 != 0 {
			gc.ep = &Epilogue{Bias: randSlice(r, gc.n), Act: Activation(it % 3), Residual: randSlice(r, gc.m*gc.ldc)}
		}
		if gc.m > maxRowsAM { // chunks of rows: per-row bias and residual follow them
			gc.ep = &Epilogue{Bias: randSlice(r, gc.m), BiasPerRow: true, Act: ReLU, Residual: randSlice(r, gc.m*gc.ldc)}
		}
		op := bfOp{transB: true, m: gc.m, n: gc.n, k: gc.k}
		if !op.useRowsA() {
			t.Fatalf("%v: the weights-stationary scheme was not used", gc)
		}
		c := gc.startC()
		SgemmBF16(false, true, gc.m, gc.n, gc.k, gc.alpha, gc.a, gc.lda, gc.b, gc.ldb, 0, c, gc.ldc, gc.ep)
		gc.check(t, "SgemmBF16", c)
	}
}

// TestRowsAGuidedBands checks the bands the scheme hands out: they tile
// [0, n) in order, whole slivers of the rowsA kernel except the last,
// full bands first, and for large n short bands at the end (the workers
// finish within a short band of each other).
func TestRowsAGuidedBands(t *testing.T) {
	for _, n := range []int{1, 13, 112, 229, 2048, 3072, 6144, 6150} {
		for _, w := range []int{1, 2, 3} {
			j := &job{op: operands{n: n}, workers: w}
			var sizes []int
			next := 0
			for {
				r0, rows := j.nextRows()
				if rows == 0 {
					break
				}
				if r0 != next || rows > rowsABand || (r0+rows < n && rows%7 != 0) {
					t.Fatalf("n %d w %d: band [%d, %d) after %d", n, w, r0, r0+rows, next)
				}
				if len(sizes) > 0 && rows > sizes[len(sizes)-1] {
					t.Fatalf("n %d w %d: band of %d after one of %d", n, w, rows, sizes[len(sizes)-1])
				}
				sizes = append(sizes, rows)
				next = r0 + rows
			}
			if next != n {
				t.Fatalf("n %d w %d: bands end at %d", n, w, next)
			}
			if n >= 2*w*rowsABand && (sizes[0] != rowsABand || sizes[len(sizes)-2] != rowsAMinBand) {
				t.Errorf("n %d w %d: bands %v, want full ones first and short ones last", n, w, sizes)
			}
		}
	}
}

// TestRowsARaggedSliverBits checks the ragged last W sliver (outputs not
// a multiple of the rowsA kernel's 7 rows, read from a zero-padded copy)
// bit for bit against the blocked scheme (forced by a beta of 1 on a
// zeroed C), which runs the same FMA chains: one k block both ways, alpha
// 1, no epilogue. Every remainder 1–6 is covered, at 216 tokens (the
// 24-wide tail sliver) and at 33, single-threaded and on the pool.
func TestRowsARaggedSliverBits(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 0))
	for _, w := range []int{1, 2} {
		restore := parallel.SetMaxWorkers(w)
		for _, m := range []int{216, 33} {
			for _, n := range []int{229, 233, 234, 235, 236, 237, 2304, 771} {
				k := 200
				x, wt := randSlice(r, m*k), randSlice(r, n*k)
				wt = wt[:n*k] // a read past W's last row panics
				got, want := make([]float32, m*n), make([]float32, m*n)
				Sgemm(false, true, m, n, k, 1, x, k, wt, k, 0, got, n)
				Sgemm(false, true, m, n, k, 1, x, k, wt, k, 1, want, n)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("w %d %dx%dx%d: C[%d][%d] = %v, blocked scheme %v", w, m, n, k, i/n, i%n, got[i], want[i])
					}
				}
			}
		}
		restore()
	}
}
