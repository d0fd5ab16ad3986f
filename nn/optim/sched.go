package optim

import "math"

// Schedule gives the learning rate of a step (or epoch) index from 0.
type Schedule interface {
	LR(step int) float64
}

// StepLR multiplies Base by Gamma every Size steps (torch StepLR).
type StepLR struct {
	Base, Gamma float64
	Size        int
}

// LR returns Base·Gamma^⌊step/Size⌋.
func (s StepLR) LR(step int) float64 {
	return s.Base * math.Pow(s.Gamma, float64(step/max(s.Size, 1)))
}

// Cosine anneals from Base to Min over Steps steps (torch
// CosineAnnealingLR without restarts), then stays at Min.
type Cosine struct {
	Base, Min float64
	Steps     int
}

// LR returns Min + (Base-Min)·(1+cos(π·step/Steps))/2.
func (c Cosine) LR(step int) float64 {
	if step >= c.Steps {
		return c.Min
	}
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*float64(step)/float64(max(c.Steps, 1))))/2
}

// Warmup ramps the rate linearly from StartFactor·After.LR(0) to
// After.LR(0) over Steps steps, then follows After shifted by Steps.
type Warmup struct {
	Steps       int
	StartFactor float64
	After       Schedule
}

// LR returns the warm-up or the following schedule's rate.
func (w Warmup) LR(step int) float64 {
	if step < w.Steps {
		f := w.StartFactor + (1-w.StartFactor)*float64(step)/float64(w.Steps)
		return f * w.After.LR(0)
	}
	return w.After.LR(step - w.Steps)
}

// Apply sets opt's learning rate for step from s.
func Apply(opt Optimizer, s Schedule, step int) { opt.SetLR(s.LR(step)) }
