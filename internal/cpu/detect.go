//go:build !purego

package cpu

import "github.com/klauspost/cpuid/v2"

func detect() (Level, Features) {
	c := cpuid.CPU
	f := Features{
		BF16: c.Supports(cpuid.AVX512BF16),
		VNNI: c.Supports(cpuid.AVX512VNNI),

		AMXBF16: c.Supports(cpuid.AMXTILE, cpuid.AMXBF16),
	}
	switch {
	case c.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.AVX2, cpuid.FMA3):
		return AVX512, f
	case c.Supports(cpuid.AVX2, cpuid.FMA3):
		return AVX2, Features{}
	}
	return Portable, Features{}
}
