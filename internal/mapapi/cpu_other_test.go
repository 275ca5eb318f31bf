//go:build !unix

package mapapi

import "time"

func processCPU() time.Duration { return 0 }
