// Command survival analyses a right-censored cohort from a CSV file the way
// a clinical paper's statistics section does, and prints the results as
// JSON: the Kaplan–Meier table and median, the study's 3-class balance
// (censored patients whose class is unknown counted apart), a log-rank test
// between groups, a Cox model, and Harrell's and Uno's concordance of a
// risk marker. With
// -out it also writes the study's Figure 1, Kaplan–Meier curves and a Cox
// calibration plot as PNG and SVG.
//
//	survival -data lung.csv -time time -event status -group sex \
//	    -covariates age,sex,ph.ecog -marker ph.ecog -out figs
//
// Rows with a missing value in any column used are dropped (as R's
// na.omit) and counted in "dropped". The marker is a risk score: higher
// means shorter survival, as R's concordance(..., reverse = TRUE).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/survival/plot"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "survival:", err)
		os.Exit(1)
	}
}

// config holds the command-line options.
type config struct {
	data, time, event, group, covariates, marker, out string
	unit                                              survival.Unit
	ties                                              survival.Ties
	conf                                              survival.ConfType
	tau, horizon                                      float64
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("survival", flag.ContinueOnError)
	fs.StringVar(&c.data, "data", "", "CSV file with a header line (required)")
	fs.StringVar(&c.time, "time", "", "follow-up time column (required)")
	fs.StringVar(&c.event, "event", "", "event column: 0/1, 1/2 or TRUE/FALSE (required)")
	fs.StringVar(&c.group, "group", "", "group column for KM curves and the log-rank test")
	fs.StringVar(&c.covariates, "covariates", "", "comma-separated Cox covariates (text columns become factors)")
	fs.StringVar(&c.marker, "marker", "", "numeric risk-score column for Harrell's and Uno's C (higher = shorter survival)")
	fs.StringVar(&c.out, "out", "", "directory for figures (PNG and SVG)")
	// The survival enums implement encoding.TextUnmarshaler: flag.TextVar
	// parses them and reports unknown names.
	fs.TextVar(&c.unit, "unit", survival.Days, "unit of the time column: days, weeks, months or years")
	fs.TextVar(&c.ties, "ties", survival.Efron, "Cox tie method: efron or breslow")
	fs.TextVar(&c.conf, "conf", survival.ConfLog, "KM interval type: log, log-log, plain or none")
	fs.Float64Var(&c.tau, "tau", 0, "Uno's truncation time (0: the largest event time)")
	fs.Float64Var(&c.horizon, "horizon", 0, "calibration horizon (0: the median follow-up)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.data == "" || c.time == "" || c.event == "" {
		return nil, errors.New("-data, -time and -event are required")
	}
	return c, nil
}

// num maps NaN and ±Inf (R's NA) to JSON null.
func num(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func nums(v []float64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = num(x)
	}
	return out
}

func run(args []string, stdout io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	unit := c.unit
	ds, err := load(c, unit)
	if err != nil {
		return err
	}
	res := map[string]any{"data": c.data, "n": len(ds.Y), "dropped": ds.Dropped,
		"events": survival.CountEvents(ds.Y), "unit": unit.String()}
	sum, err := survival.Summarize(ds.Y)
	if err != nil {
		return err
	}
	res["median_follow_up"] = num(sum.MedianFollowUp)
	km, err := survival.KaplanMeier(ds.Y, survival.KMOptions{ConfType: c.conf})
	if err != nil {
		return err
	}
	res["km"] = kmJSON(km)
	if res["classes"], err = classesJSON(ds, unit); err != nil {
		return err
	}
	groups := groupsOf(ds, c.group)
	if c.group != "" {
		if err := addGroups(res, ds, c.group, groups, c.conf); err != nil {
			return err
		}
	}
	var fit *survival.CoxFit
	if c.covariates != "" {
		if fit, err = coxJSON(res, ds, c.ties); err != nil {
			return err
		}
	}
	if c.marker != "" {
		if err := markerJSON(res, ds, c.marker, c.tau); err != nil {
			return err
		}
	}
	if c.out != "" {
		files, err := figures(c, ds, unit, groups, fit, sum)
		if err != nil {
			return err
		}
		res["figures"] = files
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// load reads the CSV and keeps the complete rows of every used column.
func load(c *config, unit survival.Unit) (*survival.Dataset, error) {
	f, err := os.Open(c.data)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tab, err := survival.ReadCSV(f, survival.CSVOptions{})
	if err != nil {
		return nil, err
	}
	var keep []string
	for _, k := range []string{c.group, c.marker} {
		if k != "" && !contains(keep, k) {
			keep = append(keep, k)
		}
	}
	return tab.Dataset(survival.DatasetOptions{Time: c.time, Event: c.event,
		Covariates: splitList(c.covariates), Keep: keep, Unit: unit})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// classesJSON reports the study's 3-class balance (<6, 6–21, >=21
// months) with censored-undetermined patients counted apart.
func classesJSON(ds *survival.Dataset, unit survival.Unit) (map[string]any, error) {
	scheme := survival.StudyClasses()
	l, err := scheme.Label(ds.Y, unit)
	if err != nil {
		return nil, err
	}
	b, err := l.Balance(ds.Y, unit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"cuts_months": scheme.Cuts, "counts": b.Counts, "shares": b.Shares,
		"km_shares": b.KMShares, "undetermined": b.Undetermined}, nil
}

func kmJSON(km *survival.KM) map[string]any {
	lo, hi := km.QuantileCI(0.5)
	se, err := km.RMSTSE(km.Time[len(km.Time)-1])
	if err != nil {
		se = math.NaN() // last time 0: no area
	}
	return map[string]any{"rmean_se": num(se), "conf_type": string(km.ConfType), "time": km.Time, "n_risk": km.NRisk,
		"n_event": km.NEvent, "n_censor": km.NCensor, "surv": km.Surv, "std_err": nums(km.StdErr),
		"lower": nums(km.Lower), "upper": nums(km.Upper), "median": num(km.Median()),
		"median_lower": num(lo), "median_upper": num(hi), "rmean": km.RMean()}
}

// groupsOf splits the outcomes by the group column (sorted labels).
func groupsOf(ds *survival.Dataset, col string) []plot.Group {
	if col == "" {
		return []plot.Group{{Label: "all", Y: ds.Y}}
	}
	idx := map[string]int{}
	var out []plot.Group
	for _, l := range survival.GroupLevels(ds.Kept[col]) {
		idx[l] = len(out)
		out = append(out, plot.Group{Label: l})
	}
	for i, l := range ds.Kept[col] {
		g := &out[idx[l]]
		g.Y = append(g.Y, ds.Y[i])
	}
	return out
}

func addGroups(res map[string]any, ds *survival.Dataset, col string, groups []plot.Group, conf survival.ConfType) error {
	per := map[string]any{}
	for _, g := range groups {
		km, err := survival.KaplanMeier(g.Y, survival.KMOptions{ConfType: conf})
		if err != nil {
			return err
		}
		lo, hi := km.QuantileCI(0.5)
		per[g.Label] = map[string]any{"n": len(g.Y), "events": survival.CountEvents(g.Y),
			"median": num(km.Median()), "median_lower": num(lo), "median_upper": num(hi)}
	}
	res["groups"] = per
	if len(groups) < 2 {
		return nil
	}
	lr, err := survival.LogRank(ds.Y, ds.Kept[col], survival.LogRankOptions{})
	if err != nil {
		return err
	}
	res["logrank"] = map[string]any{"groups": lr.Groups, "observed": lr.Observed, "expected": lr.Expected,
		"chisq": lr.ChiSq, "df": lr.DF, "p": lr.P}
	return nil
}

func coxJSON(res map[string]any, ds *survival.Dataset, ties survival.Ties) (*survival.CoxFit, error) {
	fit, err := survival.Cox(ds.Y, ds.X, ds.Names, survival.CoxOptions{Ties: ties})
	if err != nil {
		return nil, err
	}
	coefs := make([]any, len(fit.Names))
	for j, n := range fit.Names {
		z := fit.Coef[j] / fit.SE[j]
		coefs[j] = map[string]any{"name": n, "coef": fit.Coef[j], "exp_coef": math.Exp(fit.Coef[j]),
			"se": fit.SE[j], "z": z, "p": 2 * normalSF(math.Abs(z))}
	}
	res["cox"] = map[string]any{"ties": fit.Ties.String(), "coefficients": coefs, "loglik": fit.LogLik,
		"lr_test": fit.LRTest, "lr_p": fit.LRP, "wald_test": fit.WaldTest, "wald_p": fit.WaldP,
		"score_test": fit.ScoreTest, "score_p": fit.ScoreP, "df": fit.DF, "concordance": fit.Concordance, "concordance_se": fit.ConcordanceSE,
		"n": fit.N, "nevent": fit.NEvent, "iter": fit.Iter, "converged": fit.Converged}
	return fit, nil
}

// normalSF is the standard normal upper tail.
func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

func markerJSON(res map[string]any, ds *survival.Dataset, col string, tau float64) error {
	risk := make([]float64, len(ds.Y))
	for i, s := range ds.Kept[col] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("marker column %q row %d: %q is not a number", col, ds.Rows[i]+2, s)
		}
		risk[i] = v
	}
	h, err := survival.Concordance(ds.Y, risk, survival.ConcordanceOptions{})
	if err != nil {
		return err
	}
	u, err := survival.Concordance(ds.Y, risk, survival.ConcordanceOptions{TimeWeight: survival.Uno, Tau: tau})
	if err != nil {
		return err
	}
	res["marker"] = map[string]any{"column": col, "harrell": concJSON(h), "uno": concJSON(u), "uno_tau": tau}
	return nil
}

func concJSON(c *survival.ConcordanceResult) map[string]any {
	return map[string]any{"c": c.C, "se": c.SE, "concordant": c.Concordant, "discordant": c.Discordant,
		"tied_risk": c.TiedRisk, "tied_time": c.TiedTime, "tied_both": c.TiedBoth}
}

// figures writes Figure 1, the KM curves and (with a Cox model) a
// calibration plot at the horizon.
func figures(c *config, ds *survival.Dataset, unit survival.Unit, groups []plot.Group, fit *survival.CoxFit, sum survival.Summary) ([]string, error) {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	figs := map[string]*plot.Figure{}
	f1, err := plot.Figure1(ds.Y, plot.Figure1Options{Unit: unit})
	if err != nil {
		return nil, err
	}
	figs["figure1"] = f1
	km, err := plot.KMCurves(groups, plot.KMOptions{ConfType: survival.ConfType(c.conf), Unit: unit,
		Title: "Kaplan–Meier " + filepath.Base(c.data)})
	if err != nil {
		return nil, err
	}
	figs["km"] = km
	if fit != nil {
		h := c.horizon
		if h == 0 {
			h = sum.MedianFollowUp
		}
		if math.IsNaN(h) {
			h = sum.MedianSurvival
		}
		pred := make([]float64, len(ds.Y))
		for i, x := range ds.X {
			if pred[i], err = fit.SurvivalAt(x, "", h); err != nil {
				return nil, err
			}
		}
		bins, err := survival.Calibration(ds.Y, pred, h, min(5, len(ds.Y)))
		if err != nil {
			return nil, err
		}
		cal, err := plot.Calibration(bins, h, unit)
		if err != nil {
			return nil, err
		}
		figs["calibration"] = cal
	}
	var files []string
	for _, name := range []string{"figure1", "km", "calibration"} {
		f, ok := figs[name]
		if !ok {
			continue
		}
		for _, ext := range []string{".png", ".svg"} {
			p := filepath.Join(c.out, name+ext)
			if err := f.Save(p); err != nil {
				return nil, err
			}
			files = append(files, p)
		}
	}
	return files, nil
}
