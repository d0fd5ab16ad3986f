package gemm

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
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[mh:])
			}
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
			for p := range kb {
				d := sl[p*nr : p*nr+nr]
				copy(d, b[(k0+p)*ldb+c0:(k0+p)*ldb+c0+nw])
				clear(d[nw:])
			}
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
