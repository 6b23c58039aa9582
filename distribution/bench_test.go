package distribution_test

import (
	"bytes"
	"context"
	"io"
	mrand "math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/nasfs"
)

// streamDriver is the part of both method sets the benchmark uses.
type streamDriver interface {
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	Delete(ctx context.Context, path string) error
}

const benchSize = 64 << 20

// BenchmarkStream writes and reads a 64 MiB layer on nasfs, through the
// Berth driver directly and through the adapter, in 32 KiB writes as
// distribution's blob writer copies a request body. The adapter must not
// cost more than 3 %:
//
//	go test -run '^$' -bench Stream -benchtime 5x -count 6 ./distribution/ | benchstat -col /via -
func BenchmarkStream(b *testing.B) {
	d, err := nasfs.New(nasfs.Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("berth-layer-0123456789abcdef"), benchSize/28+1)[:benchSize]
	sd := distribution.New(d)
	vias := []struct {
		name   string
		d      streamDriver
		writer func(ctx context.Context, p string) (io.WriteCloser, func(context.Context) error, error)
	}{
		{"berth", d, func(ctx context.Context, p string) (io.WriteCloser, func(context.Context) error, error) {
			w, err := d.Writer(ctx, p, false)
			if err != nil {
				return nil, nil, err
			}
			return w, w.Commit, nil
		}},
		{"adapter", sd, func(ctx context.Context, p string) (io.WriteCloser, func(context.Context) error, error) {
			var w storagedriver.FileWriter
			w, err := sd.Writer(ctx, p, false)
			if err != nil {
				return nil, nil, err
			}
			return w, w.Commit, nil
		}},
	}
	for _, via := range vias {
		b.Run("op=write/via="+via.name, func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(benchSize)
			for b.Loop() {
				w, commit, err := via.writer(ctx, "/bench/"+via.name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(w, onlyReader{bytes.NewReader(data)}, make([]byte, 32<<10)); err != nil {
					b.Fatal(err)
				}
				if err := commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err := d.PutContent(context.Background(), "/bench/read", data); err != nil {
		b.Fatal(err)
	}
	for _, via := range vias {
		b.Run("op=read/via="+via.name, func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(benchSize)
			for b.Loop() {
				rc, err := via.d.Reader(ctx, "/bench/read", 0)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != benchSize {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}

// onlyReader hides bytes.Reader's WriteTo, so that the copy goes through
// Write as a registry's request body does.
type onlyReader struct{ io.Reader }

// TestAdapterStreamRatio measures the adapter against the Berth driver in
// pairs run back to back, in random order, so that the drift of a shared
// machine cancels out, and checks that the adapter's throughput is at
// least 0.97 of the driver's (the median of the pairs' ratios); both
// read the same file. It is a
// measurement, so it runs only when asked:
//
//	BERTH_DIST_BENCH=1 go test -run '^TestAdapterStreamRatio$' -v ./distribution/
func TestAdapterStreamRatio(t *testing.T) {
	if os.Getenv("BERTH_DIST_BENCH") != "1" {
		t.Skip("BERTH_DIST_BENCH=1 measures the adapter's overhead on 64 MiB streams")
	}
	ctx := t.Context()
	d, err := nasfs.New(nasfs.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sd := distribution.New(d)
	data := bytes.Repeat([]byte("berth-layer-0123456789abcdef"), benchSize/28+1)[:benchSize]
	buf := make([]byte, 32<<10)
	write := func(adapter bool) time.Duration {
		start := time.Now()
		var w interface {
			io.Writer
			Commit(context.Context) error
		}
		var err error
		if adapter {
			w, err = sd.Writer(ctx, "/ratio/adapter", false)
		} else {
			w, err = d.Writer(ctx, "/ratio/berth", false)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyBuffer(w, onlyReader{bytes.NewReader(data)}, buf); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	read := func(adapter bool) time.Duration {
		start := time.Now()
		var rc io.ReadCloser
		var err error
		if adapter {
			rc, err = sd.Reader(ctx, "/ratio/berth", 0)
		} else {
			rc, err = d.Reader(ctx, "/ratio/berth", 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, onlyReader{rc}, buf)
		rc.Close()
		if err != nil || n != benchSize {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		return time.Since(start)
	}
	const pairs = 31
	for _, op := range []struct {
		name string
		run  func(bool) time.Duration
	}{{"write", write}, {"read", read}} {
		op.run(false) // warm up both paths
		op.run(true)
		ratios := make([]float64, pairs)
		for i := range ratios {
			var tb, ta time.Duration
			if mrand.IntN(2) == 0 {
				tb, ta = op.run(false), op.run(true)
			} else {
				ta, tb = op.run(true), op.run(false)
			}
			ratios[i] = float64(tb) / float64(ta) // adapter throughput / driver throughput
		}
		slices.Sort(ratios)
		med := ratios[pairs/2]
		t.Logf("%s 64 MiB: adapter/driver throughput, median of %d pairs: %.3f (range %.3f..%.3f)",
			op.name, pairs, med, ratios[0], ratios[pairs-1])
		if med < 0.97 {
			t.Errorf("%s: the adapter reaches %.3f of the driver's throughput, want >= 0.97", op.name, med)
		}
	}
}
