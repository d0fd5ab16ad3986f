package survival

import (
	"fmt"
	"math"
	"sort"
)

// Classification metrics for the study's 3-class framing (<6, 6–21, >21
// months). Labels are 0..k−1; probabilities are one row per sample. Each
// metric follows scikit-learn's definition (version 1.2) exactly,
// including its zero-division and tie conventions, so numbers can be
// compared with published Python results.

// maxClasses bounds the class count a caller may ask for, so that a bad k
// cannot request a k×k confusion matrix larger than memory.
const maxClasses = 1 << 12

// checkLabels validates labels against k classes.
func checkLabels(name string, y []int, k int) error {
	for i, v := range y {
		if v < 0 || v >= k {
			return fmt.Errorf("%w: %s[%d] = %d (want a class in 0..%d)", ErrInput, name, i, v, k-1)
		}
	}
	return nil
}

// ConfusionMatrix returns the k×k matrix whose entry [i][j] counts samples
// of true class i predicted as class j (scikit-learn's layout).
func ConfusionMatrix(yTrue, yPred []int, k int) ([][]float64, error) {
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("%w: %d true labels but %d predictions", ErrShape, len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return nil, ErrEmpty
	}
	if k < 1 || k > maxClasses {
		return nil, fmt.Errorf("%w: %d classes (want 1..%d)", ErrInput, k, maxClasses)
	}
	if err := checkLabels("yTrue", yTrue, k); err != nil {
		return nil, err
	}
	if err := checkLabels("yPred", yPred, k); err != nil {
		return nil, err
	}
	cm := make([][]float64, k)
	for i := range cm {
		cm[i] = make([]float64, k)
	}
	for i := range yTrue {
		cm[yTrue[i]][yPred[i]]++
	}
	return cm, nil
}

// Argmax returns the most probable class of each row (the first on ties).
func Argmax(proba [][]float64) []int {
	out := make([]int, len(proba))
	for i, row := range proba {
		best := 0
		for j, p := range row {
			if p > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// ClassReport holds the label-based metrics of a k-class prediction.
type ClassReport struct {
	Confusion        [][]float64
	Accuracy         float64
	BalancedAccuracy float64
	// Precision, Recall, F1 and Support are per class.
	Precision, Recall, F1, Support                []float64
	PrecisionMacro, RecallMacro, F1Macro          float64
	PrecisionWeighted, RecallWeighted, F1Weighted float64
	// KappaQuadratic is Cohen's kappa with quadratic weights, the
	// agreement measure for ordered classes.
	KappaQuadratic float64
	// MCC is the multiclass Matthews correlation coefficient.
	MCC float64
}

// Classify computes the label-based metrics. Precision of a class never
// predicted is 0 (scikit-learn's zero_division default); balanced accuracy
// averages the recall of the classes present in yTrue.
func Classify(yTrue, yPred []int, k int) (*ClassReport, error) {
	cm, err := ConfusionMatrix(yTrue, yPred, k)
	if err != nil {
		return nil, err
	}
	r := &ClassReport{Confusion: cm, Precision: make([]float64, k), Recall: make([]float64, k),
		F1: make([]float64, k), Support: make([]float64, k)}
	n := float64(len(yTrue))
	rows, cols := make([]float64, k), make([]float64, k)
	var trace float64
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			rows[i] += cm[i][j]
			cols[j] += cm[i][j]
		}
		trace += cm[i][i]
	}
	present := 0.0
	for c := 0; c < k; c++ {
		tp := cm[c][c]
		r.Support[c] = rows[c]
		r.Precision[c] = safeDiv(tp, cols[c])
		r.Recall[c] = safeDiv(tp, rows[c])
		r.F1[c] = safeDiv(2*tp, rows[c]+cols[c])
		r.PrecisionMacro += r.Precision[c] / float64(k)
		r.RecallMacro += r.Recall[c] / float64(k)
		r.F1Macro += r.F1[c] / float64(k)
		r.PrecisionWeighted += r.Precision[c] * rows[c] / n
		r.RecallWeighted += r.Recall[c] * rows[c] / n
		r.F1Weighted += r.F1[c] * rows[c] / n
		if rows[c] > 0 {
			r.BalancedAccuracy += r.Recall[c]
			present++
		}
	}
	r.BalancedAccuracy /= present
	r.Accuracy = trace / n
	r.KappaQuadratic = quadraticKappa(cm, rows, cols, n)
	var tp, tt, pp float64
	for c := 0; c < k; c++ {
		tp += rows[c] * cols[c]
		tt += rows[c] * rows[c]
		pp += cols[c] * cols[c]
	}
	r.MCC = safeDiv(trace*n-tp, math.Sqrt((n*n-pp)*(n*n-tt)))
	return r, nil
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// quadraticKappa is 1 − Σ w·O / Σ w·E with w = (i−j)², E the outer product
// of the marginals divided by n (sklearn's cohen_kappa_score).
func quadraticKappa(cm [][]float64, rows, cols []float64, n float64) float64 {
	var num, den float64
	for i := range cm {
		for j := range cm[i] {
			w := float64((i - j) * (i - j))
			num += w * cm[i][j]
			den += w * rows[i] * cols[j] / n
		}
	}
	return 1 - safeDiv(num, den)
}

// checkProba validates an n×k probability matrix.
func checkProba(yTrue []int, proba [][]float64) (int, error) {
	if len(yTrue) != len(proba) {
		return 0, fmt.Errorf("%w: %d labels but %d probability rows", ErrShape, len(yTrue), len(proba))
	}
	if len(proba) == 0 {
		return 0, ErrEmpty
	}
	k := len(proba[0])
	for i, row := range proba {
		if len(row) != k {
			return 0, fmt.Errorf("%w: probability row %d has %d classes (want %d)", ErrShape, i, len(row), k)
		}
		for j, p := range row {
			if !(p >= 0 && p <= 1) {
				return 0, fmt.Errorf("%w: probability [%d][%d] = %v (want 0..1)", ErrInput, i, j, p)
			}
		}
	}
	return k, checkLabels("yTrue", yTrue, k)
}

// LogLoss is the mean negative log-likelihood of the true classes, with
// probabilities clipped to [ε, 1−ε] (ε = float64 machine epsilon) and
// rows renormalised, as scikit-learn's log_loss.
func LogLoss(yTrue []int, proba [][]float64) (float64, error) {
	if _, err := checkProba(yTrue, proba); err != nil {
		return 0, err
	}
	const eps = 2.220446049250313e-16
	var s float64
	for i, row := range proba {
		var sum float64
		for _, p := range row {
			sum += math.Min(math.Max(p, eps), 1-eps)
		}
		p := math.Min(math.Max(row[yTrue[i]], eps), 1-eps) / sum
		s -= math.Log(p)
	}
	return s / float64(len(proba)), nil
}

// BrierMulticlass is the mean over samples of Σ_c (p_c − 1[y = c])², the
// original multi-category Brier score (range 0..2).
func BrierMulticlass(yTrue []int, proba [][]float64) (float64, error) {
	if _, err := checkProba(yTrue, proba); err != nil {
		return 0, err
	}
	var s float64
	for i, row := range proba {
		for c, p := range row {
			if c == yTrue[i] {
				p--
			}
			s += p * p
		}
	}
	return s / float64(len(proba)), nil
}

// BinaryAUC is the area under the ROC curve of score for the positives,
// with tied scores counting one half (the trapezoidal rule of
// scikit-learn's roc_auc_score). An error is returned when only one class
// is present.
func BinaryAUC(positive []bool, score []float64) (float64, error) {
	if len(positive) != len(score) {
		return 0, fmt.Errorf("%w: %d labels but %d scores", ErrShape, len(positive), len(score))
	}
	for i, s := range score {
		if math.IsNaN(s) { // as scikit-learn, which rejects NaN input; NaN would also never tie with itself below
			return 0, fmt.Errorf("%w: score %d is NaN (want a number)", ErrInput, i)
		}
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	var npos, nneg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && score[idx[j]] == score[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				npos++
				rankSum += avg
			} else {
				nneg++
			}
		}
		i = j
	}
	if npos == 0 || nneg == 0 {
		return 0, fmt.Errorf("%w: AUC needs both classes (have %v positives, %v negatives)", ErrInput, npos, nneg)
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg), nil
}

// AUCReport holds the multiclass ROC AUCs of scikit-learn's roc_auc_score.
type AUCReport struct {
	// PerClass is the one-vs-rest AUC of each class.
	PerClass              []float64
	OvRMacro, OvRWeighted float64
	OvOMacro              float64
	OvOPairs              [][]float64 // [a][b] = (AUC_a|b + AUC_b|a)/2, a<b
}

// MulticlassAUC computes one-vs-rest (macro and prevalence-weighted) and
// one-vs-one (Hand & Till 2001, macro) AUCs, as roc_auc_score with
// multi_class "ovr" and "ovo".
func MulticlassAUC(yTrue []int, proba [][]float64) (*AUCReport, error) {
	k, err := checkProba(yTrue, proba)
	if err != nil {
		return nil, err
	}
	r := &AUCReport{PerClass: make([]float64, k), OvOPairs: make([][]float64, k)}
	n := float64(len(yTrue))
	col := func(c int, rows []int) ([]bool, []float64) {
		pos := make([]bool, len(rows))
		s := make([]float64, len(rows))
		for i, row := range rows {
			pos[i] = yTrue[row] == c
			s[i] = proba[row][c]
		}
		return pos, s
	}
	all := make([]int, len(yTrue))
	for i := range all {
		all[i] = i
	}
	for c := 0; c < k; c++ {
		pos, s := col(c, all)
		auc, err := BinaryAUC(pos, s)
		if err != nil {
			return nil, fmt.Errorf("survival: class %d: %w", c, err)
		}
		var prev float64
		for _, p := range pos {
			if p {
				prev++
			}
		}
		r.PerClass[c] = auc
		r.OvRMacro += auc / float64(k)
		r.OvRWeighted += auc * prev / n
	}
	pairs := 0.0
	for a := 0; a < k; a++ {
		r.OvOPairs[a] = make([]float64, k)
		for b := a + 1; b < k; b++ {
			var rows []int
			for i, y := range yTrue {
				if y == a || y == b {
					rows = append(rows, i)
				}
			}
			pa, sa := col(a, rows)
			pb, sb := col(b, rows)
			auca, err := BinaryAUC(pa, sa)
			if err != nil {
				return nil, fmt.Errorf("survival: classes %d/%d: %w", a, b, err)
			}
			aucb, err := BinaryAUC(pb, sb)
			if err != nil {
				return nil, fmt.Errorf("survival: classes %d/%d: %w", a, b, err)
			}
			r.OvOPairs[a][b] = (auca + aucb) / 2
			r.OvOMacro += r.OvOPairs[a][b]
			pairs++
		}
	}
	r.OvOMacro /= pairs
	return r, nil
}

// OrdinalRisk turns class probabilities over ordered survival classes
// (class 0 = shortest survival) into a risk score for Concordance and
// CumulativeDynamicAUC: the expected number of classes above the patient's,
// Σ_c p_c·(K−1−c), so that higher means shorter survival.
func OrdinalRisk(proba [][]float64) []float64 {
	r := make([]float64, len(proba))
	for i, row := range proba {
		k := len(row)
		for c, p := range row {
			r[i] += p * float64(k-1-c)
		}
	}
	return r
}
