package fusion_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/metasurv/metasurv/fusion"
	"github.com/metasurv/metasurv/survival"
)

// A clinical-only model, from CSV to a prediction for a patient whose age
// is unknown.
func Example() {
	schema := fusion.Schema{ID: "id", Columns: []fusion.Column{
		{Name: "age", Kind: fusion.Numeric},
		{Name: "kps", Kind: fusion.Numeric},
		{Name: "histology", Kind: fusion.Categorical},
	}}
	var csv strings.Builder
	csv.WriteString("id,age,kps,histology,months,dead\n")
	for i := 0; i < 60; i++ {
		kps := 40 + 10*(i%7)
		fmt.Fprintf(&csv, "p%d,%d,%d,%s,%d,1\n", i, 50+i%30, kps, []string{"lung", "breast", "melanoma"}[i%3], kps/3-8+i%5)
	}
	tab, err := fusion.ReadClinical(strings.NewReader(csv.String()), schema,
		fusion.ReadOptions{Time: "months", Event: "dead", TimeUnit: survival.Months})
	if err != nil {
		fmt.Println(err)
		return
	}
	cohort := tab.Cohort()
	enc, err := fusion.FitEncoder(schema, tab.Records)
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := fusion.NewModel(nil, fusion.ModelConfig{Fusion: fusion.ClinicalOnly, ClinicalDim: enc.Dim()})
	if err != nil {
		fmt.Println(err)
		return
	}
	bundle, _, err := fusion.Train(context.Background(), model, enc, cohort, nil, fusion.TrainOptions{Epochs: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := fusion.NewPredictor(bundle, fusion.PredictorOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, err := p.Predict(context.Background(), fusion.Patient{Clinical: fusion.Record{"kps": "90", "histology": "breast"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("classes:", pred.Classes)
	fmt.Println("missing:", pred.Missing)
	fmt.Println("curve points:", len(pred.Curve))
	// Output:
	// classes: [<6 6-21 >=21]
	// missing: [clinical:age]
	// curve points: 64
}
