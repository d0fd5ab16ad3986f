package survival_test

import (
	"fmt"
	"strings"

	"github.com/metasurv/metasurv/survival"
)

// The maintained arm of R's aml data set.
var aml = []survival.Outcome{{9, true}, {13, true}, {13, false}, {18, true}, {23, true},
	{28, false}, {31, true}, {34, true}, {45, false}, {48, true}, {161, false}}

func ExampleKaplanMeier() {
	km, err := survival.KaplanMeier(aml, survival.KMOptions{ConfType: survival.ConfLog})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		fmt.Printf("t=%3.0f n=%2.0f d=%.0f S=%.4f [%.4f, %.4f]\n", km.Time[i], km.NRisk[i], km.NEvent[i],
			km.Surv[i], km.Lower[i], km.Upper[i])
	}
	fmt.Printf("median %.0f, restricted mean %.2f\n", km.Median(), km.RMean())
	// Output:
	// t=  9 n=11 d=1 S=0.9091 [0.7541, 1.0000]
	// t= 13 n=10 d=1 S=0.8182 [0.6192, 1.0000]
	// t= 18 n= 8 d=1 S=0.7159 [0.4884, 1.0000]
	// median 31, restricted mean 52.65
}

func ExampleConcordance() {
	y := []survival.Outcome{{1, false}, {5, true}, {6, true}, {11, false}, {34, false}, {45, true}, {46, false}, {50, false}}
	risk := []float64{5, 8, 11, 34, 12, 3, 9, 12}
	c, err := survival.Concordance(y, risk, survival.ConcordanceOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("C = %.7f (%.0f concordant, %.0f discordant)\n", c.C, c.Concordant, c.Discordant)
	// Output: C = 0.2307692 (3 concordant, 10 discordant)
}

func ExampleCox() {
	csv := `time,status,x
9,1,Maintained
13,1,Maintained
13,0,Maintained
18,1,Maintained
23,1,Maintained
28,0,Maintained
31,1,Maintained
34,1,Maintained
45,0,Maintained
48,1,Maintained
161,0,Maintained
5,1,Nonmaintained
5,1,Nonmaintained
8,1,Nonmaintained
8,1,Nonmaintained
12,1,Nonmaintained
16,0,Nonmaintained
23,1,Nonmaintained
27,1,Nonmaintained
30,1,Nonmaintained
33,1,Nonmaintained
43,1,Nonmaintained
45,1,Nonmaintained`
	tab, err := survival.ReadCSV(strings.NewReader(csv), survival.CSVOptions{})
	if err != nil {
		panic(err)
	}
	ds, err := tab.Dataset(survival.DatasetOptions{Time: "time", Event: "status", Covariates: []string{"x"}})
	if err != nil {
		panic(err)
	}
	fit, err := survival.Cox(ds.Y, ds.X, ds.Names, survival.CoxOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s coef %.4f se %.4f, LR test %.3f, C %.3f\n", fit.Names[0], fit.Coef[0], fit.SE[0], fit.LRTest, fit.Concordance)
	// Output: xNonmaintained coef 0.9155 se 0.5119, LR test 3.384, C 0.619
}

func ExampleClassScheme_Label() {
	y := []survival.Outcome{{3, true}, {10, true}, {30, false}, {4, false}, {25, true}}
	l, err := survival.StudyClasses().Label(y, survival.Months)
	if err != nil {
		panic(err)
	}
	for i, o := range y {
		fmt.Printf("%4.0f %-5v class %2d known %-5v P %.2f\n", o.Time, o.Event, l.Class[i], l.Known[i], l.Prob[i])
	}
	// Output:
	//    3 true  class  0 known true  P [1.00 0.00 0.00]
	//   10 true  class  1 known true  P [0.00 1.00 0.00]
	//   30 false class  2 known true  P [0.00 0.00 1.00]
	//    4 false class -1 known false P [0.00 0.33 0.67]
	//   25 true  class  2 known true  P [0.00 0.00 1.00]
}
