//go:build !unix

package fusion

import "time"

func cpuTime() time.Duration { return 0 }
