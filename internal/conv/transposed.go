package conv

import (
	"fmt"
	"math"
)

// TransposedPlan computes a ConvTranspose3d layer and its gradients with
// the kernels of the ordinary convolution it is the adjoint of. Weights have
// torch's ConvTranspose3d layout (InC, OutC/Groups, k...).
type TransposedPlan struct {
	t   TransposedParams
	adj *Plan
}

// NewTransposedPlan validates t and builds the adjoint convolution's plan.
func NewTransposedPlan(t TransposedParams) (*TransposedPlan, error) {
	a, err := t.Adjoint()
	if err != nil {
		return nil, err
	}
	pl, err := NewPlan(a)
	if err != nil {
		return nil, err
	}
	t.Params = t.Params.normalized()
	return &TransposedPlan{t: t, adj: pl}, nil
}

// Params returns the layer's (normalized) parameters.
func (tp *TransposedPlan) Params() TransposedParams { return tp.t }

// SetWeights installs the weights (InC, OutC/Groups, k...); call it again
// after every change.
func (tp *TransposedPlan) SetWeights(w []float32) error { return tp.adj.SetWeights(w) }

// Forward computes y (N, OutC, Out()...) from x (N, InC, In...) and adds
// bias (len OutC) when it is not nil.
func (tp *TransposedPlan) Forward(y, x, bias []float32) error {
	if err := tp.adj.BackwardData(y, x); err != nil {
		return err
	}
	if bias != nil {
		if err := checkLen("bias", len(bias), tp.t.OutC); err != nil {
			return err
		}
		finishEpilogue(y, &Epilogue{Bias: bias}, tp.t.N, tp.t.OutC, len(y)/(tp.t.N*tp.t.OutC))
	}
	return nil
}

// BackwardData computes dx (N, InC, In...) from dy (N, OutC, Out()...),
// overwriting dx: an ordinary convolution of dy.
func (tp *TransposedPlan) BackwardData(dx, dy []float32) error {
	return tp.adj.Forward(dx, dy, nil)
}

// BackwardWeight adds the weight gradient to dw and, if db is not nil, the
// bias gradient to db, from the forward input x and dy.
func (tp *TransposedPlan) BackwardWeight(dw, db, x, dy []float32) error {
	if db != nil {
		if err := checkLen("bias gradient", len(db), tp.t.OutC); err != nil {
			return err
		}
		// validate shapes before touching db
		if err := tp.adj.checkIO(dy, x); err != nil {
			return err
		}
		o := tp.t.Out()
		biasGrad(db, dy, tp.t.N, tp.t.OutC, o[0]*o[1]*o[2])
	}
	return tp.adj.BackwardWeight(dw, nil, dy, x)
}

// FoldBatchNorm folds an inference-mode batch norm that follows a
// convolution into it: w (OutC, ...) is scaled in place per output channel
// by gamma/sqrt(var+eps), and the returned bias is
// (b - mean)*gamma/sqrt(var+eps) + beta (b may be nil for a bias-free
// convolution). The folded layer then needs no separate normalization pass.
func FoldBatchNorm(w, b, gamma, beta, mean, variance []float32, eps float32) ([]float32, error) {
	c := len(gamma)
	if c == 0 || len(beta) != c || len(mean) != c || len(variance) != c || (b != nil && len(b) != c) || len(w)%c != 0 {
		return nil, fmt.Errorf("%w: batch norm fold: %d weights, bias %d, gamma %d, beta %d, mean %d, var %d do not agree on the channel count",
			ErrParams, len(w), len(b), len(gamma), len(beta), len(mean), len(variance))
	}
	per := len(w) / c
	out := make([]float32, c)
	for oc := range c {
		s := float64(gamma[oc]) / math.Sqrt(float64(variance[oc])+float64(eps))
		for i := range w[oc*per : (oc+1)*per] {
			w[oc*per+i] = float32(float64(w[oc*per+i]) * s)
		}
		var bv float64
		if b != nil {
			bv = float64(b[oc])
		}
		out[oc] = float32((bv-float64(mean[oc]))*s + float64(beta[oc]))
	}
	return out, nil
}
