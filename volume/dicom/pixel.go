package dicom

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// PixelInfo describes the stored pixels of a data set.
type PixelInfo struct {
	Rows, Columns  int
	Frames         int
	Samples        int // samples per pixel; only 1 (grey) is decoded
	BitsAllocated  int
	BitsStored     int
	HighBit        int
	Signed         bool // PixelRepresentation 1: two's complement
	TransferSyntax string
	Photometric    string
}

// FrameLen returns the number of pixels in one frame.
func (pi PixelInfo) FrameLen() int { return pi.Rows * pi.Columns }

// Pixels returns the image attributes of ds, checked for consistency.
func (ds *DataSet) Pixels() (PixelInfo, error) {
	pi := PixelInfo{
		Rows:           ds.Int(TagRows, 0),
		Columns:        ds.Int(TagColumns, 0),
		Frames:         ds.Int(TagNumberOfFrames, 1),
		Samples:        ds.Int(TagSamplesPerPixel, 1),
		BitsAllocated:  ds.Int(TagBitsAllocated, 0),
		TransferSyntax: ds.TransferSyntax,
		Photometric:    ds.String(TagPhotometricInterpretation),
	}
	pi.BitsStored = ds.Int(TagBitsStored, pi.BitsAllocated)
	pi.HighBit = ds.Int(TagHighBit, pi.BitsStored-1)
	pi.Signed = ds.Int(TagPixelRepresentation, 0) == 1
	if ds.Get(TagPixelData) == nil {
		return pi, fmt.Errorf("%w: no Pixel Data (7FE0,0010)", ErrNoImage)
	}
	if !decodable(pi.TransferSyntax) {
		return pi, fmt.Errorf("%w: pixel data in %s (%s); decode to a native or lossless JPEG/RLE syntax first (e.g. gdcmconv --raw)",
			ErrUnsupported, TransferSyntaxName(pi.TransferSyntax), pi.TransferSyntax)
	}
	if pi.Rows <= 0 || pi.Columns <= 0 || pi.Rows > 65535 || pi.Columns > 65535 {
		return pi, fmt.Errorf("%w: image of %d rows × %d columns", ErrMalformed, pi.Rows, pi.Columns)
	}
	if pi.Frames <= 0 {
		pi.Frames = 1
	}
	if pi.Samples != 1 {
		return pi, fmt.Errorf("%w: %d samples per pixel (%s); only greyscale (1) is decoded", ErrUnsupported, pi.Samples, pi.Photometric)
	}
	if pi.BitsAllocated != 8 && pi.BitsAllocated != 16 {
		return pi, fmt.Errorf("%w: %d bits allocated; 8 and 16 are decoded", ErrUnsupported, pi.BitsAllocated)
	}
	if pi.BitsStored <= 0 || pi.BitsStored > pi.BitsAllocated || pi.HighBit < pi.BitsStored-1 || pi.HighBit >= pi.BitsAllocated {
		return pi, fmt.Errorf("%w: bits stored %d, high bit %d with %d bits allocated", ErrMalformed, pi.BitsStored, pi.HighBit, pi.BitsAllocated)
	}
	return pi, nil
}

// checkBudget refuses frames whose decoded size exceeds max bytes.
func (pi PixelInfo) checkBudget(max int64) error {
	n := int64(pi.Rows) * int64(pi.Columns) * int64(pi.Frames)
	if n*6 > max { // raw 2 bytes + float32 4 bytes per pixel
		return fmt.Errorf("%w: %d frames of %d×%d pixels exceed the budget of %d bytes", ErrTooLarge, pi.Frames, pi.Rows, pi.Columns, max)
	}
	return nil
}

// DecodeFrames decodes every frame into stored values (before any
// rescale), as float32 in row-major order (column fastest), frame after
// frame. Values are masked to BitsStored below HighBit and sign-extended
// when PixelRepresentation is 1.
func (ds *DataSet) DecodeFrames(opts *Options) ([]float32, PixelInfo, error) {
	pi, err := ds.Pixels()
	if err != nil {
		return nil, pi, err
	}
	if err := pi.checkBudget(opts.maxBytes()); err != nil {
		return nil, pi, err
	}
	if err := ds.checkPixelBytes(pi); err != nil {
		return nil, pi, err
	}
	out := make([]float32, pi.FrameLen()*pi.Frames)
	return out, pi, ds.decodeInto(out, pi)
}

// checkPixelBytes refuses pixel data too short for the declared image
// before anything is allocated for it: native data must hold every byte;
// compressed data at least one bit per sample (lossless JPEG) or one byte
// per 64 (RLE, whose longest run is 128 bytes from 2).
func (ds *DataSet) checkPixelBytes(pi PixelInfo) error {
	el := ds.Get(TagPixelData)
	if el == nil {
		return fmt.Errorf("%w: no Pixel Data (7FE0,0010)", ErrNoImage)
	}
	samples := int64(pi.FrameLen()) * int64(pi.Frames)
	var have int64
	for _, f := range el.Fragments {
		have += int64(len(f))
	}
	switch pi.TransferSyntax {
	case RLELossless:
		if have*64 < samples*int64(pi.BitsAllocated/8) {
			return fmt.Errorf("%w: %d bytes of RLE data cannot hold %d frames of %d×%d", ErrTruncated, have, pi.Frames, pi.Rows, pi.Columns)
		}
	case JPEGLosslessSV1, JPEGLosslessProcess14:
		if have*8 < samples {
			return fmt.Errorf("%w: %d bytes of lossless JPEG data cannot hold %d frames of %d×%d", ErrTruncated, have, pi.Frames, pi.Rows, pi.Columns)
		}
	default:
		if el.Fragments == nil && int64(len(el.Value)) < samples*int64(pi.BitsAllocated/8) {
			return fmt.Errorf("%w: pixel data holds %d bytes, %d frames of %d×%d at %d bits need %d",
				ErrTruncated, len(el.Value), pi.Frames, pi.Rows, pi.Columns, pi.BitsAllocated, samples*int64(pi.BitsAllocated/8))
		}
	}
	return nil
}

// decodeInto decodes every frame into out (len FrameLen·Frames).
func (ds *DataSet) decodeInto(out []float32, pi PixelInfo) error {
	d, err := ds.frameDecoder(pi)
	if err != nil {
		return err
	}
	n := pi.FrameLen()
	for f := 0; f < pi.Frames; f++ {
		if err := d.frame(f, out[f*n:(f+1)*n]); err != nil {
			return err
		}
	}
	return nil
}

// frameDecoder decodes single frames of one data set, so that a series
// takes only the frames it needs, straight into its volume.
type frameDecoder struct {
	pi     PixelInfo
	el     *Element
	big    bool
	frames [][]byte // encapsulated: one stream per frame
	tmp    []uint16
}

func (ds *DataSet) frameDecoder(pi PixelInfo) (*frameDecoder, error) {
	if err := ds.checkPixelBytes(pi); err != nil {
		return nil, err
	}
	el := ds.Get(TagPixelData)
	d := &frameDecoder{pi: pi, el: el, big: ds.BigEndian && el.VR != "OB"}
	switch ts := pi.TransferSyntax; ts {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, "":
		if el.Fragments != nil {
			return nil, fmt.Errorf("%w: encapsulated pixel data in native transfer syntax %s", ErrMalformed, TransferSyntaxName(ts))
		}
	case RLELossless, JPEGLosslessSV1, JPEGLosslessProcess14:
		frames, err := splitFrames(el, pi, ts)
		if err != nil {
			return nil, err
		}
		d.frames = frames
		d.tmp = make([]uint16, pi.FrameLen())
	default:
		return nil, fmt.Errorf("%w: pixel data in %s (%s); decode to a native or lossless JPEG/RLE syntax first (e.g. gdcmconv --raw)",
			ErrUnsupported, TransferSyntaxName(ts), ts)
	}
	return d, nil
}

// frame decodes frame f into dst (len FrameLen).
func (d *frameDecoder) frame(f int, dst []float32) error {
	pi := d.pi
	n := pi.FrameLen()
	if f < 0 || f >= pi.Frames || len(dst) != n {
		return fmt.Errorf("%w: frame %d of %d frames", ErrMalformed, f, pi.Frames)
	}
	if d.frames == nil {
		bpp := pi.BitsAllocated / 8
		nativeFrame(dst, d.el.Value[f*n*bpp:], pi, d.big)
		return nil
	}
	var err error
	if pi.TransferSyntax == RLELossless {
		err = decodeRLE(d.frames[f], pi, d.tmp)
	} else {
		err = decodeJPEGLossless(d.frames[f], pi, d.tmp)
	}
	if err != nil {
		return fmt.Errorf("frame %d (%s): %w", f, TransferSyntaxName(pi.TransferSyntax), err)
	}
	for i, v := range d.tmp {
		dst[i] = storedValue(uint32(v), pi)
	}
	return nil
}

// storedValue applies BitsStored/HighBit and the sign to a raw sample.
func storedValue(raw uint32, pi PixelInfo) float32 {
	shift := uint(pi.HighBit + 1 - pi.BitsStored)
	v := (raw >> shift) & (1<<uint(pi.BitsStored) - 1)
	if pi.Signed && v&(1<<uint(pi.BitsStored-1)) != 0 {
		return float32(int32(v) - int32(1)<<uint(pi.BitsStored))
	}
	return float32(v)
}

func nativeFrame(dst []float32, src []byte, pi PixelInfo, big bool) {
	simple := pi.HighBit == pi.BitsStored-1 && pi.BitsStored == pi.BitsAllocated
	switch {
	case pi.BitsAllocated == 8:
		for i := range dst {
			if simple {
				if pi.Signed {
					dst[i] = float32(int8(src[i]))
				} else {
					dst[i] = float32(src[i])
				}
				continue
			}
			dst[i] = storedValue(uint32(src[i]), pi)
		}
	case simple && !big:
		src = src[:2*len(dst)]
		if pi.Signed {
			for i := range dst {
				dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:])))
			}
		} else {
			for i := range dst {
				dst[i] = float32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		}
	default:
		var bo binary.ByteOrder = binary.LittleEndian
		if big {
			bo = binary.BigEndian
		}
		for i := range dst {
			dst[i] = storedValue(uint32(bo.Uint16(src[2*i:])), pi)
		}
	}
}

// splitFrames returns one byte stream per frame of encapsulated pixel
// data, using the basic offset table when present, else one fragment per
// frame, else (JPEG) a new frame at each fragment that starts with SOI.
func splitFrames(el *Element, pi PixelInfo, ts string) ([][]byte, error) {
	if len(el.Fragments) < 2 {
		return nil, fmt.Errorf("%w: %s pixel data needs a basic offset table and at least one fragment, found %d items",
			ErrMalformed, TransferSyntaxName(ts), len(el.Fragments))
	}
	bot, frags := el.Fragments[0], el.Fragments[1:]
	if pi.Frames == 1 {
		if len(frags) == 1 {
			return frags, nil
		}
		return [][]byte{bytes.Join(frags, nil)}, nil
	}
	if len(frags) == pi.Frames {
		return frags, nil
	}
	if len(bot) == 4*pi.Frames {
		// Offsets from the first fragment's item tag.
		starts := make([]int, len(frags))
		off := 0
		for i, f := range frags {
			starts[i] = off
			off += 8 + len(f)
		}
		out := make([][]byte, pi.Frames)
		fi := 0
		for k := 0; k < pi.Frames; k++ {
			o := int(binary.LittleEndian.Uint32(bot[4*k:]))
			end := off
			if k+1 < pi.Frames {
				end = int(binary.LittleEndian.Uint32(bot[4*k+4:]))
			}
			if end < o {
				return nil, fmt.Errorf("%w: basic offset table is not increasing at frame %d", ErrMalformed, k)
			}
			for fi < len(frags) && starts[fi] < o {
				fi++
			}
			if fi >= len(frags) || starts[fi] != o {
				return nil, fmt.Errorf("%w: basic offset table entry %d (%d) is not at a fragment start", ErrMalformed, k, o)
			}
			var parts [][]byte
			for j := fi; j < len(frags) && starts[j] < end; j++ {
				parts = append(parts, frags[j])
			}
			out[k] = bytes.Join(parts, nil)
		}
		return out, nil
	}
	if ts != RLELossless {
		var out [][]byte
		for _, f := range frags {
			if len(f) >= 2 && f[0] == 0xFF && f[1] == 0xD8 || len(out) == 0 {
				out = append(out, append([]byte(nil), f...))
			} else {
				out[len(out)-1] = append(out[len(out)-1], f...)
			}
		}
		if len(out) == pi.Frames {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %d fragments cannot be split into %d frames without a basic offset table", ErrMalformed, len(frags), pi.Frames)
}

// decodeRLE decodes one RLE Lossless frame (DICOM PS3.5 Annex G) into dst.
func decodeRLE(b []byte, pi PixelInfo, dst []uint16) error {
	if len(b) < 64 {
		return fmt.Errorf("%w: RLE header needs 64 bytes, frame has %d", ErrMalformed, len(b))
	}
	nseg := int(binary.LittleEndian.Uint32(b))
	bpp := pi.BitsAllocated / 8
	if nseg != bpp {
		return fmt.Errorf("%w: RLE frame has %d segments, %d-bit greyscale needs %d", ErrMalformed, nseg, pi.BitsAllocated, bpp)
	}
	n := len(dst)
	for i := range dst {
		dst[i] = 0
	}
	plane := make([]byte, n)
	for s := 0; s < nseg; s++ {
		start := int(binary.LittleEndian.Uint32(b[4+4*s:]))
		end := len(b)
		if s+1 < nseg {
			end = int(binary.LittleEndian.Uint32(b[8+4*s:]))
		}
		if start < 64 || end > len(b) || start > end {
			return fmt.Errorf("%w: RLE segment %d spans bytes %d..%d of a %d-byte frame", ErrMalformed, s, start, end, len(b))
		}
		if err := unpackBits(b[start:end], plane); err != nil {
			return fmt.Errorf("RLE segment %d: %w", s, err)
		}
		shift := uint(8 * (nseg - 1 - s)) // segment 0 holds the most significant bytes
		for i, v := range plane {
			dst[i] |= uint16(v) << shift
		}
	}
	return nil
}

// unpackBits decodes a PackBits segment into exactly len(dst) bytes.
func unpackBits(src, dst []byte) error {
	o := 0
	for i := 0; i < len(src) && o < len(dst); {
		c := int(int8(src[i]))
		i++
		switch {
		case c >= 0:
			n := c + 1
			if i+n > len(src) || o+n > len(dst) {
				return fmt.Errorf("%w: literal run of %d bytes overruns the segment", ErrMalformed, n)
			}
			copy(dst[o:], src[i:i+n])
			i += n
			o += n
		case c >= -127:
			n := 1 - c
			if i >= len(src) || o+n > len(dst) {
				return fmt.Errorf("%w: replicate run of %d bytes overruns the segment", ErrMalformed, n)
			}
			v := src[i]
			i++
			for k := 0; k < n; k++ {
				dst[o+k] = v
			}
			o += n
		}
	}
	if o != len(dst) {
		return fmt.Errorf("%w: segment decodes to %d bytes, the frame needs %d", ErrMalformed, o, len(dst))
	}
	return nil
}

// decodable reports whether DecodeFrames handles pixel data in the
// transfer syntax ts.
func decodable(ts string) bool {
	switch ts {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, "",
		RLELossless, JPEGLosslessSV1, JPEGLosslessProcess14:
		return true
	}
	return false
}
