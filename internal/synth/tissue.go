package synth

import "math"

// tissue indexes the intensity table.
type tissue int

const (
	scalp tissue = iota
	skull
	csf
	grey
	white
	ventricle
	oedema
	rim
	core
	nTissues
)

// contrast holds, per sequence, the intensity of each tissue. The values
// follow the usual ordering of relative signal: in T1 white > grey > CSF,
// in T2 CSF > grey > white, FLAIR suppresses CSF and lights up oedema, and
// the enhancing rim is bright only after contrast.
var contrast = [4][nTissues]float64{
	T1:    {scalp: 0.70, skull: 0.08, csf: 0.20, grey: 0.55, white: 0.80, ventricle: 0.18, oedema: 0.45, rim: 0.50, core: 0.25},
	T1c:   {scalp: 0.75, skull: 0.08, csf: 0.22, grey: 0.57, white: 0.80, ventricle: 0.20, oedema: 0.47, rim: 1.10, core: 0.25},
	T2:    {scalp: 0.50, skull: 0.05, csf: 1.00, grey: 0.62, white: 0.42, ventricle: 1.00, oedema: 0.85, rim: 0.55, core: 0.95},
	FLAIR: {scalp: 0.55, skull: 0.05, csf: 0.10, grey: 0.62, white: 0.45, ventricle: 0.08, oedema: 1.00, rim: 0.65, core: 0.70},
}

// ellipsoid is an axis-aligned ellipsoid in phantom space.
type ellipsoid struct {
	c, r [3]float64
}

// membership is 1 inside, 0 outside, with a linear ramp one millimetre
// wide across the surface (distance approximated by the radial scaling
// of the smallest semi-axis).
func (e ellipsoid) membership(p [3]float64) float64 {
	var s float64
	minR := math.Min(e.r[0], math.Min(e.r[1], e.r[2]))
	for a := 0; a < 3; a++ {
		d := (p[a] - e.c[a]) / e.r[a]
		s += d * d
	}
	dist := (math.Sqrt(s) - 1) * minR
	return clamp01(0.5 - dist)
}

func clamp01(x float64) float64 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

var (
	head       = ellipsoid{r: [3]float64{74, 92, 78}}
	skullOut   = ellipsoid{c: [3]float64{0, 0, 2}, r: [3]float64{68, 86, 72}}
	csfIn      = ellipsoid{c: [3]float64{0, 0, 3}, r: [3]float64{64, 82, 67}}
	brain      = ellipsoid{c: [3]float64{0, 0, 4}, r: [3]float64{62, 80, 64}}
	wm         = ellipsoid{c: [3]float64{0, 0, 6}, r: [3]float64{50, 66, 50}}
	ventricles = [2]ellipsoid{
		{c: [3]float64{-11, 4, 14}, r: [3]float64{6, 22, 9}},
		{c: [3]float64{11, 4, 14}, r: [3]float64{6, 22, 9}},
	}
)

// lesionShape is a metastasis: core inside a rim, both inside oedema.
type lesionShape struct {
	c      [3]float64
	radius float64 // rim outer radius; 0 means no lesion
}

func lesionOf(opt HeadOptions) lesionShape {
	if opt.LesionRadius < 0 {
		return lesionShape{}
	}
	r := opt.LesionRadius
	if r == 0 {
		r = 10
	}
	c := [3]float64{28, 24, 22}
	for a := range c {
		c[a] += opt.Lesion[a]
	}
	return lesionShape{c: c, radius: r}
}

func sphere(c [3]float64, r float64) ellipsoid { return ellipsoid{c: c, r: [3]float64{r, r, r}} }

// intensity evaluates the phantom for sequence seq at phantom point p by
// painting the tissues from the outside in, each inner one over the outer.
func intensity(seq Sequence, p [3]float64, les lesionShape, bias float64) float64 {
	tab := &contrast[seq]
	v := 0.0
	paint := func(a float64, t tissue) { v += a * (tab[t] - v) }
	paint(head.membership(p), scalp)
	paint(skullOut.membership(p), skull)
	paint(csfIn.membership(p), csf)
	paint(brain.membership(p), grey)
	paint(wm.membership(p), white)
	for _, e := range ventricles {
		paint(e.membership(p), ventricle)
	}
	if les.radius > 0 {
		inBrain := brain.membership(p)
		paint(inBrain*sphere(les.c, 1.9*les.radius).membership(p), oedema)
		paint(sphere(les.c, les.radius).membership(p), rim)
		paint(sphere(les.c, 0.6*les.radius).membership(p), core)
	}
	if bias != 0 {
		v *= math.Exp(bias * biasField(p))
	}
	return v
}

// biasField is a smooth field in [-1, 1] over the head, like a coil
// sensitivity: strongest change along the anterior–posterior and
// superior–inferior axes.
func biasField(p [3]float64) float64 {
	return 0.6*math.Sin(p[1]/90*math.Pi/2) + 0.4*math.Cos((p[2]+p[0]*0.5)/110*math.Pi)
}
