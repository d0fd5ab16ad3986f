//go:build !amd64 || purego

package ops

func expAffineAVX512(dst, src []float32, a, b float32) float32 { panic("ops: no assembly") }
func maxAVX512(x []float32) float32                            { panic("ops: no assembly") }
func vecExp() bool                                             { return false }

func geluAVX512(dst, src []float32) { panic("ops: no assembly") }

func geluGradAVX512(dx, x, dy []float32) { panic("ops: no assembly") }
