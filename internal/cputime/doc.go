// Package cputime measures the process's CPU time and peak resident memory,
// for benchmarks and budget tests: on a machine whose cores other work
// shares, wall time says little, while user+system CPU seconds per
// operation stay comparable. It replaces the copies of the same helpers
// that benchmarks used to carry in each package.
//
// On systems without getrusage (non-unix), Now and PeakRSS return 0 and
// Supported reports false; callers skip or report 0.
package cputime
