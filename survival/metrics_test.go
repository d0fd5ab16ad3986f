package survival

import (
	"context"
	"math"
	"testing"
)

// TestSklearnParity checks every number of scikit-learn 1.2's metrics on
// the shared 3-class predictions to 1e-9.
func TestSklearnParity(t *testing.T) {
	want := readJSON(t, "golden", "metrics", "classification_expected.json")
	var y []int
	for _, v := range want["y_true"].([]any) {
		y = append(y, int(v.(float64)))
	}
	var proba [][]float64
	for _, row := range want["proba"].([]any) {
		var r []float64
		for _, v := range row.([]any) {
			r = append(r, v.(float64))
		}
		proba = append(proba, r)
	}
	rep, err := Classify(y, Argmax(proba), 3)
	if err != nil {
		t.Fatal(err)
	}
	auc, err := MulticlassAUC(y, proba)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := LogLoss(y, proba)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := BrierMulticlass(y, proba)
	if err != nil {
		t.Fatal(err)
	}
	cm := make([]any, len(rep.Confusion))
	for i, row := range rep.Confusion {
		cm[i] = floats(row)
	}
	got := map[string]any{
		"generator": want["generator"], "y_true": want["y_true"], "proba": want["proba"],
		"accuracy": rep.Accuracy, "balanced_accuracy": rep.BalancedAccuracy,
		"f1_macro": rep.F1Macro, "f1_weighted": rep.F1Weighted,
		"precision_macro": rep.PrecisionMacro, "recall_macro": rep.RecallMacro,
		"roc_auc_ovr_macro": auc.OvRMacro, "roc_auc_ovr_weighted": auc.OvRWeighted,
		"roc_auc_ovo_macro": auc.OvOMacro, "log_loss": ll,
		"cohen_kappa_quadratic": rep.KappaQuadratic, "mcc": rep.MCC,
		"confusion_matrix": cm, "brier_multiclass": bs,
	}
	maxRelErr = 0
	n := compareTree(t, "", want, got, 1e-9)
	t.Logf("compared %d numbers with scikit-learn, max relative error %.3g", n, maxRelErr)
	if n < 14 {
		t.Errorf("only %d numbers compared", n)
	}
}

// TestBootstrapClasses: the bootstrap estimate is scikit-learn's value,
// the interval brackets it and the draw is reproducible.
func TestBootstrapClasses(t *testing.T) {
	want := readJSON(t, "golden", "metrics", "classification_expected.json")
	var y []int
	for _, v := range want["y_true"].([]any) {
		y = append(y, int(v.(float64)))
	}
	var proba [][]float64
	for _, row := range want["proba"].([]any) {
		var r []float64
		for _, v := range row.([]any) {
			r = append(r, v.(float64))
		}
		proba = append(proba, r)
	}
	auc := func(y []int, p [][]float64) (float64, error) {
		r, err := MulticlassAUC(y, p)
		if err != nil {
			return 0, err
		}
		return r.OvRMacro, nil
	}
	o := BootstrapOptions{Resamples: 300, Seed: 11}
	a, err := BootstrapClasses(context.Background(), y, proba, auc, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapClasses(context.Background(), y, proba, auc, o)
	if a != b || a.Estimate != want["roc_auc_ovr_macro"].(float64) || !(a.Lower < a.Estimate && a.Estimate < a.Upper) || a.Failed != 0 {
		t.Errorf("interval %+v (sklearn %v)", a, want["roc_auc_ovr_macro"])
	}
}

func TestPoolRubin(t *testing.T) {
	p, err := PoolRubin([]float64{1, 2, 3}, []float64{0.5, 0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// B = 1, T = 0.5 + (4/3)·1, r = 0.5/(4/3) = 0.375, df = 2·1.375²
	if p.Estimate != 2 || p.Between != 1 || math.Abs(p.Total-(0.5+4.0/3)) > 1e-15 || math.Abs(p.DF-2*1.375*1.375) > 1e-12 {
		t.Errorf("pooled %+v", p)
	}
	if _, err := PoolRubin([]float64{1}, []float64{1}); err == nil {
		t.Error("single imputation accepted")
	}
}

func TestOrdinalRisk(t *testing.T) {
	r := OrdinalRisk([][]float64{{1, 0, 0}, {0, 0, 1}, {0.2, 0.3, 0.5}})
	if r[0] != 2 || r[1] != 0 || math.Abs(r[2]-(0.4+0.3)) > 1e-15 {
		t.Errorf("ordinal risk %v", r)
	}
}
