package inflate

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

// IsGzip reports whether b starts with the gzip magic bytes.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

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

// Gunzip decompresses all gzip members of in (trailing zero bytes are
// ignored) into one buffer of at most limit bytes, checking each member's
// CRC-32 and size. sizeHint is the expected output size; the output may
// reuse the memory of buf, and prefix (if not nil) may be called early with
// a prefix of the output (see inflateMember). Output beyond limit fails
// with ErrTooLarge; damaged or truncated input with an error wrapping
// ErrTruncated or ErrCorrupt.
func Gunzip(in []byte, limit, sizeHint int, buf []byte, prefix func([]byte)) ([]byte, error) {
	var out []byte
	for p := 0; p < len(in); {
		if !IsGzip(in[p:]) {
			if allZero(in[p:]) {
				break
			}
			return nil, fmt.Errorf("%w: garbage after gzip member at byte %d", errCorrupt, p)
		}
		start, err := gzipMemberStart(in[p:])
		if err != nil {
			return nil, err
		}
		var reuse []byte
		var pre func([]byte)
		if out == nil {
			reuse, pre = buf, prefix
		}
		m, err := inflateMember(in, p+start, limit-len(out), max(0, sizeHint-len(out)), reuse, pre)
		if err != nil {
			return nil, err
		}
		if m.crc != trailerCRC(in, m.end) && m.parallel {
			// Paranoia: a speculative start that decoded to a wrong result.
			f := inflater[byte]{in: in, ip: p + start, limit: limit - len(out)}
			if _, err := f.inflate(); err != nil {
				return nil, err
			}
			m = member{out: f.out, end: f.alignedPos(), crc: crc32.ChecksumIEEE(f.out)}
		}
		p = m.end
		if p+8 > len(in) {
			return nil, errInputEnd
		}
		if m.crc != binary.LittleEndian.Uint32(in[p:]) {
			return nil, fmt.Errorf("%w: gzip CRC-32 %08x, trailer says %08x", errCorrupt, m.crc, binary.LittleEndian.Uint32(in[p:]))
		}
		if uint32(len(m.out)) != binary.LittleEndian.Uint32(in[p+4:]) {
			return nil, fmt.Errorf("%w: gzip size mismatch", errCorrupt)
		}
		p += 8
		if out == nil {
			out = m.out // the common single-member case: no copy
		} else {
			out = append(out, m.out...)
		}
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// trailerCRC returns the CRC-32 of the gzip trailer at in[p:], or a value
// that matches no checksum computation when the trailer is missing.
func trailerCRC(in []byte, p int) uint32 {
	if p+4 > len(in) {
		return 0
	}
	return binary.LittleEndian.Uint32(in[p:])
}
