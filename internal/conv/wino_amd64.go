//go:build amd64 && !purego

package conv

//go:generate go run asm/gen.go

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

// winoTranspose16 transposes up to 16×16 floats (winograd_amd64.s).
//
//go:noescape
func winoTranspose16(src *float32, lds int, dst *float32, ldd int, nrows int, cols uint64)

// winoInputCL transforms one input tile for 16 channels-last channels.
//
//go:noescape
func winoInputCL(x *float32, ldw, ldh, ldd int, stage, dst *float32, vs int)

// winoGradCL transforms one output-gradient tile for 14 channels-last
// channels.
//
//go:noescape
func winoGradCL(dy *float32, ldw, ldh, ldd int, dst *float32, vs int)

// winoFinish computes Gᵀ M G for 16 channel pairs (winograd_amd64.s).
//
//go:noescape
func winoFinish(z *float32, zs int, stage, out *float32)

// winoKernel computes G g Gᵀ for 14 output channels (winograd_amd64.s).
//
//go:noescape
func winoKernel(stage, dst *float32, us int)

// haveWino2Asm says this build has the AVX2 Winograd transforms.
const haveWino2Asm = true

// winoInput8 is winoInput for 8 tiles at AVX2 (wino2_amd64.s).
//
//go:noescape
func winoInput8(x *float32, rows *[16]int, col0 int, masks uint64, stage *float32, dst *float32, vs int, smask uint64)

// winoOutput8 is winoOutput for 8 tiles at AVX2 (wino2_amd64.s).
//
//go:noescape
func winoOutput8(m *float32, ms int, y *float32, ldh, ldd int, mk01, mk23 uint64, bias float32, resid *float32, relu int, stage *float32)

// winoTranspose8 transposes up to 8×8 floats (wino2_amd64.s).
//
//go:noescape
func winoTranspose8(src *float32, lds int, dst *float32, ldd int, nrows int, cols uint64)

// winoInputCL8 is winoInputCL for 8 channels (wino2_amd64.s).
//
//go:noescape
func winoInputCL8(x *float32, ldw, ldh, ldd int, stage, dst *float32, vs int)

// winoGradCL6 is winoGradCL for 6 channels (wino2_amd64.s).
//
//go:noescape
func winoGradCL6(dy *float32, ldw, ldh, ldd int, dst *float32, vs int)

// winoFinish8 is winoFinish for 8 channel pairs (wino2_amd64.s).
//
//go:noescape
func winoFinish8(z *float32, zs int, stage, out *float32)
