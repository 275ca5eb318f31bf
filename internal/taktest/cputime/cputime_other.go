//go:build !unix

package cputime

import "time"

// Process is unknown on this platform; CPU rates read zero.
func Process() time.Duration { return 0 }
