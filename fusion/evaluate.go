package fusion

import "fmt"

// Evaluate predicts every patient of a cohort with m (evaluation mode) and
// returns the survival-class metrics.
func Evaluate(m *Model, enc *Encoder, c *Cohort) (Metrics, error) {
	probs, err := PredictCohort(m, enc, c)
	if err != nil {
		return Metrics{}, err
	}
	labels, err := m.Config.Scheme.Label(c.Outcomes(), c.TimeUnit)
	if err != nil {
		return Metrics{}, fmt.Errorf("fusion: survival labels: %w", err)
	}
	return computeMetrics(probs, c.Outcomes(), labels), nil
}

// PredictCohort returns the survival class probabilities of every patient.
func PredictCohort(m *Model, enc *Encoder, c *Cohort) ([][]float64, error) {
	ps, _, err := prepare(m, enc, c)
	if err != nil {
		return nil, err
	}
	tr := &trainer{m: m, o: TrainOptions{BatchSize: 16}, shape: c.Shape}
	probs, _, err := tr.predict(ps, false)
	return probs, err
}
