package nifti

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// gzip header flags (RFC 1952).
const (
	gzFHCRC    = 1 << 1
	gzFEXTRA   = 1 << 2
	gzFNAME    = 1 << 3
	gzFCOMMENT = 1 << 4
)

// isGzip reports whether b starts with the gzip magic bytes.
func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gzipMemberStart returns the offset of the DEFLATE data of the gzip member
// at the start of b.
func gzipMemberStart(b []byte) (int, error) {
	if len(b) < 10 {
		return 0, errInputEnd
	}
	if b[2] != 8 {
		return 0, fmt.Errorf("%w: gzip compression method %d, want 8 (deflate)", errCorrupt, b[2])
	}
	flg := b[3]
	p := 10
	if flg&gzFEXTRA != 0 {
		if p+2 > len(b) {
			return 0, errInputEnd
		}
		p += 2 + int(binary.LittleEndian.Uint16(b[p:]))
	}
	for _, f := range []byte{gzFNAME, gzFCOMMENT} {
		if flg&f == 0 {
			continue
		}
		for p < len(b) && b[p] != 0 {
			p++
		}
		p++
	}
	if flg&gzFHCRC != 0 {
		p += 2
	}
	if p > len(b) {
		return 0, errInputEnd
	}
	return p, nil
}

// gunzip decompresses all gzip members of in (trailing zero bytes are
// ignored) into one buffer of at most limit bytes, checking each member's
// CRC-32 and size. sizeHint is the expected output size. Output beyond
// limit fails with ErrTooLarge; damaged or truncated input with an error
// wrapping ErrTruncated or errCorrupt.
func gunzip(in []byte, limit, sizeHint int) ([]byte, error) {
	f := inflater{limit: limit, out: make([]byte, 0, min(limit, sizeHint+64))}
	for p := 0; p < len(in); {
		if !isGzip(in[p:]) {
			if allZero(in[p:]) {
				break
			}
			return nil, fmt.Errorf("%w: garbage after gzip member at byte %d", errCorrupt, p)
		}
		start, err := gzipMemberStart(in[p:])
		if err != nil {
			return nil, err
		}
		f.in, f.ip, f.bitbuf, f.bitsleft = in, p+start, 0, 0
		first := len(f.out)
		if err := f.inflate(); err != nil {
			return nil, err
		}
		p = f.alignedPos()
		if p+8 > len(in) {
			return nil, errInputEnd
		}
		if crc := crc32.ChecksumIEEE(f.out[first:]); crc != binary.LittleEndian.Uint32(in[p:]) {
			return nil, fmt.Errorf("%w: gzip CRC-32 %08x, trailer says %08x", errCorrupt, crc, binary.LittleEndian.Uint32(in[p:]))
		}
		if uint32(len(f.out)-first) != binary.LittleEndian.Uint32(in[p+4:]) {
			return nil, fmt.Errorf("%w: gzip size mismatch", errCorrupt)
		}
		p += 8
	}
	return f.out, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
