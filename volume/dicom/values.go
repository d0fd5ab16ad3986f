package dicom

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
)

// Tags used by this package.
var (
	TagSOPClassUID                = NewTag(0x0008, 0x0016)
	TagSOPInstanceUID             = NewTag(0x0008, 0x0018)
	TagImageType                  = NewTag(0x0008, 0x0008)
	TagModality                   = NewTag(0x0008, 0x0060)
	TagManufacturer               = NewTag(0x0008, 0x0070)
	TagSeriesDescription          = NewTag(0x0008, 0x103E)
	TagManufacturerModel          = NewTag(0x0008, 0x1090)
	TagSeriesTime                 = NewTag(0x0008, 0x0031)
	TagAcquisitionTime            = NewTag(0x0008, 0x0032)
	TagPatientID                  = NewTag(0x0010, 0x0020)
	TagContrastBolusAgent         = NewTag(0x0018, 0x0010)
	TagBodyPartExamined           = NewTag(0x0018, 0x0015)
	TagScanningSequence           = NewTag(0x0018, 0x0020)
	TagSequenceVariant            = NewTag(0x0018, 0x0021)
	TagScanOptions                = NewTag(0x0018, 0x0022)
	TagMRAcquisitionType          = NewTag(0x0018, 0x0023)
	TagSequenceName               = NewTag(0x0018, 0x0024)
	TagSliceThickness             = NewTag(0x0018, 0x0050)
	TagRepetitionTime             = NewTag(0x0018, 0x0080)
	TagEchoTime                   = NewTag(0x0018, 0x0081)
	TagInversionTime              = NewTag(0x0018, 0x0082)
	TagEchoNumbers                = NewTag(0x0018, 0x0086)
	TagMagneticFieldStrength      = NewTag(0x0018, 0x0087)
	TagSpacingBetweenSlices       = NewTag(0x0018, 0x0088)
	TagProtocolName               = NewTag(0x0018, 0x1030)
	TagFlipAngle                  = NewTag(0x0018, 0x1314)
	TagContrastBolusAgentSequence = NewTag(0x0018, 0x0012)
	TagPulseSequenceName          = NewTag(0x0018, 0x9005)
	TagEffectiveEchoTime          = NewTag(0x0018, 0x9082)
	TagMREchoSequence             = NewTag(0x0018, 0x9114)
	TagMRTimingSequence           = NewTag(0x0018, 0x9112)
	TagInversionTimes             = NewTag(0x0018, 0x9079)
	TagStudyInstanceUID           = NewTag(0x0020, 0x000D)
	TagSeriesInstanceUID          = NewTag(0x0020, 0x000E)
	TagSeriesNumber               = NewTag(0x0020, 0x0011)
	TagAcquisitionNumber          = NewTag(0x0020, 0x0012)
	TagInstanceNumber             = NewTag(0x0020, 0x0013)
	TagImagePositionPatient       = NewTag(0x0020, 0x0032)
	TagImageOrientationPatient    = NewTag(0x0020, 0x0037)
	TagTemporalPositionIdentifier = NewTag(0x0020, 0x0100)
	TagStackID                    = NewTag(0x0020, 0x9056)
	TagInStackPositionNumber      = NewTag(0x0020, 0x9057)
	TagFrameContentSequence       = NewTag(0x0020, 0x9111)
	TagPlanePositionSequence      = NewTag(0x0020, 0x9113)
	TagPlaneOrientationSequence   = NewTag(0x0020, 0x9116)
	TagTemporalPositionIndex      = NewTag(0x0020, 0x9128)
	TagDimensionIndexValues       = NewTag(0x0020, 0x9157)
	TagSamplesPerPixel            = NewTag(0x0028, 0x0002)
	TagPhotometricInterpretation  = NewTag(0x0028, 0x0004)
	TagPlanarConfiguration        = NewTag(0x0028, 0x0006)
	TagNumberOfFrames             = NewTag(0x0028, 0x0008)
	TagRows                       = NewTag(0x0028, 0x0010)
	TagColumns                    = NewTag(0x0028, 0x0011)
	TagPixelSpacing               = NewTag(0x0028, 0x0030)
	TagBitsAllocated              = NewTag(0x0028, 0x0100)
	TagBitsStored                 = NewTag(0x0028, 0x0101)
	TagHighBit                    = NewTag(0x0028, 0x0102)
	TagPixelRepresentation        = NewTag(0x0028, 0x0103)
	TagRescaleIntercept           = NewTag(0x0028, 0x1052)
	TagRescaleSlope               = NewTag(0x0028, 0x1053)
	TagPixelMeasuresSequence      = NewTag(0x0028, 0x9110)
	TagPixelValueTransformation   = NewTag(0x0028, 0x9145)
	TagSharedFunctionalGroups     = NewTag(0x5200, 0x9229)
	TagPerFrameFunctionalGroups   = NewTag(0x5200, 0x9230)
	TagPixelData                  = tagPixelData
	TagSiemensCSAImageHeader      = NewTag(0x0029, 0x1010)
	TagSiemensCSAPrivateCreator   = NewTag(0x0029, 0x0010)
	TagSiemensNumberOfImagesInMos = NewTag(0x0019, 0x100A)
)

// implicitVRs gives the VR of the tags this package reads when the data
// set is in Implicit VR: numeric and sequence attributes must be known to be
// decoded; everything else is kept as raw bytes ("UN") and read as text.
var implicitVRs = map[Tag]string{
	TagEchoNumbers: "IS", TagRows: "US", TagColumns: "US", TagBitsAllocated: "US", TagBitsStored: "US",
	TagHighBit: "US", TagPixelRepresentation: "US", TagSamplesPerPixel: "US", TagPlanarConfiguration: "US",
	TagEffectiveEchoTime: "FD", TagStackID: "SH", TagInStackPositionNumber: "UL", TagTemporalPositionIndex: "UL",
	TagDimensionIndexValues: "UL", TagInversionTimes: "FD",
	TagMREchoSequence: "SQ", TagMRTimingSequence: "SQ", TagFrameContentSequence: "SQ", TagPlanePositionSequence: "SQ",
	TagPlaneOrientationSequence: "SQ", TagPixelMeasuresSequence: "SQ", TagPixelValueTransformation: "SQ",
	TagSharedFunctionalGroups: "SQ", TagPerFrameFunctionalGroups: "SQ", TagContrastBolusAgentSequence: "SQ",
	NewTag(0x0008, 0x1140): "SQ", NewTag(0x0008, 0x1115): "SQ", NewTag(0x0008, 0x1111): "SQ", NewTag(0x0008, 0x1032): "SQ",
	NewTag(0x0040, 0x0275): "SQ", NewTag(0x0008, 0x9092): "SQ", NewTag(0x0020, 0x9071): "SQ", NewTag(0x0020, 0x9221): "SQ",
	NewTag(0x0020, 0x9222): "SQ", NewTag(0x0018, 0x9006): "SQ", NewTag(0x0018, 0x9042): "SQ", NewTag(0x0018, 0x9107): "SQ",
	NewTag(0x0018, 0x9112): "SQ", NewTag(0x0018, 0x9115): "SQ", NewTag(0x0018, 0x9119): "SQ", NewTag(0x0018, 0x9125): "SQ",
	NewTag(0x0018, 0x9226): "SQ", NewTag(0x0020, 0x9253): "SQ", NewTag(0x0028, 0x9132): "SQ", NewTag(0x0028, 0x9415): "SQ",
	NewTag(0x0008, 0x2218): "SQ", NewTag(0x0008, 0x9121): "SQ", NewTag(0x0088, 0x0200): "SQ", NewTag(0x0040, 0xA730): "SQ",
	NewTag(0x0040, 0xA043): "SQ", NewTag(0x0040, 0xA168): "SQ", NewTag(0x0054, 0x0016): "SQ", NewTag(0x300A, 0x00B0): "SQ",
	TagPixelData: "OW",
}

func implicitVR(t Tag) string {
	if vr, ok := implicitVRs[t]; ok {
		return vr
	}
	if t.Element() == 0 {
		return "UL" // group length
	}
	return "UN"
}

// String returns the element's value as text with padding (spaces and
// NULs) removed; multiple values stay joined by backslashes.
func (ds *DataSet) String(t Tag) string {
	e := ds.Get(t)
	if e == nil || e.Value == nil {
		return ""
	}
	return trimString(e.Value)
}

// Strings returns the backslash-separated values of a text element.
func (ds *DataSet) Strings(t Tag) []string {
	s := ds.String(t)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, `\`)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func trimString(b []byte) string {
	return strings.Trim(string(b), " \x00")
}

// Floats returns the numeric values of an element: DS and IS are parsed as
// text, binary VRs (US, SS, UL, SL, FL, FD, UV, SV) in the data set's byte
// order. Unparseable entries are skipped; nil means no usable value.
func (ds *DataSet) Floats(t Tag) []float64 {
	e := ds.Get(t)
	if e == nil || e.Value == nil {
		return nil
	}
	return elementFloats(e, ds.BigEndian)
}

func elementFloats(e *Element, big bool) []float64 {
	var bo binary.ByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	v := e.Value
	var out []float64
	switch e.VR {
	case "US":
		for i := 0; i+2 <= len(v); i += 2 {
			out = append(out, float64(bo.Uint16(v[i:])))
		}
	case "SS":
		for i := 0; i+2 <= len(v); i += 2 {
			out = append(out, float64(int16(bo.Uint16(v[i:]))))
		}
	case "UL":
		for i := 0; i+4 <= len(v); i += 4 {
			out = append(out, float64(bo.Uint32(v[i:])))
		}
	case "SL":
		for i := 0; i+4 <= len(v); i += 4 {
			out = append(out, float64(int32(bo.Uint32(v[i:]))))
		}
	case "FL", "OF":
		for i := 0; i+4 <= len(v); i += 4 {
			out = append(out, float64(math.Float32frombits(bo.Uint32(v[i:]))))
		}
	case "FD", "OD":
		for i := 0; i+8 <= len(v); i += 8 {
			out = append(out, math.Float64frombits(bo.Uint64(v[i:])))
		}
	case "UV":
		for i := 0; i+8 <= len(v); i += 8 {
			out = append(out, float64(bo.Uint64(v[i:])))
		}
	case "SV":
		for i := 0; i+8 <= len(v); i += 8 {
			out = append(out, float64(int64(bo.Uint64(v[i:]))))
		}
	default:
		s := trimString(v)
		if s == "" {
			return nil
		}
		for _, f := range strings.Split(s, `\`) {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Float returns the first numeric value of an element and whether there
// was one.
func (ds *DataSet) Float(t Tag) (float64, bool) {
	f := ds.Floats(t)
	if len(f) == 0 {
		return 0, false
	}
	return f[0], true
}

// Int returns the first numeric value of an element as an int (def when
// absent or out of the int32 range).
func (ds *DataSet) Int(t Tag, def int) int {
	f, ok := ds.Float(t)
	if !ok || f < math.MinInt32 || f > math.MaxInt32 {
		return def
	}
	return int(f)
}

// Seq returns the items of a sequence element, or nil.
func (ds *DataSet) Seq(t Tag) []*DataSet {
	e := ds.Get(t)
	if e == nil {
		return nil
	}
	if e.Items == nil && len(e.Value) > 0 && !ds.BigEndian {
		// A sequence read as raw bytes (implicit VR tag not in the table,
		// or a private SQ): parse its items now, as Implicit VR when
		// the VR was unknown.
		p := parser{explicit: e.VR != "UN", max: DefaultMaxBytes, maxDepth: DefaultMaxDepth, pixelOffset: -1}
		items, _, err := p.parseSequence(e.Value, 0, len(e.Value), false, 1)
		if err != nil {
			return nil
		}
		e.Items = items
	}
	return e.Items
}

// first returns the first item of sequence t in ds, or nil.
func (ds *DataSet) first(t Tag) *DataSet {
	items := ds.Seq(t)
	if len(items) == 0 {
		return nil
	}
	return items[0]
}
