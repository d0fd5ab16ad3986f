package conv

import "testing"

// TestPatches checks every value of Patches against the index formula, on
// a non-cubic input whose extents are not multiples of the patch (the
// remainder is dropped, as a stride-k convolution drops it), two samples.
func TestPatches(t *testing.T) {
	n, ch := 2, 3
	in, k := [3]int{5, 6, 9}, [3]int{2, 3, 4}
	x := make([]float32, n*ch*in[0]*in[1]*in[2])
	for i := range x {
		x[i] = float32(i)
	}
	g := [3]int{in[0] / k[0], in[1] / k[1], in[2] / k[2]}
	dim := ch * k[0] * k[1] * k[2]
	dst := make([]float32, n*g[0]*g[1]*g[2]*dim)
	Patches(dst, x, n, ch, in, k)
	q := 0
	for s := range n {
		for i := range g[0] {
			for j := range g[1] {
				for l := range g[2] {
					for c := range ch {
						for d := range k[0] {
							for h := range k[1] {
								for w := range k[2] {
									want := x[(((s*ch+c)*in[0]+i*k[0]+d)*in[1]+j*k[1]+h)*in[2]+l*k[2]+w]
									if dst[q] != want {
										t.Fatalf("value %d = %g, want %g", q, dst[q], want)
									}
									q++
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestPatchRows checks PatchRows.ReadRow against the rows of Patches, for
// every row and pieces that start and end inside a run of k[2] values,
// span several runs and channels, or are the whole row.
func TestPatchRows(t *testing.T) {
	n, ch := 2, 3
	in, k := [3]int{5, 6, 9}, [3]int{2, 3, 4}
	x := make([]float32, n*ch*in[0]*in[1]*in[2])
	for i := range x {
		x[i] = float32(i)
	}
	rows := n * (in[0] / k[0]) * (in[1] / k[1]) * (in[2] / k[2])
	dim := ch * k[0] * k[1] * k[2]
	all := make([]float32, rows*dim)
	Patches(all, x, n, ch, in, k)
	src := &PatchRows{X: x, Ch: ch, In: in, K: k}
	for r := range rows {
		for _, piece := range [][2]int{{0, dim}, {0, 1}, {3, 2}, {1, 7}, {5, 30}, {dim - 3, 3}, {22, dim - 22}} {
			k0, l := piece[0], piece[1]
			dst := make([]float32, l)
			src.ReadRow(dst, r, k0)
			for i, v := range dst {
				if want := all[r*dim+k0+i]; v != want {
					t.Fatalf("row %d piece %v: [%d] = %g, want %g", r, piece, i, v, want)
				}
			}
		}
	}
}
