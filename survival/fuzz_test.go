package survival

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"
)

// fuzzValues are the extremes the entry points must survive: NaN, ±Inf,
// zero, negatives, the largest and smallest floats, huge scores.
var fuzzValues = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -1, 1e308, 5e-324, -1e308, 800, -800, 745, 1e6}

// fuzzFloat decodes 2 bytes: mostly ordinary values on a small grid (so
// ties happen), sometimes an extreme.
func fuzzFloat(b []byte) float64 {
	v := binary.LittleEndian.Uint16(b)
	if v%7 == 0 {
		return fuzzValues[int(v/7)%len(fuzzValues)]
	}
	return float64(v%64) / 4
}

// FuzzEntryPoints feeds outcomes, scores and covariates with NaN, ±Inf and
// extremes to the survival estimators, tests and losses: none may panic,
// and what they accept must come out finite and in range.
func FuzzEntryPoints(f *testing.F) {
	f.Add([]byte{1, 0, 1, 2, 0, 3, 1, 4, 5, 0, 6, 0, 7, 1, 8, 9, 0, 10, 0, 11, 1})
	f.Add([]byte{7, 0, 1, 0, 0, 9, 14, 0, 0, 1, 0, 3, 21, 0, 1, 2, 0, 5})
	f.Add([]byte{0, 1, 1, 0, 1, 2, 0, 1, 1, 0, 2, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		const rec = 7 // time(2) event(1) score(2) covariate(2)
		n := len(b) / rec
		if n == 0 || n > 48 {
			return
		}
		times := make([]float64, n)
		events := make([]bool, n)
		eta := make([]float64, n)
		x := make([][]float64, n)
		group := make([]string, n)
		for i := range n {
			r := b[i*rec:]
			times[i] = fuzzFloat(r[0:2])
			events[i] = r[2]&1 != 0
			eta[i] = fuzzFloat(r[3:5])
			x[i] = []float64{fuzzFloat(r[5:7])}
			group[i] = strconv.Itoa(int(r[2] >> 1 % 3))
		}
		y, err := NewOutcomes(times, events)
		if err != nil {
			return // NaN, Inf or negative times are refused here
		}
		for _, o := range y {
			if !finite(o.Time) || o.Time < 0 {
				t.Fatalf("NewOutcomes accepted time %v", o.Time)
			}
		}
		if km, err := KaplanMeier(y, KMOptions{}); err == nil {
			for i, s := range km.Surv {
				if !(s >= 0 && s <= 1) || km.Lower[i] > km.Upper[i] {
					t.Fatalf("KM S=%v CI [%v, %v]", s, km.Lower[i], km.Upper[i])
				}
			}
			km.Median()
			km.RMean()
		}
		if na, err := NelsonAalen(y, Efron); err == nil {
			for _, h := range na.CumHaz {
				if !(h >= 0) {
					t.Fatalf("cumulative hazard %v", h)
				}
			}
		}
		if lr, err := LogRank(y, group, LogRankOptions{}); err == nil && !(lr.P >= 0 && lr.P <= 1) {
			t.Fatalf("log-rank p = %v", lr.P)
		}
		for _, o := range []ConcordanceOptions{{}, {TimeWeight: Uno}} {
			if c, err := Concordance(y, eta, o); err == nil && !(c.C >= 0 && c.C <= 1) {
				t.Fatalf("concordance %+v: C = %v", o, c.C)
			}
		}
		for _, ties := range []Ties{Efron, Breslow} {
			if loss, grad, err := CoxLoss(y, eta, ties); err == nil {
				if !finite(loss) || loss < -1e-9 || !finite(grad...) {
					t.Fatalf("CoxLoss %v: %v, grad %v (eta %v)", ties, loss, grad, eta)
				}
			}
		}
		if fit, err := Cox(y, x, []string{"x"}, CoxOptions{}); err == nil {
			if !finite(fit.Coef...) || !finite(fit.LogLik[:]...) {
				t.Fatalf("Cox fit %v, loglik %v", fit.Coef, fit.LogLik)
			}
		}
		if l, err := StudyClasses().Label(y, Months); err == nil && len(l.Class) != n {
			t.Fatalf("%d labels for %d outcomes", len(l.Class), n)
		}
		if _, err := Summarize(y); err != nil && len(y) > 0 {
			t.Fatalf("Summarize: %v", err)
		}
		// The discrete-time losses on a 3-cut grid, rows from the scores.
		phi := make([][]float64, n)
		idx := make([]int, n)
		for i := range phi {
			phi[i] = []float64{eta[i], x[i][0], eta[(i+1)%n]}
			idx[i] = int(b[i*rec+2]>>1) % 3
		}
		for name, loss := range map[string]func() (float64, [][]float64, error){
			"PMF":            func() (float64, [][]float64, error) { return PMFLoss(phi, idx, events) },
			"LogisticHazard": func() (float64, [][]float64, error) { return LogisticHazardLoss(phi, idx, events) },
			"DeepHit":        func() (float64, [][]float64, error) { return DeepHitLoss(phi, idx, events, DeepHitOptions{}) },
			"Coral":          func() (float64, [][]float64, error) { return CoralLoss(phi, idx, nil) },
		} {
			if l, g, err := loss(); err == nil {
				if !finite(l) {
					t.Fatalf("%s loss %v (phi %v)", name, l, phi)
				}
				for _, row := range g {
					if !finite(row...) {
						t.Fatalf("%s gradient %v (phi %v)", name, g, phi)
					}
				}
			}
		}
		theta := []float64{-1, 0.5}
		cls := make([]int, n)
		for i := range cls {
			cls[i] = int(b[i*rec+2]>>1)%4 - 1 // −1 = undetermined
		}
		if loss, gEta, gTheta, err := CumulativeLinkLoss(eta, theta, cls, nil); err == nil {
			if !finite(loss) || !finite(gEta...) || !finite(gTheta...) {
				t.Fatalf("CumulativeLinkLoss %v %v %v (eta %v)", loss, gEta, gTheta, eta)
			}
		}
	})
}
