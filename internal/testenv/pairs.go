package testenv

import (
	"slices"
	"testing"
	"time"
)

// Side is one half of a paired benchmark: a name for its metric and the
// operation, given the iteration number.
type Side struct {
	Name string
	Run  func(i int) error
	// Then, if set, runs untimed after Run: to remove what Run made, so
	// that a long benchmark does not fill the disk.
	Then func(i int) error
	// Heap, if set, follows the heap during Run (HeapPeak) and reports
	// the largest growth of any iteration as "<name>-peak-heap-MiB".
	Heap bool
}

// Pairs runs ours and theirs back to back in every iteration of b,
// alternating which goes first, so that a shared machine's drift (another
// tenant, a disk flushing) lands on both sides alike instead of on
// whichever ran later. bytes is what one operation moves.
//
// It reports each side's throughput as "<name>-MB/s" and the median of
// the per-iteration throughput ratios, ours over theirs, as "ratio" (1 is
// as fast; the median ignores the odd pair a stall hit). ns/op and MB/s
// are the pair's. Only the operations are timed.
func Pairs(b *testing.B, bytes int64, ours, theirs Side) {
	b.Helper()
	b.SetBytes(2 * bytes)
	peak := map[string]uint64{}
	timed := func(s Side, i int) time.Duration {
		var hp *HeapPeak
		if s.Heap {
			hp = StartHeapPeak() // collects garbage: before the clock starts
		}
		start := time.Now()
		err := s.Run(i)
		took := time.Since(start)
		if hp != nil {
			peak[s.Name] = max(peak[s.Name], hp.Growth())
		}
		if err != nil {
			b.Fatalf("%s: %v", s.Name, err)
		}
		if s.Then != nil {
			b.StopTimer()
			if err := s.Then(i); err != nil {
				b.Fatalf("%s: %v", s.Name, err)
			}
			b.StartTimer()
		}
		return took
	}
	var ratios []float64
	var oursSum, theirsSum time.Duration
	for i := 0; b.Loop(); i++ {
		var o, t time.Duration
		if i%2 == 0 {
			o, t = timed(ours, i), timed(theirs, i)
		} else {
			t, o = timed(theirs, i), timed(ours, i)
		}
		oursSum += o
		theirsSum += t
		ratios = append(ratios, t.Seconds()/o.Seconds())
	}
	mbs := func(d time.Duration) float64 { return float64(bytes) * float64(len(ratios)) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(oursSum), ours.Name+"-MB/s")
	b.ReportMetric(mbs(theirsSum), theirs.Name+"-MB/s")
	b.ReportMetric(Median(ratios), "ratio")
	for _, s := range []Side{ours, theirs} {
		if s.Heap {
			b.ReportMetric(MiB(peak[s.Name]), s.Name+"-peak-heap-MiB")
		}
	}
}

// Median returns the median of xs (the mean of the middle two when their
// number is even); xs is sorted in place. It returns 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}
