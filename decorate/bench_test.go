package decorate_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
)

const (
	benchSize  = 1 << 30 // a 1 GiB layer
	benchChunk = 1 << 20 // written in 1 MiB calls
)

// sink discards what it is given, with no ReadFrom: io.CopyBuffer then
// reads through the reader's Read (or WriteTo) as a registry's copy to an
// HTTP response does.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

// stream writes benchSize bytes to a new path in benchChunk calls, commits,
// reads it all back, and deletes it.
func stream(ctx context.Context, d driver.Driver, path string, chunk, buf []byte) error {
	w, err := d.Writer(ctx, path, false)
	if err != nil {
		return err
	}
	for n := 0; n < benchSize; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	if err := w.Commit(ctx); err != nil {
		return err
	}
	rc, err := d.Reader(ctx, path, 0)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(sink{}, rc, buf)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != benchSize {
		err = fmt.Errorf("read %d bytes back, want %d", n, benchSize)
	}
	return err
}

// BenchmarkStreamDecorated streams a 1 GiB layer through nasfs (Writer,
// 1 MiB Writes, Commit, then Reader), bare and with all five decorators
// stacked, in one run. Every record is logged (Debug, to a JSON handler
// writing to io.Discard), every span recorded (in-memory exporter), every
// metric counted.
//
// via=plain and via=decorated run one after the other; the decorated one
// reports its time over the plain one's as decorated/plain. The disk's
// drift between the two runs is often larger than the decorators' cost, so
// via=pairs streams both in every iteration, alternating which goes first,
// and reports the median of the per-pair ratios: the number to hold to the
// 3 % bar. Compare runs with:
//
//	go test -run '^$' -bench StreamDecorated -benchtime 5x ./decorate/
func BenchmarkStreamDecorated(b *testing.B) {
	ctx := context.Background()
	chunk := make([]byte, benchChunk)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	buf := make([]byte, 32<<10)
	dir := b.TempDir()
	store, err := nasfs.New(nasfs.Config{Root: dir})
	if err != nil {
		b.Fatal(err)
	}
	tm := newTelemetry(b, io.Discard)
	decorated := tm.stack(store)
	var seq int
	// once streams through d and removes the file; it returns the time of
	// the stream alone.
	once := func(b *testing.B, d driver.Driver) time.Duration {
		seq++
		p := fmt.Sprintf("/bench/%d", seq)
		start := time.Now()
		if err := stream(ctx, d, p, chunk, buf); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		if err := store.Delete(ctx, p); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		return took
	}
	var plainPerOp time.Duration
	b.Run("size=1GiB/via=plain", func(b *testing.B) {
		b.SetBytes(2 * benchSize) // written and read back
		for b.Loop() {
			once(b, store)
		}
		plainPerOp = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("size=1GiB/via=decorated", func(b *testing.B) {
		b.SetBytes(2 * benchSize)
		for b.Loop() {
			once(b, decorated)
		}
		if plainPerOp > 0 {
			b.ReportMetric(float64(b.Elapsed()/time.Duration(b.N))/float64(plainPerOp), "decorated/plain")
		}
	})
	b.Run("size=1GiB/via=pairs", func(b *testing.B) {
		b.SetBytes(4 * benchSize) // one stream of each
		var ratios []float64
		var plain, dec time.Duration
		for i := 0; b.Loop(); i++ {
			var p, d time.Duration
			if i%2 == 0 {
				p, d = once(b, store), once(b, decorated)
			} else {
				d, p = once(b, decorated), once(b, store)
			}
			plain += p
			dec += d
			ratios = append(ratios, float64(d)/float64(p))
		}
		slices.Sort(ratios)
		median := ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			median = (ratios[len(ratios)/2-1] + median) / 2
		}
		b.ReportMetric(median, "decorated/plain")
		b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/stream")
		b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N), "decorated-ns/stream")
	})
}

// BenchmarkOverheadMemory is the decorators' own cost with no disk under
// them: a 64 MiB stream (1 MiB Writes, Commit, Reader drained with a
// 32 KiB buffer) on the memory driver, bare and through all five. The
// difference per stream is what the stack adds to each upload and
// download, whatever the backend.
func BenchmarkOverheadMemory(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	chunk := make([]byte, benchChunk)
	buf := make([]byte, 32<<10)
	tm := newTelemetry(b, io.Discard)
	store := memory.New(memory.NewShared())
	for _, v := range []struct {
		via string
		d   driver.Driver
	}{{"plain", store}, {"decorated", tm.stack(store)}} {
		b.Run("size=64MiB/via="+v.via, func(b *testing.B) {
			b.SetBytes(2 * size)
			for i := 0; b.Loop(); i++ {
				p := fmt.Sprintf("/o/%s/%d", v.via, i)
				w, err := v.d.Writer(ctx, p, false)
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < size; n += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				rc, err := v.d.Reader(ctx, p, 0)
				if err != nil {
					b.Fatal(err)
				}
				// Read, not WriteTo: the per-call path of every layer.
				for {
					_, err := rc.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				rc.Close()
				if err := store.Delete(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
