package plot

import (
	"io"
	"math"
	"slices"
	"testing"

	"github.com/metasurv/metasurv/survival"
)

// TestHostileInputs checks that bad risk-table times, a NaN horizon and
// empty figures are errors, and that KMCurves leaves the caller's
// RiskTimes unsorted.
func TestHostileInputs(t *testing.T) {
	y := []survival.Outcome{{Time: 1, Event: true}, {Time: 2, Event: false}, {Time: 3, Event: true}}
	g := []Group{{Label: "a", Y: y}}
	for _, rt := range [][]float64{{-1}, {math.NaN()}, {1, math.Inf(1)}} {
		if _, err := KMCurves(g, KMOptions{RiskTimes: rt}); err == nil {
			t.Errorf("RiskTimes %v: no error", rt)
		}
	}
	rt := []float64{2, 0, 1}
	if _, err := KMCurves(g, KMOptions{RiskTimes: rt}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rt, []float64{2, 0, 1}) {
		t.Errorf("KMCurves reordered the caller's RiskTimes to %v", rt)
	}
	if _, err := Calibration([]survival.CalibrationBin{{}}, math.NaN(), survival.Months); err == nil {
		t.Error("Calibration with a NaN horizon: no error")
	}
	var nilFig *Figure
	for name, err := range map[string]error{
		"nil PNG":  nilFig.WritePNG(io.Discard),
		"zero SVG": (&Figure{}).WriteSVG(io.Discard),
		"nil Save": nilFig.Save(t.TempDir() + "/x.png"),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
