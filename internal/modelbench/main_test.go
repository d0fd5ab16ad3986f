package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRotate(t *testing.T) {
	sides := []string{"ort", "fp32", "bf16"}
	for r, want := range [][]string{
		{"ort", "fp32", "bf16"}, {"fp32", "bf16", "ort"}, {"bf16", "ort", "fp32"}, {"ort", "fp32", "bf16"},
	} {
		if got := rotate(sides, r); !slices.Equal(got, want) {
			t.Errorf("round %d: %v, want %v", r, got, want)
		}
	}
	if !slices.Equal(sides, []string{"ort", "fp32", "bf16"}) {
		t.Errorf("rotate changed its input: %v", sides)
	}
}

func TestPair(t *testing.T) {
	ours := []result{{Wall: 0.9, RSS: 100}, {Wall: 1.2, RSS: 110}, {Wall: 1.0, RSS: 90}, {Wall: 2.0, RSS: 100}}
	peer := []result{{Wall: 1.0, RSS: 200}, {Wall: 1.0, RSS: 200}, {Wall: 2.0, RSS: 100}, {Wall: 2.0, RSS: 400}}
	// Per round 0.9, 1.2, 0.5, 1.0: median (0.9+1.0)/2; best to best 0.9/1.0.
	r := pair(ours, peer)
	want := ratios{best: 0.9, median: 0.95, lo: 0.5, hi: 1.2, memLo: 0.25, memHi: 0.9}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"best", r.best, want.best}, {"median", r.median, want.median}, {"lo", r.lo, want.lo}, {"hi", r.hi, want.hi},
		{"memLo", r.memLo, want.memLo}, {"memHi", r.memHi, want.memHi}} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if m := pair(ours[:3], peer[:3]).median; math.Abs(m-0.9) > 1e-12 {
		t.Errorf("odd rounds: median %v, want 0.9", m)
	}
}

func TestReport(t *testing.T) {
	res := map[string][]result{
		"ort":  {{Wall: 0.25, CPU: 0.5, RSS: 800e6}},
		"fp32": {{Wall: 0.2, CPU: 0.4, RSS: 400e6}},
	}
	var b bytes.Buffer
	report(&b, "vitb16", []string{"ort", "fp32"}, res)
	out := b.String()
	for _, want := range []string{"vitb16 (1 rounds)", "ort           0.250–0.250 s wall", "best to best 0.800×", "memory 0.50–0.50×"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestChildRefusesUnknownSides(t *testing.T) {
	for _, spec := range []string{"nope/fp32", "resnet18/bf16-resident", "vitb16/fp16", "vitb16"} {
		if err := runChild(spec, 1, 1); err == nil || !strings.Contains(err.Error(), "unknown side") {
			t.Errorf("runChild(%q) = %v, want an unknown-side error", spec, err)
		}
	}
}
