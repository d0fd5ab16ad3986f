package cnn

import (
	"fmt"
	"math"
)

// MaxParameters bounds the number of values (weights, biases and batch-norm
// statistics) a constructor agrees to allocate: 2³⁰, 4 GiB of float32, six
// times the largest preset. A configuration beyond it —
// a mistyped width, a class count read from a corrupt file — is refused
// with ErrConfig before anything is allocated, instead of exhausting memory
// or panicking inside the allocator.
const MaxParameters = 1 << 30

// checkSize refuses a model whose parameter count n (computed in float64,
// so that absurd sizes cannot overflow) exceeds MaxParameters.
func checkSize(model string, n float64) error {
	if n <= MaxParameters {
		return nil
	}
	return fmt.Errorf("%w: %s would hold %.3g parameters (limit %d)", ErrConfig, model, n, MaxParameters)
}

func vol(k [3]int) float64 { return float64(k[0]) * float64(k[1]) * float64(k[2]) }

// convParams counts a convolution's weights and bias.
func convParams(in, out float64, k [3]int, groups float64, bias bool) float64 {
	n := out * (in / groups) * vol(k)
	if bias {
		n += out
	}
	return n
}

// bnParams counts a batch norm's weight, bias and running statistics.
func bnParams(c float64) float64 { return 4 * c }

// resnetParams counts the parameters NewResNet allocates for a filled
// configuration.
func resnetParams(c ResNetConfig) float64 {
	exp := float64(c.Block.expansion())
	var planes [4]float64
	for i, p := range c.BlockInplanes {
		planes[i] = math.Floor(float64(p) * c.WidenFactor)
	}
	n := convParams(float64(c.InChannels), planes[0], c.Conv1TSize, 1, false) + bnParams(planes[0])
	in := planes[0]
	block := func(in, w float64, first bool) float64 {
		out := w * exp
		var p float64
		if c.Block == Basic {
			p = convParams(in, w, cube(3), 1, false) + convParams(w, w, cube(3), 1, false) + 2*bnParams(w)
		} else {
			p = convParams(in, w, cube(1), 1, false) + convParams(w, w, cube(3), 1, false) + convParams(w, out, cube(1), 1, false) + 2*bnParams(w) + bnParams(out)
		}
		if first && c.Shortcut == ShortcutB {
			p += convParams(in, out, cube(1), 1, !c.NoDownsampleBias) + bnParams(out)
		}
		return p
	}
	for s, w := range planes {
		n += block(in, w, true) + float64(c.Layers[s]-1)*block(w*exp, w, false)
		in = w * exp
	}
	if c.Classes > 0 {
		n += in*float64(c.Classes) + float64(c.Classes)
	}
	return n
}

// densenetParams counts the parameters NewDenseNet allocates for a filled
// configuration; it stops counting once past MaxParameters.
func densenetParams(c DenseNetConfig) float64 {
	g, mid := float64(c.GrowthRate), float64(c.BNSize)*float64(c.GrowthRate)
	ch := float64(c.InitFeatures)
	n := convParams(float64(c.InChannels), ch, cube(7), 1, false) + bnParams(ch)
	for i, layers := range c.BlockConfig {
		l := float64(layers)
		// Layer j reads ch + j·g channels: Σ_j (ch + j·g) = l·ch + g·l(l−1)/2.
		reads := l*ch + g*l*(l-1)/2
		n += 4*reads + reads*mid + l*(bnParams(mid)+convParams(mid, g, cube(3), 1, false))
		ch += l * g
		if i < len(c.BlockConfig)-1 {
			n += bnParams(ch) + ch*math.Floor(ch/2)
			ch = math.Floor(ch / 2)
		}
		if n > MaxParameters {
			return n
		}
	}
	return n + bnParams(ch) + ch*float64(c.Classes) + float64(c.Classes)
}

// senetParams counts the parameters NewSENet allocates for a filled
// configuration (without the SE layers' rounding, which only lowers it).
func senetParams(c SENetConfig) float64 {
	in := float64(c.Inplanes)
	var n float64
	if c.Input3x3 {
		n = convParams(float64(c.InChannels), 64, cube(3), 1, false) + convParams(64, 64, cube(3), 1, false) + convParams(64, in, cube(3), 1, false) + 2*bnParams(64) + bnParams(in)
	} else {
		n = convParams(float64(c.InChannels), in, cube(7), 1, false) + bnParams(in)
	}
	groups := float64(c.Groups)
	for s := range 4 {
		planes := float64(int(64) << s)
		var n1, n2 float64
		switch c.Block {
		case SEBottleneck:
			n1, n2 = planes*2, planes*4
		case SEResNetBottleneck:
			n1, n2 = planes, planes
		default:
			n1 = math.Floor(planes*4/64) * groups
			n2 = n1
		}
		n3 := planes * 4
		block := func(in float64) float64 {
			return convParams(in, n1, cube(1), 1, false) + convParams(n1, n2, cube(3), groups, false) + convParams(n2, n3, cube(1), 1, false) +
				bnParams(n1) + bnParams(n2) + bnParams(n3) + 2*n3*(n3/float64(c.Reduction)) + n3 + n3/float64(c.Reduction)
		}
		dk := c.DownsampleKernelSize
		if s == 0 {
			dk = 1
		}
		n += block(in) + convParams(in, n3, cube(dk), 1, false) + bnParams(n3) + float64(c.Layers[s]-1)*block(n3)
		in = n3
	}
	return n + in*float64(c.Classes) + float64(c.Classes)
}
