package decorate_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
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
// The disk's drift between two runs is often larger than the decorators'
// cost, so every iteration streams both, back to back in alternating order
// (testenv.Pairs); "ratio" is the decorated throughput over the bare one,
// the median of the pairs: the number to hold to the 3 % bar.
//
//	go test -run '^$' -bench StreamDecorated -benchtime 5x ./decorate/
func BenchmarkStreamDecorated(b *testing.B) {
	ctx := context.Background()
	chunk := make([]byte, benchChunk)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	buf := make([]byte, 32<<10)
	store, err := nasfs.New(nasfs.Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	tm := newTelemetry(b, io.Discard)
	side := func(name string, d driver.Driver) testenv.Side {
		p := func(i int) string { return fmt.Sprintf("/bench/%s/%d", name, i) }
		return testenv.Side{
			Name: name,
			Run:  func(i int) error { return stream(ctx, d, p(i), chunk, buf) },
			Then: func(i int) error { return store.Delete(ctx, p(i)) },
		}
	}
	b.Run("size=1GiB", func(b *testing.B) {
		// Written and read back: two layers' worth of bytes per stream.
		testenv.Pairs(b, 2*benchSize, side("decorated", tm.stack(store)), side("plain", store))
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
