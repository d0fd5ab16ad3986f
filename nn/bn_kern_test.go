package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// atLevels runs f once per CPU level this machine supports.
func atLevels(t *testing.T, f func(t *testing.T)) {
	for l := cpu.Portable; l <= cpu.Detected(); l++ {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.SetLevel(l)()
			f(t)
		})
	}
}

// kernVec returns n normal values with zeros, signed zeros, a NaN and
// infinities sprinkled in (when special).
func kernVec(r *rand.Rand, n int, special bool) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
		if r.IntN(5) == 0 {
			v[i] = 0
		}
	}
	if special && n > 40 {
		v[3], v[17], v[33], v[n-1] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Copysign(0, -1)), float32(math.Inf(-1))
	}
	return v
}

var kernLens = []int{0, 1, 7, 8, 15, 16, 17, 255, 256, 257, 511, 512, 1000, 4099}

func sameBits(t *testing.T, what string, n int, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s n=%d [%d]: %v, Go reference %v", what, n, i, got[i], want[i])
		}
	}
}

// Every vector kernel gives the Go reference's bits, at every level, for
// lengths around the vector and block sizes, with special values, and in
// place where the callers alias (dst = dy).
func TestBatchNormKernelsMatchGo(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range kernLens {
			x, dy := kernVec(r, n, false), kernVec(r, n, false)
			y := kernVec(r, n, true)
			for _, sq := range []bool{false, true} {
				want := 0.0
				for b := x; len(b) > 0; b = b[min(sumBlock, len(b)):] {
					want += float64(sumBlockGo(b[:min(sumBlock, len(b))], 0.25, sq))
				}
				if got := blockSum(x, 0.25, sq); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("blockSum n=%d sq=%v: %v, Go reference %v", n, sq, got, want)
				}
			}
			for _, mask := range [][]float32{nil, y} {
				var wa, wb float64
				for i := 0; i < n; i += sumBlock {
					k := min(sumBlock, n-i)
					var yb []float32
					if mask != nil {
						yb = mask[i : i+k]
					}
					a, b := dotBlockGo(dy[i:i+k], x[i:i+k], yb, 0.3)
					wa, wb = wa+float64(a), wb+float64(b)
				}
				ga, gb := dotStats(dy, x, mask, 0.3)
				if math.Float64bits(ga) != math.Float64bits(wa) || math.Float64bits(gb) != math.Float64bits(wb) {
					t.Fatalf("dotStats n=%d masked=%v: %v %v, Go reference %v %v", n, mask != nil, ga, gb, wa, wb)
				}
			}
			for _, res := range [][]float32{nil, dy} {
				for _, relu := range []bool{false, true} {
					got, want := make([]float32, n), make([]float32, n)
					bnApply(got, y, res, 1.5, -0.25, relu)
					bnApplyGo(want, y, res, 1.5, -0.25, relu)
					sameBits(t, "bnApply", n, got, want)
				}
			}
			for _, fresh := range []bool{false, true} {
				got, want := append([]float32(nil), x...), append([]float32(nil), x...)
				reluMaskInto(got, dy, y, fresh)
				reluMaskGo(want, dy, y, fresh)
				sameBits(t, "reluMaskInto", n, got, want)
				inPlace := append([]float32(nil), dy...)
				reluMaskInto(inPlace, inPlace, y, true)
				reluMaskGo(want, dy, y, true)
				sameBits(t, "reluMaskInto in place", n, inPlace, want)
				for _, mask := range []bool{false, true} {
					k := bnBackK{mu: 0.1, is: 1.7, ga: 0.8, k1: 0.05, k2: -0.3}
					got, want := append([]float32(nil), y...), append([]float32(nil), y...)
					bnBackBody(got, dy, x, y, k, fresh, mask)
					bnBackGo(want, dy, x, y, k, fresh, mask)
					sameBits(t, "bnBackBody", n, got, want)
					inPlace := append([]float32(nil), dy...)
					bnBackBody(inPlace, inPlace, x, y, k, true, mask)
					bnBackGo(want, dy, x, y, k, true, mask)
					sameBits(t, "bnBackBody in place", n, inPlace, want)
				}
			}
		}
	})
}

// The canonical-order sums are accurate: they match float64 sums of the
// same values to float32-block precision.
func TestBlockSumAccuracy(t *testing.T) {
	atLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		x := kernVec(r, 100003, false)
		var s, q float64
		for _, v := range x {
			s += float64(v)
			d := float64(v) - 0.5
			q += d * d
		}
		if got := blockSum(x, 0, false); math.Abs(got-s) > 1e-3 {
			t.Errorf("sum %v, float64 %v", got, s)
		}
		if got := blockSum(x, 0.5, true); math.Abs(got-q) > 1e-6*q {
			t.Errorf("shifted squares %v, float64 %v", got, q)
		}
	})
}
