package inflate

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// This file is a DEFLATE (RFC 1951) decoder specialised for what the
// readers need: the whole compressed file is in memory and the output goes
// to one flat buffer (no 32 KiB window ring, no copy out), with a 64-bit
// bit buffer refilled 8 bytes at a time and word-wise match copies. It is
// about twice as fast as a streaming decoder on MRI data; the gzip framing
// (header, CRC-32, ISIZE) is handled in gunzip.go.

// errCorrupt is ErrCorrupt under the short name the decoder uses;
// errInputEnd reports a compressed stream that stops early.
var (
	errCorrupt  = ErrCorrupt
	errInputEnd = fmt.Errorf("%w: gzip stream ends early", ErrTruncated)
)

// Decoding table entries (uint32):
//
//	bits 0-3   number of bits to consume at this level
//	bit  4     literal (value is the byte)
//	bit  5     end of block
//	bit  6     pointer to a subtable (value = start, extra = index bits)
//	bits 8-12  extra bits of a length or distance
//	bits 16-31 value: literal, length or distance base, or subtable start
//
// An entry of 0 (consumes 0 bits, no flag) marks an invalid code.
const (
	entLiteral = 1 << 4
	entEOB     = 1 << 5
	entSub     = 1 << 6

	litlenBits = 11
	distBits   = 8
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// litlenEntry and distEntry give the table entry of a symbol, without the
// bit count.
func litlenEntry(sym int) uint32 {
	switch {
	case sym < 256:
		return entLiteral | uint32(sym)<<16
	case sym == 256:
		return entEOB
	case sym < 286:
		return uint32(lengthExtra[sym-257])<<8 | uint32(lengthBase[sym-257])<<16
	}
	return 0
}

func distEntry(sym int) uint32 {
	if sym < 30 {
		return uint32(distExtra[sym])<<8 | uint32(distBase[sym])<<16
	}
	return 0
}

// buildTable fills a decoding table for the code lengths lens (canonical
// Huffman, RFC 1951 3.2.2) with a primary table of 1<<primary entries
// followed by subtables. Over-subscribed codes are errors; entries of an
// incomplete code stay invalid, so using them is an error when decoding.
func buildTable(dst []uint32, lens []uint8, primary uint, entry func(int) uint32) ([]uint32, error) {
	var count [16]int
	maxLen := 0
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, int(l))
	}
	if codeLeft(lens) < 0 {
		return nil, fmt.Errorf("%w: over-subscribed Huffman code", errCorrupt)
	}
	var next [16]int
	code := 0
	for l := 1; l <= 15; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	subBits := uint(0)
	if uint(maxLen) > primary {
		subBits = uint(maxLen) - primary
	}
	size := 1 << primary
	t := dst[:0]
	if cap(t) < size {
		t = make([]uint32, 0, size+64<<subBits)
	}
	t = t[:size]
	clear(t)
	subStart := make(map[uint32]uint32)
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		rev := uint32(bits.Reverse16(uint16(next[l])) >> (16 - l))
		next[l]++
		e := entry(sym)
		if uint(l) <= primary {
			for i := rev; i < uint32(size); i += 1 << l {
				t[i] = e | uint32(l)
			}
			continue
		}
		low := rev & (1<<primary - 1)
		start, ok := subStart[low]
		if !ok {
			start = uint32(len(t))
			subStart[low] = start
			t = append(t, make([]uint32, 1<<subBits)...)
			t[low] = entSub | uint32(subBits)<<8 | start<<16 | uint32(primary)
		}
		rem := uint(l) - primary
		for i := rev >> primary; i < 1<<subBits; i += 1 << rem {
			t[start+i] = e | uint32(rem)
		}
	}
	return t, nil
}

// codeLeft returns the number of unused codes of length 15 of a canonical
// Huffman code with these lengths: 0 for a complete code, negative for an
// over-subscribed one.
func codeLeft(lens []uint8) int {
	var count [16]int
	for _, l := range lens {
		count[l&15]++
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return left
		}
	}
	return left
}

// acceptable reports whether a code may be used: any non-over-subscribed
// code normally; in strict mode (validating a guessed block start) only a
// complete code, or a single code of length 1 when single is allowed
// (a distance code with one distance).
func (f *inflater[T]) acceptable(lens []uint8, single bool) bool {
	left := codeLeft(lens)
	if !f.strict {
		return left >= 0
	}
	if left == 0 {
		return true
	}
	n := 0
	for _, l := range lens {
		if l != 0 {
			n++
		}
	}
	return single && n == 1 && left == 1<<14
}

var fixedTables struct {
	once         sync.Once
	litlen, dist []uint32
}

func fixedHuffman() ([]uint32, []uint32) {
	fixedTables.once.Do(func() {
		var ll [288]uint8
		for i := range ll {
			switch {
			case i < 144:
				ll[i] = 8
			case i < 256:
				ll[i] = 9
			case i < 280:
				ll[i] = 7
			default:
				ll[i] = 8
			}
		}
		var d [30]uint8
		for i := range d {
			d[i] = 5
		}
		fixedTables.litlen, _ = buildTable(nil, ll[:], litlenBits, litlenEntry)
		fixedTables.dist, _ = buildTable(nil, d[:], distBits, distEntry)
	})
	return fixedTables.litlen, fixedTables.dist
}

// symbol is the output element of an inflater: bytes, or uint16 for
// speculative decoding where values >= 256 stand for still-unknown bytes of
// the 32 KiB window before the decoding started (see pinflate.go).
type symbol interface{ ~byte | ~uint16 }

// inflater decodes one raw DEFLATE stream from in into out.
type inflater[T symbol] struct {
	in       []byte
	ip       int // next input byte to load into bitbuf
	bitbuf   uint64
	bitsleft uint
	out      []T      // len = bytes produced so far; cap grows up to limit
	limit    int      // maximum output size
	litlen   []uint32 // tables of the current dynamic block (reused)
	dist     []uint32
	// markers allows distances reaching before the start of out, producing
	// window markers (uint16 output only); strict rejects incomplete
	// Huffman codes, to validate a guessed block start.
	markers, strict bool
	// sync, when set, lets the decoder stop at the block where a parallel
	// decoder started (see pinflate.go).
	sync *handoff
}

// refill loads input bytes until at least 56 bits are buffered (zero bits
// past the end of input; consuming them is caught by overrun).
func (f *inflater[T]) refill() {
	if f.ip+8 <= len(f.in) {
		f.bitbuf |= binary.LittleEndian.Uint64(f.in[f.ip:]) << f.bitsleft
		f.ip += int(63-f.bitsleft) >> 3
		f.bitsleft |= 56
		return
	}
	for f.bitsleft <= 56 {
		if f.ip < len(f.in) {
			f.bitbuf |= uint64(f.in[f.ip]) << f.bitsleft
		}
		f.ip++ // beyond len(in): phantom zero byte
		f.bitsleft += 8
	}
}

// overrun reports whether bits beyond the end of the input were consumed.
func (f *inflater[T]) overrun() bool {
	return f.ip-int(f.bitsleft>>3) > len(f.in)
}

func (f *inflater[T]) take(n uint) uint32 {
	v := uint32(f.bitbuf & (1<<n - 1))
	f.bitbuf >>= n
	f.bitsleft -= n
	return v
}

// inputPos returns the index of the first input byte not (even partly)
// consumed, after aligning to a byte boundary.
func (f *inflater[T]) alignedPos() int {
	f.take(f.bitsleft & 7)
	return f.ip - int(f.bitsleft>>3)
}

// bitPos returns the number of input bits consumed.
func (f *inflater[T]) bitPos() int64 { return int64(f.ip)*8 - int64(f.bitsleft) }

// inflate decodes blocks until the final one, or, with a handoff, until
// the block where the parallel decoder started (stopped = true).
func (f *inflater[T]) inflate() (stopped bool, err error) {
	for {
		if f.sync != nil && f.sync.reached(f.bitPos()) {
			return true, nil
		}
		f.refill()
		final := f.take(1)
		var err error
		switch f.take(2) {
		case 0:
			err = f.stored()
		case 1:
			err = f.huffmanBlock(fixedHuffman())
		case 2:
			if err = f.dynamicTables(); err == nil {
				err = f.huffmanBlock(f.litlen, f.dist)
			}
		default:
			err = fmt.Errorf("%w: reserved block type 3", errCorrupt)
		}
		if err != nil {
			return false, err
		}
		if f.overrun() {
			return false, errInputEnd
		}
		if final == 1 {
			return false, nil
		}
	}
}

func (f *inflater[T]) stored() error {
	p := f.alignedPos()
	f.bitbuf, f.bitsleft, f.ip = 0, 0, p
	if p+4 > len(f.in) {
		return fmt.Errorf("%w: truncated stored block", errCorrupt)
	}
	n := int(binary.LittleEndian.Uint16(f.in[p:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(f.in[p+2:]) {
		return fmt.Errorf("%w: stored block length check", errCorrupt)
	}
	p += 4
	if p+n > len(f.in) {
		return fmt.Errorf("%w: truncated stored block", errCorrupt)
	}
	if err := f.grow(n); err != nil {
		return err
	}
	for _, b := range f.in[p : p+n] {
		f.out = append(f.out, T(b))
	}
	f.ip = p + n
	return nil
}

// grow makes room for n more output bytes within the limit.
func (f *inflater[T]) grow(n int) error {
	need := len(f.out) + n
	if need <= cap(f.out) {
		return nil
	}
	if need > f.limit {
		return fmt.Errorf("%w: decompressed data exceed %d bytes", ErrTooLarge, f.limit)
	}
	c := min(max(2*cap(f.out), need, 1<<16), f.limit)
	grown := make([]T, len(f.out), c)
	copy(grown, f.out)
	f.out = grown
	return nil
}

// dynamicTables reads the code lengths of a dynamic block and builds its
// tables.
func (f *inflater[T]) dynamicTables() error {
	f.refill()
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return fmt.Errorf("%w: %d literal/length and %d distance codes", errCorrupt, nlit, ndist)
	}
	var cl [19]uint8
	f.refill() // 19·3 = 57 bits may exceed one refill
	for i := 0; i < nclen; i++ {
		if i == 12 {
			f.refill()
		}
		cl[clOrder[i]] = uint8(f.take(3))
	}
	if !f.acceptable(cl[:], false) {
		return fmt.Errorf("%w: bad code length code", errCorrupt)
	}
	var clbuf [128]uint32
	clt, err := buildTable(clbuf[:], cl[:], 7, func(s int) uint32 { return uint32(s) << 16 })
	if err != nil {
		return err
	}
	var lens [286 + 30]uint8
	for i := 0; i < nlit+ndist; {
		f.refill()
		e := clt[f.bitbuf&127]
		if e&15 == 0 {
			return fmt.Errorf("%w: invalid code length code", errCorrupt)
		}
		f.take(uint(e & 15))
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return fmt.Errorf("%w: repeat with no previous length", errCorrupt)
			}
			val, rep = lens[i-1], 3+int(f.take(2))
		case 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if i+rep > nlit+ndist {
			return fmt.Errorf("%w: code lengths overflow", errCorrupt)
		}
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return fmt.Errorf("%w: no end-of-block code", errCorrupt)
	}
	if !f.acceptable(lens[:nlit], false) || !f.acceptable(lens[nlit:nlit+ndist], true) {
		return fmt.Errorf("%w: incomplete Huffman code", errCorrupt)
	}
	if f.litlen, err = buildTable(f.litlen, lens[:nlit], litlenBits, litlenEntry); err != nil {
		return err
	}
	f.dist, err = buildTable(f.dist, lens[nlit:nlit+ndist], distBits, distEntry)
	return err
}

// huffmanBlock decodes symbols until end of block. The fast loop keeps the
// decoder state in locals and runs while at least 16 input bytes and 300
// bytes of output room remain, so that it needs no end-of-buffer checks
// beyond Go's bounds checks; it decodes up to four literals per refill. The
// last symbols go through slowSymbol.
func (f *inflater[T]) huffmanBlock(lt, dt []uint32) error {
	const lmask, dmask = 1<<litlenBits - 1, 1<<distBits - 1
	le := binary.LittleEndian
	in, ip := f.in, f.ip
	bitbuf, bitsleft := f.bitbuf, f.bitsleft
	buf, op := f.out[:cap(f.out)], len(f.out)
	// Primary tables as arrays: masked indexes need no bounds checks.
	lp := (*[1 << litlenBits]uint32)(lt[:1<<litlenBits])
	dp := (*[1 << distBits]uint32)(dt[:1<<distBits])
	for {
		if ip+16 > len(in) || op+300 > len(buf) {
			f.ip, f.bitbuf, f.bitsleft, f.out = ip, bitbuf, bitsleft, buf[:op]
			done, err := f.slowSymbol(lt, dt)
			if done || err != nil {
				return err
			}
			ip, bitbuf, bitsleft = f.ip, f.bitbuf, f.bitsleft
			buf, op = f.out[:cap(f.out)], len(f.out)
			continue
		}
		bitbuf |= le.Uint64(in[ip:]) << bitsleft
		ip += int(63-bitsleft) >> 3
		bitsleft |= 56
		e := lp[bitbuf&lmask]
		if e&entLiteral != 0 {
			// Direct literal entries use at most litlenBits bits: four fit
			// in one refill (4·11 <= 56).
			bitbuf >>= e & 15
			bitsleft -= uint(e & 15)
			buf[op] = T(e >> 16)
			op++
			e = lp[bitbuf&lmask]
			if e&entLiteral != 0 {
				bitbuf >>= e & 15
				bitsleft -= uint(e & 15)
				buf[op] = T(e >> 16)
				op++
				e = lp[bitbuf&lmask]
				if e&entLiteral != 0 {
					bitbuf >>= e & 15
					bitsleft -= uint(e & 15)
					buf[op] = T(e >> 16)
					op++
					e = lp[bitbuf&lmask]
					if e&entLiteral != 0 {
						bitbuf >>= e & 15
						bitsleft -= uint(e & 15)
						buf[op] = T(e >> 16)
						op++
						continue
					}
				}
			}
			bitbuf |= le.Uint64(in[ip:]) << bitsleft
			ip += int(63-bitsleft) >> 3
			bitsleft |= 56
		}
		if e&entSub != 0 {
			bitbuf >>= litlenBits
			bitsleft -= litlenBits
			e = lt[e>>16+uint32(bitbuf)&(1<<(e>>8&31)-1)]
		}
		n := e & 15
		if n == 0 {
			return fmt.Errorf("%w: invalid literal/length code", errCorrupt)
		}
		bitbuf >>= n
		bitsleft -= uint(n)
		if e&entLiteral != 0 {
			buf[op] = T(e >> 16)
			op++
			continue
		}
		if e&entEOB != 0 {
			f.ip, f.bitbuf, f.bitsleft, f.out = ip, bitbuf, bitsleft, buf[:op]
			return nil
		}
		xb := e >> 8 & 31
		length := int(e>>16) + int(bitbuf&(1<<xb-1))
		bitbuf >>= xb
		bitsleft -= uint(xb)
		e = dp[bitbuf&dmask]
		if e&entSub != 0 {
			bitbuf >>= distBits
			bitsleft -= distBits
			e = dt[e>>16+uint32(bitbuf)&(1<<(e>>8&31)-1)]
		}
		n = e & 15
		if n == 0 {
			return fmt.Errorf("%w: invalid distance code", errCorrupt)
		}
		bitbuf >>= n
		bitsleft -= uint(n)
		xb = e >> 8 & 31
		dist := int(e>>16) + int(bitbuf&(1<<xb-1))
		bitbuf >>= xb
		bitsleft -= uint(xb)
		if dist > op {
			if !f.markers {
				return fmt.Errorf("%w: distance %d beyond the %d bytes decoded", errCorrupt, dist, op)
			}
			markerCopy(buf, op, dist, length)
		} else {
			copyMatch(buf, op, dist, length)
		}
		op += length
	}
}

// slowSymbol decodes one symbol near the end of the input or output
// buffer, with full checks; done reports the end of the block.
func (f *inflater[T]) slowSymbol(lt, dt []uint32) (done bool, err error) {
	f.refill()
	e := lt[f.bitbuf&(1<<litlenBits-1)]
	if e&entSub != 0 {
		f.take(litlenBits)
		e = lt[e>>16+uint32(f.bitbuf)&(1<<(e>>8&31)-1)]
	}
	if e&15 == 0 {
		return false, fmt.Errorf("%w: invalid literal/length code", errCorrupt)
	}
	f.take(uint(e & 15))
	switch {
	case e&entLiteral != 0:
		if err := f.grow(1); err != nil {
			return false, err
		}
		f.out = append(f.out, T(e>>16))
	case e&entEOB != 0:
		done = true
	default:
		length := int(e>>16) + int(f.take(uint(e>>8&31)))
		f.refill()
		e = dt[f.bitbuf&(1<<distBits-1)]
		if e&entSub != 0 {
			f.take(distBits)
			e = dt[e>>16+uint32(f.bitbuf)&(1<<(e>>8&31)-1)]
		}
		if e&15 == 0 {
			return false, fmt.Errorf("%w: invalid distance code", errCorrupt)
		}
		f.take(uint(e & 15))
		dist := int(e>>16) + int(f.take(uint(e>>8&31)))
		if dist > len(f.out) && !f.markers {
			return false, fmt.Errorf("%w: distance %d beyond the %d bytes decoded", errCorrupt, dist, len(f.out))
		}
		if err := f.grow(length); err != nil {
			return false, err
		}
		op := len(f.out)
		f.out = f.out[:op+length]
		markerCopy(f.out, op, dist, length)
	}
	if f.overrun() {
		return false, errInputEnd
	}
	return done, nil
}

// copyMatch copies length symbols from dist back to buf[op:] (dist <=
// op). It may write up to 8 symbols beyond op+length, which the caller
// guarantees fit.
func copyMatch[T symbol](buf []T, op, dist, length int) {
	end := op + length
	switch {
	case dist >= 8:
		for src := op - dist; op < end; op, src = op+8, src+8 {
			*(*[8]T)(buf[op : op+8]) = *(*[8]T)(buf[src : src+8])
		}
	case dist == 1:
		var run [8]T
		for i := range run {
			run[i] = buf[op-1]
		}
		for ; op < end; op += 8 {
			*(*[8]T)(buf[op : op+8]) = run
		}
	default:
		for ; op < end; op++ {
			buf[op] = buf[op-dist]
		}
	}
}

// markerCopy copies a match symbol by symbol; positions before the start
// of buf become window markers 256 + (32768 + position).
func markerCopy[T symbol](buf []T, op, dist, length int) {
	for i := op; i < op+length; i++ {
		if src := i - dist; src >= 0 {
			buf[i] = buf[src]
		} else {
			buf[i] = T(256 + 32768 + src)
		}
	}
}
