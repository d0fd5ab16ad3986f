package dicom

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Guess is a best guess of the MR contrast of a series, for picking a
// patient's four inputs automatically; a person should check it. Label is
// "T1", "T1c", "T2", "FLAIR" or "" (unknown); Reason says which fields led
// to it and whether they disagreed.
type Guess struct {
	Label  string `json:"Label"`
	Reason string `json:"Reason"`
}

var (
	reFLAIR = regexp.MustCompile(`(?i)flair|dark[ _-]?fluid|tirm|t2[ _-]?ir\b`)
	reT2    = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])t2(?:w|[^a-z0-9*]|$)|\btse\b.*t2|\bt2[ _-]?tse`)
	reT1    = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])t1(?:w|[^a-z0-9]|$)|mprage|mp[ _-]?rage|spgr|bravo|tfl3d|vibe|\bt1[ _-]?(?:se|tse|ffe|fl)`)
	rePost  = regexp.MustCompile(`(?i)\+c\b|\+gd|post|[ _-]gd\b|\bgad|contrast|\bce\b|[ _-]c\+|mdc|kontrast`)
	rePre   = regexp.MustCompile(`(?i)\bpre\b|pre[ _-]?(?:contrast|gd|c\b)|nativ|without`)
)

// GuessSequence guesses the contrast of a series from its description and
// protocol name first, then from the timing (TR, TE, TI) and the contrast
// agent field.
func GuessSequence(m *Metadata) Guess {
	text := m.SeriesDescription
	if m.ProtocolName != "" && m.ProtocolName != text {
		text = strings.TrimSpace(text + " " + m.ProtocolName)
	}
	post := m.ContrastBolusAgent != ""
	postWhy := ""
	if post {
		postWhy = fmt.Sprintf("ContrastBolusAgent %q", m.ContrastBolusAgent)
	} else if rePost.MatchString(text) && !rePre.MatchString(text) {
		post = true
		postWhy = fmt.Sprintf("description %q names contrast", text)
	}
	t1 := func(why string) Guess {
		if post {
			return Guess{"T1c", why + "; post-contrast from " + postWhy}
		}
		return Guess{"T1", why + "; no contrast agent recorded"}
	}
	// Timing classes (ms).
	tr, te, ti := m.RepetitionTime, m.EchoTime, m.InversionTime
	timing := ""
	switch {
	case ti >= 1500 && tr >= 4000:
		timing = "FLAIR"
	case te >= 60 && tr >= 1500 && (ti == 0 || ti < 300):
		timing = "T2"
	case te > 0 && te <= 30 && tr > 0 && tr <= 1000:
		timing = "T1"
	case te > 0 && te <= 10 && ti >= 300 && ti <= 1400:
		timing = "T1" // MPRAGE-like inversion-prepared gradient echo
	}
	timingWhy := fmt.Sprintf("TR %.4g ms, TE %.4g ms, TI %.4g ms", tr, te, ti)
	keyword := ""
	switch {
	case reFLAIR.MatchString(text):
		keyword = "FLAIR"
	case reT1.MatchString(text):
		keyword = "T1"
	case reT2.MatchString(text):
		keyword = "T2"
	}
	if keyword == "T2" && timing == "FLAIR" {
		// "T2 FLAIR" descriptions without the word FLAIR (e.g. a T2 IR):
		// the inversion time decides.
		return Guess{"FLAIR", fmt.Sprintf("description %q says T2 and the timing (%s) is fluid-attenuated", text, timingWhy)}
	}
	if keyword != "" {
		why := fmt.Sprintf("description %q says %s", text, keyword)
		if timing != "" && timing != keyword {
			why += fmt.Sprintf(" but the timing (%s) looks like %s", timingWhy, timing)
		} else if timing == keyword {
			why += fmt.Sprintf(", timing agrees (%s)", timingWhy)
		}
		if keyword == "T1" {
			return t1(why)
		}
		return Guess{keyword, why}
	}
	if timing != "" {
		why := fmt.Sprintf("timing %s looks like %s (description %q has no keyword)", timingWhy, timing, text)
		if timing == "T1" {
			return t1(why)
		}
		return Guess{timing, why}
	}
	return Guess{"", fmt.Sprintf("no keyword in %q and timing %s fits no class", text, timingWhy)}
}

// Selection is the series chosen for each of the study's four contrasts
// from a folder's series, with notes a person should read: which label had
// several candidates and why one was preferred, and which were left out.
type Selection struct {
	// Series maps "T1", "T1c", "T2" and "FLAIR" to the chosen series; a
	// contrast without a candidate is absent.
	Series map[string]*Series
	// Notes explain every choice that was not the only candidate.
	Notes []string
}

// Contrasts are the labels SelectSequences fills, in stacking order.
var Contrasts = [4]string{"T1", "T1c", "T2", "FLAIR"}

// SelectSequences picks one series per contrast by GuessSequence. Refused
// series (Err set), localizers and derived images are never picked when an
// original is available. Among several candidates it prefers a 3-D
// acquisition, then the smallest voxel, then more slices, then the later
// series number (a repeat is usually the better one).
func SelectSequences(series []*Series) Selection {
	sel := Selection{Series: map[string]*Series{}}
	for _, label := range Contrasts {
		var cand []*Series
		for _, s := range series {
			if s.Err == nil && !s.Localizer && s.Guess.Label == label {
				cand = append(cand, s)
			}
		}
		if len(cand) == 0 {
			continue
		}
		better := func(a, b *Series) bool {
			if a.Derived != b.Derived {
				return !a.Derived
			}
			a3, b3 := strings.EqualFold(a.Meta.MRAcquisitionType, "3D"), strings.EqualFold(b.Meta.MRAcquisitionType, "3D")
			if a3 != b3 {
				return a3
			}
			va, vb := voxelVolume(a), voxelVolume(b)
			if math.Abs(va-vb) > 1e-3*math.Max(va, vb) {
				return va < vb
			}
			if a.Dims[2] != b.Dims[2] {
				return a.Dims[2] > b.Dims[2]
			}
			return a.Meta.SeriesNumber > b.Meta.SeriesNumber
		}
		best := cand[0]
		for _, s := range cand[1:] {
			if better(s, best) {
				best = s
			}
		}
		sel.Series[label] = best
		if len(cand) > 1 {
			var others []string
			for _, s := range cand {
				if s != best {
					others = append(others, s.Name)
				}
			}
			sel.Notes = append(sel.Notes, fmt.Sprintf("%s: chose %s (%s, %.3g mm³ voxels, %d slices) over %s",
				label, best.Name, orUnknown(best.Meta.MRAcquisitionType), voxelVolume(best), best.Dims[2], strings.Join(others, ", ")))
		}
	}
	for _, label := range Contrasts {
		if sel.Series[label] == nil {
			sel.Notes = append(sel.Notes, label+": no series guessed as "+label)
		}
	}
	return sel
}

func voxelVolume(s *Series) float64 {
	var v = 1.0
	for c := 0; c < 3; c++ {
		var n float64
		for r := 0; r < 3; r++ {
			n += s.Affine[r][c] * s.Affine[r][c]
		}
		v *= math.Sqrt(n)
	}
	return v
}

func orUnknown(s string) string {
	if s == "" {
		return "acquisition type unknown"
	}
	return s
}
