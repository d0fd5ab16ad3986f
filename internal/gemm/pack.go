package gemm

import "github.com/metasurv/metasurv/internal/cpu"

// avx512Asm reports whether the AVX-512 packing routines (transposePack,
// copyRows32) exist in this build and may run at the current level.
func avx512Asm() bool {
	return haveTranspose && cpu.Current() == cpu.AVX512
}

// canTranspose reports whether slivers of w ≤ 16 lanes can be packed by the
// AVX-512 transposePack at the current level.
func canTranspose(w int) bool {
	return avx512Asm() && w <= 16
}

// transposeSliver packs a width-wide k-major sliver whose lane l at step p
// is src[l·ld + p], lanes past n zero, with transposePack on each group of
// 16 lanes.
func transposeSliver(dst, src []float32, ld, n, width, kb int, alpha float32) {
	for l0 := 0; l0 < width; l0 += 16 {
		lanes := min(16, width-l0)
		live := max(0, min(lanes, n-l0))
		s := &src[0] // nothing is read when live == 0
		if live > 0 {
			s = &src[l0*ld]
		}
		transposePack(&dst[l0], s, ld, kb, width, live, uint16(1<<lanes-1), alpha)
	}
}

// packA copies the mb×kb block of alpha·op(A) at (i0, k0) into dst as
// slivers of mr rows: sliver s holds rows i0+s·mr…, stored k-major
// (dst[s·kb·mr + p·mr + i]), rows past mb zero-filled.
func packA(dst, a []float32, lda int, trans bool, alpha float32, i0, k0, mb, kb, mr int) {
	for s := 0; s*mr < mb; s++ {
		sl := dst[s*kb*mr : (s+1)*kb*mr]
		mh := min(mr, mb-s*mr)
		r0 := i0 + s*mr
		if trans { // op(A)[i][p] = a[p·lda+i]: rows of the sliver are contiguous
			for p := range kb {
				src := a[(k0+p)*lda+r0 : (k0+p)*lda+r0+mh]
				d := sl[p*mr : p*mr+mr]
				if alpha == 1 {
					copy(d, src)
				} else {
					for i, v := range src {
						d[i] = alpha * v
					}
				}
				clear(d[mh:])
			}
			continue
		}
		if canTranspose(mr) {
			_ = a[(r0+mh-1)*lda+k0+kb-1]
			_ = sl[kb*mr-1]
			transposeSliver(sl, a[r0*lda+k0:], lda, mh, mr, kb, alpha)
			continue
		}
		for i := range mh {
			src := a[(r0+i)*lda+k0 : (r0+i)*lda+k0+kb]
			for p, v := range src {
				sl[p*mr+i] = alpha * v
			}
		}
		if mh < mr {
			for p := range kb {
				clear(sl[p*mr+mh : p*mr+mr])
			}
		}
	}
}

// packB copies the kb×nb block of op(B) at (k0, j0) into dst as slivers of
// nr columns: sliver s holds columns j0+s·nr…, stored k-major
// (dst[s·kb·nr + p·nr + j]), columns past nb zero-filled.
func packB(dst, b []float32, ldb int, trans bool, k0, j0, kb, nb, nr int) {
	for s := 0; s*nr < nb; s++ {
		sl := dst[s*kb*nr : (s+1)*kb*nr]
		nw := min(nr, nb-s*nr)
		c0 := j0 + s*nr
		if !trans { // op(B)[p][j] = b[p·ldb+j]: sliver rows are contiguous
			if nw == 32 && nr == 32 && avx512Asm() {
				_ = b[(k0+kb-1)*ldb+c0+31]
				copyRows32(&sl[0], &b[k0*ldb+c0], ldb, kb)
				continue
			}
			for p := range kb {
				d := sl[p*nr : p*nr+nr]
				copy(d, b[(k0+p)*ldb+c0:(k0+p)*ldb+c0+nw])
				clear(d[nw:])
			}
			continue
		}
		if canTranspose(min(nr, 16)) && nr%16 == 0 {
			_ = b[(c0+nw-1)*ldb+k0+kb-1]
			_ = sl[kb*nr-1]
			transposeSliver(sl, b[c0*ldb+k0:], ldb, nw, nr, kb, 1)
			continue
		}
		for j := range nw {
			src := b[(c0+j)*ldb+k0 : (c0+j)*ldb+k0+kb]
			for p, v := range src {
				sl[p*nr+j] = v
			}
		}
		if nw < nr {
			for p := range kb {
				clear(sl[p*nr+nw : p*nr+nr])
			}
		}
	}
}
