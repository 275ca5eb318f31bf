//go:build !unix

package takproto

func cpuSeconds() float64 { return 0 }
