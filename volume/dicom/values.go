package dicom

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
)

// Tags of the attributes this package reads, as (group<<16 | element).
const (
	TagSOPClassUID                = Tag(0x00080016)
	TagSOPInstanceUID             = Tag(0x00080018)
	TagImageType                  = Tag(0x00080008)
	TagModality                   = Tag(0x00080060)
	TagManufacturer               = Tag(0x00080070)
	TagSeriesDescription          = Tag(0x0008103E)
	TagManufacturerModel          = Tag(0x00081090)
	TagSeriesTime                 = Tag(0x00080031)
	TagAcquisitionTime            = Tag(0x00080032)
	TagPatientID                  = Tag(0x00100020)
	TagContrastBolusAgent         = Tag(0x00180010)
	TagBodyPartExamined           = Tag(0x00180015)
	TagScanningSequence           = Tag(0x00180020)
	TagSequenceVariant            = Tag(0x00180021)
	TagScanOptions                = Tag(0x00180022)
	TagMRAcquisitionType          = Tag(0x00180023)
	TagSequenceName               = Tag(0x00180024)
	TagSliceThickness             = Tag(0x00180050)
	TagRepetitionTime             = Tag(0x00180080)
	TagEchoTime                   = Tag(0x00180081)
	TagInversionTime              = Tag(0x00180082)
	TagEchoNumbers                = Tag(0x00180086)
	TagMagneticFieldStrength      = Tag(0x00180087)
	TagSpacingBetweenSlices       = Tag(0x00180088)
	TagProtocolName               = Tag(0x00181030)
	TagFlipAngle                  = Tag(0x00181314)
	TagContrastBolusAgentSequence = Tag(0x00180012)
	TagPulseSequenceName          = Tag(0x00189005)
	TagEffectiveEchoTime          = Tag(0x00189082)
	TagMREchoSequence             = Tag(0x00189114)
	TagMRTimingSequence           = Tag(0x00189112)
	TagInversionTimes             = Tag(0x00189079)
	TagStudyInstanceUID           = Tag(0x0020000D)
	TagSeriesInstanceUID          = Tag(0x0020000E)
	TagSeriesNumber               = Tag(0x00200011)
	TagAcquisitionNumber          = Tag(0x00200012)
	TagInstanceNumber             = Tag(0x00200013)
	TagImagePositionPatient       = Tag(0x00200032)
	TagImageOrientationPatient    = Tag(0x00200037)
	TagTemporalPositionIdentifier = Tag(0x00200100)
	TagStackID                    = Tag(0x00209056)
	TagInStackPositionNumber      = Tag(0x00209057)
	TagFrameContentSequence       = Tag(0x00209111)
	TagPlanePositionSequence      = Tag(0x00209113)
	TagPlaneOrientationSequence   = Tag(0x00209116)
	TagTemporalPositionIndex      = Tag(0x00209128)
	TagDimensionIndexValues       = Tag(0x00209157)
	TagSamplesPerPixel            = Tag(0x00280002)
	TagPhotometricInterpretation  = Tag(0x00280004)
	TagPlanarConfiguration        = Tag(0x00280006)
	TagNumberOfFrames             = Tag(0x00280008)
	TagRows                       = Tag(0x00280010)
	TagColumns                    = Tag(0x00280011)
	TagPixelSpacing               = Tag(0x00280030)
	TagBitsAllocated              = Tag(0x00280100)
	TagBitsStored                 = Tag(0x00280101)
	TagHighBit                    = Tag(0x00280102)
	TagPixelRepresentation        = Tag(0x00280103)
	TagRescaleIntercept           = Tag(0x00281052)
	TagRescaleSlope               = Tag(0x00281053)
	TagPixelMeasuresSequence      = Tag(0x00289110)
	TagPixelValueTransformation   = Tag(0x00289145)
	TagSharedFunctionalGroups     = Tag(0x52009229)
	TagPerFrameFunctionalGroups   = Tag(0x52009230)
	TagPixelData                  = Tag(0x7FE00010)
	TagSiemensCSAImageHeader      = Tag(0x00291010)
	TagSiemensCSAPrivateCreator   = Tag(0x00290010)
	TagSiemensNumberOfImagesInMos = Tag(0x0019100A)
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

// Seq returns the items of a sequence element, or nil. A sequence kept as
// raw bytes (a private SQ, or an Implicit VR tag this package does not
// know) is parsed on first use and cached in the element, so a DataSet must
// not be read from several goroutines at once.
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
