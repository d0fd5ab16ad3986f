package conv

import "github.com/metasurv/metasurv/internal/parallel"

// depthwise runs the direct kernel for one-input-channel-per-group layers.
// Forward (back=false): y (output-shaped) = conv(x). Backward (back=true):
// x (input-shaped) = convᵀ(y), overwriting x. Each output channel oc reads
// input channel oc/ocg; work is split over (sample, channel) pairs so that
// every worker writes only its own channels.
func (pl *Plan) depthwise(y, x []float32, back bool) {
	g := &pl.g
	pl.cur.x, pl.cur.y, pl.cur.w, pl.curBack = x, y, pl.w, back
	n := g.p.N * g.p.OutC
	if back {
		n = g.p.N * g.p.InC
	}
	parallel.ForChunks(n, 1, pl.dwRange)
	pl.cur.x, pl.cur.y, pl.cur.w = nil, nil, nil
}

func (pl *Plan) depthwiseRange(lo, hi int) {
	g := &pl.g
	x, y, w := pl.cur.x, pl.cur.y, pl.cur.w
	sw := g.p.Stride[2]
	for i := lo; i < hi; i++ {
		if pl.curBack {
			// i = n*InC + ic: gather from the ocg output channels of ic
			n, ic := i/g.p.InC, i%g.p.InC
			dx := x[i*g.inSp : (i+1)*g.inSp]
			clear(dx)
			for oc := ic * g.ocg; oc < (ic+1)*g.ocg; oc++ {
				dy := y[(n*g.p.OutC+oc)*g.outSp:][:g.outSp]
				for r := range g.kvol {
					wv := w[oc*g.kvol+r]
					g.walkRow(r, 0, g.outSp, func(j, src, m int) {
						if src < 0 {
							return
						}
						for t, v := range dy[j : j+m] {
							dx[src+t*sw] += wv * v
						}
					})
				}
			}
			continue
		}
		n, oc := i/g.p.OutC, i%g.p.OutC
		xc := x[(n*g.p.InC+oc/g.ocg)*g.inSp:][:g.inSp]
		yc := y[i*g.outSp : (i+1)*g.outSp]
		clear(yc)
		for r := range g.kvol {
			wv := w[oc*g.kvol+r]
			g.walkRow(r, 0, g.outSp, func(j, src, m int) {
				if src < 0 {
					return
				}
				ys := yc[j : j+m]
				if sw == 1 {
					xs := xc[src : src+m]
					for t := range ys {
						ys[t] += wv * xs[t]
					}
					return
				}
				for t := range ys {
					ys[t] += wv * xc[src+t*sw]
				}
			})
		}
	}
}

// depthwiseChannels adds the weight gradient of output channels [lo,hi)
// (pl.cur.x = input, pl.cur.y = output gradient, pl.cur.dw = gradient).
func (pl *Plan) depthwiseChannels(lo, hi int) {
	g := &pl.g
	x, dy, dw := pl.cur.x, pl.cur.y, pl.cur.dw
	sw := g.p.Stride[2]
	for oc := lo; oc < hi; oc++ {
		for r := range g.kvol {
			var s float64
			for n := range g.p.N {
				xc := x[(n*g.p.InC+oc/g.ocg)*g.inSp:][:g.inSp]
				dyc := dy[(n*g.p.OutC+oc)*g.outSp:][:g.outSp]
				g.walkRow(r, 0, g.outSp, func(j, src, m int) {
					if src < 0 {
						return
					}
					var acc float32
					for t, v := range dyc[j : j+m] {
						acc += v * xc[src+t*sw]
					}
					s += float64(acc)
				})
			}
			dw[oc*g.kvol+r] += float32(s)
		}
	}
}
