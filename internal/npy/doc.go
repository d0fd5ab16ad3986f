// Package npy reads and writes NumPy .npy files, the format of the
// reference fixtures in ../shared (model inputs and outputs, resampled
// volumes) and a convenient way to exchange arrays with Python.
//
// Read understands format versions 1.0, 2.0 and 3.0, little- and big-endian
// data, C and Fortran order, 0-d to n-d shapes and the dtypes f4 f8 i1 i2 i4
// i8 u1 u2 u4 u8 b1. The header dictionary is parsed by a small literal
// parser (nothing is evaluated). Whatever the file's layout, an Array holds
// its data in C (row-major) order and little-endian byte order; the Fortran
// field only records how the file was stored. Float32, Float64 and Int64
// convert the elements to Go slices.
//
// Hostile input is safe: the header length, the number of dimensions, each
// dimension and the product of the shape are bounded, the data size is
// limited by Options.MaxBytes, and the data buffer grows only as bytes
// actually arrive, so a truncated file claiming gigabytes allocates little
// and returns an error.
//
// Write produces C-order little-endian files exactly as numpy.save does
// (version 1.0 header, padded so the data starts at a multiple of 64).
package npy
