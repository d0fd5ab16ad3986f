//go:build !unix

package vit

func processCPUSeconds() float64 { return 0 }
