package nn

import (
	"math"
	"math/rand/v2"
)

// RNG is a seeded pseudo-random generator (PCG): the same seed gives the
// same initialisation, dropout masks and shuffles, hence the same run.
type RNG struct{ r *rand.Rand }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	return &RNG{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 { return r.r.Float64() }

// Uniform returns a uniform value in [lo, hi).
func (r *RNG) Uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.r.Float64() }

// Normal returns a standard normal value.
func (r *RNG) Normal() float64 { return r.r.NormFloat64() }

// IntN returns a uniform integer in [0, n).
func (r *RNG) IntN(n int) int { return r.r.IntN(n) }

// Perm returns a random permutation of [0, n).
func (r *RNG) Perm(n int) []int { return r.r.Perm(n) }

// Shuffle randomly permutes n elements through swap.
func (r *RNG) Shuffle(n int, swap func(i, j int)) { r.r.Shuffle(n, swap) }

// fans returns PyTorch's fan_in and fan_out of a weight shape: dimension 1
// and 0 times the receptive field (product of dimensions 2...).
func fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		n := 1
		if len(shape) == 1 {
			n = shape[0]
		}
		return n, n
	}
	rf := 1
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf
}

// InitUniform fills t with uniform values in [lo, hi).
func InitUniform(t *Tensor, lo, hi float64, r *RNG) {
	t.Update(func(d []float32) {
		for i := range d {
			d[i] = float32(r.Uniform(lo, hi))
		}
	})
}

// InitNormal fills t with normal values of the given mean and std.
func InitNormal(t *Tensor, mean, std float64, r *RNG) {
	t.Update(func(d []float32) {
		for i := range d {
			d[i] = float32(mean + std*r.Normal())
		}
	})
}

// InitTruncNormal fills t with normal values redrawn until they fall in
// [lo, hi] (timm/PyTorch trunc_normal_, used by ViTs).
func InitTruncNormal(t *Tensor, mean, std, lo, hi float64, r *RNG) {
	t.Update(func(d []float32) {
		for i := range d {
			v := mean + std*r.Normal()
			for tries := 0; (v < lo || v > hi) && tries < 1000; tries++ {
				v = mean + std*r.Normal()
			}
			d[i] = float32(min(max(v, lo), hi))
		}
	})
}

// InitKaimingUniform is PyTorch's kaiming_uniform_ with leaky-ReLU slope a
// and fan_in mode: bound = sqrt(6/((1+a²)·fan_in)). With a = √5 it is the
// default initialisation of Conv and Linear weights (bound 1/√fan_in).
func InitKaimingUniform(t *Tensor, a float64, r *RNG) {
	fanIn, _ := fans(t.Shape)
	bound := math.Sqrt(6 / ((1 + a*a) * float64(max(fanIn, 1))))
	InitUniform(t, -bound, bound, r)
}

// InitKaimingNormal is kaiming_normal_ (fan_in, ReLU gain √2 scaled by a).
func InitKaimingNormal(t *Tensor, a float64, r *RNG) {
	fanIn, _ := fans(t.Shape)
	InitNormal(t, 0, math.Sqrt(2/((1+a*a)*float64(max(fanIn, 1)))), r)
}

// InitXavierUniform is xavier_uniform_: bound = gain·sqrt(6/(fan_in+fan_out)).
func InitXavierUniform(t *Tensor, gain float64, r *RNG) {
	fi, fo := fans(t.Shape)
	b := gain * math.Sqrt(6/float64(max(fi+fo, 1)))
	InitUniform(t, -b, b, r)
}

// InitXavierNormal is xavier_normal_: std = gain·sqrt(2/(fan_in+fan_out)).
func InitXavierNormal(t *Tensor, gain float64, r *RNG) {
	fi, fo := fans(t.Shape)
	InitNormal(t, 0, gain*math.Sqrt(2/float64(max(fi+fo, 1))), r)
}

// InitConst sets every element of t to v.
func InitConst(t *Tensor, v float32) {
	t.Update(func(d []float32) {
		for i := range d {
			d[i] = v
		}
	})
}
