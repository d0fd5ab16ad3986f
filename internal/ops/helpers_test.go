package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// atLevels runs f once per cpu level usable here, forcing dispatch.
func atLevels(t *testing.T, f func(t *testing.T)) {
	for _, l := range cpu.Levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			f(t)
		})
	}
}

func randN(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = scale * float32(r.NormFloat64())
	}
	return s
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// closeTo fails when |got-want| > tol*(|want| + rms(want)): relative error
// for large values, and error relative to the vector's size for entries
// that cancel to near zero.
func closeTo(t testing.TB, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var ss float64
	for _, w := range want {
		ss += w * w
	}
	rms := math.Sqrt(ss / math.Max(1, float64(len(want))))
	bad := 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*(math.Abs(w)+rms)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g", what, i, got[i], w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d out of tolerance %g", what, bad, len(want), tol)
	}
}

// fdGrad returns the gradient of sum(dy * f(x)) with respect to x by
// central differences of the float64 reference f.
func fdGrad(f func(x []float64) []float64, x, dy []float64) []float64 {
	g := make([]float64, len(x))
	xp := append([]float64(nil), x...)
	for i := range x {
		h := 1e-6 * math.Max(1, math.Abs(x[i]))
		xp[i] = x[i] + h
		fp := f(xp)
		xp[i] = x[i] - h
		fm := f(xp)
		xp[i] = x[i]
		var s float64
		for j := range fp {
			s += dy[j] * (fp[j] - fm[j])
		}
		g[i] = s / (2 * h)
	}
	return g
}
