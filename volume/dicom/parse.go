package dicom

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

// Tag is a DICOM attribute tag: group in the high 16 bits, element in the
// low 16 bits, written (gggg,eeee) as in the standard.
type Tag uint32

// NewTag returns the tag (group,elem).
func NewTag(group, elem uint16) Tag { return Tag(uint32(group)<<16 | uint32(elem)) }

// Group returns the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// String formats the tag as (gggg,eeee).
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.Group(), t.Element()) }

// Private reports whether the tag belongs to an odd (private) group.
func (t Tag) Private() bool { return t.Group()&1 == 1 }

// Transfer syntax UIDs this package knows by name.
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2"
	JPEGBaselineProcess1           = "1.2.840.10008.1.2.4.50"
	JPEGExtendedProcess2_4         = "1.2.840.10008.1.2.4.51"
	JPEGLosslessProcess14          = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1                = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless                 = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless             = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless               = "1.2.840.10008.1.2.4.90"
	JPEG2000                       = "1.2.840.10008.1.2.4.91"
	RLELossless                    = "1.2.840.10008.1.2.5"
)

// transferSyntaxNames names the transfer syntaxes for error messages.
var transferSyntaxNames = map[string]string{
	ImplicitVRLittleEndian:         "Implicit VR Little Endian",
	ExplicitVRLittleEndian:         "Explicit VR Little Endian",
	DeflatedExplicitVRLittleEndian: "Deflated Explicit VR Little Endian",
	ExplicitVRBigEndian:            "Explicit VR Big Endian",
	JPEGBaselineProcess1:           "JPEG Baseline (Process 1, lossy)",
	JPEGExtendedProcess2_4:         "JPEG Extended (Process 2 & 4, lossy)",
	JPEGLosslessProcess14:          "JPEG Lossless, Non-Hierarchical (Process 14)",
	JPEGLosslessSV1:                "JPEG Lossless, First-Order Prediction (Process 14, SV1)",
	JPEGLSLossless:                 "JPEG-LS Lossless",
	JPEGLSNearLossless:             "JPEG-LS Near-Lossless",
	JPEG2000Lossless:               "JPEG 2000 Lossless",
	JPEG2000:                       "JPEG 2000",
	"1.2.840.10008.1.2.4.92":       "JPEG 2000 Part 2 Multi-component Lossless",
	"1.2.840.10008.1.2.4.93":       "JPEG 2000 Part 2 Multi-component",
	"1.2.840.10008.1.2.4.201":      "High-Throughput JPEG 2000 Lossless",
	"1.2.840.10008.1.2.4.202":      "High-Throughput JPEG 2000 RPCL Lossless",
	"1.2.840.10008.1.2.4.203":      "High-Throughput JPEG 2000",
	"1.2.840.10008.1.2.4.100":      "MPEG2",
	"1.2.840.10008.1.2.4.102":      "MPEG-4 AVC/H.264",
	RLELossless:                    "RLE Lossless",
}

// TransferSyntaxName returns the standard's name of a transfer syntax UID,
// or the UID itself when it is not known.
func TransferSyntaxName(uid string) string {
	if n, ok := transferSyntaxNames[uid]; ok {
		return n
	}
	return "unknown transfer syntax " + uid
}

// Element is one data element. Value holds the raw bytes in the byte order
// of the data set (see DataSet.BigEndian) and aliases the file buffer;
// sequences hold Items instead, and encapsulated pixel data Fragments (the
// basic offset table first, as stored).
type Element struct {
	Tag       Tag
	VR        string
	Value     []byte
	Items     []*DataSet
	Fragments [][]byte
	// Undefined is true when the element was encoded with undefined length.
	Undefined bool
}

// DataSet is a parsed data set: the top level of a file or one item of a
// sequence. Elements are sorted by tag.
type DataSet struct {
	Elements []*Element
	// BigEndian tells how the numeric values of the elements are stored.
	BigEndian bool
	// TransferSyntax is the UID from the file meta information (top level
	// only; items inherit their file's).
	TransferSyntax string
	// PixelOffset is the file offset of the Pixel Data element when parsing
	// stopped there (Options.StopAtPixelData), else -1.
	PixelOffset int64
}

// Get returns the element with tag t, or nil.
func (ds *DataSet) Get(t Tag) *Element {
	if ds == nil {
		return nil
	}
	e := ds.Elements
	i := sort.Search(len(e), func(i int) bool { return e[i].Tag >= t })
	if i < len(e) && e[i].Tag == t {
		return e[i]
	}
	return nil
}

// DefaultMaxBytes bounds the memory one file may take (raw, inflated and
// decoded pixels) when Options.MaxBytes is zero: 1 GiB.
const DefaultMaxBytes int64 = 1 << 30

// DefaultMaxDepth bounds sequence nesting when Options.MaxDepth is zero.
const DefaultMaxDepth = 16

// Options bound what a reader may allocate. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the memory of one file: its bytes, its inflated data
	// set and its decoded pixels; for a series, the voxels of the volume.
	// Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxDepth bounds the nesting of sequences. Zero means DefaultMaxDepth.
	MaxDepth int
	// PhilipsDisplayScaling keeps the display values (RescaleSlope and
	// RescaleIntercept) of Philips images. By default the private scale
	// slope gives the "precise" floating-point values, as dcm2niix writes
	// them by default.
	PhilipsDisplayScaling bool
	// StopAtPixelData ends parsing at the Pixel Data element, recording
	// only its position (DataSet.PixelOffset); used when scanning headers.
	StopAtPixelData bool
}

func (o *Options) maxBytes() int64 {
	if o == nil || o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

func (o *Options) philipsDisplay() bool { return o != nil && o.PhilipsDisplayScaling }

func (o *Options) maxDepth() int {
	if o == nil || o.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

var (
	tagItem          = NewTag(0xFFFE, 0xE000)
	tagItemDelim     = NewTag(0xFFFE, 0xE00D)
	tagSequenceDelim = NewTag(0xFFFE, 0xE0DD)
	tagPixelData     = NewTag(0x7FE0, 0x0010)
	tagTransferSyn   = NewTag(0x0002, 0x0010)
)

const undefinedLength = 0xFFFFFFFF

// ReadFile reads and parses a DICOM file, bounded by opts.MaxBytes.
func ReadFile(path string, opts *Options) (*DataSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > opts.maxBytes() {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the budget of %d", ErrTooLarge, path, st.Size(), opts.maxBytes())
	}
	buf := make([]byte, st.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrTruncated, path, err)
	}
	ds, err := Parse(buf, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}

// Read reads a whole DICOM stream (at most opts.MaxBytes) and parses it.
func Read(r io.Reader, opts *Options) (*DataSet, error) {
	max := opts.maxBytes()
	buf, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > max {
		return nil, fmt.Errorf("%w: stream longer than the budget of %d bytes", ErrTooLarge, max)
	}
	return Parse(buf, opts)
}

// Parse parses a DICOM Part 10 file (128-byte preamble, "DICM", file meta
// information) or, failing that, a bare data set in Implicit or Explicit VR
// Little Endian. Element values alias buf.
func Parse(buf []byte, opts *Options) (*DataSet, error) {
	p := parser{max: opts.maxBytes(), maxDepth: opts.maxDepth(), stopPixel: opts != nil && opts.StopAtPixelData, pixelOffset: -1}
	pos := 0
	var meta *DataSet
	if len(buf) >= 132 && string(buf[128:132]) == "DICM" {
		pos = 132
	} else if len(buf) >= 4 && string(buf[0:4]) == "DICM" {
		pos = 4
	}
	ts := ""
	if pos > 0 || (len(buf) >= 6 && buf[0] == 2 && buf[1] == 0 && isUpper(buf[4]) && isUpper(buf[5])) {
		// File meta information: always Explicit VR Little Endian, group 2.
		p.explicit, p.big = true, false
		m := &DataSet{}
		end, err := p.parseItems(buf, pos, len(buf), m, 0, func(t Tag) bool { return t.Group() != 2 })
		if err != nil {
			return nil, fmt.Errorf("file meta information: %w", err)
		}
		meta = m
		pos = end
		if e := m.Get(tagTransferSyn); e != nil {
			ts = trimString(e.Value)
		}
		if ts == "" {
			// Some writers omit it: guess from the first element below.
			ts = guessSyntax(buf[pos:])
		}
	} else {
		if len(buf) < 8 {
			return nil, fmt.Errorf("%w: %d bytes, no DICM prefix", ErrNotDICOM, len(buf))
		}
		// Bare data set: guess the encoding from the first element, and
		// insist that it looks like a low-group tag.
		g := binary.LittleEndian.Uint16(buf)
		ts = guessSyntax(buf)
		if ts == ExplicitVRBigEndian {
			g = binary.BigEndian.Uint16(buf)
		}
		if g == 0 || g > 0x0010 {
			return nil, fmt.Errorf("%w: no DICM prefix and no DICOM header group at the start", ErrNotDICOM)
		}
	}
	ds := &DataSet{TransferSyntax: ts}
	body := buf[pos:]
	switch ts {
	case ImplicitVRLittleEndian:
		p.explicit, p.big = false, false
	case ExplicitVRBigEndian:
		p.explicit, p.big = true, true
	case DeflatedExplicitVRLittleEndian:
		p.explicit, p.big = true, false
		inflated, err := inflate(body, p.max)
		if err != nil {
			return nil, err
		}
		body = inflated
	default:
		// Explicit VR Little Endian and every encapsulated syntax.
		p.explicit, p.big = true, false
	}
	ds.BigEndian = p.big
	if _, err := p.parseItems(body, 0, len(body), ds, 0, nil); err != nil {
		if !p.explicit || p.big || guessSyntax(body) != ImplicitVRLittleEndian {
			return nil, err
		}
		// The meta information says explicit VR but the data set is
		// implicit (a known writer bug): read it as it is.
		p.explicit, p.elements, p.pixelOffset, p.stopped = false, 0, -1, false
		ds.Elements = nil
		if _, err2 := p.parseItems(body, 0, len(body), ds, 0, nil); err2 != nil {
			return nil, err
		}
	}
	if meta != nil {
		ds.Elements = mergeSorted(meta.Elements, ds.Elements)
	}
	ds.PixelOffset = p.pixelOffset
	if p.pixelOffset >= 0 && ts != DeflatedExplicitVRLittleEndian {
		ds.PixelOffset = p.pixelOffset + int64(pos)
	}
	return ds, nil
}

func inflate(b []byte, max int64) ([]byte, error) {
	zr := flate.NewReader(bytes.NewReader(b))
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: deflated data set: %v", ErrMalformed, err)
	}
	if int64(len(out)) > max {
		return nil, fmt.Errorf("%w: deflated data set inflates past the budget of %d bytes", ErrTooLarge, max)
	}
	return out, nil
}

func mergeSorted(a, b []*Element) []*Element {
	out := make([]*Element, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// longVRs are the explicit VRs with a 2-byte reserved field and a 4-byte
// length.
var longVRs = map[string]bool{"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true,
	"SQ": true, "SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true}

var allVRs = map[string]bool{"AE": true, "AS": true, "AT": true, "CS": true, "DA": true, "DS": true, "DT": true,
	"FL": true, "FD": true, "IS": true, "LO": true, "LT": true, "OB": true, "OD": true, "OF": true, "OL": true,
	"OV": true, "OW": true, "PN": true, "SH": true, "SL": true, "SQ": true, "SS": true, "ST": true, "SV": true,
	"TM": true, "UC": true, "UI": true, "UL": true, "UN": true, "UR": true, "US": true, "UT": true, "UV": true}

func isVR(s string) bool { return allVRs[s] }

type parser struct {
	explicit, big bool
	max           int64
	maxDepth      int
	stopPixel     bool
	pixelOffset   int64
	stopped       bool
	elements      int64 // elements parsed so far, bounded to keep hostile files cheap
}

func (p *parser) u16(b []byte) uint16 {
	if p.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (p *parser) u32(b []byte) uint32 {
	if p.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// parseItems parses elements of buf[pos:end] into ds until end, an item
// delimiter (which it consumes), or stop(tag) is true for the next tag.
// It returns the position after what it consumed.
func (p *parser) parseItems(buf []byte, pos, end int, ds *DataSet, depth int, stop func(Tag) bool) (int, error) {
	if depth > p.maxDepth {
		return 0, fmt.Errorf("%w: sequences nested deeper than %d", ErrTooLarge, p.maxDepth)
	}
	sorted := true
	for pos < end {
		if end-pos < 8 {
			return 0, fmt.Errorf("%w: %d bytes left at offset %d, an element header needs 8", ErrTruncated, end-pos, pos)
		}
		tag := Tag(uint32(p.u16(buf[pos:]))<<16 | uint32(p.u16(buf[pos+2:])))
		if stop != nil && stop(tag) {
			break
		}
		if tag == tagItemDelim {
			pos += 8
			return pos, nil
		}
		if tag == tagItem || tag == tagSequenceDelim {
			return 0, fmt.Errorf("%w: unexpected %v at offset %d outside a sequence", ErrMalformed, tag, pos)
		}
		p.elements++
		if p.elements > p.max/16 {
			return 0, fmt.Errorf("%w: more elements than the budget allows", ErrTooLarge)
		}
		start := pos
		var vr string
		var length uint32
		if p.explicit {
			vr = string(buf[pos+4 : pos+6])
			if longVRs[vr] {
				if end-pos < 12 {
					return 0, fmt.Errorf("%w: element %v header at offset %d", ErrTruncated, tag, pos)
				}
				length = p.u32(buf[pos+8:])
				pos += 12
			} else if isVR(vr) {
				length = uint32(p.u16(buf[pos+6:]))
				pos += 8
			} else {
				return 0, fmt.Errorf("%w: element %v at offset %d has VR %q, not a DICOM VR", ErrMalformed, tag, pos, vr)
			}
		} else {
			vr = implicitVR(tag)
			length = p.u32(buf[pos+4:])
			pos += 8
		}
		el := &Element{Tag: tag, VR: vr}
		if n := len(ds.Elements); n > 0 && ds.Elements[n-1].Tag >= tag {
			sorted = false
		}
		if tag == tagPixelData && p.stopPixel && depth == 0 {
			// Only the image's own pixels: an icon image sequence holds
			// pixel data too.
			p.pixelOffset = int64(start)
			p.stopped = true
			el.Undefined = length == undefinedLength
			ds.Elements = append(ds.Elements, el)
			pos = end
			break
		}
		if length == undefinedLength {
			el.Undefined = true
			switch {
			case tag == tagPixelData:
				frags, next, err := p.parseFragments(buf, pos, end)
				if err != nil {
					return 0, fmt.Errorf("pixel data: %w", err)
				}
				el.Fragments, pos = frags, next
			case vr == "SQ" || vr == "UN" || (!p.explicit):
				// UN of undefined length is a sequence in Implicit VR LE.
				saveExplicit, saveBig := p.explicit, p.big
				if vr == "UN" {
					p.explicit, p.big = false, false
				}
				items, next, err := p.parseSequence(buf, pos, end, true, depth)
				p.explicit, p.big = saveExplicit, saveBig
				if err != nil {
					return 0, fmt.Errorf("sequence %v: %w", tag, err)
				}
				el.VR, el.Items, pos = "SQ", items, next
			default:
				return 0, fmt.Errorf("%w: element %v with VR %s has undefined length", ErrMalformed, tag, vr)
			}
		} else {
			if int64(length) > int64(end-pos) {
				return 0, fmt.Errorf("%w: element %v at offset %d declares %d bytes, only %d left", ErrTruncated, tag, start, length, end-pos)
			}
			val := buf[pos : pos+int(length)]
			if vr == "SQ" && !tag.Private() {
				items, _, err := p.parseSequence(buf, pos, pos+int(length), false, depth)
				if err != nil {
					return 0, fmt.Errorf("sequence %v: %w", tag, err)
				}
				el.Items = items
			} else {
				el.Value = val
			}
			pos += int(length)
		}
		ds.Elements = append(ds.Elements, el)
		if p.stopped {
			break
		}
	}
	if !sorted {
		sort.SliceStable(ds.Elements, func(i, j int) bool { return ds.Elements[i].Tag < ds.Elements[j].Tag })
	}
	return pos, nil
}

// parseSequence parses the items of a sequence in buf[pos:end]; with
// undefined length it stops after the sequence delimiter.
func (p *parser) parseSequence(buf []byte, pos, end int, undefined bool, depth int) ([]*DataSet, int, error) {
	var items []*DataSet
	for pos < end {
		if end-pos < 8 {
			return nil, 0, fmt.Errorf("%w: %d bytes left in a sequence at offset %d", ErrTruncated, end-pos, pos)
		}
		tag := Tag(uint32(p.u16(buf[pos:]))<<16 | uint32(p.u16(buf[pos+2:])))
		length := p.u32(buf[pos+4:])
		pos += 8
		if tag == tagSequenceDelim {
			if !undefined {
				return nil, 0, fmt.Errorf("%w: sequence delimiter in a sequence of defined length", ErrMalformed)
			}
			return items, pos, nil
		}
		if tag != tagItem {
			return nil, 0, fmt.Errorf("%w: %v at offset %d where an item (FFFE,E000) was expected", ErrMalformed, tag, pos-8)
		}
		item := &DataSet{BigEndian: p.big}
		p.elements++
		if length == undefinedLength {
			next, err := p.parseItems(buf, pos, end, item, depth+1, nil)
			if err != nil {
				return nil, 0, err
			}
			pos = next
		} else {
			if int64(length) > int64(end-pos) {
				return nil, 0, fmt.Errorf("%w: item at offset %d declares %d bytes, only %d left", ErrTruncated, pos-8, length, end-pos)
			}
			if _, err := p.parseItems(buf, pos, pos+int(length), item, depth+1, nil); err != nil {
				return nil, 0, err
			}
			pos += int(length)
		}
		items = append(items, item)
	}
	if undefined {
		return nil, 0, fmt.Errorf("%w: sequence of undefined length without a delimiter", ErrTruncated)
	}
	return items, pos, nil
}

// parseFragments parses encapsulated pixel data: items until the sequence
// delimiter. The first fragment is the basic offset table.
func (p *parser) parseFragments(buf []byte, pos, end int) ([][]byte, int, error) {
	var frags [][]byte
	for {
		if end-pos < 8 {
			return nil, 0, fmt.Errorf("%w: encapsulated pixel data without a sequence delimiter", ErrTruncated)
		}
		tag := Tag(uint32(p.u16(buf[pos:]))<<16 | uint32(p.u16(buf[pos+2:])))
		length := p.u32(buf[pos+4:])
		pos += 8
		if tag == tagSequenceDelim {
			return frags, pos, nil
		}
		if tag != tagItem {
			return nil, 0, fmt.Errorf("%w: %v at offset %d where a pixel fragment item was expected", ErrMalformed, tag, pos-8)
		}
		if length == undefinedLength || int64(length) > int64(end-pos) {
			return nil, 0, fmt.Errorf("%w: pixel fragment at offset %d declares %d bytes, %d left", ErrTruncated, pos-8, length, end-pos)
		}
		frags = append(frags, buf[pos:pos+int(length)])
		pos += int(length)
	}
}

// guessSyntax guesses the encoding of a data set from its first element:
// a VR after the tag means explicit VR, in the byte order whose group is a
// plausible header group.
func guessSyntax(b []byte) string {
	if len(b) < 8 {
		return ImplicitVRLittleEndian
	}
	if isUpper(b[4]) && isUpper(b[5]) && isVR(string(b[4:6])) {
		if binary.LittleEndian.Uint16(b) > 0x00FF && binary.BigEndian.Uint16(b) <= 0x00FF {
			return ExplicitVRBigEndian
		}
		return ExplicitVRLittleEndian
	}
	return ImplicitVRLittleEndian
}
