package survival

import (
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
