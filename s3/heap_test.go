package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapMetric is the heap the process holds in objects: live ones and dead
// ones not yet swept, which is what a pod's memory limit sees of the heap.
const heapMetric = "/memory/classes/heap/objects:bytes"

// heapPeak samples heapMetric every heapSampleEvery from a goroutine, from
// a baseline taken right after a runtime.GC().
type heapPeak struct {
	base, peak uint64
	stop, done chan struct{}
}

const heapSampleEvery = 5 * time.Millisecond

func heapObjects(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startHeapPeak collects garbage, takes the baseline and starts sampling.
func startHeapPeak() *heapPeak {
	// Two collections empty the driver's buffer pools (sync.Pool keeps a
	// victim generation), so that buffers an earlier test left there do
	// not vanish during the measurement and hide growth.
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: heapMetric}}
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	h.base = heapObjects(s)
	h.peak = h.base
	go func() {
		defer close(h.done)
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			h.peak = max(h.peak, heapObjects(s))
			select {
			case <-h.stop:
				h.peak = max(h.peak, heapObjects(s))
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// growth stops the sampling and returns the peak over the baseline.
func (h *heapPeak) growth() uint64 {
	close(h.stop)
	<-h.done
	return h.peak - h.base
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// TestWriterHeapBounded streams 256 MiB through the driver's Writer and
// checks the documented memory bound (Config.Concurrency: a writer
// buffers at most PartSize x Concurrency), with 16 MiB for the SDK's and
// the HTTP stack's own allocations, then reads the object back and
// compares its size and SHA-256.
func TestWriterHeapBounded(t *testing.T) {
	const (
		total     = 256 << 20
		chunkSize = 1 << 20
		partSize  = 8 << 20
		conc      = 4
		slack     = 16 << 20
	)
	eachServer(t, func(t *testing.T, s server) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.PartSize, cfg.Concurrency = partSize, conc
		st, err := New(ctx, cfg)
		require.NoError(t, err)

		// Every chunk differs, so that a part stored out of order or twice
		// changes the digest.
		rng := rand.NewChaCha8([32]byte{'b', 'e', 'r', 't', 'h'})
		chunk := make([]byte, chunkSize)
		sum := sha256.New()

		start := time.Now()
		hp := startHeapPeak()
		w, err := st.Writer(ctx, "/heap/layer", false)
		require.NoError(t, err)
		for n := 0; n < total; n += chunkSize {
			rng.Read(chunk)
			sum.Write(chunk)
			_, err := w.Write(chunk)
			require.NoError(t, err)
		}
		require.NoError(t, w.Commit(ctx))
		grew := hp.growth()
		elapsed := time.Since(start)
		bound := uint64(partSize*conc + slack)
		t.Logf("%s: %d MiB in %s (%.0f MB/s), peak heap growth %.1f MiB (bound %.0f MiB)",
			s.name, total>>20, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, mib(grew), mib(bound))
		assert.LessOrEqual(t, grew, bound, "peak heap growth %.1f MiB exceeds PartSize*Concurrency+16 MiB = %.0f MiB",
			mib(grew), mib(bound))

		fi, err := st.Stat(ctx, "/heap/layer")
		require.NoError(t, err)
		assert.EqualValues(t, total, fi.Size())
		r, err := st.Reader(ctx, "/heap/layer", 0)
		require.NoError(t, err)
		got := sha256.New()
		n, err := io.CopyBuffer(got, r, chunk)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.EqualValues(t, total, n)
		assert.True(t, bytes.Equal(sum.Sum(nil), got.Sum(nil)), "the object read back differs from the bytes written")
	})
}

// The sampler itself: a live 64 MiB allocation shows up, and nothing
// else of note does.
func TestHeapPeakSeesAllocation(t *testing.T) {
	hp := startHeapPeak()
	var wg sync.WaitGroup
	var keep []byte
	wg.Go(func() {
		keep = make([]byte, 64<<20)
		for i := range keep {
			keep[i] = 1
		}
		time.Sleep(4 * heapSampleEvery)
	})
	wg.Wait()
	grew := hp.growth()
	runtime.KeepAlive(keep)
	assert.InDelta(t, 64, mib(grew), 4, "grew %.1f MiB", mib(grew))
}
