// Command dcm2nii converts a folder of DICOM files — a hospital's MR export
// with opaque file names and several series mixed — into one NIfTI image
// (.nii.gz) and one JSON sidecar per series, like dcm2niix, and prints a
// summary of what it found, what it skipped and why.
//
// Usage:
//
//	go run ./examples/dcm2nii -in DICOM_DIR -out NIFTI_DIR
//
// Every file under -in is examined (recursively); files that are not DICOM
// images are listed as skipped. Images are grouped into series by
// SeriesInstanceUID, echo, orientation, image size and image type, and
// the slices of each are ordered by their position along the slice normal.
// A series with a missing slice or uneven spacing is refused with the
// positions named (or, with -split, written as its regular parts) — never
// written with a false uniform spacing. Localizers are skipped unless
// -localizers is given.
//
// Output names are <series number>_<description>[_e<echo>].nii.gz. Values
// are stored as 16-bit integers with scl_slope/scl_inter when every slice
// shares one rescale, else as float32. Each sidecar holds the acquisition
// parameters (times in seconds, as dcm2niix writes them), a guess of the
// contrast (T1, T1c, T2, FLAIR) with the reason, and any warning. The
// summary is also written to -out/summary.json. Files are written
// atomically (temporary file, fsync, rename).
//
// The exit status is 0 when every series was written, 1 when some were
// refused or failed, 2 for bad usage.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
	"github.com/metasurv/metasurv/volume/dicom"
)

func main() {
	// A tighter GC target keeps the peak resident memory near the live
	// volume (one series at a time) for a little more CPU.
	debug.SetGCPercent(40)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	in, out    string
	split      bool
	localizers bool
	noCompress bool
	maxMiB     int64
	workers    int
	verbose    bool
	progress   io.Writer
}

// sidecar is the JSON written next to each image: dcm2niix's field names.
type sidecar struct {
	Modality               string    `json:"Modality,omitempty"`
	MagneticFieldStrength  float64   `json:"MagneticFieldStrength,omitempty"`
	Manufacturer           string    `json:"Manufacturer,omitempty"`
	ManufacturersModelName string    `json:"ManufacturersModelName,omitempty"`
	SeriesDescription      string    `json:"SeriesDescription,omitempty"`
	ProtocolName           string    `json:"ProtocolName,omitempty"`
	ScanningSequence       string    `json:"ScanningSequence,omitempty"`
	SequenceVariant        string    `json:"SequenceVariant,omitempty"`
	ScanOptions            string    `json:"ScanOptions,omitempty"`
	SequenceName           string    `json:"SequenceName,omitempty"`
	ImageType              []string  `json:"ImageType,omitempty"`
	SeriesNumber           int       `json:"SeriesNumber,omitempty"`
	SeriesInstanceUID      string    `json:"SeriesInstanceUID,omitempty"`
	MRAcquisitionType      string    `json:"MRAcquisitionType,omitempty"`
	SliceThickness         float64   `json:"SliceThickness,omitempty"`
	SpacingBetweenSlices   float64   `json:"SpacingBetweenSlices,omitempty"`
	EchoTime               float64   `json:"EchoTime,omitempty"`
	EchoNumber             int       `json:"EchoNumber,omitempty"`
	RepetitionTime         float64   `json:"RepetitionTime,omitempty"`
	InversionTime          float64   `json:"InversionTime,omitempty"`
	FlipAngle              float64   `json:"FlipAngle,omitempty"`
	ContrastBolusAgent     string    `json:"ContrastBolusAgent,omitempty"`
	BodyPartExamined       string    `json:"BodyPartExamined,omitempty"`
	TransferSyntaxUID      string    `json:"TransferSyntaxUID,omitempty"`
	SliceSpacingComputed   float64   `json:"SliceSpacingFromPositions,omitempty"`
	ImageOrientation       []float64 `json:"ImageOrientationPatientDICOM,omitempty"`
	SequenceGuess          string    `json:"SequenceGuess"`
	SequenceGuessReason    string    `json:"SequenceGuessReason"`
	SourceFiles            int       `json:"SourceFiles"`
	Warnings               []string  `json:"Warnings,omitempty"`
	ConversionSoftware     string    `json:"ConversionSoftware"`
}

// summaryEntry is one line of the summary.
type summaryEntry struct {
	Series  string   `json:"series"`
	Files   int      `json:"files"`
	Dims    [3]int   `json:"dims,omitempty"`
	Orient  string   `json:"orientation,omitempty"`
	Guess   string   `json:"guess,omitempty"`
	Output  string   `json:"output,omitempty"`
	Status  string   `json:"status"` // written, refused, skipped, failed
	Reason  string   `json:"reason,omitempty"`
	Warning []string `json:"warnings,omitempty"`
}

type summary struct {
	In       string          `json:"in"`
	Files    int             `json:"files"`
	Series   []summaryEntry  `json:"series"`
	Skipped  []dicom.Skipped `json:"skipped_files"`
	Written  int             `json:"written"`
	Problems int             `json:"problems"`
	// Selection names the series guessed as the study's inputs (T1, T1c,
	// T2, FLAIR) for a person to confirm, with notes on every choice.
	Selection map[string]string `json:"selection"`
	Notes     []string          `json:"selection_notes,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dcm2nii", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.in, "in", "", "folder of DICOM files (searched recursively; file names do not matter)")
	fs.StringVar(&c.out, "out", "", "folder for the .nii.gz images, .json sidecars and summary.json (created if needed)")
	fs.BoolVar(&c.split, "split", false, "write a series with missing slices or uneven spacing as its regularly spaced parts instead of refusing it")
	fs.BoolVar(&c.localizers, "localizers", false, "also write localizer (scout) images")
	fs.BoolVar(&c.noCompress, "nogz", false, "write uncompressed .nii instead of .nii.gz")
	fs.Int64Var(&c.maxMiB, "maxmem", 0, "largest file or volume to load, in MiB (0: 1024 per file, 2048 per volume)")
	fs.IntVar(&c.workers, "j", 0, "files decoded at once (0: number of CPUs)")
	fs.BoolVar(&c.verbose, "v", false, "report progress on stderr (files scanned, series converted)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `dcm2nii converts a DICOM export into NIfTI, one image per series.

Usage:
  dcm2nii -in DICOM_DIR -out NIFTI_DIR [options]

Example:
  dcm2nii -in /media/cdrom/DICOM -out patient01
    → patient01/002_t1_mprage.nii.gz + 002_t1_mprage.json, ..., summary.json

Each series becomes <number>_<description>[_e<echo>].nii.gz with a JSON
sidecar (TE/TR/TI in seconds as dcm2niix writes them, flip angle, field
strength, contrast agent, a T1/T1c/T2/FLAIR guess with its reason, warnings).
Slices are ordered by their position in space, never by file name or
instance number. A series with a missing slice or uneven spacing is refused
(its missing positions are named) unless -split is given.

Uncompressed, deflated, RLE and lossless JPEG files are read; JPEG 2000,
JPEG-LS and lossy JPEG files are listed as skipped with the reason (convert
them first, e.g. gdcmconv --raw IN OUT). Exit status: 0 when every series
was written, 1 when some were refused or failed, 2 for bad usage.

Options:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if c.in == "" || c.out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dcm2nii: -in and -out are required (see -h)")
		return 2
	}
	if c.verbose {
		c.progress = stderr
	}
	sum, err := convert(context.Background(), c, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "dcm2nii:", err)
		return 1
	}
	if sum.Problems > 0 {
		return 1
	}
	return 0
}

func convert(ctx context.Context, c config, stdout io.Writer) (*summary, error) {
	if st, err := os.Stat(c.in); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("-in %s is not a folder", c.in)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	opts := &dicom.ScanOptions{SplitGaps: c.split, Workers: c.workers}
	if c.progress != nil {
		last := -1
		opts.Progress = func(done, total int) {
			if pct := 10 * done / total; pct != last || done == total {
				last = pct
				fmt.Fprintf(c.progress, "scanned %d/%d files\n", done, total)
			}
		}
	}
	if c.maxMiB > 0 {
		opts.MaxBytes = c.maxMiB << 20
		opts.MaxVolumeBytes = c.maxMiB << 20
	}
	res, err := dicom.Scan(ctx, c.in, opts)
	if err != nil {
		return nil, err
	}
	sum := &summary{In: c.in, Files: res.Files, Skipped: res.Skipped}
	ext := ".nii.gz"
	if c.noCompress {
		ext = ".nii"
	}
	for _, s := range res.Series {
		e := summaryEntry{Series: s.Name, Files: len(s.Files), Dims: s.Dims, Guess: s.Guess.Label, Warning: s.Warnings}
		switch {
		case s.Err != nil:
			e.Status, e.Reason = "refused", s.Err.Error()
			sum.Problems++
		case s.Localizer && !c.localizers:
			e.Status, e.Reason = "skipped", "localizer (use -localizers to write it)"
		default:
			if c.progress != nil {
				fmt.Fprintf(c.progress, "converting %s (%d files)\n", s.Name, len(s.Files))
			}
			v, err := s.Volume(ctx)
			if err == nil {
				codes := v.AxCodes()
				e.Orient = string(codes[:])
				name := s.Name + ext
				err = writeSeries(filepath.Join(c.out, name), filepath.Join(c.out, s.Name+".json"), s, v)
				e.Output = name
			}
			if err != nil {
				e.Status, e.Reason, e.Output = "failed", err.Error(), ""
				sum.Problems++
			} else {
				e.Status = "written"
				sum.Written++
			}
			// One series at a time: hand its voxels back before the next
			// (a few milliseconds; keeps the peak at the largest series).
			debug.FreeOSMemory()
		}
		sum.Series = append(sum.Series, e)
	}
	sel := dicom.SelectSequences(res.Series)
	sum.Selection = map[string]string{}
	for label, s := range sel.Series {
		sum.Selection[label] = s.Name
	}
	sum.Notes = sel.Notes
	printSummary(stdout, sum)
	b, _ := json.MarshalIndent(sum, "", " ")
	if err := atomicfile.WriteFile(filepath.Join(c.out, "summary.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return sum, nil
}

func printSummary(w io.Writer, sum *summary) {
	fmt.Fprintf(w, "%s: %d files, %d series, %d written, %d refused or failed, %d files skipped\n",
		sum.In, sum.Files, len(sum.Series), sum.Written, sum.Problems, len(sum.Skipped))
	for _, e := range sum.Series {
		fmt.Fprintf(w, "  %-8s %-40s %4d files %-14s %-4s %-5s", e.Status, e.Series, e.Files, fmt.Sprint(e.Dims), e.Orient, e.Guess)
		if e.Output != "" {
			fmt.Fprintf(w, " → %s", e.Output)
		}
		if e.Reason != "" {
			fmt.Fprintf(w, "\n           %s", e.Reason)
		}
		for _, x := range e.Warning {
			fmt.Fprintf(w, "\n           warning: %s", x)
		}
		fmt.Fprintln(w)
	}
	var picks []string
	for _, label := range dicom.Contrasts {
		if n, ok := sum.Selection[label]; ok {
			picks = append(picks, label+" = "+n)
		}
	}
	if len(picks) > 0 {
		fmt.Fprintf(w, "  inputs (best guess, please check): %s\n", strings.Join(picks, ", "))
	}
	for _, n := range sum.Notes {
		fmt.Fprintf(w, "    %s\n", n)
	}
	// Group skipped files by reason so a folder of 500 reports reads well.
	reasons := map[string]int{}
	var order []string
	example := map[string]string{}
	for _, s := range sum.Skipped {
		r := strings.ReplaceAll(s.Reason, s.Path, "")
		if len(r) > 160 {
			r = r[:160] + "…"
		}
		if reasons[r] == 0 {
			order = append(order, r)
			example[r] = s.Path
		}
		reasons[r]++
	}
	for _, r := range order {
		fmt.Fprintf(w, "  skipped  %d file(s): %s (e.g. %s)\n", reasons[r], r, example[r])
	}
}

// writeSeries writes the image and its sidecar.
func writeSeries(imgPath, jsonPath string, s *dicom.Series, v *volume.Volume) error {
	img, err := toNIfTI(s, v)
	if err != nil {
		return err
	}
	err = atomicfile.Write(imgPath, func(w io.Writer) error {
		return nifti.Write(w, img, &nifti.WriteOptions{Compress: strings.HasSuffix(imgPath, ".gz")})
	})
	if err != nil {
		return err
	}
	m := s.Meta
	sc := sidecar{
		Modality: m.Modality, MagneticFieldStrength: m.MagneticFieldStrength, Manufacturer: m.Manufacturer,
		ManufacturersModelName: m.ManufacturersModel, SeriesDescription: m.SeriesDescription, ProtocolName: m.ProtocolName,
		ScanningSequence: m.ScanningSequence, SequenceVariant: m.SequenceVariant, ScanOptions: m.ScanOptions,
		SequenceName: m.SequenceName, ImageType: m.ImageType, SeriesNumber: m.SeriesNumber,
		SeriesInstanceUID: m.SeriesInstanceUID, MRAcquisitionType: m.MRAcquisitionType,
		SliceThickness: m.SliceThickness, SpacingBetweenSlices: m.SpacingBetweenSlices,
		EchoTime: m.EchoTime / 1000, EchoNumber: m.EchoNumber, RepetitionTime: m.RepetitionTime / 1000,
		InversionTime: m.InversionTime / 1000, FlipAngle: m.FlipAngle, ContrastBolusAgent: m.ContrastBolusAgent,
		BodyPartExamined: m.BodyPartExamined, TransferSyntaxUID: m.TransferSyntax, SliceSpacingComputed: s.SliceSpacing,
		ImageOrientation: s.Orientation[:],
		SequenceGuess:    s.Guess.Label, SequenceGuessReason: s.Guess.Reason, SourceFiles: len(s.Files),
		Warnings: s.Warnings, ConversionSoftware: "metasurv dcm2nii",
	}
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(jsonPath, append(b, '\n'))
}

// toNIfTI stores v as 16-bit integers with scl_slope/scl_inter when every
// slice shares one rescale and the stored values fit exactly (as dcm2niix
// does), else as float32. It takes over v.Data: on little-endian machines
// the NIfTI bytes are written over the float32 voxels (the integer of voxel
// i goes to bytes 2i–2i+1, which voxels ≤ i/2 held, already read), so a
// series costs its float32 volume and nothing more.
func toNIfTI(s *dicom.Series, v *volume.Volume) (*nifti.Image, error) {
	// The header (dims, sform, qform, pixdim) comes from FromVolume on a
	// one-voxel image with the same affine, so that the voxels are
	// converted once, below, not first to float32 bytes.
	one, err := volume.FromData([3]int{1, 1, 1}, v.Affine, []float32{0})
	if err != nil {
		return nil, err
	}
	img, err := nifti.FromVolume(one)
	if err != nil {
		return nil, err
	}
	for a := 0; a < 3; a++ {
		img.Header.Dim[1+a] = int64(v.Dims[a])
	}
	img.Header.Descrip = fmt.Sprintf("TE=%.4g;TR=%.4g;TI=%.4g", s.Meta.EchoTime, s.Meta.RepetitionTime, s.Meta.InversionTime)
	little := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	var raw []byte // v.Data's memory as bytes
	if little && len(v.Data) > 0 {
		raw = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v.Data))), 4*len(v.Data))
	}
	asFloat := func() (*nifti.Image, error) {
		if raw != nil {
			img.Data = raw
			return img, nil
		}
		img.Data = make([]byte, 4*len(v.Data))
		for i, x := range v.Data {
			binary.LittleEndian.PutUint32(img.Data[4*i:], math.Float32bits(x))
		}
		return img, nil
	}
	if !s.UniformRescale || s.Slope == 0 {
		return asFloat()
	}
	identity := s.Slope == 1 && s.Intercept == 0
	// stored returns the integer a voxel was stored as, or false when it
	// is not one (then the image stays float32).
	stored := func(x float32) (int32, bool) {
		if identity {
			st := int32(x)
			return st, x > -1<<20 && x < 1<<20 && float32(st) == x
		}
		f := math.Round((float64(x) - s.Intercept) / s.Slope)
		return int32(f), f > -1<<20 && f < 1<<20 && float32(f*s.Slope+s.Intercept) == x
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for _, x := range v.Data {
		st, ok := stored(x)
		if !ok {
			return asFloat()
		}
		lo, hi = min(lo, st), max(hi, st)
	}
	dt := nifti.DTInt16
	switch {
	case lo >= math.MinInt16 && hi <= math.MaxInt16:
	case lo >= 0 && hi <= math.MaxUint16:
		dt = nifti.DTUint16
	default:
		return asFloat()
	}
	// The low 16 bits are the same bytes for int16 and uint16.
	data := raw
	if data == nil {
		data = make([]byte, 2*len(v.Data))
	}
	for i, x := range v.Data {
		st, _ := stored(x)
		binary.LittleEndian.PutUint16(data[2*i:], uint16(st))
	}
	img.Header.Datatype, img.Header.Bitpix = dt, 16
	img.Header.SclSlope, img.Header.SclInter = s.Slope, s.Intercept
	img.Data = data[:2*len(v.Data)]
	return img, nil
}
