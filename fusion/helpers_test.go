package fusion

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// tinyNet is a small nn.Backbone for tests: two strided convolutions, a
// global average pool and a linear classifier. It also implements
// FeatureMapper (Grad-CAM).
type tinyNet struct {
	c1, c2 *nn.Conv3d
	fc     *nn.Linear
	width  int
}

func newTinyNet(in, width int, seed uint64) *tinyNet {
	r := nn.NewRNG(seed)
	return &tinyNet{
		c1:    nn.NewConv3d(in, width, nn.Cube(3), nn.ConvOptions{Stride: nn.Cube(2), Padding: nn.Cube(1)}, r),
		c2:    nn.NewConv3d(width, width, nn.Cube(3), nn.ConvOptions{Padding: nn.Cube(1)}, r),
		fc:    nn.NewLinear(width, 3, nn.LinearOptions{}, r),
		width: width,
	}
}

func (t *tinyNet) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return g.ReLU(t.c2.Forward(g, g.ReLU(t.c1.Forward(g, x))))
}

func (t *tinyNet) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return g.Flatten(g.AdaptiveAvgPool3d(maps, [3]int{1, 1, 1}), 1)
}

func (t *tinyNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return t.EmbedFromMaps(g, t.FeatureMaps(g, x))
}

func (t *tinyNet) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return t.fc.Forward(g, t.Embed(g, x))
}
func (t *tinyNet) EmbedDim() int { return t.width }
func (t *tinyNet) Visit(v *nn.Visitor) {
	v.Child("conv1", t.c1)
	v.Child("conv2", t.c2)
	v.Child("fc", t.fc)
}

func init() {
	RegisterBackbone("test-tiny", func(cfg json.RawMessage) (nn.Backbone, error) {
		var w int
		if _, err := fmt.Sscanf(string(cfg), "%d", &w); err != nil {
			return nil, err
		}
		return newTinyNet(4, w, 0), nil
	})
}

// synthOptions shape a planted-signal cohort.
type synthOptions struct {
	N    int
	Dim  int // spatial size (cube)
	Seed uint64
}

// lesionCentre is where patient i's lesion sits (also used by the saliency
// test).
func lesionCentre(r *nn.RNG, dim int) [3]int {
	lo, hi := 4, dim-5
	return [3]int{lo + r.IntN(hi-lo+1), lo + r.IntN(hi-lo+1), lo + r.IntN(hi-lo+1)}
}

// synthCohort makes a cohort whose survival depends on two independent
// latent factors: one visible only in the images (the size of a bright
// lesion in T1c), the other only in the clinical data (KPS). Survival
// times (months) are exp(−risk), censoring is light; each single modality
// therefore explains about half the variation and the fusion all of it.
func synthCohort(o synthOptions) (*Cohort, [][3]int) {
	r := nn.NewRNG(o.Seed)
	d := o.Dim
	n := d * d * d
	c := &Cohort{Shape: [4]int{4, d, d, d}, TimeUnit: survival.Months}
	var centres [][3]int
	hist := []string{"lung", "breast", "melanoma", "renal"}
	for i := 0; i < o.N; i++ {
		uImg, uClin := r.Normal(), r.Normal()
		img := make([]float32, 4*n)
		for k := range img {
			img[k] = float32(0.3 * r.Normal())
		}
		ctr := lesionCentre(r, d)
		centres = append(centres, ctr)
		rad := math.Min(math.Max(2+0.9*(uImg+1.5), 1), 4.5)
		for x := 0; x < d; x++ {
			for y := 0; y < d; y++ {
				for z := 0; z < d; z++ {
					dx, dy, dz := float64(x-ctr[0]), float64(y-ctr[1]), float64(z-ctr[2])
					if dx*dx+dy*dy+dz*dz <= rad*rad {
						img[1*n+(x*d+y)*d+z] += 2.5 // T1c enhancement
						img[3*n+(x*d+y)*d+z] += 1   // FLAIR oedema
					}
				}
			}
		}
		kps := math.Round((75-12*uClin+4*r.Normal())/10) * 10
		rec := Record{
			"age":          strconv.FormatFloat(math.Round(60+10*r.Normal()), 'f', 0, 64),
			"kps":          strconv.FormatFloat(kps, 'f', 0, 64),
			"histology":    hist[r.IntN(len(hist))],
			"extracranial": []string{"no", "yes"}[r.IntN(2)],
		}
		if r.Float64() < 0.1 {
			delete(rec, "age")
		}
		risk := 0.9*uImg + 0.9*uClin + 0.25*r.Normal()
		t := 11 * math.Exp(-risk)
		ev := true
		if r.Float64() < 0.15 {
			t *= r.Uniform(0.3, 1)
			ev = false
		}
		c.Samples = append(c.Samples, Sample{ID: fmt.Sprintf("p%03d", i), Image: img, Clinical: rec,
			Outcome: survival.Outcome{Time: t, Event: ev}})
	}
	return c, centres
}

func synthSchema() Schema {
	return Schema{ID: "id", Columns: []Column{
		{Name: "age", Kind: Numeric},
		{Name: "kps", Kind: Numeric},
		{Name: "histology", Kind: Categorical},
		{Name: "extracranial", Kind: Binary},
	}}
}

func records(c *Cohort) []Record {
	var r []Record
	for _, s := range c.Samples {
		r = append(r, s.Clinical)
	}
	return r
}
