package distribution_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/internal/testenv"
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

// BenchmarkAdapterPairs measures the adapter against the Berth driver in
// pairs run back to back, in alternating order (testenv.Pairs), so that the
// drift of a shared machine cancels out; "ratio" is the adapter's
// throughput over the driver's, the median of the pairs (bar: >= 0.97).
// Both sides read the same file.
//
//	go test -run '^$' -bench AdapterPairs -benchtime 31x ./distribution/
func BenchmarkAdapterPairs(b *testing.B) {
	ctx := b.Context()
	d, err := nasfs.New(nasfs.Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	sd := distribution.New(d)
	data := bytes.Repeat([]byte("berth-layer-0123456789abcdef"), benchSize/28+1)[:benchSize]
	buf := make([]byte, 32<<10)
	type committer interface {
		io.Writer
		Commit(context.Context) error
	}
	write := func(name string, open func(p string) (committer, error)) testenv.Side {
		p := "/pairs/" + name
		return testenv.Side{Name: name, Run: func(int) error {
			w, err := open(p)
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(w, onlyReader{bytes.NewReader(data)}, buf); err != nil {
				return err
			}
			return w.Commit(ctx)
		}}
	}
	read := func(name string, d streamDriver) testenv.Side {
		return testenv.Side{Name: name, Run: func(int) error {
			rc, err := d.Reader(ctx, "/pairs/berth", 0)
			if err != nil {
				return err
			}
			defer rc.Close()
			n, err := io.CopyBuffer(io.Discard, onlyReader{rc}, buf)
			if err == nil && n != benchSize {
				err = fmt.Errorf("read %d bytes, want %d", n, benchSize)
			}
			return err
		}}
	}
	b.Run("op=write", func(b *testing.B) {
		testenv.Pairs(b, benchSize,
			write("adapter", func(p string) (committer, error) { return sd.Writer(ctx, p, false) }),
			write("berth", func(p string) (committer, error) { return d.Writer(ctx, p, false) }))
	})
	b.Run("op=read", func(b *testing.B) {
		testenv.Pairs(b, benchSize, read("adapter", sd), read("berth", d))
	})
}
