package ops

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// moments returns the mean and the biased variance of x in float64.
func moments(x []float32) (mean, variance float64) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean = s / float64(len(x))
	var q float64
	for _, v := range x {
		d := float64(v) - mean
		q += d * d
	}
	return mean, q / float64(len(x))
}

// LayerNorm normalizes each row of cols values (the last dimension) as
// torch.nn.LayerNorm: y = (x - mean)/sqrt(var + eps) * gamma + beta with the
// biased variance. gamma and beta (length cols) may be nil for no affine;
// mean and rstd (length rows) may be nil, or receive the statistics that
// LayerNormBackward needs.
func LayerNorm(dst, x, gamma, beta []float32, cols int, eps float32, mean, rstd []float32) error {
	rows, err := rowsOf("layer norm", len(dst), cols)
	if err != nil {
		return err
	}
	if err := affineLens("layer norm", cols, gamma, beta); err != nil {
		return err
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*cols:(r+1)*cols], dst[r*cols:(r+1)*cols]
			m, v := moments(xr)
			rs := 1 / math.Sqrt(v+float64(eps))
			if mean != nil {
				mean[r], rstd[r] = float32(m), float32(rs)
			}
			mf, rf := float32(m), float32(rs)
			for i, xv := range xr {
				y := (xv - mf) * rf
				if gamma != nil {
					y = y*gamma[i] + beta[i]
				}
				yr[i] = y
			}
		}
	})
	return nil
}

// affineLens checks optional per-feature scale and shift vectors.
func affineLens(what string, n int, gamma, beta []float32) error {
	if (gamma == nil) != (beta == nil) {
		return fmt.Errorf("ops: %s: gamma and beta must both be given or both be nil", what)
	}
	if gamma != nil && (len(gamma) != n || len(beta) != n) {
		return fmt.Errorf("ops: %s: gamma/beta have %d/%d values, want %d", what, len(gamma), len(beta), n)
	}
	return nil
}

// LayerNormBackward computes dx from dy and the saved row statistics, and
// adds the parameter gradients into dgamma and dbeta (which may be nil when
// not needed, and must be nil when gamma is nil).
func LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, cols int) error {
	rows, err := rowsOf("layer norm backward", len(dx), cols)
	if err != nil {
		return err
	}
	if len(mean) < rows || len(rstd) < rows {
		return fmt.Errorf("ops: layer norm backward: need %d saved means and rstds, got %d and %d", rows, len(mean), len(rstd))
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			normBackward(dx[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols],
				mean[r], rstd[r], gamma, 1)
		}
	})
	if dgamma == nil && dbeta == nil {
		return nil
	}
	// Parameter gradients: columns in parallel, each summing over rows.
	parallel.ForChunks(cols, 64, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sg, sb float64
			for r := range rows {
				g := float64(dy[r*cols+c])
				sg += g * float64((x[r*cols+c]-mean[r])*rstd[r])
				sb += g
			}
			if dgamma != nil {
				dgamma[c] += float32(sg)
			}
			if dbeta != nil {
				dbeta[c] += float32(sb)
			}
		}
	})
	return nil
}

// normBackward is the input gradient of y = (x-m)*rs*gamma over one set of
// normalized values: dx = rs*(g - mean(g) - xhat*mean(g*xhat)), g = dy*gamma,
// where value i has scale gamma[i/per] (1 when gamma is nil).
func normBackward(dx, dy, x []float32, m, rs float32, gamma []float32, per int) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	var sg, sgx float64
	for i := range dx {
		g := dy[i]
		if gamma != nil {
			g *= gamma[i/per]
		}
		sg += float64(g)
		sgx += float64(g) * float64((x[i]-m)*rs)
	}
	n := float64(len(dx))
	a, b := float32(sg/n), float32(sgx/n)
	for i := range dx {
		g := dy[i]
		if gamma != nil {
			g *= gamma[i/per]
		}
		dx[i] = rs * (g - a - (x[i]-m)*rs*b)
	}
}

// NormShape is the (N, C, S) view of a tensor that per-channel norms work
// on: N samples, C channels, S spatial elements per channel (D*H*W).
type NormShape struct{ N, C, S int }

func (s NormShape) check(what string, n int) error {
	if s.N <= 0 || s.C <= 0 || s.S <= 0 || s.N*s.C*s.S != n {
		return fmt.Errorf("ops: %s: shape %d×%d×%d does not match %d values", what, s.N, s.C, s.S, n)
	}
	return nil
}

// BatchNorm is the per-channel state of a torch.nn.BatchNorm layer. Gamma
// and Beta may be nil (affine=False). RunningMean and RunningVar are the
// buffers updated by training-mode passes and used by inference-mode ones.
type BatchNorm struct {
	Gamma, Beta             []float32
	RunningMean, RunningVar []float32
	Eps                     float32 // torch default 1e-5
	Momentum                float32 // torch default 0.1
}

// Train normalizes x with the batch statistics of each channel (over N and
// S, biased variance), updates the running statistics with the unbiased
// variance as torch does, and stores the batch mean and 1/sqrt(var+eps) in
// saveMean and saveInvStd (length C) for Backward.
func (bn *BatchNorm) Train(dst, x []float32, s NormShape, saveMean, saveInvStd []float32) error {
	if err := bn.check("batch norm", s, len(dst)); err != nil {
		return err
	}
	parallel.For(s.C, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sum float64
			for n := range s.N {
				for _, v := range x[(n*s.C+c)*s.S:][:s.S] {
					sum += float64(v)
				}
			}
			cnt := float64(s.N * s.S)
			m := sum / cnt
			var q float64
			for n := range s.N {
				for _, v := range x[(n*s.C+c)*s.S:][:s.S] {
					d := float64(v) - m
					q += d * d
				}
			}
			is := 1 / math.Sqrt(q/cnt+float64(bn.Eps))
			saveMean[c], saveInvStd[c] = float32(m), float32(is)
			if bn.RunningMean != nil {
				mom := float64(bn.Momentum)
				unbiased := q / math.Max(cnt-1, 1)
				bn.RunningMean[c] = float32((1-mom)*float64(bn.RunningMean[c]) + mom*m)
				bn.RunningVar[c] = float32((1-mom)*float64(bn.RunningVar[c]) + mom*unbiased)
			}
			bn.applyChannel(dst, x, s, c, float32(m), float32(is))
		}
	})
	return nil
}

// Infer normalizes x with the running statistics (eval mode).
func (bn *BatchNorm) Infer(dst, x []float32, s NormShape) error {
	if err := bn.check("batch norm", s, len(dst)); err != nil {
		return err
	}
	if len(bn.RunningMean) != s.C || len(bn.RunningVar) != s.C {
		return fmt.Errorf("ops: batch norm: running stats have %d/%d values, want %d", len(bn.RunningMean), len(bn.RunningVar), s.C)
	}
	parallel.For(s.C, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			is := float32(1 / math.Sqrt(float64(bn.RunningVar[c])+float64(bn.Eps)))
			bn.applyChannel(dst, x, s, c, bn.RunningMean[c], is)
		}
	})
	return nil
}

// applyChannel writes y = (x-m)*is*gamma + beta for channel c of every sample.
func (bn *BatchNorm) applyChannel(dst, x []float32, s NormShape, c int, m, is float32) {
	a, b := is, -m*is
	if bn.Gamma != nil {
		a, b = is*bn.Gamma[c], bn.Beta[c]-m*is*bn.Gamma[c]
	}
	for n := range s.N {
		off := (n*s.C + c) * s.S
		xs, ys := x[off:off+s.S], dst[off:off+s.S]
		for i, v := range xs {
			ys[i] = v*a + b
		}
	}
}

func (bn *BatchNorm) check(what string, s NormShape, n int) error {
	if err := s.check(what, n); err != nil {
		return err
	}
	return affineLens(what, s.C, bn.Gamma, bn.Beta)
}

// Backward computes the training-mode input gradient dx from dy, x and the
// statistics saved by Train, and adds dgamma and dbeta (length C, may be nil).
func (bn *BatchNorm) Backward(dx, dgamma, dbeta, dy, x []float32, s NormShape, saveMean, saveInvStd []float32) error {
	if err := bn.check("batch norm backward", s, len(dx)); err != nil {
		return err
	}
	parallel.For(s.C, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			m, is := saveMean[c], saveInvStd[c]
			var sg, sgx float64
			for n := range s.N {
				off := (n*s.C + c) * s.S
				for i, g := range dy[off : off+s.S] {
					sg += float64(g)
					sgx += float64(g) * float64((x[off+i]-m)*is)
				}
			}
			if dgamma != nil {
				dgamma[c] += float32(sgx)
			}
			if dbeta != nil {
				dbeta[c] += float32(sg)
			}
			gm := float32(1)
			if bn.Gamma != nil {
				gm = bn.Gamma[c]
			}
			cnt := float64(s.N * s.S)
			a, b := float32(sg/cnt), float32(sgx/cnt)
			for n := range s.N {
				off := (n*s.C + c) * s.S
				for i, g := range dy[off : off+s.S] {
					xh := (x[off+i] - m) * is
					dx[off+i] = gm * is * (g - a - xh*b)
				}
			}
		}
	})
	return nil
}

// GroupNorm normalizes each of groups channel groups of every sample over
// its (C/groups)*S values, then applies the per-channel affine gamma, beta
// (may be nil), as torch.nn.GroupNorm. InstanceNorm is groups == C.
// mean and rstd (length N*groups) may be nil or receive the statistics.
func GroupNorm(dst, x []float32, s NormShape, groups int, gamma, beta []float32, eps float32, mean, rstd []float32) error {
	if err := checkGroups("group norm", s, len(dst), groups, gamma, beta); err != nil {
		return err
	}
	size := s.C / groups * s.S
	forRows(s.N*groups, size, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*size:(r+1)*size], dst[r*size:(r+1)*size]
			m, v := moments(xr)
			rs := float32(1 / math.Sqrt(v+float64(eps)))
			mf := float32(m)
			if mean != nil {
				mean[r], rstd[r] = mf, rs
			}
			c0 := (r % groups) * (s.C / groups)
			for i, xv := range xr {
				y := (xv - mf) * rs
				if gamma != nil {
					c := c0 + i/s.S
					y = y*gamma[c] + beta[c]
				}
				yr[i] = y
			}
		}
	})
	return nil
}

func checkGroups(what string, s NormShape, n, groups int, gamma, beta []float32) error {
	if err := s.check(what, n); err != nil {
		return err
	}
	if groups <= 0 || s.C%groups != 0 {
		return fmt.Errorf("ops: %s: %d groups do not divide %d channels", what, groups, s.C)
	}
	return affineLens(what, s.C, gamma, beta)
}

// GroupNormBackward computes dx from dy, x and the statistics saved by
// GroupNorm, and adds dgamma and dbeta (length C, may be nil).
func GroupNormBackward(dx, dgamma, dbeta, dy, x []float32, s NormShape, groups int, gamma, mean, rstd []float32) error {
	if err := checkGroups("group norm backward", s, len(dx), groups, gamma, gamma); err != nil {
		return err
	}
	size := s.C / groups * s.S
	forRows(s.N*groups, size, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var gm []float32
			if gamma != nil {
				c0 := (r % groups) * (s.C / groups)
				gm = gamma[c0 : c0+s.C/groups]
			}
			normBackward(dx[r*size:(r+1)*size], dy[r*size:(r+1)*size], x[r*size:(r+1)*size], mean[r], rstd[r], gm, s.S)
		}
	})
	if dgamma == nil && dbeta == nil {
		return nil
	}
	parallel.For(s.C, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sg, sgx float64
			for n := range s.N {
				r := n*groups + c/(s.C/groups)
				off := (n*s.C + c) * s.S
				for i, g := range dy[off : off+s.S] {
					sg += float64(g)
					sgx += float64(g) * float64((x[off+i]-mean[r])*rstd[r])
				}
			}
			if dgamma != nil {
				dgamma[c] += float32(sgx)
			}
			if dbeta != nil {
				dbeta[c] += float32(sg)
			}
		}
	})
	return nil
}

// InstanceNorm is torch.nn.InstanceNorm3d (per sample and channel, with an
// optional per-channel affine): GroupNorm with one group per channel.
func InstanceNorm(dst, x []float32, s NormShape, gamma, beta []float32, eps float32, mean, rstd []float32) error {
	return GroupNorm(dst, x, s, s.C, gamma, beta, eps, mean, rstd)
}

// InstanceNormBackward is the gradient of InstanceNorm.
func InstanceNormBackward(dx, dgamma, dbeta, dy, x []float32, s NormShape, gamma, mean, rstd []float32) error {
	return GroupNormBackward(dx, dgamma, dbeta, dy, x, s, s.C, gamma, mean, rstd)
}
