package gemm

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cpu"
)

// Activation is the element-wise function an Epilogue applies last.
type Activation int

const (
	// None leaves the values unchanged.
	None Activation = iota
	// ReLU is max(x, 0).
	ReLU
	// GELU is the exact x·Φ(x) = x/2·(1+erf(x/√2)), PyTorch's default.
	GELU
)

// Epilogue fuses the operations that usually follow a GEMM in a network
// layer into it, so they run while each C tile is still in L1 cache instead
// of in extra passes over memory. The result is
//
//	C = Act(alpha·op(A)·op(B) + beta·C + bias + Residual)
//
// The zero value (or a nil *Epilogue) does nothing.
type Epilogue struct {
	// Bias, if not nil, is added to every row (len n, one value per column)
	// or, with BiasPerRow, to every column (len m, one value per row: the
	// per-output-channel bias of a convolution computed as W·cols).
	Bias       []float32
	BiasPerRow bool
	// Act is applied after bias and residual (as in ResNet's relu(x+skip)).
	Act Activation
	// Residual, if not nil, has the layout of C (m rows, stride ldc) and is
	// added element-wise. It may be C itself only when beta is 0.
	Residual []float32
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n and C is m×n; lda,
// ldb and ldc are the row strides of A, B and C as stored. As in BLAS,
// beta == 0 overwrites C without reading it (NaN in C is ignored) and
// alpha == 0 or k == 0 does not read A and B. Work is split across the
// worker pool of internal/parallel and dispatched to the best kernel for
// cpu.Current(). It allocates nothing after warm-up.
//
// Invalid dimensions, strides or slice lengths are programming errors and
// panic with a message naming the argument, like the BLAS routines.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmEx(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SgemmEx is Sgemm followed by the fused epilogue ep (nil for none).
func SgemmEx(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	checkDims(m, n, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	run(&operands{
		transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep,
	})
}

// SgemmSerial is Sgemm on the calling goroutine alone, for callers that
// are already one of the pool's parallel workers (attention runs one head
// per worker): the products of a head, 216×216×64 in ViT-B, would
// otherwise start their own parallel phases from inside the worker, each
// queueing a job the other worker (busy with its head) never takes and
// waiting at barriers. The result is bitwise that of Sgemm. Products
// with A untransposed, beta 0 and alpha a power of two (attention's) read
// A in place (rowsdirect.go).
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkDims(m, n, k)
	checkMatrix("A", "lda", transA, m, k, a, lda)
	checkMatrix("B", "ldb", transB, k, n, b, ldb)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	op := &operands{
		transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
	}
	if bl := blockingFor(cpu.Current()); n > 0 && op.inPlaceA(bl) {
		op.runInPlaceA(bl)
		return
	}
	runOn(op, 1)
}

func checkDims(m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
}

// checkMatrix validates a rows×cols operand op(X) stored row-major (or
// transposed when trans) with stride ld.
func checkMatrix(name, ldName string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s=%d is less than the %d columns of %s as stored", ldName, ld, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: len(%s)=%d, need at least %d for %d×%d with stride %d", name, len(x), need, rows, cols, ld))
	}
}

func checkEpilogue(ep *Epilogue, m, n, ldc int) {
	if ep == nil {
		return
	}
	if ep.Bias != nil {
		want := n
		if ep.BiasPerRow {
			want = m
		}
		if len(ep.Bias) < want {
			panic(fmt.Sprintf("gemm: epilogue bias has %d values, need %d (BiasPerRow=%v)", len(ep.Bias), want, ep.BiasPerRow))
		}
	}
	if ep.Residual != nil {
		checkMatrix("Residual", "ldc", false, m, n, ep.Residual, ldc)
	}
	if ep.Act < None || ep.Act > GELU {
		panic(fmt.Sprintf("gemm: unknown epilogue activation %d", ep.Act))
	}
}
