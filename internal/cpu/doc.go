// Package cpu selects the SIMD instruction level that the numeric kernels of
// metasurv (GEMM, convolution, attention) dispatch on.
//
// The level is detected once at start-up with github.com/klauspost/cpuid/v2:
// AVX512 needs AVX-512 F, BW, DQ and VL (and FMA); AVX2 needs AVX2 and FMA;
// anything else runs the portable Go kernels. Building with the purego tag
// forces Portable, which is how the pure-Go fallback is exercised on any
// machine. Kernels read Current() at call time, so tests can lower the level
// temporarily with SetLevel and run the portable, AVX2 and AVX-512 paths in
// one go test run.
package cpu
