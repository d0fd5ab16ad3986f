//go:build !amd64 || purego

package optim

// adamVec has no vector kernel on this build: adamGo does everything.
func adamVec(p, g, m, v []float32, k *adamK) int { return 0 }
