package testenv

import (
	"runtime"
	"testing"
)

// The sampler itself: a live 64 MiB allocation shows up, and nothing else
// of note does.
func TestHeapPeakSeesAllocation(t *testing.T) {
	hp := StartHeapPeak()
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = 1
	}
	hp.Sample()
	runtime.KeepAlive(keep)
	grew := MiB(hp.Growth())
	if grew < 60 || grew > 68 {
		t.Errorf("a live 64 MiB allocation: the sampler saw %.1f MiB of growth", grew)
	}
}

// An allocation freed before the measurement starts does not count.
func TestHeapPeakBaselineAfterGC(t *testing.T) {
	garbage := make([]byte, 64<<20)
	garbage[0] = 1
	garbage = nil
	hp := StartHeapPeak()
	hp.Sample()
	if grew := MiB(hp.Growth()); grew > 8 {
		t.Errorf("nothing allocated: the sampler saw %.1f MiB of growth", grew)
	}
	_ = garbage
}
