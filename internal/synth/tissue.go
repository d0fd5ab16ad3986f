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
	minR := min(e.r[0], e.r[1], e.r[2]) // radii are positive: no NaN or ±0 cases for math.Min to handle
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

// lesionShape is a metastasis: a necrotic core inside an enhancing rim,
// both inside oedema.
type lesionShape struct {
	c      [3]float64
	radius float64 // rim outer radius; 0 means no lesion
	core   float64 // core radius as a fraction of radius
	oedema float64 // oedema radius as a multiple of radius
}

// reach is the radius beyond which the lesion paints nothing (ramp included).
func (l lesionShape) reach() float64 { return l.oedema*l.radius + 1 }

func lesionsOf(opt HeadOptions) []lesionShape {
	if opt.Lesions != nil {
		out := make([]lesionShape, 0, len(opt.Lesions))
		for _, l := range opt.Lesions {
			if l.Radius <= 0 {
				continue
			}
			core, oed := l.Necrosis, l.Oedema
			if core <= 0 {
				core = 0.6
			}
			if oed <= 1 {
				oed = 1.9
			}
			out = append(out, lesionShape{c: l.Centre, radius: l.Radius, core: core, oedema: oed})
		}
		return out
	}
	if opt.LesionRadius < 0 {
		return nil
	}
	r := opt.LesionRadius
	if r == 0 {
		r = 10
	}
	c := [3]float64{28, 24, 22}
	for a := range c {
		c[a] += opt.Lesion[a]
	}
	return []lesionShape{{c: c, radius: r, core: 0.6, oedema: 1.9}}
}

func sphere(c [3]float64, r float64) ellipsoid { return ellipsoid{c: c, r: [3]float64{r, r, r}} }

// anatomy is the per-head variation of the phantom.
type anatomy struct {
	lesions    []lesionShape
	ventricles float64 // scale of the lateral ventricles (1: default)
	bias       float64
}

func anatomyOf(opt HeadOptions) anatomy {
	v := opt.Ventricles
	if v <= 0 {
		v = 1
	}
	return anatomy{lesions: lesionsOf(opt), ventricles: v, bias: opt.Bias}
}

// intensity evaluates the phantom for sequence seq at phantom point p by
// painting the tissues from the outside in, each inner one over the outer.
// Oedema of every lesion is painted first, then every rim, then every core,
// so that touching lesions merge as they do on real scans.
func intensity(seq Sequence, p [3]float64, an *anatomy) float64 {
	tab := &contrast[seq]
	outer := head.membership(p)
	if outer == 0 {
		// Every other tissue lies millimetres inside the head, so it would
		// paint nothing either, and the bias scales zero: about two thirds
		// of a scanner's field of view is air, rendered this way for free.
		return 0
	}
	v := 0.0
	paint := func(a float64, t tissue) { v += a * (tab[t] - v) }
	paint(outer, scalp)
	paint(skullOut.membership(p), skull)
	paint(csfIn.membership(p), csf)
	inBrain := brain.membership(p)
	paint(inBrain, grey)
	paint(wm.membership(p), white)
	for _, e := range ventricles {
		if an.ventricles != 1 {
			e.r = [3]float64{e.r[0] * an.ventricles, e.r[1] * an.ventricles, e.r[2] * an.ventricles}
		}
		paint(e.membership(p), ventricle)
	}
	if len(an.lesions) > 0 {
		var near [16]int
		idx := near[:0]
		for i, l := range an.lesions {
			d0, d1, d2 := p[0]-l.c[0], p[1]-l.c[1], p[2]-l.c[2]
			if r := l.reach(); d0*d0+d1*d1+d2*d2 < r*r {
				idx = append(idx, i)
			}
		}
		for _, i := range idx {
			l := an.lesions[i]
			paint(inBrain*sphere(l.c, l.oedema*l.radius).membership(p), oedema)
		}
		for _, i := range idx {
			l := an.lesions[i]
			paint(sphere(l.c, l.radius).membership(p), rim)
		}
		for _, i := range idx {
			l := an.lesions[i]
			paint(sphere(l.c, l.core*l.radius).membership(p), core)
		}
	}
	if an.bias != 0 {
		v *= math.Exp(an.bias * biasField(p))
	}
	return v
}

// biasField is a smooth field in [-1, 1] over the head, like a coil
// sensitivity: strongest change along the anterior–posterior and
// superior–inferior axes.
func biasField(p [3]float64) float64 {
	return 0.6*math.Sin(p[1]/90*math.Pi/2) + 0.4*math.Cos((p[2]+p[0]*0.5)/110*math.Pi)
}
