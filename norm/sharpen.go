package norm

import (
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// sharpener deconvolves the intensity histogram of the log image by a
// Gaussian (the assumed blur caused by the bias field) with a Wiener
// filter, then maps every intensity to its expected value under the
// sharpened distribution — ITK N4's SharpenImage, step for step.
type sharpener struct {
	bins        int
	fwhm, noise float64
}

// sharpen returns, for each selected value of x, its sharpened value.
func (s sharpener) sharpen(x []float64, use []bool) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range x {
		if use[i] {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	out := make([]float64, len(x))
	if !(hi > lo) { // empty or constant: nothing to sharpen
		copy(out, x)
		return out
	}
	nb := s.bins
	slope := (hi - lo) / float64(nb-1)
	hist := make([]float64, nb)
	for i, v := range x {
		if !use[i] {
			continue
		}
		c := (v - lo) / slope
		k := int(math.Floor(c))
		f := c - float64(k)
		if k >= nb-1 {
			hist[nb-1]++
			continue
		}
		hist[k] += 1 - f
		hist[k+1] += f
	}
	e := s.expectations(hist, lo, slope)
	for i, v := range x {
		if !use[i] {
			out[i] = v
			continue
		}
		c := (v - lo) / slope
		k := int(math.Floor(c))
		if k >= nb-1 {
			out[i] = e[nb-1]
			continue
		}
		out[i] = e[k] + (e[k+1]-e[k])*(c-float64(k))
	}
	return out
}

// expectations returns E[u | v] per histogram bin: the Wiener-deconvolved
// distribution u, re-blurred and weighted by bin centres.
func (s sharpener) expectations(hist []float64, lo, slope float64) []float64 {
	nb := len(hist)
	size := 1 << (int(math.Ceil(math.Log2(float64(nb)))) + 1)
	off := (size - nb) / 2
	fft := fourier.NewCmplxFFT(size)

	v := make([]complex128, size)
	for n, h := range hist {
		v[n+off] = complex(h, 0)
	}
	vf := fft.Coefficients(nil, v)

	// Gaussian of the given FWHM (in log-intensity units → bins), wrapped.
	scaled := s.fwhm / slope
	expFactor := 4 * math.Ln2 / (scaled * scaled)
	scale := 2 * math.Sqrt(math.Ln2/math.Pi) / scaled
	f := make([]complex128, size)
	f[0] = complex(scale, 0)
	for n := 1; n <= size/2; n++ {
		g := complex(scale*math.Exp(-float64(n*n)*expFactor), 0)
		f[n], f[size-n] = g, g
	}
	if size%2 == 0 {
		f[size/2] = complex(scale*math.Exp(-0.25*float64(size*size)*expFactor), 0)
	}
	ff := fft.Coefficients(nil, f)

	uf := make([]complex128, size)
	for n := range uf {
		c := cmplx.Conj(ff[n])
		uf[n] = vf[n] * c / (c*ff[n] + complex(s.noise, 0))
	}
	u := fft.Sequence(nil, uf)
	inv := 1 / float64(size)
	num := make([]complex128, size)
	for n := range u {
		r := math.Max(real(u[n])*inv, 0)
		u[n] = complex(r, 0)
		num[n] = complex(r*(lo+float64(n-off)*slope), 0)
	}
	blur := func(x []complex128) []complex128 {
		xf := fft.Coefficients(nil, x)
		for n := range xf {
			xf[n] *= ff[n]
		}
		return fft.Sequence(nil, xf)
	}
	nr, dr := blur(num), blur(u)
	e := make([]float64, nb)
	for n := range e {
		if d := real(dr[n+off]); d != 0 {
			e[n] = real(nr[n+off]) / d
		}
	}
	return e
}
