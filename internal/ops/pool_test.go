package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
)

// refPool pools every channel of x (nc, in) in float64 by scanning the
// padded window of each output: max, or sum divided by torch's divisor.
func refPool(x []float64, nc int, in, out [3]int, p Pool, isMax bool) []float64 {
	p = p.norm()
	y := make([]float64, 0, nc*vol(out))
	for c := range nc {
		for od := range out[0] {
			for oh := range out[1] {
				for ow := range out[2] {
					o := [3]int{od, oh, ow}
					best, sum, cnt, padCnt := math.Inf(-1), 0.0, 0, 1
					for a := range 3 {
						s := o[a]*p.Stride[a] - p.Pad[a]
						padCnt *= min(s+p.Kernel[a], in[a]+p.Pad[a]) - s
					}
					for kd := range p.Kernel[0] {
						for kh := range p.Kernel[1] {
							for kw := range p.Kernel[2] {
								k := [3]int{kd, kh, kw}
								var ix [3]int
								ok := true
								for a := range 3 {
									ix[a] = o[a]*p.Stride[a] - p.Pad[a] + k[a]*p.Dilation[a]
									ok = ok && ix[a] >= 0 && ix[a] < in[a]
								}
								if ok {
									v := x[c*vol(in)+(ix[0]*in[1]+ix[1])*in[2]+ix[2]]
									best, sum, cnt = math.Max(best, v), sum+v, cnt+1
								}
							}
						}
					}
					switch {
					case isMax:
						y = append(y, best)
					case p.ExcludePad:
						y = append(y, sum/float64(cnt))
					default:
						y = append(y, sum/float64(padCnt))
					}
				}
			}
		}
	}
	return y
}

func TestPoolOutMatchesTorch(t *testing.T) {
	for _, c := range []struct {
		in   int
		p    Pool
		want int
	}{
		{96, Pool{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}, 48}, // ResNet stem pool
		{48, Pool{Kernel: [3]int{2, 2, 2}}, 24},                                                // DenseNet transition
		{5, Pool{Kernel: [3]int{2, 2, 2}, CeilMode: true}, 3},
		{6, Pool{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}, CeilMode: true}, 4},
		{5, Pool{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}, CeilMode: true}, 3}, // last window would start in the padding
	} {
		out, err := c.p.Out([3]int{c.in, c.in, c.in})
		if err != nil || out[0] != c.want {
			t.Errorf("%+v on %d: %v, %v; want %d", c.p, c.in, out, err, c.want)
		}
	}
	if _, err := (Pool{Kernel: [3]int{2, 2, 2}, Pad: [3]int{2, 0, 0}}).Out([3]int{4, 4, 4}); err == nil {
		t.Error("padding larger than half the kernel accepted")
	}
}

func TestPooling(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	pools := []Pool{
		{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}},
		{Kernel: [3]int{2, 2, 2}},
		{Kernel: [3]int{3, 2, 1}, Stride: [3]int{2, 1, 1}, Pad: [3]int{1, 1, 0}, CeilMode: true},
		{Kernel: [3]int{3, 3, 2}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}, CeilMode: true, ExcludePad: true},
		{Kernel: [3]int{2, 2, 2}, Stride: [3]int{1, 2, 1}, Dilation: [3]int{2, 1, 2}},
	}
	for _, in := range [][3]int{{5, 6, 7}, {1, 4, 3}, {4, 4, 4}} {
		for pi, p := range pools {
			out, err := p.Out(in)
			if err != nil {
				continue // window larger than this input
			}
			nc := 3
			x := randN(r, nc*vol(in), 1)
			dy := randN(r, nc*vol(out), 1)
			y, idx := make([]float32, nc*vol(out)), make([]int32, nc*vol(out))
			if err := MaxPool3d(y, idx, x, nc, in, p); err != nil {
				t.Fatal(err)
			}
			fmax := func(x []float64) []float64 { return refPool(x, nc, in, out, p, true) }
			closeTo(t, "maxpool", y, fmax(to64(x)), 0)
			dx := make([]float32, len(x))
			if err := MaxPool3dBackward(dx, dy, idx, nc, in, p); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "maxpool backward", dx, fdGrad(fmax, to64(x), to64(dy)), 1e-5)
			if p.Dilation != [3]int{} {
				continue // avg pool has no dilation
			}
			if err := AvgPool3d(y, x, nc, in, p); err != nil {
				t.Fatalf("pool %d: %v", pi, err)
			}
			favg := func(x []float64) []float64 { return refPool(x, nc, in, out, p, false) }
			closeTo(t, "avgpool", y, favg(to64(x)), 1e-6)
			if err := AvgPool3dBackward(dx, dy, nc, in, p); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "avgpool backward", dx, fdGrad(favg, to64(x), to64(dy)), 1e-5)
		}
	}
}

func TestAdaptiveAndGlobalPool(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	// torch bins for 5 -> 3: [0,2), [1,4), [3,5)
	for o, want := range [][2]int{{0, 2}, {1, 4}, {3, 5}} {
		if lo, hi := adaptiveRange(o, 3, 5); lo != want[0] || hi != want[1] {
			t.Fatalf("bin %d = [%d,%d), want %v", o, lo, hi, want)
		}
	}
	in, out, nc := [3]int{5, 4, 7}, [3]int{3, 4, 2}, 2
	x, dy := randN(r, nc*vol(in), 1), randN(r, nc*vol(out), 1)
	ref := func(x []float64) []float64 {
		var y []float64
		for c := range nc {
			for od := range out[0] {
				for oh := range out[1] {
					for ow := range out[2] {
						var s float64
						n := 0
						for d := od * in[0] / out[0]; d < int(math.Ceil(float64((od+1)*in[0])/float64(out[0]))); d++ {
							for h := oh * in[1] / out[1]; h < int(math.Ceil(float64((oh+1)*in[1])/float64(out[1]))); h++ {
								for w := ow * in[2] / out[2]; w < int(math.Ceil(float64((ow+1)*in[2])/float64(out[2]))); w++ {
									s += x[c*vol(in)+(d*in[1]+h)*in[2]+w]
									n++
								}
							}
						}
						y = append(y, s/float64(n))
					}
				}
			}
		}
		return y
	}
	y := make([]float32, nc*vol(out))
	if err := AdaptiveAvgPool3d(y, x, nc, in, out); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "adaptive", y, ref(to64(x)), 1e-6)
	dx := make([]float32, len(x))
	if err := AdaptiveAvgPool3dBackward(dx, dy, nc, in, out); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "adaptive backward", dx, fdGrad(ref, to64(x), to64(dy)), 1e-5)

	g := make([]float32, nc)
	if err := GlobalAvgPool(g, x, nc, vol(in)); err != nil {
		t.Fatal(err)
	}
	gy := make([]float32, nc)
	if err := AdaptiveAvgPool3d(gy, x, nc, in, [3]int{1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "global", g, to64(gy), 1e-6)
	if err := GlobalAvgPoolBackward(dx, dy[:nc], nc, vol(in)); err != nil {
		t.Fatal(err)
	}
	if dx[0] != dy[0]/float32(vol(in)) || dx[len(dx)-1] != dy[1]/float32(vol(in)) {
		t.Fatal("global pool backward does not spread dy evenly")
	}
}

func TestReduce(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	shape := []int{2, 3, 4, 5}
	x := randN(r, 120, 1)
	for _, axes := range [][]int{{0}, {3}, {1, 2}, {0, 1, 2, 3}, {}} {
		out, _ := reducedShape(shape, axes)
		n := numel(out)
		ref := func(x []float64) []float64 {
			y := make([]float64, n)
			cnt := 120 / n
			for i, v := range x {
				// decompose i, zero the reduced coordinates
				c := []int{i / 60, i / 20 % 3, i / 5 % 4, i % 5}
				o := 0
				for a := range 4 {
					if out[a] == 1 {
						c[a] = 0
					}
					o = o*out[a] + c[a]
				}
				y[o] += v / float64(cnt)
			}
			return y
		}
		y := make([]float32, n)
		if err := Mean(y, x, shape, axes); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "mean", y, ref(to64(x)), 1e-6)
		if err := Sum(y, x, shape, axes); err != nil {
			t.Fatal(err)
		}
		want := ref(to64(x))
		for i := range want {
			want[i] *= float64(120 / n)
		}
		closeTo(t, "sum", y, want, 1e-6)
		dy, dx := randN(r, n, 1), make([]float32, 120)
		if err := MeanBackward(dx, dy, shape, axes); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "mean backward", dx, fdGrad(ref, to64(x), to64(dy)), 1e-5)
	}
	if err := Sum(make([]float32, 1), x, shape, []int{4}); err == nil {
		t.Fatal("axis 4 of a 4-d shape accepted")
	}
}

// refMaxIndex is torch's argmax rule for one window, scanned in (d, h, w)
// order: the first of equal maxima, the last NaN once a NaN is seen.
func refMaxIndex(x []float32, in, o [3]int, p Pool) int32 {
	p = p.norm()
	best, bi := float32(math.Inf(-1)), int32(-1)
	for kd := range p.Kernel[0] {
		for kh := range p.Kernel[1] {
			for kw := range p.Kernel[2] {
				k, ix, ok := [3]int{kd, kh, kw}, [3]int{}, true
				for a := range 3 {
					ix[a] = o[a]*p.Stride[a] - p.Pad[a] + k[a]*p.Dilation[a]
					ok = ok && ix[a] >= 0 && ix[a] < in[a]
				}
				if !ok {
					continue
				}
				i := int32((ix[0]*in[1]+ix[1])*in[2] + ix[2])
				if v := x[i]; bi < 0 || v > best || v != v {
					best, bi = v, i
				}
			}
		}
	}
	return bi
}

// TestMaxPoolTiesNaNInf checks the argmax on inputs with many ties,
// NaNs and infinities (the NaN path and the fast path must both keep
// torch's choice), for the 3-wide fast rows and dilated windows.
func TestMaxPoolTiesNaNInf(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	in := [3]int{7, 6, 9}
	for _, p := range []Pool{
		{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}},
		{Kernel: [3]int{2, 3, 2}, Dilation: [3]int{2, 1, 2}, Stride: [3]int{1, 2, 1}},
	} {
		for _, special := range []float32{0, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1))} {
			const nc = 3
			x := make([]float32, nc*vol(in))
			for i := range x {
				x[i] = float32(r.IntN(3)) // many ties
				if special != 0 && r.IntN(4) == 0 && i >= vol(in) {
					x[i] = special // channel 0 stays finite
				}
			}
			out, _ := p.Out(in)
			y, idx := make([]float32, nc*vol(out)), make([]int32, nc*vol(out))
			if err := MaxPool3d(y, idx, x, nc, in, p); err != nil {
				t.Fatal(err)
			}
			for c := range nc {
				xc := x[c*vol(in) : (c+1)*vol(in)]
				o := 0
				for od := range out[0] {
					for oh := range out[1] {
						for ow := range out[2] {
							want := refMaxIndex(xc, in, [3]int{od, oh, ow}, p)
							got, v := idx[c*vol(out)+o], y[c*vol(out)+o]
							if got != want || math.Float32bits(v) != math.Float32bits(xc[want]) {
								t.Fatalf("%+v special %v channel %d out %d: index %d value %v, want %d %v", p, special, c, o, got, v, want, xc[want])
							}
							o++
						}
					}
				}
			}
		}
	}
}

// randPool draws a window that fits input in: kernel 1–4, stride 1–3,
// padding up to half the kernel, dilation 1–2, ceil mode or not.
func randPool(r *rand.Rand, in [3]int) (Pool, [3]int, bool) {
	var p Pool
	for a := range 3 {
		p.Kernel[a] = 1 + r.IntN(4)
		p.Stride[a] = 1 + r.IntN(3)
		p.Pad[a] = r.IntN(p.Kernel[a]/2 + 1)
		p.Dilation[a] = 1 + r.IntN(2)
	}
	p.CeilMode = r.IntN(2) == 0
	out, err := p.Out(in)
	return p, out, err == nil
}

// randPoolInput fills nc channels with few distinct values (many ties),
// signed zeros, and in some channels NaN, ±Inf or nothing but -Inf.
func randPoolInput(r *rand.Rand, nc, n int) []float32 {
	x := make([]float32, nc*n)
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}
	for c := range nc {
		xc := x[c*n : (c+1)*n]
		kind := r.IntN(5) // 0, 1: finite; 2: specials; 3: -Inf only; 4: NaN heavy
		for i := range xc {
			xc[i] = float32(r.IntN(4)) - 1.5
			switch {
			case kind == 2 && r.IntN(6) == 0:
				xc[i] = specials[r.IntN(len(specials))]
			case kind == 3:
				xc[i] = float32(math.Inf(-1))
			case kind == 4 && r.IntN(3) == 0:
				xc[i] = float32(math.NaN())
			}
		}
	}
	return x
}

// TestMaxPoolLevelsBitIdentical runs random windows (ragged widths, padding,
// strides 1–3, kernels 1–4, dilation, ceil mode) over inputs with ties,
// signed zeros, NaN and infinities at every cpu level, and requires values
// (bit for bit), indices and the backward pass to equal the portable path.
func TestMaxPoolLevelsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for trial := 0; trial < 300; trial++ {
		in := [3]int{1 + r.IntN(6), 1 + r.IntN(7), 1 + r.IntN(45)}
		p, out, ok := randPool(r, in)
		if !ok {
			continue
		}
		nc := 1 + r.IntN(4)
		checkMaxPoolLevels(t, randPoolInput(r, nc, vol(in)), randN(r, nc*vol(out), 1), nc, in, p)
	}
}

// checkMaxPoolLevels requires MaxPool3d and its backward to give, at every
// cpu level, the values (bit for bit), indices and gradients of the
// portable path.
func checkMaxPoolLevels(t *testing.T, x, dy []float32, nc int, in [3]int, p Pool) {
	t.Helper()
	run := func(l cpu.Level) ([]float32, []int32, []float32) {
		defer cpu.SetLevel(l)()
		y, idx, dx := make([]float32, len(dy)), make([]int32, len(dy)), make([]float32, len(x))
		if err := MaxPool3d(y, idx, x, nc, in, p); err != nil {
			t.Fatal(err)
		}
		if err := MaxPool3dBackward(dx, dy, idx, nc, in, p); err != nil {
			t.Fatal(err)
		}
		return y, idx, dx
	}
	wy, widx, wdx := run(cpu.Portable)
	for _, l := range cpu.Levels()[1:] {
		y, idx, dx := run(l)
		for i := range wy {
			if math.Float32bits(y[i]) != math.Float32bits(wy[i]) || idx[i] != widx[i] {
				t.Fatalf("%v, in %v, %+v: output %d = %v at %d, portable %v at %d", l, in, p, i, y[i], idx[i], wy[i], widx[i])
			}
		}
		for i := range wdx {
			if math.Float32bits(dx[i]) != math.Float32bits(wdx[i]) {
				t.Fatalf("%v, in %v, %+v: dx[%d] = %v, portable %v", l, in, p, i, dx[i], wdx[i])
			}
		}
	}
}

// FuzzMaxPool3dLevels derives a window, an input size and values (from a
// small set with ties, signed zeros, NaN and infinities) from the fuzz
// input and checks every cpu level against the portable path.
func FuzzMaxPool3dLevels(f *testing.F) {
	f.Add([]byte{2, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 5, 4, 40, 1, 2, 3})
	f.Add([]byte{3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 6, 7, 33, 0, 5, 5, 5, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 17 {
			return
		}
		var p Pool
		for a := range 3 {
			p.Kernel[a] = 1 + int(b[a])%4
			p.Stride[a] = 1 + int(b[3+a])%3
			p.Dilation[a] = 1 + int(b[6+a])%2
			p.Pad[a] = int(b[9+a]) % (p.Kernel[a]/2 + 1)
		}
		p.CeilMode = b[12]%2 == 1
		in := [3]int{1 + int(b[13])%6, 1 + int(b[14])%7, 1 + int(b[15])%48}
		out, err := p.Out(in)
		if err != nil {
			return
		}
		vals := []float32{-1, 0, 1, 2, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
		nc := 2
		x := make([]float32, nc*vol(in))
		for i := range x {
			x[i] = vals[int(b[16+i%(len(b)-16)]+byte(i/(len(b)-16)))%len(vals)]
		}
		dy := make([]float32, nc*vol(out))
		for i := range dy {
			dy[i] = float32(i%7) - 3
		}
		checkMaxPoolLevels(t, x, dy, nc, in, p)
	})
}

// TestMaxPoolVectorKernelRuns makes sure the comparison above exercises the
// vector kernel: on finite data it must accept every stride ≤ 2 window.
func TestMaxPoolVectorKernelRuns(t *testing.T) {
	if !vecPool() {
		t.Skip("no vector pooling kernel at this level")
	}
	r := rand.New(rand.NewPCG(25, 26))
	in := [3]int{5, 6, 37}
	for _, p := range []Pool{
		{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}},
		{Kernel: [3]int{2, 2, 4}, Stride: [3]int{1, 1, 1}, Pad: [3]int{0, 1, 2}, Dilation: [3]int{1, 1, 2}},
	} {
		p = p.norm()
		out, _ := p.Out(in)
		pl := planFor(in, out, p)
		if pl.vec == nil {
			t.Fatalf("%+v: no vector plan", p)
		}
		x := randN(r, vol(in), 1)
		y, idx := make([]float32, vol(out)), make([]int32, vol(out))
		if !pl.vec.run(y, idx, x) {
			t.Fatalf("%+v: vector kernel refused finite data", p)
		}
		wy, widx := make([]float32, vol(out)), make([]int32, vol(out))
		maxPoolChannel(wy, widx, x, in, &pl.ax)
		for i := range wy {
			if y[i] != wy[i] || idx[i] != widx[i] {
				t.Fatalf("%+v: output %d = %v at %d, want %v at %d", p, i, y[i], idx[i], wy[i], widx[i])
			}
		}
	}
}

// refAvgBackward spreads dy (nc, out) over the windows of p in float64,
// each value divided by torch's divisor.
func refAvgBackward(dy []float64, nc int, in, out [3]int, p Pool) []float64 {
	p = p.norm()
	dx := make([]float64, nc*vol(in))
	o := 0
	for c := range nc {
		for od := range out[0] {
			for oh := range out[1] {
				for ow := range out[2] {
					var lo, hi [3]int
					div := 1
					for a, oa := range [3]int{od, oh, ow} {
						l, h, size := p.avgRange(a, oa, in[a])
						lo[a], hi[a], div = l, h, div*size
					}
					for d := lo[0]; d < hi[0]; d++ {
						for h := lo[1]; h < hi[1]; h++ {
							for w := lo[2]; w < hi[2]; w++ {
								dx[c*vol(in)+(d*in[1]+h)*in[2]+w] += dy[o] / float64(div)
							}
						}
					}
					o++
				}
			}
		}
	}
	return dx
}

// TestAvgPoolLevels runs random average poolings (ragged widths, padding
// counted or not, strides 1–3, kernels 1–4, ceil mode) and adaptive ones at
// every cpu level: forward and backward equal the float64 reference within
// rounding and the portable path bit for bit.
func TestAvgPoolLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for trial := 0; trial < 200; trial++ {
		in := [3]int{1 + r.IntN(6), 1 + r.IntN(7), 1 + r.IntN(45)}
		adaptiveOut := trial%4 == 3
		var p Pool
		var out [3]int
		if adaptiveOut {
			for a := range 3 {
				out[a] = 1 + r.IntN(in[a]+2)
			}
		} else {
			var ok bool
			if p, _, ok = randPool(r, in); !ok {
				continue
			}
			p.Dilation, p.ExcludePad = [3]int{}, r.IntN(2) == 0
			var err error
			if out, err = p.Out(in); err != nil {
				continue
			}
		}
		nc := 1 + r.IntN(3)
		x, dy := randN(r, nc*vol(in), 1), randN(r, nc*vol(out), 1)
		run := func(l cpu.Level) ([]float32, []float32) {
			defer cpu.SetLevel(l)()
			y, dx := make([]float32, len(dy)), make([]float32, len(x))
			var err1, err2 error
			if adaptiveOut {
				err1 = AdaptiveAvgPool3d(y, x, nc, in, out)
				err2 = AdaptiveAvgPool3dBackward(dx, dy, nc, in, out)
			} else {
				err1 = AvgPool3d(y, x, nc, in, p)
				err2 = AvgPool3dBackward(dx, dy, nc, in, p)
			}
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			return y, dx
		}
		wy, wdx := run(cpu.Portable)
		if !adaptiveOut {
			closeTo(t, "avg pool", wy, refPool(to64(x), nc, in, out, p, false), 1e-6)
			closeTo(t, "avg pool backward", wdx, refAvgBackward(to64(dy), nc, in, out, p), 1e-6)
		}
		for _, l := range cpu.Levels()[1:] {
			y, dx := run(l)
			for i := range wy {
				if math.Float32bits(y[i]) != math.Float32bits(wy[i]) {
					t.Fatalf("%v, in %v -> %v, %+v: y[%d] = %v, portable %v", l, in, out, p, i, y[i], wy[i])
				}
			}
			for i := range wdx {
				if math.Float32bits(dx[i]) != math.Float32bits(wdx[i]) {
					t.Fatalf("%v, in %v -> %v, %+v: dx[%d] = %v, portable %v", l, in, out, p, i, dx[i], wdx[i])
				}
			}
		}
	}
}

// TestMaxPoolRejectsIndexOverflow: a channel larger than int32 indices can
// address is an error, not silently wrapped indices.
func TestMaxPoolRejectsIndexOverflow(t *testing.T) {
	p := Pool{Kernel: [3]int{2, 2, 2}}
	if err := MaxPool3d(nil, nil, nil, 1, [3]int{2048, 2048, 1024}, p); err == nil {
		t.Fatal("2^32 values per channel accepted")
	}
}
