package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/parallel"
)

// matrixSource reads the rows of a stored matrix in reverse order (row i
// of x is row m-1-i of a), so that a source read with the wrong row or
// column shows.
type matrixSource struct {
	a      []float32
	m, lda int
}

func (s *matrixSource) ReadRow(dst []float32, i, k0 int) {
	r := s.m - 1 - i
	copy(dst, s.a[r*s.lda+k0:r*s.lda+k0+len(dst)])
}

// TestSgemmSourceBits checks SgemmSource and SgemmBF16Source bit for bit
// against SgemmEx and SgemmBF16 of the stored x, on 1 and 2 workers:
// tokens not a multiple of 32 (a 24-wide last sliver and others), k
// across k blocks and not a multiple of 32, n not a multiple of a band,
// with and without an epilogue (bias + residual, GELU).
func TestSgemmSourceBits(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 0))
	for it, s := range [][3]int{{216, 768, 4101}, {37, 77, 45}, {128, 229, 2049}, {5, 11, 7}, {200, 300, 1024}} {
		m, n, k := s[0], s[1], s[2]
		lda := k + it%2
		a := randSlice(r, m*lda)
		w := randSlice(r, n*k)
		rev := make([]float32, m*k) // x as stored: a's rows reversed
		for i := range m {
			copy(rev[i*k:(i+1)*k], a[(m-1-i)*lda:(m-1-i)*lda+k])
		}
		var ep *Epilogue
		switch it % 3 {
		case 1:
			ep = &Epilogue{Bias: randSlice(r, n), Residual: randSlice(r, m*n)}
		case 2:
			ep = &Epilogue{Bias: randSlice(r, n), Act: GELU}
		}
		for _, bf16 := range []bool{false, true} {
			if !SourceApplies(m, n, bf16) {
				if bf16 && !HaveBF16() || !bf16 && !pairScheme() {
					continue
				}
				t.Fatalf("%v bf16 %v: SourceApplies is false", s, bf16)
			}
			want := make([]float32, m*n)
			f, fs := SgemmEx, SgemmSource
			if bf16 {
				f, fs = SgemmBF16, SgemmBF16Source
			}
			f(false, true, m, n, k, 1, rev, k, w, k, 0, want, n, ep)
			for _, workers := range []int{1, 2} {
				got := make([]float32, m*n)
				restore := parallel.SetMaxWorkers(workers)
				poisonPools()
				ok := fs(m, n, k, &matrixSource{a: a, m: m, lda: lda}, w, k, got, n, ep)
				restore()
				if !ok {
					t.Fatalf("%v bf16 %v: not taken", s, bf16)
				}
				name := fmt.Sprintf("%v bf16 %v workers %d", s, bf16, workers)
				for i, v := range want {
					if math.Float32bits(got[i]) != math.Float32bits(v) {
						t.Fatalf("%s: C[%d][%d] = %v, stored x %v", name, i/n, i%n, got[i], v)
					}
				}
			}
		}
	}
	if SgemmSource(600, 700, 8, &matrixSource{}, nil, 8, nil, 700, nil) || SgemmBF16Source(64, 60, 8, &matrixSource{}, nil, 8, nil, 60, nil) {
		t.Fatal("taken outside the scheme's shapes")
	}
}
