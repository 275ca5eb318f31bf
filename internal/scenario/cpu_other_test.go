//go:build !unix

package scenario

import "time"

func cpuTime() time.Duration { return 0 }
