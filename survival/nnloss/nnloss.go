package nnloss

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// toF64 copies a tensor's data to float64.
func toF64(t *nn.Tensor) []float64 {
	v := make([]float64, len(t.Data))
	for i, x := range t.Data {
		v[i] = float64(x)
	}
	return v
}

// checkTensor verifies that t is not nil and that its data length is the
// product of its (non-negative) shape.
func checkTensor(name string, t *nn.Tensor) error {
	if t == nil {
		return fmt.Errorf("%w: nil %s tensor", survival.ErrShape, name)
	}
	n := 1
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > len(t.Data)/d) {
			return fmt.Errorf("%w: %s tensor of shape %v holds %d values", survival.ErrShape, name, t.Shape, len(t.Data))
		}
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("%w: %s tensor of shape %v holds %d values (want %d)", survival.ErrShape, name, t.Shape, len(t.Data), n)
	}
	return nil
}

// rows views t (N×M, or N for M=1) as float64 rows.
func rows(t *nn.Tensor) ([][]float64, error) {
	if err := checkTensor("network output", t); err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("%w: network output of shape %v (want N×M)", survival.ErrShape, t.Shape)
	}
	n, m := t.Shape[0], t.Shape[1]
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, m)
		for j := range out[i] {
			out[i][j] = float64(t.Data[i*m+j])
		}
	}
	return out, nil
}

// scalarOp records a scalar loss whose gradient w.r.t. each input is
// grads[k] (flattened, float64).
func scalarOp(g *nn.Graph, ins []*nn.Tensor, value float64, grads [][]float64) *nn.Tensor {
	out := g.Alloc()
	out.Data[0] = float32(value)
	return g.Custom(ins, out, func(gout []float32) [][]float32 {
		res := make([][]float32, len(grads))
		for k, gk := range grads {
			r := make([]float32, len(gk))
			for i, v := range gk {
				r[i] = float32(v) * gout[0]
			}
			res[k] = r
		}
		return res
	})
}

func flatten(m [][]float64) []float64 {
	var out []float64
	for _, r := range m {
		out = append(out, r...)
	}
	return out
}

func fail(g *nn.Graph, err error) (*nn.Tensor, error) {
	g.SetErr(err)
	return nil, err
}

// Cox is survival.CoxLoss (DeepSurv) on a network's risk scores (shape N or N×1).
func Cox(g *nn.Graph, eta *nn.Tensor, y []survival.Outcome, ties survival.Ties) (*nn.Tensor, error) {
	if err := checkTensor("risk score", eta); err != nil {
		return fail(g, err)
	}
	if len(eta.Data) != len(y) {
		return fail(g, fmt.Errorf("%w: %d risk scores of shape %v for %d outcomes", survival.ErrShape, len(eta.Data), eta.Shape, len(y)))
	}
	v, grad, err := survival.CoxLoss(y, toF64(eta), ties)
	if err != nil {
		return fail(g, err)
	}
	return scalarOp(g, []*nn.Tensor{eta}, v, [][]float64{grad}), nil
}

// gridLoss wraps a discrete-time loss of N×M logits.
func gridLoss(g *nn.Graph, phi *nn.Tensor, f func([][]float64) (float64, [][]float64, error)) (*nn.Tensor, error) {
	x, err := rows(phi)
	if err != nil {
		return fail(g, err)
	}
	v, grad, err := f(x)
	if err != nil {
		return fail(g, err)
	}
	return scalarOp(g, []*nn.Tensor{phi}, v, [][]float64{flatten(grad)}), nil
}

// LogisticHazard is survival.LogisticHazardLoss on N×M hazard logits.
func LogisticHazard(g *nn.Graph, phi *nn.Tensor, idx []int, event []bool) (*nn.Tensor, error) {
	return gridLoss(g, phi, func(x [][]float64) (float64, [][]float64, error) { return survival.LogisticHazardLoss(x, idx, event) })
}

// PMF is survival.PMFLoss on N×M logits.
func PMF(g *nn.Graph, phi *nn.Tensor, idx []int, event []bool) (*nn.Tensor, error) {
	return gridLoss(g, phi, func(x [][]float64) (float64, [][]float64, error) { return survival.PMFLoss(x, idx, event) })
}

// DeepHit is survival.DeepHitLoss on N×M logits.
func DeepHit(g *nn.Graph, phi *nn.Tensor, idx []int, event []bool, o survival.DeepHitOptions) (*nn.Tensor, error) {
	return gridLoss(g, phi, func(x [][]float64) (float64, [][]float64, error) { return survival.DeepHitLoss(x, idx, event, o) })
}

// Coral is survival.CoralLoss on N×(K−1) logits.
func Coral(g *nn.Graph, logits *nn.Tensor, y, minClass []int) (*nn.Tensor, error) {
	return gridLoss(g, logits, func(x [][]float64) (float64, [][]float64, error) { return survival.CoralLoss(x, y, minClass) })
}

// CumulativeLink is survival.CumulativeLinkLoss on scores eta (N or N×1) and
// thresholds theta (K−1, usually a trainable parameter).
func CumulativeLink(g *nn.Graph, eta, theta *nn.Tensor, y, minClass []int) (*nn.Tensor, error) {
	if err := checkTensor("score", eta); err != nil {
		return fail(g, err)
	}
	if err := checkTensor("threshold", theta); err != nil {
		return fail(g, err)
	}
	if len(eta.Data) != len(y) {
		return fail(g, fmt.Errorf("%w: %d scores of shape %v for %d labels", survival.ErrShape, len(eta.Data), eta.Shape, len(y)))
	}
	v, ge, gt, err := survival.CumulativeLinkLoss(toF64(eta), toF64(theta), y, minClass)
	if err != nil {
		return fail(g, err)
	}
	return scalarOp(g, []*nn.Tensor{eta, theta}, v, [][]float64{ge, gt}), nil
}
