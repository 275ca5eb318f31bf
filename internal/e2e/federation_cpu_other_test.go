//go:build !unix

package e2e

import "time"

// fedCPUTime is unknown here; CPU metrics read zero.
func fedCPUTime() time.Duration { return 0 }
