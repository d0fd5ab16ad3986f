//go:build !linux

package hugepage

func control() int { return 0 }
