package fusion

import (
	"math"

	"github.com/metasurv/metasurv/nn"
)

// Augment configures the random transforms the training loader applies to
// each image, in MONAI's spirit (RandFlip, RandAffine, RandScaleIntensity,
// RandShiftIntensity, RandGaussianNoise). The zero value applies nothing.
// Every draw comes from a generator seeded by (seed, epoch, sample), so a
// run is reproducible whatever the number of loader goroutines.
type Augment struct {
	// Prob is the probability of applying each enabled transform; zero
	// means 0.5.
	Prob float64 `json:"prob"`
	// Flip enables random flips along each spatial axis.
	Flip bool `json:"flip"`
	// RotateDeg is the largest rotation about each axis, in degrees.
	RotateDeg float64 `json:"rotate_deg"`
	// Scale is the largest relative zoom (0.1 = ±10%).
	Scale float64 `json:"scale"`
	// Translate is the largest shift along each axis, in voxels.
	Translate float64 `json:"translate"`
	// IntensityScale multiplies each channel by 1+U(−s, s).
	IntensityScale float64 `json:"intensity_scale"`
	// IntensityShift adds U(−o, o) to each channel.
	IntensityShift float64 `json:"intensity_shift"`
	// NoiseStd adds Gaussian noise whose standard deviation is drawn from
	// U(0, NoiseStd).
	NoiseStd float64 `json:"noise_std"`
}

func (a Augment) enabled() bool {
	return a.Flip || a.RotateDeg > 0 || a.Scale > 0 || a.Translate > 0 || a.IntensityScale > 0 || a.IntensityShift > 0 || a.NoiseStd > 0
}

// sampleSeed mixes a run seed, an epoch and a sample index (SplitMix64).
func sampleSeed(seed uint64, epoch, i int) uint64 {
	z := seed ^ uint64(epoch)*0x9e3779b97f4a7c15 ^ uint64(i+1)*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// apply writes the augmented copy of src (C, D, H, W) into dst. present
// (nil = all) marks channels that hold data; absent ones stay zero.
// dropSeq zeroes one random present channel when more than one is present.
func (a Augment) apply(dst, src []float32, shape [4]int, present []bool, dropSeq float64, r *nn.RNG) {
	copy(dst, src)
	if !a.enabled() && dropSeq == 0 {
		return
	}
	p := a.Prob
	if p == 0 {
		p = 0.5
	}
	c, d, h, w := shape[0], shape[1], shape[2], shape[3]
	n := d * h * w
	has := func(k int) bool { return present == nil || present[k] }
	if a.Flip {
		for ax := 0; ax < 3; ax++ {
			if r.Float64() < p {
				flip(dst, shape, ax)
			}
		}
	}
	if (a.RotateDeg > 0 || a.Scale > 0 || a.Translate > 0) && r.Float64() < p {
		var ang [3]float64
		for i := range ang {
			ang[i] = r.Uniform(-a.RotateDeg, a.RotateDeg) * math.Pi / 180
		}
		zoom := 1 + r.Uniform(-a.Scale, a.Scale)
		var sh [3]float64
		for i := range sh {
			sh[i] = r.Uniform(-a.Translate, a.Translate)
		}
		affine3(dst, shape, rotation(ang), zoom, sh)
	}
	for k := 0; k < c; k++ {
		if !has(k) {
			continue
		}
		ch := dst[k*n : (k+1)*n]
		if a.IntensityScale > 0 && r.Float64() < p {
			f := float32(1 + r.Uniform(-a.IntensityScale, a.IntensityScale))
			for i := range ch {
				ch[i] *= f
			}
		}
		if a.IntensityShift > 0 && r.Float64() < p {
			o := float32(r.Uniform(-a.IntensityShift, a.IntensityShift))
			for i := range ch {
				ch[i] += o
			}
		}
		if a.NoiseStd > 0 && r.Float64() < p {
			s := r.Uniform(0, a.NoiseStd)
			for i := range ch {
				ch[i] += float32(s * r.Normal())
			}
		}
	}
	if dropSeq > 0 && r.Float64() < dropSeq {
		var on []int
		for k := 0; k < c; k++ {
			if has(k) {
				on = append(on, k)
			}
		}
		if len(on) > 1 {
			k := on[r.IntN(len(on))]
			clear(dst[k*n : (k+1)*n])
		}
	}
}

// flip reverses spatial axis ax (0 = D, 1 = H, 2 = W) of every channel.
func flip(x []float32, s [4]int, ax int) {
	d, h, w := s[1], s[2], s[3]
	for c := 0; c < s[0]; c++ {
		v := x[c*d*h*w : (c+1)*d*h*w]
		for i := 0; i < d; i++ {
			for j := 0; j < h; j++ {
				for k := 0; k < w; k++ {
					a := (i*h+j)*w + k
					var b int
					switch ax {
					case 0:
						if i >= d/2 {
							continue
						}
						b = ((d-1-i)*h+j)*w + k
					case 1:
						if j >= h/2 {
							continue
						}
						b = (i*h+(h-1-j))*w + k
					default:
						if k >= w/2 {
							continue
						}
						b = (i*h+j)*w + (w - 1 - k)
					}
					v[a], v[b] = v[b], v[a]
				}
			}
		}
	}
}

// rotation returns Rz·Ry·Rx for angles about the three axes.
func rotation(a [3]float64) [3][3]float64 {
	cx, sx := math.Cos(a[0]), math.Sin(a[0])
	cy, sy := math.Cos(a[1]), math.Sin(a[1])
	cz, sz := math.Cos(a[2]), math.Sin(a[2])
	rx := [3][3]float64{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}
	ry := [3][3]float64{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}
	rz := [3][3]float64{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}}
	return matmul3(rz, matmul3(ry, rx))
}

func matmul3(a, b [3][3]float64) [3][3]float64 {
	var c [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

// affine3 resamples every channel through the transform about the grid
// centre: output voxel p reads input R⁻¹·(p − c − t)/zoom + c, trilinear,
// zero outside (MONAI RandAffine with padding_mode "zeros").
func affine3(x []float32, s [4]int, rot [3][3]float64, zoom float64, t [3]float64) {
	d, h, w := s[1], s[2], s[3]
	n := d * h * w
	ctr := [3]float64{float64(d-1) / 2, float64(h-1) / 2, float64(w-1) / 2}
	dims := [3]int{d, h, w}
	tmp := make([]float32, n)
	for c := 0; c < s[0]; c++ {
		v := x[c*n : (c+1)*n]
		for i := 0; i < d; i++ {
			for j := 0; j < h; j++ {
				for k := 0; k < w; k++ {
					q := [3]float64{float64(i) - ctr[0] - t[0], float64(j) - ctr[1] - t[1], float64(k) - ctr[2] - t[2]}
					var src [3]float64
					for a := 0; a < 3; a++ { // Rᵀ = R⁻¹
						src[a] = (rot[0][a]*q[0]+rot[1][a]*q[1]+rot[2][a]*q[2])/zoom + ctr[a]
					}
					tmp[(i*h+j)*w+k] = trilinear(v, dims, src)
				}
			}
		}
		copy(v, tmp)
	}
}

func trilinear(v []float32, dims [3]int, p [3]float64) float32 {
	var i0 [3]int
	var f [3]float64
	for a := 0; a < 3; a++ {
		fl := math.Floor(p[a])
		if fl < -1 || fl > float64(dims[a]) {
			return 0
		}
		i0[a] = int(fl)
		f[a] = p[a] - fl
	}
	var s float64
	for dz := 0; dz < 2; dz++ {
		for dy := 0; dy < 2; dy++ {
			for dx := 0; dx < 2; dx++ {
				i, j, k := i0[0]+dz, i0[1]+dy, i0[2]+dx
				if i < 0 || j < 0 || k < 0 || i >= dims[0] || j >= dims[1] || k >= dims[2] {
					continue
				}
				wgt := (1 - f[0] + float64(dz)*(2*f[0]-1)) * (1 - f[1] + float64(dy)*(2*f[1]-1)) * (1 - f[2] + float64(dx)*(2*f[2]-1))
				s += wgt * float64(v[(i*dims[1]+j)*dims[2]+k])
			}
		}
	}
	return float32(s)
}
