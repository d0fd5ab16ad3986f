package nifti

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Header sizes and the offset of the first voxel when there are no
// extensions (header + 4-byte extender).
const (
	SizeofHdr1 = 348
	SizeofHdr2 = 540
)

// XYZT unit codes (header field xyzt_units: space in bits 0-2, time in 3-5).
const (
	UnitsUnknown = 0
	UnitsMeter   = 1
	UnitsMM      = 2
	UnitsMicron  = 3
	UnitsSec     = 8
	UnitsMsec    = 16
	UnitsUsec    = 24
	UnitsHz      = 32
	UnitsPPM     = 40
	UnitsRads    = 48
)

// Transform codes for qform_code and sform_code.
const (
	XformUnknown     = 0
	XformScannerAnat = 1
	XformAlignedAnat = 2
	XformTalairach   = 3
	XformMNI152      = 4
	XformTemplate    = 5
)

// Header holds every meaningful field of a NIfTI-1 or NIfTI-2 header in
// version-independent form (NIfTI-2 widths: int64 dims, float64 reals), so
// that both versions are read, edited and written through one type. The
// unused ANALYZE 7.5 fields of NIfTI-1 (data_type, db_name, extents,
// session_error, glmax, glmin) are not kept; they are written as zeros
// (regular as 'r').
type Header struct {
	// Version is 1 or 2: the header layout read or to write.
	Version int
	// ByteOrder is the byte order of the header and of the voxel data,
	// detected from sizeof_hdr on read. Nil means little endian on write.
	ByteOrder binary.ByteOrder
	// Pair is true when the magic says the voxels live in a separate .img
	// file ("ni1"/"ni2"). It is set on read and ignored on write.
	Pair bool

	DimInfo uint8
	// Dim is the NIfTI dim array: Dim[0] is the number of dimensions (1-7),
	// Dim[1..Dim[0]] the size along each.
	Dim [8]int64
	// IntentP1..3, IntentCode and IntentName describe what the voxel values
	// mean (statistics, vectors, labels ...).
	IntentP1, IntentP2, IntentP3 float64
	IntentCode                   int32
	IntentName                   string
	Datatype                     Datatype
	// Bitpix is the number of bits per voxel; it must agree with Datatype
	// (0 is tolerated on read and fixed on write).
	Bitpix     int16
	SliceStart int64
	// Pixdim[1..] are the voxel sizes; Pixdim[0] is qfac (±1, the sign of
	// the third qform axis).
	Pixdim [8]float64
	// VoxOffset is the byte offset of the voxel data in the .nii (or .img)
	// file. The writer recomputes it.
	VoxOffset int64
	// SclSlope and SclInter scale stored values to real values:
	// real = stored·slope + inter, unless slope is 0 or not finite.
	SclSlope, SclInter float64
	SliceEnd           int64
	SliceCode          int32
	// XYZTUnits holds the spatial (bits 0-2) and temporal (bits 3-5) unit codes.
	XYZTUnits      int32
	CalMax, CalMin float64
	SliceDuration  float64
	TOffset        float64
	// Descrip and AuxFile are free text (trailing NULs removed on read,
	// embedded NULs kept, exactly as nibabel returns them).
	Descrip string
	AuxFile string
	// QformCode and SformCode say what the qform and sform map to
	// (Xform* constants); 0 means the transform is not set.
	QformCode, SformCode int32
	// QuaternB, C, D and QOffsetX, Y, Z are the qform parameters.
	QuaternB, QuaternC, QuaternD float64
	QOffsetX, QOffsetY, QOffsetZ float64
	// SrowX, SrowY, SrowZ are the rows of the sform affine.
	SrowX, SrowY, SrowZ [4]float64
}

// NDim returns Dim[0], the number of dimensions.
func (h *Header) NDim() int { return int(h.Dim[0]) }

// Shape returns the size along each of the NDim dimensions.
func (h *Header) Shape() []int {
	n := h.NDim()
	if n < 1 || n > 7 {
		return nil
	}
	s := make([]int, n)
	for i := range s {
		s[i] = int(h.Dim[i+1])
	}
	return s
}

// Zooms returns Pixdim[1..NDim]: the voxel size along each dimension as
// nibabel's header.get_zooms() reports it.
func (h *Header) Zooms() []float64 {
	n := h.NDim()
	if n < 1 || n > 7 {
		return nil
	}
	return append([]float64(nil), h.Pixdim[1:n+1]...)
}

// SlopeInter returns the scaling that applies to the stored values, as
// nibabel's get_slope_inter: (1, 0) when scl_slope is 0 or not finite.
func (h *Header) SlopeInter() (slope, inter float64) {
	if h.SclSlope == 0 || math.IsNaN(h.SclSlope) || math.IsInf(h.SclSlope, 0) {
		return 1, 0
	}
	return h.SclSlope, h.SclInter
}

// SpatialUnits returns the spatial unit code (UnitsMeter, UnitsMM, UnitsMicron or 0).
func (h *Header) SpatialUnits() int { return int(h.XYZTUnits & 7) }

// TimeUnits returns the temporal unit code (UnitsSec, ... or 0).
func (h *Header) TimeUnits() int { return int(h.XYZTUnits & 0x38) }

// UnitName returns the nibabel name of a unit code ("mm", "sec", "unknown").
func UnitName(code int) string {
	switch code {
	case UnitsMeter:
		return "meter"
	case UnitsMM:
		return "mm"
	case UnitsMicron:
		return "micron"
	case UnitsSec:
		return "sec"
	case UnitsMsec:
		return "msec"
	case UnitsUsec:
		return "usec"
	case UnitsHz:
		return "hz"
	case UnitsPPM:
		return "ppm"
	case UnitsRads:
		return "rads"
	}
	return "unknown"
}

// NumVoxels returns the number of voxels (product of Dim[1..NDim]) after
// validating the dimensions.
func (h *Header) NumVoxels() (int64, error) {
	n := h.NDim()
	if n < 1 || n > 7 {
		return 0, fmt.Errorf("%w: dim[0] = %d, want 1..7", ErrInvalidHeader, n)
	}
	total := int64(1)
	for i := 1; i <= n; i++ {
		d := h.Dim[i]
		if d < 1 {
			return 0, fmt.Errorf("%w: dim[%d] = %d, want >= 1", ErrInvalidHeader, i, d)
		}
		if total > math.MaxInt64/d {
			return 0, fmt.Errorf("%w: dimensions %v overflow int64", ErrTooLarge, h.Dim[1:n+1])
		}
		total *= d
	}
	return total, nil
}

// DataBytes returns the size of the voxel data in bytes after validating
// the dimensions and datatype.
func (h *Header) DataBytes() (int64, error) {
	if err := h.Datatype.check(); err != nil {
		return 0, err
	}
	n, err := h.NumVoxels()
	if err != nil {
		return 0, err
	}
	sz := int64(h.Datatype.Size())
	if n > math.MaxInt64/sz {
		return 0, fmt.Errorf("%w: %d voxels of %d bytes overflow int64", ErrTooLarge, n, sz)
	}
	return n * sz, nil
}

// Validate checks the fields the reader and writer depend on: version,
// dimensions, datatype and bitpix, scaling, qfac and vox_offset. It is
// called by every reader before anything is allocated, and by the writers.
func (h *Header) Validate() error {
	if h.Version != 1 && h.Version != 2 {
		return fmt.Errorf("%w: version %d, want 1 or 2", ErrInvalidHeader, h.Version)
	}
	if _, err := h.DataBytes(); err != nil {
		return err
	}
	if want := int16(8 * h.Datatype.Size()); h.Bitpix != want && h.Bitpix != 0 {
		return fmt.Errorf("%w: bitpix %d does not match datatype %s (want %d)", ErrInvalidHeader, h.Bitpix, h.Datatype, want)
	}
	if h.Version == 1 {
		if err := h.checkWidths1(); err != nil {
			return err
		}
	}
	if h.VoxOffset < 0 {
		return fmt.Errorf("%w: vox_offset %d is negative", ErrInvalidHeader, h.VoxOffset)
	}
	s := h.SclSlope
	if s != 0 && !math.IsNaN(s) && !math.IsInf(s, 0) && (math.IsNaN(h.SclInter) || math.IsInf(h.SclInter, 0)) {
		return fmt.Errorf("%w: valid scl_slope %g but scl_inter %g is not finite", ErrInvalidHeader, s, h.SclInter)
	}
	return nil
}

// checkWidths1 checks that the integer fields fit NIfTI-1's narrower types.
func (h *Header) checkWidths1() error {
	for i, d := range h.Dim {
		if d < math.MinInt16 || d > math.MaxInt16 {
			return fmt.Errorf("%w: dim[%d] = %d does not fit NIfTI-1's int16 (use NIfTI-2)", ErrInvalidHeader, i, d)
		}
	}
	for _, f := range []struct {
		name   string
		v      int64
		lo, hi int64
	}{
		{"slice_start", h.SliceStart, math.MinInt16, math.MaxInt16},
		{"slice_end", h.SliceEnd, math.MinInt16, math.MaxInt16},
		{"intent_code", int64(h.IntentCode), math.MinInt16, math.MaxInt16},
		{"qform_code", int64(h.QformCode), math.MinInt16, math.MaxInt16},
		{"sform_code", int64(h.SformCode), math.MinInt16, math.MaxInt16},
		{"slice_code", int64(h.SliceCode), 0, math.MaxUint8},
		{"xyzt_units", int64(h.XYZTUnits), 0, math.MaxUint8},
	} {
		if f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("%w: %s = %d does not fit NIfTI-1 (range %d..%d; use NIfTI-2)", ErrInvalidHeader, f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// headerSize returns the size of the header of this version.
func (h *Header) headerSize() int64 {
	if h.Version == 2 {
		return SizeofHdr2
	}
	return SizeofHdr1
}

// fix applies nibabel's load-time header fixes (check_fix): qfac not ±1
// becomes 1, zero voxel sizes become 1, negative ones their absolute value,
// and a zero bitpix the datatype's.
func (h *Header) fix() {
	if h.Pixdim[0] != 1 && h.Pixdim[0] != -1 {
		h.Pixdim[0] = 1
	}
	for i := 1; i <= 3; i++ {
		if h.Pixdim[i] == 0 {
			h.Pixdim[i] = 1
		}
		h.Pixdim[i] = math.Abs(h.Pixdim[i])
	}
	if h.Bitpix == 0 {
		h.Bitpix = int16(8 * h.Datatype.Size())
	}
}

var (
	magic1Single = []byte("n+1\x00")
	magic1Pair   = []byte("ni1\x00")
	magic2Single = []byte("n+2\x00\r\n\x1a\n")
	magic2Pair   = []byte("ni2\x00\r\n\x1a\n")
)

// detectVersion reads sizeof_hdr from the first 4 bytes and returns the
// version and byte order.
func detectVersion(b []byte) (int, binary.ByteOrder, error) {
	if len(b) < 4 {
		return 0, nil, fmt.Errorf("%w: %d bytes, want at least 4 for sizeof_hdr", ErrTruncated, len(b))
	}
	le, be := int32(binary.LittleEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b))
	switch {
	case le == SizeofHdr1:
		return 1, binary.LittleEndian, nil
	case be == SizeofHdr1:
		return 1, binary.BigEndian, nil
	case le == SizeofHdr2:
		return 2, binary.LittleEndian, nil
	case be == SizeofHdr2:
		return 2, binary.BigEndian, nil
	}
	return 0, nil, fmt.Errorf("%w: sizeof_hdr is %d (byte-swapped %d), want 348 (NIfTI-1) or 540 (NIfTI-2)", ErrNotNIfTI, le, be)
}

// DecodeHeader parses a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header
// from the start of b, detecting version and byte order from sizeof_hdr,
// checks the magic string and validates the fields (Validate). Load-time
// fixes are applied as nibabel does: qfac not ±1 is set to 1 and
// non-positive voxel sizes pixdim[1..3] are made positive (0 becomes 1).
func DecodeHeader(b []byte) (*Header, error) {
	ver, bo, err := detectVersion(b)
	if err != nil {
		return nil, err
	}
	h := &Header{Version: ver, ByteOrder: bo}
	if ver == 1 {
		err = h.decode1(b)
	} else {
		err = h.decode2(b)
	}
	if err != nil {
		return nil, err
	}
	h.fix()
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// cursor reads fixed-width fields at known offsets.
type cursor struct {
	b  []byte
	bo binary.ByteOrder
}

func (c cursor) i16(off int) int16   { return int16(c.bo.Uint16(c.b[off:])) }
func (c cursor) i32(off int) int32   { return int32(c.bo.Uint32(c.b[off:])) }
func (c cursor) i64(off int) int64   { return int64(c.bo.Uint64(c.b[off:])) }
func (c cursor) f32(off int) float64 { return float64(math.Float32frombits(c.bo.Uint32(c.b[off:]))) }
func (c cursor) f64(off int) float64 { return math.Float64frombits(c.bo.Uint64(c.b[off:])) }
func (c cursor) str(off, n int) string {
	return string(bytes.TrimRight(c.b[off:off+n], "\x00"))
}

func (h *Header) decode1(b []byte) error {
	if len(b) < SizeofHdr1 {
		return fmt.Errorf("%w: NIfTI-1 header has %d bytes, want 348", ErrTruncated, len(b))
	}
	switch m := b[344:348]; {
	case bytes.Equal(m, magic1Single):
	case bytes.Equal(m, magic1Pair):
		h.Pair = true
	default:
		return fmt.Errorf("%w: NIfTI-1 magic %q, want \"n+1\\x00\" or \"ni1\\x00\"", ErrNotNIfTI, m)
	}
	c := cursor{b, h.ByteOrder}
	h.DimInfo = b[39]
	for i := range h.Dim {
		h.Dim[i] = int64(c.i16(40 + 2*i))
	}
	h.IntentP1, h.IntentP2, h.IntentP3 = c.f32(56), c.f32(60), c.f32(64)
	h.IntentCode = int32(c.i16(68))
	h.Datatype = Datatype(c.i16(70))
	h.Bitpix = c.i16(72)
	h.SliceStart = int64(c.i16(74))
	for i := range h.Pixdim {
		h.Pixdim[i] = c.f32(76 + 4*i)
	}
	off := c.f32(108)
	if math.IsNaN(off) || off < 0 || off != math.Trunc(off) || off > 1<<53 {
		return fmt.Errorf("%w: vox_offset %g, want a non-negative integer", ErrInvalidHeader, off)
	}
	h.VoxOffset = int64(off)
	h.SclSlope, h.SclInter = c.f32(112), c.f32(116)
	h.SliceEnd = int64(c.i16(120))
	h.SliceCode = int32(b[122])
	h.XYZTUnits = int32(b[123])
	h.CalMax, h.CalMin = c.f32(124), c.f32(128)
	h.SliceDuration, h.TOffset = c.f32(132), c.f32(136)
	h.Descrip, h.AuxFile = c.str(148, 80), c.str(228, 24)
	h.QformCode, h.SformCode = int32(c.i16(252)), int32(c.i16(254))
	h.QuaternB, h.QuaternC, h.QuaternD = c.f32(256), c.f32(260), c.f32(264)
	h.QOffsetX, h.QOffsetY, h.QOffsetZ = c.f32(268), c.f32(272), c.f32(276)
	for i := 0; i < 4; i++ {
		h.SrowX[i], h.SrowY[i], h.SrowZ[i] = c.f32(280+4*i), c.f32(296+4*i), c.f32(312+4*i)
	}
	h.IntentName = c.str(328, 16)
	return nil
}

func (h *Header) decode2(b []byte) error {
	if len(b) < SizeofHdr2 {
		return fmt.Errorf("%w: NIfTI-2 header has %d bytes, want 540", ErrTruncated, len(b))
	}
	m := b[4:12]
	switch {
	case bytes.Equal(m[:4], magic2Single[:4]):
	case bytes.Equal(m[:4], magic2Pair[:4]):
		h.Pair = true
	default:
		return fmt.Errorf("%w: NIfTI-2 magic %q, want \"n+2\\x00\" or \"ni2\\x00\"", ErrNotNIfTI, m[:4])
	}
	// The 4 bytes after the magic detect text-mode transfer damage; nibabel
	// accepts them when correct or all zero.
	if eol := m[4:]; !bytes.Equal(eol, magic2Single[4:]) && !bytes.Equal(eol, []byte{0, 0, 0, 0}) {
		return fmt.Errorf("%w: NIfTI-2 magic end % x, want 0d 0a 1a 0a (file damaged by a text-mode transfer?)", ErrNotNIfTI, eol)
	}
	c := cursor{b, h.ByteOrder}
	h.Datatype = Datatype(c.i16(12))
	h.Bitpix = c.i16(14)
	for i := range h.Dim {
		h.Dim[i] = c.i64(16 + 8*i)
	}
	h.IntentP1, h.IntentP2, h.IntentP3 = c.f64(80), c.f64(88), c.f64(96)
	for i := range h.Pixdim {
		h.Pixdim[i] = c.f64(104 + 8*i)
	}
	h.VoxOffset = c.i64(168)
	h.SclSlope, h.SclInter = c.f64(176), c.f64(184)
	h.CalMax, h.CalMin = c.f64(192), c.f64(200)
	h.SliceDuration, h.TOffset = c.f64(208), c.f64(216)
	h.SliceStart, h.SliceEnd = c.i64(224), c.i64(232)
	h.Descrip, h.AuxFile = c.str(240, 80), c.str(320, 24)
	h.QformCode, h.SformCode = c.i32(344), c.i32(348)
	h.QuaternB, h.QuaternC, h.QuaternD = c.f64(352), c.f64(360), c.f64(368)
	h.QOffsetX, h.QOffsetY, h.QOffsetZ = c.f64(376), c.f64(384), c.f64(392)
	for i := 0; i < 4; i++ {
		h.SrowX[i], h.SrowY[i], h.SrowZ[i] = c.f64(400+8*i), c.f64(432+8*i), c.f64(464+8*i)
	}
	h.SliceCode, h.XYZTUnits, h.IntentCode = c.i32(496), c.i32(500), c.i32(504)
	h.IntentName = c.str(508, 16)
	h.DimInfo = b[524]
	return nil
}
