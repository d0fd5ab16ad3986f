package dicom

import (
	"encoding/binary"
	"fmt"
)

// Lossless JPEG (ITU-T T.81, process 14: Huffman-coded differences of a
// predicted sample, SOF3) for one greyscale component — what PACS exports
// as "JPEG Lossless, First-Order Prediction" (selection value 1) and the
// general process 14 syntax (selection values 1–7 are all decoded).

type huffTable struct {
	// lookup maps the next lookBits bits to (length<<8 | symbol); length 0
	// means the code is longer and the slow path is taken.
	lookup  [1 << lookBits]uint16
	maxcode [18]int32
	valptr  [17]int32
	mincode [17]int32
	vals    []byte
	defined bool
}

const lookBits = 9

func buildHuff(counts [16]int, vals []byte) (*huffTable, error) {
	h := &huffTable{vals: vals, defined: true}
	code := int32(0)
	k := int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valptr[l] = k
		h.mincode[l] = code
		// A valid table never uses more codes of a length than exist:
		// refuse before filling the lookup table with them.
		if code+n > 1<<uint(l) {
			return nil, fmt.Errorf("%w: Huffman table over-subscribed at length %d", ErrMalformed, l)
		}
		if n == 0 {
			h.maxcode[l] = -1
		} else {
			if l <= lookBits {
				for c := int32(0); c < n; c++ {
					base := (code + c) << uint(lookBits-l)
					for f := int32(0); f < 1<<uint(lookBits-l); f++ {
						h.lookup[base+f] = uint16(l)<<8 | uint16(vals[k+c])
					}
				}
			}
			code += n
			k += n
			h.maxcode[l] = code - 1
		}
		code <<= 1
	}
	h.maxcode[17] = 1 << 30
	return h, nil
}

type bitReader struct {
	data   []byte
	pos    int
	acc    uint64
	nbits  uint
	marker bool // a marker was reached; pad with zeros
	pad    int  // zero bytes padded after the end of the entropy-coded data
}

// fill tops the accumulator up to at least 57 bits, removing stuffed zero
// bytes and stopping at markers.
func (br *bitReader) fill() {
	for br.nbits <= 56 {
		var b byte
		if br.marker || br.pos >= len(br.data) {
			b = 0
			br.marker = true
			br.pad++
		} else {
			b = br.data[br.pos]
			if b == 0xFF {
				if br.pos+1 < len(br.data) && br.data[br.pos+1] == 0x00 {
					br.pos += 2
				} else {
					br.marker = true
					br.pad++
					b = 0
				}
			} else {
				br.pos++
			}
		}
		br.acc |= uint64(b) << (56 - br.nbits)
		br.nbits += 8
	}
}

func (br *bitReader) bits(n uint) uint32 {
	if n == 0 {
		return 0
	}
	if br.nbits < n {
		br.fill()
	}
	v := uint32(br.acc >> (64 - n))
	br.acc <<= n
	br.nbits -= n
	return v
}

func (br *bitReader) decode(h *huffTable) (int, error) {
	if br.nbits < 16 {
		br.fill()
	}
	look := h.lookup[br.acc>>(64-lookBits)]
	if l := uint(look >> 8); l > 0 {
		br.acc <<= l
		br.nbits -= l
		return int(look & 0xFF), nil
	}
	code := int32(br.acc >> (64 - lookBits))
	l := lookBits
	for {
		if code <= h.maxcode[l] {
			idx := h.valptr[l] + code - h.mincode[l]
			if idx < 0 || int(idx) >= len(h.vals) {
				break
			}
			br.acc <<= uint(l)
			br.nbits -= uint(l)
			return int(h.vals[idx]), nil
		}
		l++
		if l > 16 {
			break
		}
		code = int32(br.acc >> (64 - uint(l)))
	}
	return 0, fmt.Errorf("%w: invalid Huffman code in lossless JPEG scan", ErrMalformed)
}

// restart discards buffered bits and skips an RSTn marker.
func (br *bitReader) restart() error {
	br.acc, br.nbits, br.pad = 0, 0, 0
	// Skip to the marker (the bit reader may already have passed it).
	for br.pos+1 < len(br.data) {
		if br.data[br.pos] == 0xFF && br.data[br.pos+1] >= 0xD0 && br.data[br.pos+1] <= 0xD7 {
			br.pos += 2
			br.marker = false
			return nil
		}
		if br.data[br.pos] == 0xFF && br.data[br.pos+1] != 0 && br.data[br.pos+1] != 0xFF {
			break
		}
		br.pos++
	}
	return fmt.Errorf("%w: restart marker missing in lossless JPEG scan", ErrMalformed)
}

// decodeJPEGLossless decodes one lossless JPEG frame of one component with
// the image size given by pi into dst (row-major).
func decodeJPEGLossless(b []byte, pi PixelInfo, dst []uint16) error {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return fmt.Errorf("%w: lossless JPEG frame does not start with SOI", ErrMalformed)
	}
	var tables [4]*huffTable
	pos := 2
	var width, height, prec, ncomp int
	var compID int
	var restartInterval int
	sof := false
	for {
		// Find the next marker (fill bytes 0xFF allowed).
		for pos < len(b) && b[pos] != 0xFF {
			pos++
		}
		for pos < len(b) && b[pos] == 0xFF {
			pos++
		}
		if pos >= len(b) {
			return fmt.Errorf("%w: lossless JPEG frame ends before its scan", ErrTruncated)
		}
		m := b[pos]
		pos++
		if m == 0xD9 {
			return fmt.Errorf("%w: lossless JPEG frame ends (EOI) before its scan", ErrMalformed)
		}
		if m >= 0xD0 && m <= 0xD7 || m == 0x01 {
			continue
		}
		if pos+2 > len(b) {
			return fmt.Errorf("%w: lossless JPEG segment header", ErrTruncated)
		}
		seglen := int(binary.BigEndian.Uint16(b[pos:]))
		if seglen < 2 || pos+seglen > len(b) {
			return fmt.Errorf("%w: lossless JPEG segment %02X of %d bytes at %d overruns the frame", ErrMalformed, m, seglen, pos)
		}
		seg := b[pos+2 : pos+seglen]
		pos += seglen
		switch m {
		case 0xC3: // SOF3 lossless, Huffman
			if len(seg) < 6 {
				return fmt.Errorf("%w: short SOF3", ErrMalformed)
			}
			prec = int(seg[0])
			height = int(binary.BigEndian.Uint16(seg[1:]))
			width = int(binary.BigEndian.Uint16(seg[3:]))
			ncomp = int(seg[5])
			if ncomp != 1 {
				return fmt.Errorf("%w: lossless JPEG with %d components; only greyscale is decoded", ErrUnsupported, ncomp)
			}
			if len(seg) < 9 {
				return fmt.Errorf("%w: short SOF3", ErrMalformed)
			}
			compID = int(seg[6])
			if seg[7] != 0x11 {
				return fmt.Errorf("%w: lossless JPEG component sampling %02X, expected 1×1", ErrUnsupported, seg[7])
			}
			if prec < 2 || prec > 16 {
				return fmt.Errorf("%w: lossless JPEG precision %d, expected 2..16", ErrMalformed, prec)
			}
			if width != pi.Columns || height != pi.Rows {
				return fmt.Errorf("%w: lossless JPEG frame is %d×%d, the DICOM header says %d×%d", ErrMalformed, width, height, pi.Columns, pi.Rows)
			}
			sof = true
		case 0xC0, 0xC1, 0xC2, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
			return fmt.Errorf("%w: JPEG process with SOF%d marker; only lossless (SOF3) is decoded", ErrUnsupported, m-0xC0)
		case 0xC4: // DHT
			for len(seg) > 0 {
				if len(seg) < 17 {
					return fmt.Errorf("%w: short DHT", ErrMalformed)
				}
				tc, th := seg[0]>>4, int(seg[0]&15)
				var counts [16]int
				total := 0
				for i := 0; i < 16; i++ {
					counts[i] = int(seg[1+i])
					total += counts[i]
				}
				if len(seg) < 17+total || th > 3 || total > 256 {
					return fmt.Errorf("%w: DHT table %d declares %d codes", ErrMalformed, th, total)
				}
				if tc == 0 {
					h, err := buildHuff(counts, append([]byte(nil), seg[17:17+total]...))
					if err != nil {
						return err
					}
					tables[th] = h
				}
				seg = seg[17+total:]
			}
		case 0xDD: // DRI
			if len(seg) < 2 {
				return fmt.Errorf("%w: short DRI", ErrMalformed)
			}
			restartInterval = int(binary.BigEndian.Uint16(seg))
		case 0xDA: // SOS
			if !sof {
				return fmt.Errorf("%w: lossless JPEG scan before SOF3", ErrMalformed)
			}
			if len(seg) < 6 || seg[0] != 1 {
				return fmt.Errorf("%w: lossless JPEG scan must hold 1 component", ErrUnsupported)
			}
			if int(seg[1]) != compID {
				return fmt.Errorf("%w: scan component %d is not the frame's %d", ErrMalformed, seg[1], compID)
			}
			th := int(seg[2] >> 4)
			if th > 3 || tables[th] == nil {
				return fmt.Errorf("%w: scan uses undefined Huffman table %d", ErrMalformed, th)
			}
			psv := int(seg[3])
			pt := int(seg[5] & 15)
			if psv < 1 || psv > 7 {
				return fmt.Errorf("%w: lossless JPEG predictor %d, expected 1..7", ErrMalformed, psv)
			}
			if pt >= prec {
				return fmt.Errorf("%w: point transform %d with precision %d", ErrMalformed, pt, prec)
			}
			return decodeScan(b[pos:], tables[th], width, height, prec, psv, pt, restartInterval, dst)
		}
	}
}

func decodeScan(data []byte, h *huffTable, width, height, prec, psv, pt, ri int, dst []uint16) error {
	br := &bitReader{data: data}
	mask := int32(1)<<uint(prec) - 1
	initial := int32(1) << uint(prec-pt-1)
	n := 0 // samples since the last restart
	newInterval := true
	for y := 0; y < height; y++ {
		row := dst[y*width : (y+1)*width]
		var prev []uint16
		if y > 0 {
			prev = dst[(y-1)*width : y*width]
		}
		firstRow := y == 0 || newInterval
		for x := 0; x < width; x++ {
			if ri > 0 && n == ri {
				if err := br.restart(); err != nil {
					return err
				}
				n = 0
				newInterval = true
				firstRow = true
			}
			s, err := br.decode(h)
			if err != nil {
				return fmt.Errorf("row %d column %d: %w", y, x, err)
			}
			var diff int32
			switch {
			case s == 0:
			case s == 16:
				diff = 32768
			case s > 16:
				return fmt.Errorf("%w: difference category %d", ErrMalformed, s)
			default:
				v := int32(br.bits(uint(s)))
				if v < 1<<uint(s-1) {
					v -= 1<<uint(s) - 1
				}
				diff = v
			}
			if br.pad > 16 {
				return fmt.Errorf("%w: lossless JPEG scan ends at row %d column %d", ErrTruncated, y, x)
			}
			var pred int32
			switch {
			case newInterval && n == 0:
				pred = initial
			case firstRow:
				if x == 0 {
					pred = int32(prev[0]) >> uint(pt) // restart mid-image: above
				} else {
					pred = int32(row[x-1]) >> uint(pt)
				}
			case x == 0:
				pred = int32(prev[0]) >> uint(pt)
			default:
				ra := int32(row[x-1]) >> uint(pt)
				rb := int32(prev[x]) >> uint(pt)
				rc := int32(prev[x-1]) >> uint(pt)
				switch psv {
				case 1:
					pred = ra
				case 2:
					pred = rb
				case 3:
					pred = rc
				case 4:
					pred = ra + rb - rc
				case 5:
					pred = ra + (rb-rc)>>1
				case 6:
					pred = rb + (ra-rc)>>1
				case 7:
					pred = (ra + rb) >> 1
				}
			}
			v := (pred + diff) & (mask >> uint(pt))
			row[x] = uint16(v << uint(pt))
			n++
			if x == width-1 {
				newInterval = false
			}
		}
	}
	return nil
}
