//go:build !unix

package cot

func cpuSeconds() float64 { return 0 }
