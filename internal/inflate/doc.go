// Package inflate is a gzip (RFC 1952) and DEFLATE (RFC 1951) decoder for
// data that is entirely in memory, as the NIfTI reader has it: the output
// goes to one flat buffer sized from the gzip trailer (no 32 KiB window
// ring, no copy out), large members are decoded in two halves in parallel
// (speculatively from the middle), and every gzip member's CRC-32 and size
// are checked. It is about twice as fast as a streaming decoder on MRI
// data.
//
// Output is bounded by the caller's limit: a zip bomb fails with
// ErrTooLarge once the limit is reached, before more memory is taken.
// Damaged input fails with ErrCorrupt, input that stops early with
// ErrTruncated; no input makes it panic (FuzzGunzip compares it with
// klauspost/compress).
package inflate

import "errors"

// Sentinel errors; every error of Gunzip wraps one of them.
var (
	// ErrCorrupt reports damaged gzip/DEFLATE data: a bad block type,
	// Huffman code, distance, CRC-32 or size.
	ErrCorrupt = errors.New("inflate: corrupt gzip data")
	// ErrTruncated reports a gzip stream that ends early.
	ErrTruncated = errors.New("inflate: truncated gzip data")
	// ErrTooLarge reports output beyond the caller's limit.
	ErrTooLarge = errors.New("inflate: decompressed data too large")
)
