//go:build !linux

package persons_test

import "time"

// threadCPU and processCPU are measured on Linux only; elsewhere the
// benchmarks report no CPU split.
func threadCPU() time.Duration  { return 0 }
func processCPU() time.Duration { return 0 }
