package gemm

import (
	"math"

	"github.com/metasurv/metasurv/internal/cpu"
)

// Apply runs the epilogue on its own over the m×n matrix c (row stride
// ldc), for kernels that cannot fuse it (for example a direct convolution):
// c = Act(c + bias + Residual), with the Residual laid out like c. It uses
// the same vectorized code as the fused path and panics on inconsistent
// lengths, like SgemmEx. A nil receiver does nothing.
func (ep *Epilogue) Apply(c []float32, ldc, m, n int) {
	if ep == nil || m == 0 || n == 0 {
		return
	}
	checkDims(m, n, 0)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	ep.applyTile(c, ldc, 0, 0, m, n)
}

// applyTile applies the epilogue to the mh×nw block of C at (i0, j0).
func (ep *Epilogue) applyTile(c []float32, ldc, i0, j0, mh, nw int) {
	if haveEpilogueAsm && cpu.Current() == cpu.AVX512 {
		ep.applyTileAVX512(c, ldc, i0, j0, mh, nw)
		return
	}
	for i := i0; i < i0+mh; i++ {
		row := c[i*ldc+j0 : i*ldc+j0+nw]
		if ep.Bias != nil {
			if ep.BiasPerRow {
				addScalar(row, ep.Bias[i])
			} else {
				addTo(row, ep.Bias[j0:j0+nw])
			}
		}
		if ep.Residual != nil {
			addTo(row, ep.Residual[i*ldc+j0:i*ldc+j0+nw])
		}
		switch ep.Act {
		case ReLU:
			for j, v := range row {
				row[j] = max(v, 0)
			}
		case GELU:
			for j, v := range row {
				row[j] = Gelu(v)
			}
		}
	}
}

func (ep *Epilogue) applyTileAVX512(c []float32, ldc, i0, j0, mh, nw int) {
	last := (i0+mh-1)*ldc + j0 + nw - 1
	_ = c[last]
	var colBias, rowBias, resid *float32
	if ep.Bias != nil {
		if ep.BiasPerRow {
			_ = ep.Bias[i0+mh-1]
			rowBias = &ep.Bias[i0]
		} else {
			_ = ep.Bias[j0+nw-1]
			colBias = &ep.Bias[j0]
		}
	}
	if ep.Residual != nil {
		_ = ep.Residual[last]
		resid = &ep.Residual[i0*ldc+j0]
	}
	epilogueTileAVX512(&c[i0*ldc+j0], ldc, mh, nw, colBias, rowBias, resid, int(ep.Act))
}

func addScalar(x []float32, s float32) {
	for j := range x {
		x[j] += s
	}
}

func addTo(x, y []float32) {
	y = y[:len(x)]
	for j := range x {
		x[j] += y[j]
	}
}

// Gelu is the exact GELU, x/2·(1+erf(x/√2)), evaluated in float32 with the
// rational erf approximation of Erf, as PyTorch computes its default
// nn.GELU. Exported so that other kernels apply the same function; the
// AVX-512 epilogue evaluates the same formula 16 lanes at a time.
func Gelu(x float32) float32 {
	return 0.5 * x * (1 + Erf(x*math.Sqrt2/2))
}

// Erf is erf(x) in float32 with absolute error below 3e-7 (tested against
// math.Erf): an odd rational approximation on [-4, 4], where erf reaches
// ±1 in float32.
func Erf(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := float32(-2.72614225801306e-10)
	p = p*x2 + 2.77068142495902e-08
	p = p*x2 - 2.10102402082508e-06
	p = p*x2 - 5.69250639462346e-05
	p = p*x2 - 7.34990630326855e-04
	p = p*x2 - 2.95459980854025e-03
	p = p*x2 - 1.60960333262415e-02
	q := float32(-1.45660718464996e-05)
	q = q*x2 - 2.13374055278905e-04
	q = q*x2 - 1.68282697438203e-03
	q = q*x2 - 7.37332916720468e-03
	q = q*x2 - 1.42647390514189e-02
	return x * p / q
}
