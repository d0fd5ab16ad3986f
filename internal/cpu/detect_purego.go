//go:build purego

package cpu

// detect reports Portable: the purego build tag asks for no assembly at all.
func detect() (Level, Features) { return Portable, Features{} }
