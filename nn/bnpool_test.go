package nn

import (
	"math"
	"testing"
)

// TestBNPoolChunksEqualComposition: inference's batchNormActPool, which
// normalises and pools a few planes at a time, equals MaxPool3d (or
// AvgPool3d) of batchNormAct bit for bit, for chunks of one plane, of a
// plane and a half and of everything, with and without ReLU, affine
// parameters and an arena.
func TestBNPoolChunksEqualComposition(t *testing.T) {
	r := NewRNG(11)
	const n, c = 2, 3
	x := NewTensor(n, c, 7, 6, 5)
	InitNormal(x, 0.3, 2, r)
	gm, bt, rm, rv := NewTensor(c), NewTensor(c), NewTensor(c), NewTensor(c)
	InitNormal(gm, 0, 1, r) // negative scales too
	InitNormal(bt, 0, 1, r)
	InitNormal(rm, 0, 1, r)
	InitUniform(rv, 0.2, 3, r)
	pool := PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)}
	avgPool := PoolOptions{Kernel: Cube(2)}
	s := 7 * 6 * 5
	defer func(old int) { bnPoolChunkFloats = old }(bnPoolChunkFloats)
	for _, chunk := range []int{s, s * 3 / 2, 1 << 20} {
		bnPoolChunkFloats = chunk
		for _, relu := range []bool{false, true} {
			for _, affine := range []bool{false, true} {
				for _, c := range []struct {
					arena, avg bool
				}{{false, false}, {true, false}, {false, true}, {true, true}} {
					arena := c.arena
					o := Options{}
					if arena {
						o.Arena = NewArena()
					}
					g := NewGraph(o)
					var gamma, beta *Tensor
					if affine {
						gamma, beta = gm, bt
					}
					z := g.batchNormAct(x, gamma, beta, rm, rv, bnOptions{}, fuse{ReLU: relu})
					var want *Tensor
					if c.avg {
						want = g.AvgPool3d(z, avgPool).Clone()
					} else {
						want = g.MaxPool3d(z, pool).Clone()
					}
					p := pool
					if c.avg {
						p = avgPool
					}
					got := g.batchNormActPool(x, gamma, beta, rm, rv, bnOptions{}, fuse{ReLU: relu}, p, c.avg)
					if err := g.Err(); err != nil {
						t.Fatal(err)
					}
					if !SameShape(got.Shape, want.Shape) {
						t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
					}
					for i := range want.Data {
						if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
							t.Fatalf("chunk=%d relu=%v affine=%v arena=%v avg=%v: value %d = %v, composition %v", chunk, relu, affine, arena, c.avg, i, got.Data[i], want.Data[i])
						}
					}
				}
			}
		}
	}
}
