package nifti

import (
	"encoding/binary"
	"fmt"
	"math"
)

// wcursor writes fixed-width fields at known offsets.
type wcursor struct {
	b  []byte
	bo binary.ByteOrder
}

func (c wcursor) i16(off int, v int64) { c.bo.PutUint16(c.b[off:], uint16(int16(v))) }
func (c wcursor) i32(off int, v int64) { c.bo.PutUint32(c.b[off:], uint32(int32(v))) }
func (c wcursor) i64(off int, v int64) { c.bo.PutUint64(c.b[off:], uint64(v)) }
func (c wcursor) f32(off int, v float64) {
	c.bo.PutUint32(c.b[off:], math.Float32bits(float32(v)))
}
func (c wcursor) f64(off int, v float64) { c.bo.PutUint64(c.b[off:], math.Float64bits(v)) }
func (c wcursor) str(off, n int, s string, field string) error {
	if len(s) > n {
		return fmt.Errorf("%w: %s has %d bytes, at most %d fit", ErrInvalidHeader, field, len(s), n)
	}
	copy(c.b[off:off+n], s)
	return nil
}

// byteOrder returns the header's byte order, little endian when unset.
func (h *Header) byteOrder() binary.ByteOrder {
	if h.ByteOrder == nil {
		return binary.LittleEndian
	}
	return h.ByteOrder
}

// Encode returns the binary header (348 bytes for Version 1, 540 for
// Version 2) in h.ByteOrder, with the magic for a single .nii file or, if
// pair is true, for a .hdr/.img pair. Bitpix is derived from Datatype;
// VoxOffset is written as given. It validates h first.
func (h *Header) Encode(pair bool) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if h.Version == 1 {
		return h.encode1(pair)
	}
	return h.encode2(pair)
}

func (h *Header) encode1(pair bool) ([]byte, error) {
	b := make([]byte, SizeofHdr1)
	c := wcursor{b, h.byteOrder()}
	c.i32(0, SizeofHdr1)
	b[38] = 'r'
	b[39] = h.DimInfo
	for i, d := range h.Dim {
		c.i16(40+2*i, d)
	}
	c.f32(56, h.IntentP1)
	c.f32(60, h.IntentP2)
	c.f32(64, h.IntentP3)
	c.i16(68, int64(h.IntentCode))
	c.i16(70, int64(h.Datatype))
	c.i16(72, int64(8*h.Datatype.Size()))
	c.i16(74, h.SliceStart)
	for i, p := range h.Pixdim {
		c.f32(76+4*i, p)
	}
	c.f32(108, float64(h.VoxOffset))
	c.f32(112, h.SclSlope)
	c.f32(116, h.SclInter)
	c.i16(120, h.SliceEnd)
	b[122] = byte(h.SliceCode)
	b[123] = byte(h.XYZTUnits)
	c.f32(124, h.CalMax)
	c.f32(128, h.CalMin)
	c.f32(132, h.SliceDuration)
	c.f32(136, h.TOffset)
	if err := c.str(148, 80, h.Descrip, "descrip"); err != nil {
		return nil, err
	}
	if err := c.str(228, 24, h.AuxFile, "aux_file"); err != nil {
		return nil, err
	}
	c.i16(252, int64(h.QformCode))
	c.i16(254, int64(h.SformCode))
	for i, v := range [6]float64{h.QuaternB, h.QuaternC, h.QuaternD, h.QOffsetX, h.QOffsetY, h.QOffsetZ} {
		c.f32(256+4*i, v)
	}
	for i := 0; i < 4; i++ {
		c.f32(280+4*i, h.SrowX[i])
		c.f32(296+4*i, h.SrowY[i])
		c.f32(312+4*i, h.SrowZ[i])
	}
	if err := c.str(328, 16, h.IntentName, "intent_name"); err != nil {
		return nil, err
	}
	if pair {
		copy(b[344:], magic1Pair)
	} else {
		copy(b[344:], magic1Single)
	}
	return b, nil
}

func (h *Header) encode2(pair bool) ([]byte, error) {
	b := make([]byte, SizeofHdr2)
	c := wcursor{b, h.byteOrder()}
	c.i32(0, SizeofHdr2)
	if pair {
		copy(b[4:], magic2Pair)
	} else {
		copy(b[4:], magic2Single)
	}
	c.i16(12, int64(h.Datatype))
	c.i16(14, int64(8*h.Datatype.Size()))
	for i, d := range h.Dim {
		c.i64(16+8*i, d)
	}
	c.f64(80, h.IntentP1)
	c.f64(88, h.IntentP2)
	c.f64(96, h.IntentP3)
	for i, p := range h.Pixdim {
		c.f64(104+8*i, p)
	}
	c.i64(168, h.VoxOffset)
	c.f64(176, h.SclSlope)
	c.f64(184, h.SclInter)
	c.f64(192, h.CalMax)
	c.f64(200, h.CalMin)
	c.f64(208, h.SliceDuration)
	c.f64(216, h.TOffset)
	c.i64(224, h.SliceStart)
	c.i64(232, h.SliceEnd)
	if err := c.str(240, 80, h.Descrip, "descrip"); err != nil {
		return nil, err
	}
	if err := c.str(320, 24, h.AuxFile, "aux_file"); err != nil {
		return nil, err
	}
	c.i32(344, int64(h.QformCode))
	c.i32(348, int64(h.SformCode))
	for i, v := range [6]float64{h.QuaternB, h.QuaternC, h.QuaternD, h.QOffsetX, h.QOffsetY, h.QOffsetZ} {
		c.f64(352+8*i, v)
	}
	for i := 0; i < 4; i++ {
		c.f64(400+8*i, h.SrowX[i])
		c.f64(432+8*i, h.SrowY[i])
		c.f64(464+8*i, h.SrowZ[i])
	}
	c.i32(496, int64(h.SliceCode))
	c.i32(500, int64(h.XYZTUnits))
	c.i32(504, int64(h.IntentCode))
	if err := c.str(508, 16, h.IntentName, "intent_name"); err != nil {
		return nil, err
	}
	b[524] = h.DimInfo
	return b, nil
}
