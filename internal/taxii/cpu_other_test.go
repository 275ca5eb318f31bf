//go:build !unix

package taxii

import "time"

func processCPU() time.Duration { return 0 }
