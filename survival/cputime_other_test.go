//go:build !unix

package survival

import "time"

// processCPU is unavailable here: budgets fall back to wall time.
func processCPU() (time.Duration, bool) { return 0, false }
