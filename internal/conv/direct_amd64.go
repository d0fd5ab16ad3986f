//go:build amd64 && !purego

package conv

import "github.com/metasurv/metasurv/internal/cpu"

// directKern8x48 is the AVX-512 tile kernel of the direct stride-1
// convolution (see direct_amd64.s): offs are byte offsets of the taps into
// b, ldb is the byte stride between input channels, c receives 8×48 floats
// (added to its old values when acc != 0).
//
//go:noescape
func directKern8x48(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32, acc int)

// haveDirect reports whether the direct kernel can run at the current level.
func haveDirect() bool { return cpu.Current() >= cpu.AVX512 }

// dwKern computes one depthwise channel on its padded grid (dw_amd64.s).
//
//go:noescape
func dwKern(xp *float32, offs *int, w *float32, ntaps int, out *float32, n int)

// dwDots adds the per-tap weight gradients of one depthwise channel.
//
//go:noescape
func dwDots(xp *float32, offs *int, ntaps int, grad *float32, n int, out *float32)

// deint2 splits rows input rows of n floats, sstride bytes apart, into
// their even (src[0], src[2], ...) and odd elements, written to rows
// dstride bytes apart from even and odd: the two stride-2 phases of the
// direct kernels' input grid.
//
//go:noescape
func deint2(src *float32, n, rows, sstride int, even, odd *float32, dstride int)

// addRow stores src[i] + b in dst[i] for i < n.
//
//go:noescape
func addRow(dst, src *float32, n int, b float32)

// dwKern8x3 adds to out the 24 dot products over n grid positions of 8
// output-gradient rows (ldy bytes apart) with 3 shifted input rows (byte
// offsets offs from x), in the order dwKernOrder.
//
//go:noescape
func dwKern8x3(dy *float32, ldy int, x *float32, offs *int, n int, out *float32)

// ocKern64x6 is the AVX-512 tile kernel of the channel-vector direct
// forward (see direct_oc.go): 6 grid positions × 64 output channels, c in
// [position][channel] order, weights a as [channel][tap][64].
//
//go:noescape
func ocKern64x6(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32, acc int)

// ocStore stores the np (<= 6) positions of the 64 channels of a
// [position][channel] tile plus bias[r] into the output rows y + r*ldy
// bytes.
//
//go:noescape
func ocStore(tile, y *float32, ldy, np int, bias *float32)
