package fusion

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// TestGradients checks the analytic gradients of every fusion head and the
// masked multi-task loss against central finite differences (float64 sums
// of float32 passes), with patients missing a modality in the batch so the
// masked softmax of the gated unit, the availability average of late
// fusion and the masked labels are all exercised.
func TestGradients(t *testing.T) {
	for _, f := range []Fusion{ClinicalOnly, ImageOnly, Early, Late, Gated} {
		for _, sl := range []SurvivalLoss{SurvivalCE, SurvivalCORAL} {
			m, err := NewModel(nil, ModelConfig{Fusion: f, EmbedDim: 3, ClinicalDim: 5, Hidden: 4, Seed: 5, SurvivalLoss: sl,
				Tasks: []Task{{Name: "origin", Levels: []string{"a", "b", "c"}, Weight: 0.5}}, CoxHead: true, CoxWeight: 0.7})
			if err != nil {
				t.Fatal(err)
			}
			r := nn.NewRNG(8)
			emb := nn.NewTensor(5, 3)
			clin := nn.NewTensor(5, 5)
			nn.InitNormal(emb, 0, 1, r)
			nn.InitNormal(clin, 0, 1, r)
			emb.SetRequiresGrad(true)
			clin.SetRequiresGrad(true)
			b := Batch{Embeddings: emb, Clinical: clin,
				HasImage:    []bool{true, false, true, false, true},
				HasClinical: []bool{true, true, false, false, true}}
			tg := Targets{Survival: []int{0, 2, -1, 1, 2}, MinClass: []int{0, 2, 1, 1, 2}, Tasks: [][]int{{1, -1, 0, -1, 2}},
				Outcomes: []survival.Outcome{{Time: 3, Event: true}, {Time: 30, Event: true}, {Time: 8, Event: false}, {Time: 12, Event: true}, {Time: 25, Event: false}}}
			lo := LossOptions{ClassWeights: []float32{1.5, 0.7, 1}, SampleWeights: []float32{1.2, 0.5, 0, 2, 1}}
			loss := func(g *nn.Graph) *nn.Tensor {
				outs, err := m.ForwardBatch(g, b)
				if err != nil {
					t.Fatal(err)
				}
				l, err := m.Loss(g, outs, tg, lo)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			nn.ZeroGrad(m)
			emb.ZeroGrad()
			clin.ZeroGrad()
			g := nn.NewGraph(nn.Options{Grad: true})
			if err := g.Backward(loss(g)); err != nil {
				t.Fatal(err)
			}
			kinks, total := 0, 0
			check := func(name string, x *nn.Tensor) {
				gr := x.Grad()
				for i := range x.Data {
					want := 0.0
					if gr != nil {
						want = float64(gr.Data[i])
					}
					old := x.Data[i]
					const h = 1e-3
					set := func(v float32) { x.Update(func(d []float32) { d[i] = v }) }
					set(old + h)
					up := float64(loss(nn.NewGraph(nn.Options{})).Item())
					set(old - h)
					dn := float64(loss(nn.NewGraph(nn.Options{})).Item())
					set(old)
					f0 := float64(loss(nn.NewGraph(nn.Options{})).Item())
					num := (up - dn) / (2 * h)
					total++
					if math.Abs((up-f0)-(f0-dn)) > 3e-6 {
						kinks++ // a ReLU switches inside [x−h, x+h]: no derivative to compare
						continue
					}
					if math.Abs(num-want) > 2e-3+2e-2*math.Abs(num) {
						t.Errorf("%v/%v %s[%d]: analytic %.5f, numeric %.5f", f, sl, name, i, want, num)
					}
				}
			}
			for _, p := range nn.NamedParameters(m) {
				check(p.Name, p.Tensor)
			}
			if f.usesImage() {
				check("embedding", emb)
			}
			if f.usesClinical() {
				check("clinical", clin)
			}
			if kinks*10 > total {
				t.Errorf("%v/%v: %d of %d elements skipped at ReLU kinks", f, sl, kinks, total)
			}
		}
	}
}

// TestLossMasking: a task without labels adds nothing; a batch without any
// label gives no loss.
func TestLossMasking(t *testing.T) {
	m, _ := NewModel(nil, ModelConfig{Fusion: ClinicalOnly, ClinicalDim: 2, Hidden: 3, Tasks: []Task{{Name: "x", Levels: []string{"a", "b"}}}})
	g := nn.NewGraph(nn.Options{})
	x, _ := nn.FromData([]float32{1, 2, 3, 4}, 2, 2)
	outs, err := m.ForwardBatch(g, Batch{Clinical: x})
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := m.Loss(g, outs, Targets{Survival: []int{0, 2}, Tasks: [][]int{{-1, -1}}}, LossOptions{})
	ce := g.CrossEntropy(outs[0], []int{0, 2}, nn.CEOptions{})
	if l1.Item() != ce.Item() {
		t.Fatalf("unlabelled task changed the loss: %v vs %v", l1.Item(), ce.Item())
	}
	cw := []float32{2, 1, 0.5}
	lw, _ := m.Loss(g, outs, Targets{Survival: []int{0, 2}, Tasks: [][]int{{-1, -1}}}, LossOptions{ClassWeights: cw, SampleWeights: []float32{1, 1}})
	lc := g.CrossEntropy(outs[0], []int{0, 2}, nn.CEOptions{Weight: cw})
	if math.Abs(float64(lw.Item()-lc.Item())) > 1e-6 {
		t.Fatalf("unit sample weights: %v vs weighted CE %v", lw.Item(), lc.Item())
	}
	l2, err := m.Loss(g, outs, Targets{Survival: []int{-1, -1}, Tasks: [][]int{{-1, -1}}}, LossOptions{})
	if l2 != nil || err != nil {
		t.Fatalf("no labels: %v %v", l2, err)
	}
	if _, err := m.Loss(g, outs, Targets{Survival: []int{0}, Tasks: [][]int{{-1, -1}}}, LossOptions{}); err == nil {
		t.Fatal("label count mismatch accepted")
	}
}
