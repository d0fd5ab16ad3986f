package bspline

import (
	"math"
	"testing"
)

// TestPartitionOfUnityAndDerivatives checks the defining properties: the
// weights sum to 1, reproduce linear functions (Σ w_a·(a−1) = t), and
// Derivs is the derivative of Weights (central differences).
func TestPartitionOfUnityAndDerivatives(t *testing.T) {
	const h = 1e-6
	for i := 0; i <= 100; i++ {
		x := float64(i) / 100 * (1 - 2*h)
		x += h
		w, d := Weights(x), Derivs(x)
		var sum, lin, dsum float64
		for a := range w {
			sum += w[a]
			lin += w[a] * float64(a-1)
			dsum += d[a]
		}
		if math.Abs(sum-1) > 1e-12 || math.Abs(lin-x) > 1e-12 || math.Abs(dsum) > 1e-12 {
			t.Fatalf("t=%g: Σw=%g, Σw·(a−1)=%g, Σw'=%g", x, sum, lin, dsum)
		}
		wp, wm := Weights(x+h), Weights(x-h)
		for a := range w {
			if fd := (wp[a] - wm[a]) / (2 * h); math.Abs(fd-d[a]) > 1e-6 {
				t.Fatalf("t=%g weight %d: derivative %g, finite difference %g", x, a, d[a], fd)
			}
		}
	}
}
