package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"
)

// Two-way parallel decoding of one DEFLATE stream, after the speculative
// method of Kerbiriou & Chikhi ("Parallel decompression of gzip-compressed
// files and random access to DNA sequences", 2019) and Knespel & Brunst
// (rapidgzip, 2023). While the main decoder works from the start, a second
// one looks for a dynamic-Huffman block header from the middle of the
// input, validates the guess by strict header checks and by decoding the
// block, then decodes to the end of the stream with 16-bit symbols in which
// back-references to the unknown 32 KiB before its start are markers. When
// the main decoder reaches that block boundary it stops, and the markers are
// replaced by the bytes it produced. Any doubt (no start found, the main
// decoder passing the guess, a decoding error) falls back to the main
// decoder alone, and the gzip CRC-32 still checks the result, so
// speculation affects speed only.

const (
	// parallelMinInput is the compressed size below which decoding stays
	// sequential.
	parallelMinInput = 1 << 20
	// searchSpan bounds how far past the middle a block start is searched.
	searchSpan = 1 << 20
	windowSize = 32768
)

// handoff coordinates the main decoder with the speculative one.
type handoff struct {
	start atomic.Int64 // bit position of the speculative start, -1 if none
	aPos  atomic.Int64 // latest block boundary of the main decoder
	done  atomic.Bool  // the main decoder no longer needs the speculation
}

// reached records the main decoder's position (a block boundary) and
// reports whether the speculative decoder started there.
func (h *handoff) reached(pos int64) bool {
	h.aPos.Store(pos)
	return h.start.Load() == pos
}

// abandoned reports whether the main decoder is already past pos or done.
func (h *handoff) abandoned(pos int64) bool {
	return h.done.Load() || h.aPos.Load() > pos
}

var errGiveUp = errors.New("inflate: speculative decoding abandoned")

// symbolPool recycles the speculative decoder's output buffers, which are
// garbage as soon as they are joined.
var symbolPool sync.Pool

// member is the result of decoding one gzip member's DEFLATE stream.
type member struct {
	out      []byte
	end      int    // input position after the stream
	crc      uint32 // CRC-32 of out
	parallel bool   // produced by the two-way path
}

// inflateMember decodes the DEFLATE stream at in[p:] into a buffer of at
// most limit bytes (capacity hint), in parallel when the input is large and
// two CPUs are available, and checksums the output. The output goes to
// reuse when it is large enough (its capacity is cut to limit, which the
// decoder enforces only when growing). When the main decoder of the
// two-way path has its part, prefix (if not nil) is called with it, while
// the other part is still being decoded: those first bytes are final
// whatever happens next (or the stream is corrupt).
func inflateMember(in []byte, p, limit, hint int, reuse []byte, prefix func([]byte)) (member, error) {
	out := reuse[:0:min(cap(reuse), limit)]
	if cap(out) < min(limit, hint+64) {
		out = make([]byte, 0, min(limit, hint+64))
	}
	a := inflater[byte]{in: in, ip: p, limit: limit, out: out}
	alone := func() (member, error) {
		a.sync = nil
		_, err := a.inflate()
		if err != nil {
			return member{}, err
		}
		return member{out: a.out, end: a.alignedPos(), crc: crc32.ChecksumIEEE(a.out)}, nil
	}
	if len(in)-p < parallelMinInput || runtime.GOMAXPROCS(0) < 2 {
		return alone()
	}
	h := &handoff{}
	h.start.Store(-1)
	a.sync = h
	mid := p + (len(in)-p)/2
	bHint := int(float64(hint)*float64(len(in)-mid)/float64(len(in)-p)*1.25) + 1<<16
	var b *inflater[uint16]
	var bErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b, bErr = speculate(in, mid, h, limit, min(limit, bHint))
	}()
	stopped, err := a.inflate()
	if !stopped {
		h.done.Store(true)
		wg.Wait()
		if err != nil {
			return member{}, err
		}
		return member{out: a.out, end: a.alignedPos(), crc: crc32.ChecksumIEEE(a.out)}, nil
	}
	crcA := crc32.ChecksumIEEE(a.out) // while the speculative decoder finishes
	if prefix != nil {
		prefix(a.out)
	}
	wg.Wait()
	if b != nil {
		defer symbolPool.Put(b.out[:0])
	}
	if bErr == nil {
		if out, crcB, ok := join(a.out, b.out, limit); ok {
			crc := crc32Combine(crcA, crcB, int64(len(b.out)))
			return member{out: out, end: b.alignedPos(), crc: crc, parallel: true}, nil
		}
	}
	return alone() // resume alone from the handoff point
}

// speculate finds a block start after byte mid and decodes from there to
// the end of the stream with window markers.
func speculate(in []byte, mid int, h *handoff, limit, hint int) (*inflater[uint16], error) {
	buf, _ := symbolPool.Get().([]uint16)
	if cap(buf) < hint {
		buf = make([]uint16, 0, hint)
	}
	b := &inflater[uint16]{in: in, limit: limit, markers: true, out: buf}
	end := min(len(in)-16, mid+searchSpan)
	for pos := int64(mid) * 8; pos < int64(end)*8; pos++ {
		if pos&4095 == 0 && h.abandoned(pos) {
			return nil, errGiveUp
		}
		w := binary.LittleEndian.Uint64(in[pos>>3:]) >> (pos & 7)
		// BFINAL = 0, BTYPE = 2 (dynamic), HLIT <= 29, HDIST <= 29.
		if w&7 != 4 || (w>>3)&31 > 29 || (w>>8)&31 > 29 || !clComplete(in, pos, w) {
			continue
		}
		if b.tryStart(pos) {
			h.start.Store(pos)
			return b, b.finish(h, pos)
		}
	}
	return nil, errGiveUp
}

// clComplete reports whether the code-length code of a dynamic block
// header at bit pos (w = the 64 bits from pos) is complete, a cheap test
// that rejects most guessed positions without building any table.
func clComplete(in []byte, pos int64, w uint64) bool {
	n := int(w>>13&15) + 4
	p := pos + 17
	lens := binary.LittleEndian.Uint64(in[p>>3:]) >> (p & 7) // >= 57 bits = 19 lengths
	left := 128
	for i := 0; i < n; i++ {
		if l := lens >> (3 * i) & 7; l != 0 {
			left -= 128 >> l
		}
	}
	return left == 0
}

// tryStart decodes, with strict checks, the block that would start at bit
// pos, and reports whether it is valid.
func (b *inflater[T]) tryStart(pos int64) bool {
	b.ip, b.bitbuf, b.bitsleft, b.out = int(pos>>3), 0, 0, b.out[:0]
	b.refill()
	b.take(uint(pos&7) + 3)
	b.strict = true
	defer func() { b.strict = false }()
	return b.dynamicTables() == nil && b.huffmanBlock(b.litlen, b.dist) == nil && !b.overrun() && len(b.out) > 0
}

// finish decodes the blocks after a validated start, giving up when the
// main decoder has gone past start.
func (b *inflater[T]) finish(h *handoff, start int64) error {
	for {
		if h.abandoned(start) {
			return errGiveUp
		}
		b.refill()
		final := b.take(1)
		var err error
		switch b.take(2) {
		case 0:
			err = b.stored()
		case 1:
			err = b.huffmanBlock(fixedHuffman())
		case 2:
			if err = b.dynamicTables(); err == nil {
				err = b.huffmanBlock(b.litlen, b.dist)
			}
		default:
			err = fmt.Errorf("%w: reserved block type 3", errCorrupt)
		}
		if err != nil {
			return err
		}
		if b.overrun() {
			return errInputEnd
		}
		if final == 1 {
			return nil
		}
	}
}

// join appends the speculative output to the main output, replacing the
// window markers by the bytes they stand for, and returns the CRC-32 of
// the appended bytes. It fails when a has less than the 32 KiB window the
// markers may point into or the total exceeds limit.
func join(a []byte, b []uint16, limit int) ([]byte, uint32, bool) {
	la := len(a)
	// With a full window before b every marker has its byte; the main
	// decoder hands off far later than 32 KiB in practice.
	if la+len(b) > limit || la < windowSize {
		return nil, 0, false
	}
	if la+len(b) > cap(a) {
		grown := make([]byte, la, la+len(b)+64)
		copy(grown, a)
		a = grown
	}
	out := a[:la+len(b)]
	lut := symbolTable(out[la-windowSize : la])
	resolve := func(lo, hi int) uint32 {
		dst := out[la+lo : la+hi]
		resolveSymbols(dst, b[lo:hi], lut)
		return crc32.ChecksumIEEE(dst)
	}
	half := len(b) / 2
	var wg sync.WaitGroup
	var crc2 uint32
	wg.Add(1)
	go func() { defer wg.Done(); crc2 = resolve(half, len(b)) }()
	crc1 := resolve(0, half)
	wg.Wait()
	return out, crc32Combine(crc1, crc2, int64(len(b)-half)), true
}

// symbolTable maps every 16-bit symbol of the speculative decoder to its
// byte: literals to themselves, window markers 256+d to window[d]. Indexing
// by a uint16 needs no bounds check, and a table lookup has no branch to
// mispredict where literals and markers alternate.
func symbolTable(window []byte) *[1 << 16]byte {
	lut := new([1 << 16]byte)
	for i := range 256 {
		lut[i] = byte(i)
	}
	copy(lut[256:256+windowSize], window)
	return lut
}

// resolveSymbols writes the bytes of symbols src to dst (same length),
// 8 at a time.
func resolveSymbols(dst []byte, src []uint16, lut *[1 << 16]byte) {
	i := 0
	for ; i+8 <= len(src) && i+8 <= len(dst); i += 8 {
		s := src[i : i+8 : i+8]
		w := uint64(lut[s[0]]) | uint64(lut[s[1]])<<8 | uint64(lut[s[2]])<<16 | uint64(lut[s[3]])<<24 |
			uint64(lut[s[4]])<<32 | uint64(lut[s[5]])<<40 | uint64(lut[s[6]])<<48 | uint64(lut[s[7]])<<56
		binary.LittleEndian.PutUint64(dst[i:], w)
	}
	for ; i < len(src) && i < len(dst); i++ {
		dst[i] = lut[src[i]]
	}
}
