package dicom

import (
	"bytes"
	"math/rand"
	"testing"
)

// encodeLossless is a small lossless JPEG encoder for tests (one
// component, one Huffman table giving every difference category a 5-bit
// code), with any predictor, point transform and restart interval — the
// options dcmtk cannot produce (restart markers).
func encodeLossless(img []uint16, w, h, prec, psv, pt, ri int) []byte {
	var out bytes.Buffer
	seg := func(m byte, body []byte) {
		out.Write([]byte{0xFF, m, byte((len(body) + 2) >> 8), byte(len(body) + 2)})
		out.Write(body)
	}
	out.Write([]byte{0xFF, 0xD8})
	seg(0xC3, []byte{byte(prec), byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	dht := []byte{0x00}
	for l := 1; l <= 16; l++ {
		if l == 5 {
			dht = append(dht, 17)
		} else {
			dht = append(dht, 0)
		}
	}
	for s := 0; s <= 16; s++ {
		dht = append(dht, byte(s))
	}
	seg(0xC4, dht)
	if ri > 0 {
		seg(0xDD, []byte{byte(ri >> 8), byte(ri)})
	}
	seg(0xDA, []byte{1, 1, 0x00, byte(psv), 0, byte(pt)})
	var acc uint64
	var nbits uint
	put := func(v uint32, n uint) {
		acc = acc<<n | uint64(v)&(1<<n-1)
		nbits += n
		for nbits >= 8 {
			b := byte(acc >> (nbits - 8))
			out.WriteByte(b)
			if b == 0xFF {
				out.WriteByte(0)
			}
			nbits -= 8
		}
	}
	flush := func() {
		if nbits > 0 {
			put(1<<(8-nbits)-1, 8-nbits) // pad with 1-bits
		}
	}
	mask := int32(1)<<uint(prec-pt) - 1
	x := func(r, c int) int32 { return int32(img[r*w+c]) >> uint(pt) }
	n, rst := 0, 0
	first := true // first row of the scan or of a restart interval
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			if ri > 0 && n == ri {
				flush()
				out.Write([]byte{0xFF, byte(0xD0 + rst%8)})
				rst++
				n = 0
				first = true
			}
			var pred int32
			switch {
			case first && c == 0:
				pred = 1 << uint(prec-pt-1)
			case first:
				pred = x(r, c-1)
			case c == 0:
				pred = x(r-1, 0)
			default:
				ra, rb, rc := x(r, c-1), x(r-1, c), x(r-1, c-1)
				pred = [8]int32{0, ra, rb, rc, ra + rb - rc, ra + (rb-rc)>>1, rb + (ra-rc)>>1, (ra + rb) >> 1}[psv]
			}
			d := (x(r, c) - pred) & mask
			if d >= 1<<15 && prec-pt == 16 || prec-pt < 16 && d > mask>>1 {
				d -= mask + 1
			}
			if d == -32768 {
				put(16, 5)
			} else {
				a, s := d, 0
				if a < 0 {
					a = -a
				}
				for a > 0 {
					s++
					a >>= 1
				}
				put(uint32(s), 5)
				if s > 0 {
					v := d
					if d < 0 {
						v = d + (1 << uint(s)) - 1
					}
					put(uint32(v), uint(s))
				}
			}
			n++
		}
		first = false
	}
	flush()
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

// TestJPEGRestartIntervals decodes images encoded with restart intervals
// (one and three rows), every predictor, point transforms and precisions,
// including samples whose difference is ±32768 (category 16).
func TestJPEGRestartIntervals(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	const w, h = 19, 11
	for _, prec := range []int{8, 12, 16} {
		img := make([]uint16, w*h)
		for i := range img {
			img[i] = uint16(rng.Intn(1 << uint(prec)))
		}
		if prec == 16 {
			img[5], img[6] = 0, 0x8000 // a difference of exactly 32768
		}
		for psv := 1; psv <= 7; psv++ {
			for _, ri := range []int{0, w, 3 * w} {
				for _, pt := range []int{0, 2} {
					b := encodeLossless(img, w, h, prec, psv, pt, ri)
					pi := PixelInfo{Rows: h, Columns: w, Frames: 1, Samples: 1, BitsAllocated: 16, BitsStored: 16, HighBit: 15}
					got := make([]uint16, w*h)
					if err := decodeJPEGLossless(b, pi, got); err != nil {
						t.Fatalf("P%d SV%d RI%d Pt%d: %v", prec, psv, ri, pt, err)
					}
					for i := range got {
						if want := img[i] >> uint(pt) << uint(pt); got[i] != want {
							t.Fatalf("P%d SV%d RI%d Pt%d: sample %d = %d, want %d", prec, psv, ri, pt, i, got[i], want)
						}
					}
				}
			}
		}
	}
}
