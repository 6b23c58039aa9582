package testenv

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapMetric is the heap held in objects, live ones and dead ones not yet
// swept: what a pod's memory limit sees of the heap.
const heapMetric = "/memory/classes/heap/objects:bytes"

// HeapSampleEvery is how often a HeapPeak samples the heap on its own.
const HeapSampleEvery = 2 * time.Millisecond

// HeapPeak follows the largest heap a stretch of work reaches over a
// baseline taken right after garbage collection: the memory bound a
// driver documents (part size x concurrency, say) is checked against its
// Growth. It samples every HeapSampleEvery from a goroutine; Sample takes
// one at once, where a test knows its peak.
type HeapPeak struct {
	mu         sync.Mutex
	s          []metrics.Sample
	base, peak uint64
	stop, done chan struct{}
}

// StartHeapPeak collects garbage twice, takes the baseline and starts
// sampling. Two collections also empty the sync.Pools (which keep a victim
// generation), so that buffers an earlier test left in a driver's pool do
// not vanish during the measurement and hide growth.
func StartHeapPeak() *HeapPeak {
	runtime.GC()
	runtime.GC()
	h := &HeapPeak{
		s:    []metrics.Sample{{Name: heapMetric}},
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	metrics.Read(h.s)
	h.base = h.s[0].Value.Uint64()
	h.peak = h.base
	go func() {
		defer close(h.done)
		tick := time.NewTicker(HeapSampleEvery)
		defer tick.Stop()
		for {
			h.Sample()
			select {
			case <-h.stop:
				h.Sample()
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Sample reads the heap now and keeps it if it is the largest yet.
func (h *HeapPeak) Sample() {
	h.mu.Lock()
	defer h.mu.Unlock()
	metrics.Read(h.s)
	h.peak = max(h.peak, h.s[0].Value.Uint64())
}

// Growth stops the sampling and returns the peak over the baseline.
func (h *HeapPeak) Growth() uint64 {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak - h.base
}

// MiB is n bytes in MiB, for messages and metrics.
func MiB(n uint64) float64 { return float64(n) / (1 << 20) }
