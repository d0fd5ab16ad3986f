package dicom

import (
	"fmt"
	"math"
	"strings"
)

// Metadata is what a user needs to know about a series to pick it as an
// input: the fields of a dcm2niix sidecar that matter for brain MR. Times
// are in milliseconds, the flip angle in degrees, the field in tesla; zero
// means absent.
type Metadata struct {
	Modality              string   `json:"Modality,omitempty"`
	Manufacturer          string   `json:"Manufacturer,omitempty"`
	ManufacturersModel    string   `json:"ManufacturersModelName,omitempty"`
	MagneticFieldStrength float64  `json:"MagneticFieldStrength,omitempty"`
	SeriesDescription     string   `json:"SeriesDescription,omitempty"`
	ProtocolName          string   `json:"ProtocolName,omitempty"`
	SeriesNumber          int      `json:"SeriesNumber,omitempty"`
	SeriesInstanceUID     string   `json:"SeriesInstanceUID,omitempty"`
	StudyInstanceUID      string   `json:"StudyInstanceUID,omitempty"`
	ImageType             []string `json:"ImageType,omitempty"`
	ScanningSequence      string   `json:"ScanningSequence,omitempty"`
	SequenceVariant       string   `json:"SequenceVariant,omitempty"`
	ScanOptions           string   `json:"ScanOptions,omitempty"`
	SequenceName          string   `json:"SequenceName,omitempty"`
	MRAcquisitionType     string   `json:"MRAcquisitionType,omitempty"`
	EchoTime              float64  `json:"EchoTimeMs,omitempty"`
	EchoNumber            int      `json:"EchoNumber,omitempty"`
	RepetitionTime        float64  `json:"RepetitionTimeMs,omitempty"`
	InversionTime         float64  `json:"InversionTimeMs,omitempty"`
	FlipAngle             float64  `json:"FlipAngle,omitempty"`
	SliceThickness        float64  `json:"SliceThickness,omitempty"`
	SpacingBetweenSlices  float64  `json:"SpacingBetweenSlices,omitempty"`
	ContrastBolusAgent    string   `json:"ContrastBolusAgent,omitempty"`
	BodyPartExamined      string   `json:"BodyPartExamined,omitempty"`
	TransferSyntax        string   `json:"TransferSyntaxUID,omitempty"`
}

// frameRef is one 2-D image of a file: a classic single-frame file, one
// frame of a multi-frame file, or one tile of a Siemens mosaic.
type frameRef struct {
	path    string
	frame   int // frame index within the file
	tile    int // mosaic tile, -1 when not a mosaic
	pos     [3]float64
	hasPos  bool
	iop     [6]float64
	hasIOP  bool
	ps      [2]float64 // row spacing, column spacing (PixelSpacing order)
	thick   float64
	slope   float64
	inter   float64
	te      float64
	echo    int
	stack   string
	acq     int
	temp    int
	rows    int // rows/columns of this image (tile size for mosaics)
	cols    int
	mosaicN int // tiles per row of the mosaic (0 when not a mosaic)
}

// fileInfo is what a header scan keeps of one file.
type fileInfo struct {
	path     string
	meta     Metadata
	pix      PixelInfo
	frames   []frameRef
	derived  bool
	localize bool
	warnings []string
}

// readHeader extracts fileInfo from a parsed data set read from a file of
// size bytes, within the memory budget of opts.
func readHeader(path string, ds *DataSet, size int64, opts *Options) (*fileInfo, error) {
	maxBytes := opts.maxBytes()
	pix, err := ds.Pixels()
	if err != nil {
		return nil, err
	}
	// Frames are bounded before any per-frame record is allocated: each
	// needs at least 2 bytes of the file (frame item or pixels), and the
	// decoded frames must fit the memory budget.
	if int64(pix.Frames) > size/2 {
		return nil, fmt.Errorf("%w: %d frames declared in a file of %d bytes", ErrMalformed, pix.Frames, size)
	}
	if err := pix.checkBudget(maxBytes); err != nil {
		return nil, err
	}
	fi := &fileInfo{path: path, pix: pix}
	m := &fi.meta
	m.Modality = ds.String(TagModality)
	m.Manufacturer = ds.String(TagManufacturer)
	m.ManufacturersModel = ds.String(TagManufacturerModel)
	m.MagneticFieldStrength, _ = ds.Float(TagMagneticFieldStrength)
	m.SeriesDescription = ds.String(TagSeriesDescription)
	m.ProtocolName = ds.String(TagProtocolName)
	m.SeriesNumber = ds.Int(TagSeriesNumber, 0)
	m.SeriesInstanceUID = ds.String(TagSeriesInstanceUID)
	m.StudyInstanceUID = ds.String(TagStudyInstanceUID)
	m.ImageType = ds.Strings(TagImageType)
	m.ScanningSequence = ds.String(TagScanningSequence)
	m.SequenceVariant = ds.String(TagSequenceVariant)
	m.ScanOptions = ds.String(TagScanOptions)
	m.SequenceName = ds.String(TagSequenceName)
	if m.SequenceName == "" {
		m.SequenceName = ds.String(TagPulseSequenceName)
	}
	m.MRAcquisitionType = ds.String(TagMRAcquisitionType)
	m.EchoTime, _ = ds.Float(TagEchoTime)
	m.EchoNumber = ds.Int(TagEchoNumbers, 0)
	m.RepetitionTime, _ = ds.Float(TagRepetitionTime)
	m.InversionTime, _ = ds.Float(TagInversionTime)
	m.FlipAngle, _ = ds.Float(TagFlipAngle)
	m.SliceThickness, _ = ds.Float(TagSliceThickness)
	m.SpacingBetweenSlices, _ = ds.Float(TagSpacingBetweenSlices)
	m.ContrastBolusAgent = ds.String(TagContrastBolusAgent)
	m.BodyPartExamined = ds.String(TagBodyPartExamined)
	m.TransferSyntax = ds.TransferSyntax
	for _, t := range m.ImageType {
		switch strings.ToUpper(t) {
		case "DERIVED", "SECONDARY":
			fi.derived = true
		case "LOCALIZER", "SCOUT":
			fi.localize = true
		}
	}

	base := frameRef{path: path, tile: -1, slope: 1, rows: pix.Rows, cols: pix.Columns,
		te: m.EchoTime, echo: m.EchoNumber, acq: ds.Int(TagAcquisitionNumber, 0),
		temp: ds.Int(TagTemporalPositionIdentifier, 0), thick: m.SliceThickness}
	if f := ds.Floats(TagImagePositionPatient); len(f) >= 3 {
		copy(base.pos[:], f)
		base.hasPos = true
	}
	if f := ds.Floats(TagImageOrientationPatient); len(f) >= 6 {
		copy(base.iop[:], f)
		base.hasIOP = true
	}
	if f := ds.Floats(TagPixelSpacing); len(f) >= 2 {
		copy(base.ps[:], f)
	}
	if s, ok := ds.Float(TagRescaleSlope); ok && s != 0 {
		base.slope = s
	}
	base.inter, _ = ds.Float(TagRescaleIntercept)

	if ss, ok := philipsScaleSlope(ds); ok && !opts.philipsDisplay() {
		// As dcm2niix does by default (-p y): Philips "precise" floating
		// point values FP = (SV·RS + RI) / (RS·SS), SS the private scale
		// slope, instead of the display values SV·RS + RI.
		base.inter = base.inter / (base.slope * ss)
		base.slope = 1 / ss
		fi.warnings = append(fi.warnings, fmt.Sprintf("Philips precise scaling (private scale slope %g) used as dcm2niix does; Options.PhilipsDisplayScaling keeps the display values", ss))
	}

	perFrame := ds.Seq(TagPerFrameFunctionalGroups)
	shared := ds.first(TagSharedFunctionalGroups)
	switch {
	case len(perFrame) > 0 || shared != nil:
		if len(perFrame) != pix.Frames {
			return nil, fmt.Errorf("%w: %d per-frame functional groups for %d frames", ErrMalformed, len(perFrame), pix.Frames)
		}
		for f := 0; f < pix.Frames; f++ {
			fr := base
			fr.frame = f
			enhancedFrame(&fr, perFrame[f], shared, m)
			fi.frames = append(fi.frames, fr)
		}
		if len(fi.frames) > 0 && m.EchoTime == 0 {
			m.EchoTime = fi.frames[0].te
		}
		if m.InversionTime == 0 {
			for _, g := range []*DataSet{perFrame[0], shared} {
				if t := g.first(TagMRTimingSequence); t != nil {
					if f := t.Floats(TagInversionTimes); len(f) > 0 {
						m.InversionTime = f[0]
					}
				}
			}
		}
	case isMosaic(m):
		frames, err := mosaicFrames(ds, base, m, fi)
		if err != nil {
			return nil, err
		}
		fi.frames = frames
	default:
		if pix.Frames != 1 {
			// A legacy multi-frame image has one position for all frames:
			// keep the frames but they will be refused as a stack.
			for f := 0; f < pix.Frames; f++ {
				fr := base
				fr.frame = f
				fr.hasPos = false
				fi.frames = append(fi.frames, fr)
			}
		} else {
			fi.frames = []frameRef{base}
		}
	}
	return fi, nil
}

// enhancedFrame fills fr from the per-frame and shared functional groups
// of an Enhanced MR (multi-frame) image: the per-frame item wins.
func enhancedFrame(fr *frameRef, pf, shared *DataSet, m *Metadata) {
	get := func(seq Tag) *DataSet {
		if it := pf.first(seq); it != nil {
			return it
		}
		return shared.first(seq)
	}
	if g := get(TagPlanePositionSequence); g != nil {
		if f := g.Floats(TagImagePositionPatient); len(f) >= 3 {
			copy(fr.pos[:], f)
			fr.hasPos = true
		}
	}
	if g := get(TagPlaneOrientationSequence); g != nil {
		if f := g.Floats(TagImageOrientationPatient); len(f) >= 6 {
			copy(fr.iop[:], f)
			fr.hasIOP = true
		}
	}
	if g := get(TagPixelMeasuresSequence); g != nil {
		if f := g.Floats(TagPixelSpacing); len(f) >= 2 {
			copy(fr.ps[:], f)
		}
		if t, ok := g.Float(TagSliceThickness); ok {
			fr.thick = t
			if m.SliceThickness == 0 {
				m.SliceThickness = t
			}
		}
		if t, ok := g.Float(TagSpacingBetweenSlices); ok && m.SpacingBetweenSlices == 0 {
			m.SpacingBetweenSlices = t
		}
	}
	if g := get(TagPixelValueTransformation); g != nil {
		if s, ok := g.Float(TagRescaleSlope); ok && s != 0 {
			fr.slope = s
		}
		if s, ok := g.Float(TagRescaleIntercept); ok {
			fr.inter = s
		}
	}
	if g := get(TagMREchoSequence); g != nil {
		if t, ok := g.Float(TagEffectiveEchoTime); ok {
			fr.te = t
		}
	}
	if g := get(TagFrameContentSequence); g != nil {
		fr.stack = g.String(TagStackID)
		fr.temp = g.Int(TagTemporalPositionIndex, 0)
	}
}

func isMosaic(m *Metadata) bool {
	for _, t := range m.ImageType {
		if strings.EqualFold(t, "MOSAIC") {
			return true
		}
	}
	return false
}

// mosaicFrames splits a Siemens mosaic into its tiles, placed as nibabel's
// MosaicWrapper does: the tile grid is ceil(sqrt(n)) wide, the position of
// the first tile is the mosaic corner moved by half the size difference,
// and the slices follow the CSA SliceNormalVector.
func mosaicFrames(ds *DataSet, base frameRef, m *Metadata, fi *fileInfo) ([]frameRef, error) {
	csa := siemensCSAImage(ds)
	if csa == nil {
		return nil, fmt.Errorf("%w: Siemens mosaic without a readable CSA image header (0029,1010)", ErrUnsupported)
	}
	nf := csaFloats(csa, "NumberOfImagesInMosaic")
	if len(nf) == 0 || nf[0] < 1 {
		return nil, fmt.Errorf("%w: Siemens mosaic without NumberOfImagesInMosaic", ErrMalformed)
	}
	if nf[0] > float64(base.rows*base.cols) {
		return nil, fmt.Errorf("%w: %g mosaic tiles in a %d×%d image", ErrMalformed, nf[0], base.rows, base.cols)
	}
	n := int(nf[0])
	grid := int(math.Ceil(math.Sqrt(float64(n))))
	if base.rows < grid || base.cols < grid || n > grid*grid {
		return nil, fmt.Errorf("%w: mosaic of %d×%d cannot hold %d tiles in a %d×%d grid", ErrMalformed, base.rows, base.cols, n, grid, grid)
	}
	normal := csaFloats(csa, "SliceNormalVector")
	if len(normal) < 3 || !base.hasPos || !base.hasIOP {
		return nil, fmt.Errorf("%w: Siemens mosaic without SliceNormalVector, position or orientation", ErrMalformed)
	}
	tr, tc := base.rows/grid, base.cols/grid
	if tr*grid != base.rows || tc*grid != base.cols {
		fi.warnings = append(fi.warnings, fmt.Sprintf("Siemens mosaic of %d×%d is not a whole number of tiles wide (%d tiles of %d×%d per row): tiles read with the mosaic's own row stride", base.rows, base.cols, grid, tr, tc))
	}
	// As nibabel (and dcm2niix): the shift uses the exact quotient even
	// when the mosaic is not a whole number of tiles wide.
	fixR := (float64(base.rows) - float64(base.rows)/float64(grid)) / 2
	fixC := (float64(base.cols) - float64(base.cols)/float64(grid)) / 2
	var p0 [3]float64
	for a := 0; a < 3; a++ {
		// Column cosine (down the rows) × row spacing, row cosine × column spacing.
		p0[a] = base.pos[a] + base.iop[3+a]*base.ps[0]*fixR + base.iop[a]*base.ps[1]*fixC
	}
	dz := m.SpacingBetweenSlices
	if dz <= 0 {
		dz = m.SliceThickness
	}
	if dz <= 0 {
		return nil, fmt.Errorf("%w: Siemens mosaic without SpacingBetweenSlices or SliceThickness", ErrMalformed)
	}
	frames := make([]frameRef, n)
	for k := 0; k < n; k++ {
		fr := base
		fr.tile = k
		fr.rows, fr.cols, fr.mosaicN = tr, tc, grid
		for a := 0; a < 3; a++ {
			fr.pos[a] = p0[a] + float64(k)*dz*normal[a]
		}
		frames[k] = fr
	}
	return frames, nil
}

// philipsScaleSlope returns the Philips private scale slope (2005,xx0E) of
// the "Philips MR Imaging DD 001" block of a classic Philips MR image.
func philipsScaleSlope(ds *DataSet) (float64, bool) {
	if !strings.Contains(strings.ToUpper(ds.String(TagManufacturer)), "PHILIPS") {
		return 0, false
	}
	for b := uint16(0x10); b <= 0xFF; b++ {
		if ds.String(NewTag(0x2005, b)) != "Philips MR Imaging DD 001" {
			continue
		}
		e := ds.Get(NewTag(0x2005, b<<8|0x0E))
		if e == nil || len(e.Value) < 4 {
			return 0, false
		}
		vr := e.VR
		if vr == "UN" || vr == "OB" {
			vr = "FL" // implicit VR: the private dictionary says FL
		}
		f := elementFloats(&Element{VR: vr, Value: e.Value}, ds.BigEndian)
		if len(f) == 0 || !(f[0] > 0) || math.IsInf(f[0], 0) {
			return 0, false
		}
		return f[0], true
	}
	return 0, false
}
