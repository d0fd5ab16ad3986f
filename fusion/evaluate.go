package fusion

import "fmt"

// Evaluate predicts every patient of a cohort with m (evaluation mode) and
// returns the survival-class metrics.
func Evaluate(m *Model, enc *Encoder, c *Cohort) (Metrics, error) {
	probs, risk, err := predictCohort(m, enc, c)
	if err != nil {
		return Metrics{}, err
	}
	labels, err := m.Config.Scheme.Label(c.Outcomes(), c.TimeUnit)
	if err != nil {
		return Metrics{}, fmt.Errorf("fusion: survival labels: %w", err)
	}
	return computeMetrics(probs, risk, c.Outcomes(), labels), nil
}

// PredictCohort returns the survival class probabilities of every patient.
func PredictCohort(m *Model, enc *Encoder, c *Cohort) ([][]float64, error) {
	probs, _, err := predictCohort(m, enc, c)
	return probs, err
}

// RiskCohort returns the risk every patient is ranked by (Model.Rank);
// higher means shorter survival.
func RiskCohort(m *Model, enc *Encoder, c *Cohort) ([]float64, error) {
	_, risk, err := predictCohort(m, enc, c)
	return risk, err
}

func predictCohort(m *Model, enc *Encoder, c *Cohort) ([][]float64, []float64, error) {
	ps, _, err := prepare(m, enc, c)
	if err != nil {
		return nil, nil, err
	}
	tr := &trainer{m: m, o: TrainOptions{BatchSize: 16}, shape: c.Shape}
	probs, risk, _, err := tr.predict(ps, false)
	return probs, risk, err
}
