package dicom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// ScanOptions tunes Scan. The zero value is ready to use.
type ScanOptions struct {
	// Options bounds every file read (MaxBytes per file, MaxDepth).
	Options
	// MaxVolumeBytes bounds the float32 voxels of one series volume. Zero
	// means 2 GiB.
	MaxVolumeBytes int64
	// Workers is the number of files parsed or decoded at once; zero means
	// GOMAXPROCS.
	Workers int
	// SplitGaps splits a stack with missing slices or uneven spacing into
	// its regularly spaced runs (each its own Series, with a warning)
	// instead of refusing it.
	SplitGaps bool
	// Progress, when set, is called after each file is scanned.
	Progress func(done, total int)
}

func (o *ScanOptions) workers() int {
	if o == nil || o.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Workers
}

func (o *ScanOptions) maxVolumeBytes() int64 {
	if o == nil || o.MaxVolumeBytes <= 0 {
		return 2 << 30
	}
	return o.MaxVolumeBytes
}

// Skipped is a file or series left out of the result, with the reason.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Err    error  `json:"-"`
}

// Result is what Scan found in a folder.
type Result struct {
	// Series are the image stacks found, in SeriesNumber order. A series
	// whose slices cannot form a regular volume is listed with Err set.
	Series []*Series
	// Skipped lists the files that were not DICOM images, or could not be
	// read, with the reason.
	Skipped []Skipped
	// Files is the number of files examined.
	Files int
}

// Series is one stack of parallel slices that forms one 3-D volume: one
// SeriesInstanceUID, echo, orientation, image size and image type.
type Series struct {
	// Name is a short unique label: series number, description and what
	// split it from its siblings (echo, orientation, stack, size).
	Name string
	// Meta holds the acquisition parameters (from the first slice).
	Meta Metadata
	// Guess is the best guess of the MR contrast with the reason.
	Guess Guess
	// Dims is the grid size: columns, rows, slices.
	Dims [3]int
	// Affine maps voxel (i=column, j=row, k=slice) to RAS+ world mm.
	Affine volume.Affine
	// Orientation is the ImageOrientationPatient of the slices (row
	// cosine, column cosine, LPS).
	Orientation [6]float64
	// SliceSpacing is the distance between slice centres computed from the
	// positions (0 for a single slice).
	SliceSpacing float64
	// UniformRescale is true when every slice has the same rescale slope
	// and intercept (Slope, Intercept); false means the volume's values
	// were rescaled slice by slice.
	UniformRescale   bool
	Slope, Intercept float64
	// Localizer and Derived come from ImageType.
	Localizer, Derived bool
	// Files lists the files of the series (sorted, unique).
	Files []string
	// Warnings are problems that did not stop the series.
	Warnings []string
	// Err is set when the slices do not form a regular volume (wrapping
	// ErrGeometry) or cannot be placed; Volume then returns it.
	Err error

	frames []frameRef // in slice order
	pix    PixelInfo
	opts   ScanOptions
}

// Scan reads every file under dir (recursively), keeps the DICOM images and
// groups them into series. Files that are not DICOM images are listed in
// Result.Skipped with the reason. Pixels are not decoded until
// Series.Volume is called.
func Scan(ctx context.Context, dir string, opts *ScanOptions) (*Result, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	return ScanFiles(ctx, paths, opts)
}

// ScanFiles is Scan for an explicit list of files.
func ScanFiles(ctx context.Context, paths []string, opts *ScanOptions) (*Result, error) {
	var o ScanOptions
	if opts != nil {
		o = *opts
	}
	infos := make([]*fileInfo, len(paths))
	errs := make([]error, len(paths))
	var done int
	var mu sync.Mutex
	// A bad file is skipped and reported, not fatal: fn never fails, so
	// only ctx stops the scan early.
	err := parallel.Each(ctx, len(paths), o.workers(), func(i int) error {
		infos[i], errs[i] = scanFile(paths[i], &o.Options)
		if o.Progress != nil {
			mu.Lock()
			done++
			o.Progress(done, len(paths))
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Files: len(paths)}
	var files []*fileInfo
	for i, fi := range infos {
		if errs[i] != nil {
			res.Skipped = append(res.Skipped, Skipped{Path: paths[i], Reason: errs[i].Error(), Err: errs[i]})
			continue
		}
		files = append(files, fi)
	}
	res.Series = groupSeries(files, o)
	return res, nil
}

// headerPrefix is how much of a file is read first when scanning: enough
// for the header of classic images; longer headers are read in full.
const headerPrefix = 16 << 10

// scanFile parses the header of one file, reading only its first bytes
// when the pixel data starts there.
func scanFile(path string, opts *Options) (*fileInfo, error) {
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
		return nil, fmt.Errorf("%w: %d bytes, more than the budget of %d", ErrTooLarge, st.Size(), opts.maxBytes())
	}
	n := st.Size()
	if n > headerPrefix {
		n = headerPrefix
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	o := *opts
	o.StopAtPixelData = true
	ds, err := Parse(buf, &o)
	if err != nil && errors.Is(err, ErrTruncated) && int64(len(buf)) < st.Size() || err == nil && ds.Get(TagPixelData) == nil && int64(len(buf)) < st.Size() {
		// The header is longer than the prefix: read the whole file.
		buf = make([]byte, st.Size())
		if _, err := f.ReadAt(buf, 0); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		ds, err = Parse(buf, &o)
	}
	if err != nil {
		return nil, err
	}
	return readHeader(path, ds, st.Size(), opts)
}

// groupKey separates frames that cannot share one volume.
func groupKey(fi *fileInfo, fr *frameRef) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|", fi.meta.StudyInstanceUID, fi.meta.SeriesInstanceUID)
	fmt.Fprintf(&b, "te%.3f|e%d|st%s|", fr.te, fr.echo, fr.stack)
	fmt.Fprintf(&b, "|%dx%d|%.5f,%.5f|%s|%t|%d", fr.rows, fr.cols, fr.ps[0], fr.ps[1],
		strings.ToUpper(strings.Join(fi.meta.ImageType, `\`)), fr.mosaicN > 0, fi.pix.BitsAllocated)
	return b.String()
}

type groupFrame struct {
	fi *fileInfo
	fr frameRef
}

func groupSeries(files []*fileInfo, o ScanOptions) []*Series {
	groups := map[string][]groupFrame{}
	var order []string
	for _, fi := range files {
		for _, fr := range fi.frames {
			k := groupKey(fi, &fr)
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], groupFrame{fi, fr})
		}
	}
	var out []*Series
	for _, k := range order {
		for _, g := range splitOrientation(groups[k]) {
			for _, part := range splitRepeats(g) {
				ss := buildSeries(part.frames, o)
				for _, s := range ss {
					if part.label != "" {
						s.Name += "_" + part.label
						s.Warnings = append(s.Warnings, fmt.Sprintf("slices repeat at the same positions: split by %s", part.why))
					}
				}
				out = append(out, ss...)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Meta.SeriesNumber != b.Meta.SeriesNumber {
			return a.Meta.SeriesNumber < b.Meta.SeriesNumber
		}
		if a.Meta.SeriesInstanceUID != b.Meta.SeriesInstanceUID {
			return a.Meta.SeriesInstanceUID < b.Meta.SeriesInstanceUID
		}
		if a.Meta.EchoTime != b.Meta.EchoTime {
			return a.Meta.EchoTime < b.Meta.EchoTime
		}
		return a.Name < b.Name
	})
	// The first echo of a multi-echo series is named _e1, as dcm2niix does.
	echoes := map[string]map[int]bool{}
	for _, s := range out {
		if echoes[s.Meta.SeriesInstanceUID] == nil {
			echoes[s.Meta.SeriesInstanceUID] = map[int]bool{}
		}
		echoes[s.Meta.SeriesInstanceUID][s.Meta.EchoNumber] = true
	}
	for _, s := range out {
		if s.Meta.EchoNumber == 1 && len(echoes[s.Meta.SeriesInstanceUID]) > 1 {
			s.Name += "_e1"
		}
	}
	// Names: series number + description, made unique with the echo,
	// orientation or a counter.
	seen := map[string]int{}
	for _, s := range out {
		seen[s.Name]++
	}
	// Echoes without EchoNumbers (Enhanced MR) are told apart by their
	// echo time, in increasing order; anything else by a letter.
	byName := map[string][]*Series{}
	for _, s := range out {
		if seen[s.Name] > 1 {
			byName[s.Name] = append(byName[s.Name], s)
		}
	}
	for base, group := range byName {
		tes := map[float64]bool{}
		for _, s := range group {
			tes[s.Meta.EchoTime] = true
		}
		for i, s := range group {
			if len(tes) == len(group) && s.Meta.EchoNumber == 0 {
				s.Meta.EchoNumber = i + 1 // group is sorted by echo time
				s.Name = fmt.Sprintf("%s_e%d", base, i+1)
			} else {
				s.Name = fmt.Sprintf("%s_%c", base, 'a'+rune(i%26))
			}
		}
	}
	return out
}

// splitOrientation clusters frames by ImageOrientationPatient with a
// tolerance (1e-3 per cosine), so that values written with different
// rounding stay together while different planes come apart.
func splitOrientation(g []groupFrame) [][]groupFrame {
	var out [][]groupFrame
next:
	for _, f := range g {
		for i, c := range out {
			rep := c[0].fr.iop
			same := true
			for a := range rep {
				if math.Abs(rep[a]-f.fr.iop[a]) > 1e-3 {
					same = false
					break
				}
			}
			if same {
				out[i] = append(out[i], f)
				continue next
			}
		}
		out = append(out, []groupFrame{f})
	}
	return out
}

type repeatPart struct {
	frames []groupFrame
	label  string // name suffix, "" when not split
	why    string
}

// splitRepeats separates a stack whose positions repeat (several
// acquisitions or time points in one series) by AcquisitionNumber, then by
// temporal position, when that leaves every part without repeats. A stack
// without repeats, or one no key explains, is returned whole (its
// duplicates are then refused by buildSeries, naming the positions).
func splitRepeats(g []groupFrame) []repeatPart {
	if !hasRepeats(g) {
		return []repeatPart{{frames: g}}
	}
	for _, key := range []struct {
		name, short string
		of          func(f *frameRef) int
	}{
		{"AcquisitionNumber", "acq", func(f *frameRef) int { return f.acq }},
		{"temporal position", "t", func(f *frameRef) int { return f.temp }},
	} {
		parts := map[int][]groupFrame{}
		var keys []int
		for _, f := range g {
			k := key.of(&f.fr)
			if _, ok := parts[k]; !ok {
				keys = append(keys, k)
			}
			parts[k] = append(parts[k], f)
		}
		if len(keys) < 2 {
			continue
		}
		ok := true
		for _, p := range parts {
			if hasRepeats(p) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		sort.Ints(keys)
		out := make([]repeatPart, len(keys))
		for i, k := range keys {
			out[i] = repeatPart{frames: parts[k], label: fmt.Sprintf("%s%d", key.short, k), why: key.name}
		}
		return out
	}
	return []repeatPart{{frames: g}}
}

// hasRepeats reports whether two frames of g lie at the same position.
func hasRepeats(g []groupFrame) bool {
	seen := make(map[[3]int64]bool, len(g))
	for _, f := range g {
		var k [3]int64
		for a := 0; a < 3; a++ {
			k[a] = int64(math.Round(f.fr.pos[a] * 1e3)) // micrometres
		}
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// buildSeries sorts one group's frames along the slice normal, checks the
// spacing and computes the affine. With SplitGaps a broken stack becomes
// its regular runs.
func buildSeries(g []groupFrame, o ScanOptions) []*Series {
	fi0 := g[0].fi
	s := &Series{Meta: fi0.meta, pix: fi0.pix, opts: o, Localizer: fi0.localize, Derived: fi0.derived, UniformRescale: true}
	s.Meta.EchoTime = g[0].fr.te
	if g[0].fr.echo != 0 {
		s.Meta.EchoNumber = g[0].fr.echo
	}
	s.Name = seriesName(&s.Meta)
	s.Warnings = append(s.Warnings, fi0.warnings...)
	s.Guess = GuessSequence(&s.Meta)
	fr0 := g[0].fr
	s.pix.Rows, s.pix.Columns = fr0.rows, fr0.cols
	files := map[string]bool{}
	for _, x := range g {
		files[x.fi.path] = true
	}
	for f := range files {
		s.Files = append(s.Files, f)
	}
	sort.Strings(s.Files)
	frames := make([]frameRef, len(g))
	for i := range g {
		frames[i] = g[i].fr
	}
	fail := func(err error) []*Series {
		s.Err = err
		s.frames = frames
		s.Dims = [3]int{fr0.cols, fr0.rows, len(frames)}
		return []*Series{s}
	}
	if !fr0.hasIOP || !fr0.hasPos {
		return fail(fmt.Errorf("%w: slices have no ImageOrientationPatient/ImagePositionPatient", ErrGeometry))
	}
	if fr0.ps[0] <= 0 || fr0.ps[1] <= 0 {
		return fail(fmt.Errorf("%w: PixelSpacing %v is missing or not positive", ErrGeometry, fr0.ps))
	}
	rowc := [3]float64{fr0.iop[0], fr0.iop[1], fr0.iop[2]}
	colc := [3]float64{fr0.iop[3], fr0.iop[4], fr0.iop[5]}
	nrm := cross(rowc, colc)
	nl := math.Sqrt(dot(nrm, nrm))
	if nl < 0.5 || math.Abs(dot(rowc, colc)) > 1e-3 {
		return fail(fmt.Errorf("%w: ImageOrientationPatient %v is not two orthogonal unit vectors", ErrGeometry, fr0.iop))
	}
	for a := range nrm {
		nrm[a] /= nl
	}
	for _, fr := range frames {
		if !fr.hasPos {
			return fail(fmt.Errorf("%w: a slice of %s has no ImagePositionPatient", ErrGeometry, fr.path))
		}
	}
	sort.SliceStable(frames, func(i, j int) bool { return dot(frames[i].pos, nrm) < dot(frames[j].pos, nrm) })
	d := make([]float64, len(frames))
	for i, fr := range frames {
		d[i] = dot(fr.pos, nrm)
	}
	// Every slice must lie on the line through the first along the normal.
	tolIn := 0.01 * math.Min(fr0.ps[0], fr0.ps[1])
	if tolIn < 1e-3 {
		tolIn = 1e-3
	}
	for i, fr := range frames {
		var off float64
		for a := 0; a < 3; a++ {
			x := fr.pos[a] - frames[0].pos[a] - (d[i]-d[0])*nrm[a]
			off += x * x
		}
		if math.Sqrt(off) > 10*tolIn {
			return fail(fmt.Errorf("%w: slice at %s is %.3f mm off the stack axis through %s (gantry tilt or mixed stacks)",
				ErrGeometry, fmtPos(fr.pos), math.Sqrt(off), fmtPos(frames[0].pos)))
		}
	}
	s.frames = frames
	s.Dims = [3]int{fr0.cols, fr0.rows, len(frames)}
	for _, fr := range frames {
		if fr.slope != fr0.slope || fr.inter != fr0.inter {
			s.UniformRescale = false
		}
	}
	s.Slope, s.Intercept = fr0.slope, fr0.inter
	if len(frames) > 1 {
		step, runs, err := checkSpacing(frames, d)
		if err != nil {
			if o.SplitGaps && len(runs) > 1 {
				var out []*Series
				for ri, r := range runs {
					sub := *s
					sub.frames = frames[r[0]:r[1]]
					sub.Warnings = append(append([]string(nil), s.Warnings...), fmt.Sprintf("split %d of %d: %v", ri+1, len(runs), err))
					sub.Name = fmt.Sprintf("%s_part%d", s.Name, ri+1)
					sub.finish(nrm)
					out = append(out, &sub)
				}
				return out
			}
			return fail(err)
		}
		_ = step
	}
	s.finish(nrm)
	return []*Series{s}
}

// finish sets the dims, files, spacing and affine from s.frames.
func (s *Series) finish(nrm [3]float64) {
	frames := s.frames
	fr0 := frames[0]
	n := len(frames)
	s.Orientation = fr0.iop
	s.Dims = [3]int{fr0.cols, fr0.rows, n}
	files := map[string]bool{}
	s.UniformRescale = true
	for _, fr := range frames {
		files[fr.path] = true
		if fr.slope != fr0.slope || fr.inter != fr0.inter {
			s.UniformRescale = false
		}
	}
	s.Files = s.Files[:0:0]
	for f := range files {
		s.Files = append(s.Files, f)
	}
	sort.Strings(s.Files)
	var kdir [3]float64
	if n > 1 {
		for a := 0; a < 3; a++ {
			kdir[a] = (frames[n-1].pos[a] - frames[0].pos[a]) / float64(n-1)
		}
		s.SliceSpacing = math.Sqrt(dot(kdir, kdir))
	} else {
		dz := s.Meta.SpacingBetweenSlices
		if dz <= 0 {
			dz = fr0.thick
		}
		if dz <= 0 {
			dz = 1
			s.Warnings = append(s.Warnings, "single slice without SliceThickness: slice spacing set to 1 mm")
		}
		for a := 0; a < 3; a++ {
			kdir[a] = nrm[a] * dz
		}
	}
	// LPS affine: i along the row cosine (columns, spacing PixelSpacing[1]),
	// j along the column cosine (rows, PixelSpacing[0]), k along the stack.
	var lps volume.Affine
	for a := 0; a < 3; a++ {
		lps[a][0] = fr0.iop[a] * fr0.ps[1]
		lps[a][1] = fr0.iop[3+a] * fr0.ps[0]
		lps[a][2] = kdir[a]
		lps[a][3] = fr0.pos[a]
	}
	lps[3][3] = 1
	for c := 0; c < 4; c++ {
		lps[0][c], lps[1][c] = -lps[0][c], -lps[1][c]
	}
	s.Affine = lps
	if t := s.Meta.SliceThickness; n > 1 && t > 0 && math.Abs(t-s.SliceSpacing) > 0.01*s.SliceSpacing+1e-3 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("SliceThickness %.4g mm differs from the slice spacing %.4g mm computed from the positions (the spacing is used)", t, s.SliceSpacing))
	}
	if !s.UniformRescale {
		s.Warnings = append(s.Warnings, "rescale slope/intercept vary between slices: values rescaled slice by slice (float output)")
	}
}

// checkSpacing verifies that the sorted distances d are evenly spaced. On
// failure it returns the regular runs and an error naming the missing or
// irregular positions.
func checkSpacing(frames []frameRef, d []float64) (float64, [][2]int, error) {
	n := len(d)
	diffs := make([]float64, n-1)
	for i := range diffs {
		diffs[i] = d[i+1] - d[i]
	}
	sorted := append([]float64(nil), diffs...)
	sort.Float64s(sorted)
	step := sorted[len(sorted)/2]
	// Duplicates: several slices at one position (repeats, 4-D series).
	if sorted[0] < 1e-3 {
		var dup []string
		for i, x := range diffs {
			if x < 1e-3 && len(dup) < 8 {
				dup = append(dup, fmtPos(frames[i+1].pos))
			}
		}
		return 0, nil, fmt.Errorf("%w: %d slices share a position with another (e.g. %s): repeated or 4-D acquisition",
			ErrGeometry, countIf(diffs, func(x float64) bool { return x < 1e-3 }), strings.Join(dup, ", "))
	}
	if step < 1e-3 {
		step = sorted[len(sorted)-1]
	}
	tol := 0.01*step + 1e-3
	ok := true
	for _, x := range diffs {
		if math.Abs(x-step) > tol {
			ok = false
			break
		}
	}
	if ok {
		return step, nil, nil
	}
	var runs [][2]int
	start := 0
	var missing, uneven []string
	for i, x := range diffs {
		if math.Abs(x-step) <= tol {
			continue
		}
		runs = append(runs, [2]int{start, i + 1})
		start = i + 1
		m := x / step
		if r := math.Round(m); r >= 2 && math.Abs(m-r)*step <= tol {
			for k := 1; k < int(r) && len(missing) < 32; k++ {
				var p [3]float64
				for a := 0; a < 3; a++ {
					p[a] = frames[i].pos[a] + (frames[i+1].pos[a]-frames[i].pos[a])*float64(k)/r
				}
				missing = append(missing, fmtPos(p))
			}
		} else {
			uneven = append(uneven, fmt.Sprintf("%.4g mm between %s and %s", x, fmtPos(frames[i].pos), fmtPos(frames[i+1].pos)))
		}
	}
	runs = append(runs, [2]int{start, n})
	var msg []string
	if len(missing) > 0 {
		msg = append(msg, fmt.Sprintf("missing slice(s) at LPS position(s) %s", strings.Join(missing, "; ")))
	}
	if len(uneven) > 0 {
		msg = append(msg, fmt.Sprintf("uneven spacing (%s, expected %.4g mm)", strings.Join(uneven, "; "), step))
	}
	return step, runs, fmt.Errorf("%w: %d slices spaced %.4g mm: %s", ErrGeometry, n, step, strings.Join(msg, "; "))
}

func countIf(x []float64, f func(float64) bool) int {
	c := 0
	for _, v := range x {
		if f(v) {
			c++
		}
	}
	return c
}

func fmtPos(p [3]float64) string {
	return fmt.Sprintf("(%.4g, %.4g, %.4g)", p[0], p[1], p[2])
}

func seriesName(m *Metadata) string {
	d := m.SeriesDescription
	if d == "" {
		d = m.ProtocolName
	}
	var b strings.Builder
	for _, r := range d {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		name = "series"
	}
	name = fmt.Sprintf("%03d_%s", m.SeriesNumber, name)
	if m.EchoNumber > 1 {
		name += fmt.Sprintf("_e%d", m.EchoNumber)
	}
	return name
}

// Volume decodes the pixels of the series into a volume: voxel (i, j, k)
// is column i, row j of the k-th slice along the normal, values rescaled
// with each slice's slope and intercept, and the affine maps to RAS+ mm.
func (s *Series) Volume(ctx context.Context) (*volume.Volume, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	if len(s.frames) == 0 {
		return nil, fmt.Errorf("%w: empty series", ErrNoImage)
	}
	nvox, err := volume.NumVoxels(s.Dims)
	if err != nil {
		return nil, err
	}
	if int64(nvox)*4 > s.opts.maxVolumeBytes() {
		return nil, fmt.Errorf("%w: volume %v needs %d bytes, the budget is %d", ErrTooLarge, s.Dims, int64(nvox)*4, s.opts.maxVolumeBytes())
	}
	data := make([]float32, nvox)
	// Which slices each file provides.
	type job struct {
		path  string
		slots []int
	}
	byFile := map[string]int{}
	var jobs []job
	for k, fr := range s.frames {
		j, ok := byFile[fr.path]
		if !ok {
			j = len(jobs)
			byFile[fr.path] = j
			jobs = append(jobs, job{path: fr.path})
		}
		jobs[j].slots = append(jobs[j].slots, k)
	}
	n := s.Dims[0] * s.Dims[1]
	// The first file that fails stops the others from starting (a broken
	// series is not worth decoding to the end); its error is returned.
	err = parallel.Each(ctx, len(jobs), s.opts.workers(), func(ji int) error {
		jb := jobs[ji]
		ds, err := ReadFile(jb.path, &s.opts.Options)
		if err != nil {
			return err
		}
		fail := func(err error) error { return fmt.Errorf("%s: %w", jb.path, err) }
		pi, err := ds.Pixels()
		if err != nil {
			return fail(err)
		}
		dec, err := ds.frameDecoder(pi)
		if err != nil {
			return fail(err)
		}
		var whole []float32 // the decoded mosaic, when tiles are taken from it
		wholeFrame := -1
		for _, k := range jb.slots {
			fr := s.frames[k]
			dst := data[k*n : (k+1)*n]
			if fr.frame >= pi.Frames {
				return fail(fmt.Errorf("%w: %d frames, frame %d was scanned", ErrMalformed, pi.Frames, fr.frame))
			}
			if fr.tile < 0 {
				// A whole frame: decode in place, then rescale in place.
				if pi.Rows != fr.rows || pi.Columns != fr.cols {
					return fail(fmt.Errorf("%w: image size changed since the scan", ErrMalformed))
				}
				if err := dec.frame(fr.frame, dst); err != nil {
					return fail(err)
				}
				rescale(dst, dst, fr.slope, fr.inter)
				continue
			}
			if pi.Rows/fr.mosaicN != fr.rows || pi.Columns/fr.mosaicN != fr.cols {
				return fail(fmt.Errorf("%w: mosaic size changed since the scan", ErrMalformed))
			}
			if wholeFrame != fr.frame {
				if whole == nil {
					whole = make([]float32, pi.FrameLen())
				}
				if err := dec.frame(fr.frame, whole); err != nil {
					return fail(err)
				}
				wholeFrame = fr.frame
			}
			tr, tc := fr.tile/fr.mosaicN, fr.tile%fr.mosaicN
			for r := 0; r < fr.rows; r++ {
				row := whole[(tr*fr.rows+r)*pi.Columns+tc*fr.cols:]
				rescale(dst[r*fr.cols:(r+1)*fr.cols], row[:fr.cols], fr.slope, fr.inter)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return volume.FromData(s.Dims, s.Affine, data)
}

func rescale(dst, src []float32, slope, inter float64) {
	if slope == 1 && inter == 0 {
		copy(dst, src)
		return
	}
	for i, v := range src {
		dst[i] = float32(float64(v)*slope + inter)
	}
}

// ReadDir scans dir and returns the volume of its only image series (a
// localizer or a derived series does not count when another is present).
// It is the one-call path for a folder that holds one acquisition.
func ReadDir(ctx context.Context, dir string, opts *ScanOptions) (*volume.Volume, *Series, error) {
	res, err := Scan(ctx, dir, opts)
	if err != nil {
		return nil, nil, err
	}
	var cand []*Series
	for _, s := range res.Series {
		if !s.Localizer {
			cand = append(cand, s)
		}
	}
	if len(cand) > 1 {
		var orig []*Series
		for _, s := range cand {
			if !s.Derived {
				orig = append(orig, s)
			}
		}
		if len(orig) > 0 {
			cand = orig
		}
	}
	switch len(cand) {
	case 0:
		if len(res.Skipped) > 0 {
			return nil, nil, fmt.Errorf("%w: no image series in %s (%d files skipped, first: %s: %s)", ErrNoImage, dir, len(res.Skipped), res.Skipped[0].Path, res.Skipped[0].Reason)
		}
		return nil, nil, fmt.Errorf("%w: no image series in %s", ErrNoImage, dir)
	case 1:
		v, err := cand[0].Volume(ctx)
		return v, cand[0], err
	}
	var names []string
	for _, s := range cand {
		names = append(names, s.Name)
	}
	return nil, nil, fmt.Errorf("%w: %s holds %d series (%s); pick one with Scan", ErrGeometry, dir, len(cand), strings.Join(names, ", "))
}
