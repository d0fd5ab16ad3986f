//go:build amd64 && !purego

package conv

// winoInput transforms one input channel's run of up to 16 tiles (see
// wino_amd64.s and winograd.go).
//
//go:noescape
func winoInput(x *float32, rows *[16]int, col0 int, masks uint64, stage *float32, dst *float32, vs, d2 int, smask uint64)

// winoOutput transforms one output channel's run of up to 16 tiles back
// to the output, with the epilogue.
//
//go:noescape
func winoOutput(m *float32, ms int, y *float32, ldh, ldd int, mk01, mk23 uint64, bias float32, resid *float32, relu int)
