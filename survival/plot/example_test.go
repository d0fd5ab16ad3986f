package plot_test

import (
	"bytes"
	"fmt"

	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/survival/plot"
)

func ExampleKMCurves() {
	arm := func(t []float64, e []bool) []survival.Outcome {
		y, err := survival.NewOutcomes(t, e)
		if err != nil {
			panic(err)
		}
		return y
	}
	groups := []plot.Group{
		{Label: "maintained", Y: arm([]float64{9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161},
			[]bool{true, true, false, true, true, false, true, true, false, true, false})},
		{Label: "control", Y: arm([]float64{5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45},
			[]bool{true, true, true, true, true, false, true, true, true, true, true, true})},
	}
	fig, err := plot.KMCurves(groups, plot.KMOptions{Title: "AML", Unit: survival.Weeks})
	if err != nil {
		panic(err)
	}
	var svg bytes.Buffer
	if err := fig.WriteSVG(&svg); err != nil {
		panic(err)
	}
	fmt.Println(bytes.Contains(svg.Bytes(), []byte("Number at risk")))
	// Output: true
}
