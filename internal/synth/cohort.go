package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/metasurv/metasurv/volume"
)

// Protocol is how a hospital scanner acquires one sequence: the file name
// the export gives it (as the scanner's protocol name), the axis order of
// the stored array, the voxel size at full resolution and the field of view.
type Protocol struct {
	Sequence Sequence
	File     string     // file name without directory, e.g. "t2_tse_tra.nii.gz"
	Codes    string     // array axis codes, e.g. "ASL" for sagittal slices
	Spacing  [3]float64 // mm per array axis at CohortOptions.Spacing = 1
	FOV      [3]float64 // mm along R, A, S
}

// Protocols are the four acquisitions of the synthetic hospital: two
// sagittal 3-D MPRAGEs (before and after gadolinium) and two axial 2-D
// sequences with thick slices, each stored in a different axis order as
// DICOM converters leave them.
var Protocols = [4]Protocol{
	T1:    {T1, "t1_mprage_sag.nii.gz", "ASL", [3]float64{1, 1, 1}, [3]float64{176, 224, 192}},
	T1c:   {T1c, "t1_mprage_sag_post_gd.nii.gz", "PIR", [3]float64{1, 1, 1}, [3]float64{176, 224, 192}},
	T2:    {T2, "t2_tse_tra.nii.gz", "LPS", [3]float64{0.9, 0.9, 3}, [3]float64{200, 230, 165}},
	FLAIR: {FLAIR, "t2_flair_tra.nii.gz", "RAS", [3]float64{1, 1, 2.5}, [3]float64{200, 230, 165}},
}

// Histologies are the primary tumours of the synthetic cohort (the levels
// of fusion.StudySchema) with their prevalence, roughly that of
// brain-metastasis series, their effect on the log hazard relative to
// lung cancer, and the markers tested for them with the share positive.
var Histologies = []struct {
	Name   string
	Share  float64
	Hazard float64
	EGFR   float64 // share positive; 0: not tested
	ALK    float64
	BRAF   float64
}{
	{"lung", 0.52, 0, 0.20, 0.05, 0},
	{"breast", 0.18, -0.35, 0, 0, 0},
	{"melanoma", 0.12, 0.30, 0, 0, 0.45},
	{"renal", 0.06, -0.10, 0, 0, 0},
	{"colorectal", 0.06, 0.30, 0, 0, 0.08},
	{"other", 0.06, 0.10, 0, 0, 0},
}

// PriorTreatments are the levels of the prior-treatment column with their
// share and their effect on the log hazard (a resected lesion helps, heavy
// pretreatment marks advanced disease).
var PriorTreatments = []struct {
	Name   string
	Share  float64
	Hazard float64
}{
	{"none", 0.35, 0},
	{"surgery", 0.15, -0.25},
	{"radiotherapy", 0.15, 0.10},
	{"systemic", 0.20, 0.15},
	{"combined", 0.15, 0.30},
}

// Hazard holds the coefficients of the known log hazard of the cohort,
//
//	η = Age·(age−62)/10 + KPS·(kps−80)/10 + Extracranial·[extracranial]
//	  + Mets·ln(n) + Volume·(ln(1+V) − 1.5) + Necrosis·(f − 0.35)
//	  + histology + Marker·[any actionable mutation] + Prior·treatment,
//
// with V the total enhancing-tumour volume in cm³ and f its volume-weighted
// necrotic fraction (both seen only in the images), and survival times
// drawn from a Weibull model S(t) = exp(−(t/Scale)^Shape·e^η) in months.
// where histology and treatment take the values of Histologies and
// PriorTreatments. The image carries signal the table lacks (V, f) and the
// table signal the image lacks (age, KPS, extracranial disease, histology,
// mutations, treatment), so a model fusing both should beat either alone.
type Hazard struct {
	Age, KPS, Extracranial, Mets, Volume, Necrosis, Marker, Prior float64
	Shape, Scale                                                  float64
}

// DefaultHazard is the hazard of the synthetic cohort: KPS and lesion
// volume dominate, as in the graded prognostic assessment.
var DefaultHazard = Hazard{
	Age: 0.40, KPS: -0.60, Extracranial: 0.60, Mets: 0.30, Volume: 1.00,
	Necrosis: 2.5, Marker: -0.70, Prior: 1, Shape: 1.3, Scale: 13,
}

// CohortOptions sizes and seeds a synthetic cohort. The zero value is 40
// patients at full resolution with seed 0.
type CohortOptions struct {
	// N is the number of patients (zero: 40).
	N int
	// Seed makes the cohort reproducible: the same options give the same
	// patients, images and table.
	Seed uint64
	// Spacing multiplies every protocol's voxel size (zero: 1). Tests use 4
	// (tiny images, milliseconds per patient); the quickstart about 2.
	Spacing float64
	// MissingShare is the share of patients missing at least one sequence
	// (zero: 0.5, as in the study; negative: none).
	MissingShare float64
	// Hazard is the survival model (zero value: DefaultHazard).
	Hazard *Hazard
	// FollowUp is the end of the study in months after the first accrual;
	// patients are accrued uniformly over its first three quarters (zero:
	// 48).
	FollowUp float64
	// Dropout is the monthly rate of loss to follow-up (zero: 0.005;
	// negative: none).
	Dropout float64
	// FirstID numbers the patients from here (zero: 1), so a second call
	// can make new patients with other identifiers.
	FirstID int
}

// PatientCase is one synthetic patient: the clinical record as the
// hospital table shows it (with missing values), the ground truth that
// generated it, and the acquisition of each sequence.
type PatientCase struct {
	ID string
	// Clinical record as the table shows it (columns of ClinicalHeader).
	// A missing value is NaN (numbers) or "" (text).
	Age, KPS        float64
	Histology       string
	Extracranial    string // "yes", "no" or ""
	NMets           string // "1", "2-4", ">4" or ""
	PriorTreatment  string // a level of PriorTreatments or ""
	EGFR, ALK, BRAF string // "positive", "negative" or "" (not tested or unknown)
	// Outcome in months, and whether death was observed.
	Months float64
	Death  bool

	// Ground truth, not part of the hospital export.
	TrueAge, TrueKPS   float64
	TrueExtracranial   bool
	TrueMutation       bool // any actionable mutation
	TruePrior          int  // index into PriorTreatments
	Lesions            []Lesion
	TumourCC, Necrosis float64 // enhancing volume (cm³) and necrotic fraction
	LogHazard          float64
	// ImageLogHazard is the part of LogHazard the images show: the terms
	// of lesion volume, necrosis and number of lesions. The rest is the
	// clinical part (the table also holds the number of lesions, in
	// coarse classes, and KPS falls with lesion volume).
	ImageLogHazard float64
	EventMonths    float64 // uncensored survival time
	CensorMonths   float64

	// Present says which sequences were acquired.
	Present [4]bool
	// Motion of the head in each acquisition (scanner world → phantom).
	Motion [4]volume.Affine
	// Bias amplitude, noise and scanner gain of each acquisition.
	Bias, Noise, Gain [4]float64
	Ventricles        float64
	seed              uint64
}

// Cohort is a synthetic study population. Its images are rendered on demand
// (Scan) so that large cohorts cost no memory until written.
type Cohort struct {
	Options  CohortOptions
	Patients []PatientCase
}

// NewCohort draws the patients of a synthetic cohort: anatomy, lesions,
// acquisitions, clinical record and survival. It renders no image.
func NewCohort(o CohortOptions) (*Cohort, error) {
	if o.N == 0 {
		o.N = 40
	}
	if o.N < 0 || o.N > 100000 {
		return nil, fmt.Errorf("synth: cohort size %d, want 1 to 100000", o.N)
	}
	if o.Spacing == 0 {
		o.Spacing = 1
	}
	if !(o.Spacing >= 0.5 && o.Spacing <= 8) {
		return nil, fmt.Errorf("synth: spacing factor %g, want 0.5 to 8", o.Spacing)
	}
	if o.MissingShare == 0 {
		o.MissingShare = 0.5
	}
	if o.MissingShare > 1 || math.IsNaN(o.MissingShare) {
		return nil, fmt.Errorf("synth: missing share %g, want at most 1", o.MissingShare)
	}
	if o.Hazard == nil {
		h := DefaultHazard
		o.Hazard = &h
	}
	if o.FollowUp == 0 {
		o.FollowUp = 48
	}
	if !(o.FollowUp > 0) {
		return nil, fmt.Errorf("synth: follow-up %g months, want > 0", o.FollowUp)
	}
	if o.Dropout == 0 {
		o.Dropout = 0.005
	}
	if o.FirstID == 0 {
		o.FirstID = 1
	}
	c := &Cohort{Options: o, Patients: make([]PatientCase, o.N)}
	for i := range c.Patients {
		// one stream per patient: adding patients never changes earlier ones
		rng := rand.New(rand.NewPCG(o.Seed, uint64(o.FirstID+i)))
		c.Patients[i] = drawPatient(rng, o, o.FirstID+i)
	}
	return c, nil
}

func drawPatient(rng *rand.Rand, o CohortOptions, id int) PatientCase {
	p := PatientCase{ID: fmt.Sprintf("BM%04d", id), seed: rng.Uint64()}
	h := *o.Hazard

	// clinical truth
	p.TrueAge = math.Round(clampF(62+11*rng.NormFloat64(), 28, 89))
	hi := pick(rng, len(Histologies), func(i int) float64 { return Histologies[i].Share })
	hist := Histologies[hi]
	p.Histology = hist.Name
	p.TrueExtracranial = rng.Float64() < 0.6
	p.TruePrior = pick(rng, len(PriorTreatments), func(i int) float64 { return PriorTreatments[i].Share })
	marker := func(share, missing float64) string {
		if share == 0 {
			return ""
		}
		pos := rng.Float64() < share
		p.TrueMutation = p.TrueMutation || pos
		if rng.Float64() < missing {
			return ""
		}
		if pos {
			return "positive"
		}
		return "negative"
	}
	p.EGFR = marker(hist.EGFR, 0.2)
	p.ALK = marker(hist.ALK, 0.2)
	p.BRAF = marker(hist.BRAF, 0.15)

	// lesions: 1 + a geometric number, at most 10
	n := 1
	for n < 10 && rng.Float64() < 0.55 {
		n++
	}
	var vol, necVol float64
	for len(p.Lesions) < n {
		r := clampF(math.Exp(math.Log(7)+0.45*rng.NormFloat64()), 3, 18)
		if len(p.Lesions) > 0 {
			r *= 0.8 // the first lesion found is usually the largest
		}
		l := Lesion{Radius: r, Necrosis: clampF(0.2+0.5*rng.Float64(), 0.15, 0.75), Oedema: 1.5 + 1.2*rng.Float64()}
		ok := false
		for try := 0; try < 50 && !ok; try++ {
			for a := 0; a < 3; a++ {
				l.Centre[a] = brain.c[a] + brain.r[a]*0.75*(2*rng.Float64()-1)
			}
			ok = insideBrain(l.Centre, r+4) && !nearVentricles(l.Centre, r+2)
			for _, q := range p.Lesions {
				if dist(q.Centre, l.Centre) < q.Radius+r+3 {
					ok = false
				}
			}
		}
		if !ok {
			if len(p.Lesions) == 0 { // always at least one lesion
				l.Centre, l.Radius = [3]float64{28, 24, 22}, math.Min(r, 10)
			} else {
				break
			}
		}
		p.Lesions = append(p.Lesions, l)
		v := 4.0 / 3 * math.Pi * l.Radius * l.Radius * l.Radius / 1000
		vol += v
		necVol += v * l.Necrosis * l.Necrosis * l.Necrosis
	}
	p.TumourCC = vol
	p.Necrosis = necVol / vol

	// performance status falls with burden and age
	kps := 88 - 4*math.Log(1+vol) - 0.15*(p.TrueAge-62) + 9*rng.NormFloat64()
	p.TrueKPS = clampF(10*math.Round(kps/10), 40, 100)

	// the known hazard
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	p.ImageLogHazard = h.Mets*math.Log(float64(len(p.Lesions))) +
		h.Volume*(math.Log(1+vol)-1.5) + h.Necrosis*(p.Necrosis-0.35)
	p.LogHazard = h.Age*(p.TrueAge-62)/10 + h.KPS*(p.TrueKPS-80)/10 +
		h.Extracranial*b2f(p.TrueExtracranial) + p.ImageLogHazard +
		hist.Hazard + h.Marker*b2f(p.TrueMutation) + h.Prior*PriorTreatments[p.TruePrior].Hazard
	// inverse transform of S(t) = exp(−(t/scale)^shape · e^η)
	p.EventMonths = h.Scale * math.Pow(-math.Log(1-rng.Float64())*math.Exp(-p.LogHazard), 1/h.Shape)
	accrual := 0.75 * o.FollowUp * rng.Float64()
	p.CensorMonths = o.FollowUp - accrual
	if o.Dropout > 0 {
		if d := -math.Log(1-rng.Float64()) / o.Dropout; d < p.CensorMonths {
			p.CensorMonths = d
		}
	}
	p.Death = p.EventMonths <= p.CensorMonths
	p.Months = math.Round(10*math.Min(p.EventMonths, p.CensorMonths)) / 10
	if p.Months <= 0 {
		p.Months = 0.1
	}

	// the record as the hospital has it, with gaps
	missing := func(share float64) bool { return rng.Float64() < share }
	p.Age, p.KPS, p.PriorTreatment = p.TrueAge, p.TrueKPS, PriorTreatments[p.TruePrior].Name
	p.Extracranial = map[bool]string{true: "yes", false: "no"}[p.TrueExtracranial]
	switch n := len(p.Lesions); {
	case n == 1:
		p.NMets = "1"
	case n <= 4:
		p.NMets = "2-4"
	default:
		p.NMets = ">4"
	}
	if missing(0.02) {
		p.Age = math.NaN()
	}
	if missing(0.10) {
		p.KPS = math.NaN()
	}
	if missing(0.06) {
		p.Extracranial = ""
	}
	if missing(0.03) {
		p.NMets = ""
	}
	if missing(0.05) {
		p.PriorTreatment = ""
	}

	// acquisitions
	for s := range p.Present {
		p.Present[s] = true
	}
	if o.MissingShare > 0 && rng.Float64() < o.MissingShare {
		weights := []float64{0.35, 0.25, 0.15, 0.25} // T1, T1c, T2, FLAIR
		drop := 1
		if rng.Float64() < 0.3 {
			drop = 2
		}
		for d := 0; d < drop; d++ {
			u := rng.Float64()
			for s, w := range weights {
				if u < w || s == 3 {
					p.Present[s] = false
					break
				}
				u -= w
			}
		}
		if p.Present == [4]bool{} {
			p.Present[T1c] = true
		}
	}
	p.Ventricles = clampF(0.8+0.012*(p.TrueAge-50)+0.1*rng.NormFloat64(), 0.7, 1.6)
	scale := clampF(1+0.04*rng.NormFloat64(), 0.9, 1.1)
	pose := rigid(rng, 6, 8) // the patient's head in the scanner
	for s := 0; s < 4; s++ {
		// small motion between sequences, and the head size of this patient
		m := rigid(rng, 2.5, 3).Mul(pose).Mul(volume.Scaling([3]float64{1 / scale, 1 / scale, 1 / scale}))
		p.Motion[s] = m
		p.Bias[s] = 0.1 + 0.2*rng.Float64()
		p.Noise[s] = 0.01 + 0.02*rng.Float64()
		p.Gain[s] = 400 + 1200*rng.Float64()
	}
	return p
}

// pick draws an index with probability proportional to share(i).
func pick(rng *rand.Rand, n int, share func(int) float64) int {
	var tot float64
	for i := 0; i < n; i++ {
		tot += share(i)
	}
	u := rng.Float64() * tot
	for i := 0; i < n-1; i++ {
		if u < share(i) {
			return i
		}
		u -= share(i)
	}
	return n - 1
}

// rigid returns a random rotation (about a random axis, up to deg degrees)
// and translation (up to mm millimetres per axis).
func rigid(rng *rand.Rand, deg, mm float64) volume.Affine {
	ax := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	n := math.Sqrt(ax[0]*ax[0] + ax[1]*ax[1] + ax[2]*ax[2])
	if n == 0 {
		ax, n = [3]float64{0, 0, 1}, 1
	}
	x, y, z := ax[0]/n, ax[1]/n, ax[2]/n
	th := deg * (2*rng.Float64() - 1) * math.Pi / 180
	s, c := math.Sincos(th)
	t := 1 - c
	a := volume.Affine{
		{t*x*x + c, t*x*y - s*z, t*x*z + s*y, mm * (2*rng.Float64() - 1)},
		{t*x*y + s*z, t*y*y + c, t*y*z - s*x, mm * (2*rng.Float64() - 1)},
		{t*x*z - s*y, t*y*z + s*x, t*z*z + c, mm * (2*rng.Float64() - 1)},
		{0, 0, 0, 1},
	}
	return a
}

func insideBrain(c [3]float64, margin float64) bool {
	var s float64
	for a := 0; a < 3; a++ {
		d := (c[a] - brain.c[a]) / (brain.r[a] - margin)
		s += d * d
	}
	return s < 1
}

func nearVentricles(c [3]float64, margin float64) bool {
	for _, e := range ventricles {
		var s float64
		for a := 0; a < 3; a++ {
			d := (c[a] - e.c[a]) / (e.r[a] + margin)
			s += d * d
		}
		if s < 1 {
			return true
		}
	}
	return false
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func clampF(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// Grid returns the grid of one sequence's acquisition for this cohort.
func (c *Cohort) Grid(s Sequence) ([3]int, volume.Affine, error) {
	pr := Protocols[s]
	sp := pr.Spacing
	for a := range sp {
		sp[a] *= c.Options.Spacing
	}
	return Grid(pr.FOV, sp, pr.Codes)
}

// Scan renders patient i's acquisition of sequence s as the scanner
// stored it: on the protocol grid, with the head's motion, a bias field,
// Gaussian noise and the scanner's arbitrary intensity gain. It returns
// nil (and no error) for a sequence the patient lacks.
func (c *Cohort) Scan(i int, s Sequence) (*volume.Volume, error) {
	if i < 0 || i >= len(c.Patients) {
		return nil, fmt.Errorf("synth: patient %d of %d", i, len(c.Patients))
	}
	if s < T1 || s > FLAIR {
		return nil, fmt.Errorf("synth: unknown sequence %d", int(s))
	}
	p := &c.Patients[i]
	if !p.Present[s] {
		return nil, nil
	}
	dims, affine, err := c.Grid(s)
	if err != nil {
		return nil, err
	}
	lesions := p.Lesions
	if lesions == nil {
		lesions = []Lesion{}
	}
	v, err := Head(s, dims, affine, HeadOptions{
		Motion: p.Motion[s], Lesions: lesions, Ventricles: p.Ventricles,
		Bias: p.Bias[s], Noise: p.Noise[s], Seed: p.seed*4 + uint64(s),
	})
	if err != nil {
		return nil, err
	}
	g := float32(p.Gain[s])
	for k, x := range v.Data {
		if x < 0 { // magnitude images are non-negative
			x = -x
		}
		v.Data[k] = float32(math.Round(float64(x * g)))
	}
	return v, nil
}

// Classes counts the patients per study class (<6, 6–21, ≥21 months) by
// their uncensored survival, and the number censored.
func (c *Cohort) Classes() (counts [3]int, censored int) {
	for _, p := range c.Patients {
		switch {
		case p.EventMonths < 6:
			counts[0]++
		case p.EventMonths < 21:
			counts[1]++
		default:
			counts[2]++
		}
		if !p.Death {
			censored++
		}
	}
	return counts, censored
}

// MedianMonths is the median uncensored survival of the cohort.
func (c *Cohort) MedianMonths() float64 {
	t := make([]float64, len(c.Patients))
	for i, p := range c.Patients {
		t[i] = p.EventMonths
	}
	sort.Float64s(t)
	if len(t)%2 == 1 {
		return t[len(t)/2]
	}
	return (t[len(t)/2-1] + t[len(t)/2]) / 2
}
