package nasfs_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthio/berth/nasfs"
)

// benchSizes are the layer sizes the stream benchmarks cover.
var benchSizes = []int64{1 << 20, 16 << 20, 256 << 20, 1 << 30}

const benchChunk = 1 << 20 // both sides write in 1 MiB calls

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// writeChunks writes n bytes of a fixed pattern to w in benchChunk calls.
func writeChunks(w io.Writer, chunk []byte, n int64) error {
	for n > 0 {
		c := chunk
		if int64(len(c)) > n {
			c = c[:n]
		}
		if _, err := w.Write(c); err != nil {
			return err
		}
		n -= int64(len(c))
	}
	return nil
}

// writeSynced creates name with n bytes of chunk and fsyncs it.
func writeSynced(name string, chunk []byte, n int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	err = writeChunks(f, chunk, n)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func pattern() []byte {
	chunk := make([]byte, benchChunk)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	return chunk
}

// Each iteration writes a new path, as a registry writes each upload to a
// new path: replacing an existing file costs the filesystem more than
// creating one, on both sides alike.
//
// BenchmarkStream compares, in one run, a layer streamed through the nasfs
// driver (Writer, Write, Commit; Reader) with the same bytes written to an
// os.File and fsynced, and read back from one. Read the ratio per size:
// go test -run '^$' -bench Stream ./nasfs | benchstat -col /via -
func BenchmarkStream(b *testing.B) {
	ctx := context.Background()
	chunk := pattern()
	for _, size := range benchSizes {
		dir := b.TempDir()
		store, err := nasfs.New(nasfs.Config{Root: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("op=write/size="+sizeName(size)+"/via=driver", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				w, err := store.Writer(ctx, fmt.Sprintf("/bench/w/%d", i), false)
				if err != nil {
					b.Fatal(err)
				}
				if err := writeChunks(w, chunk, size); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op=write/size="+sizeName(size)+"/via=raw", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				if err := writeSynced(filepath.Join(dir, fmt.Sprintf("raw%d", i)), chunk, size); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The least an atomic, durable replace costs on the same disk: what
		// PutContent, Commit and Move must do (CONTRACT 1, 11).
		b.Run("op=write/size="+sizeName(size)+"/via=raw-atomic", func(b *testing.B) {
			b.SetBytes(size)
			final := filepath.Join(dir, "atomic")
			if err := os.MkdirAll(final, 0o755); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
				if err := writeSynced(tmp, chunk, size); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(final, fmt.Sprint(i))); err != nil {
					b.Fatal(err)
				}
				d, err := os.Open(final)
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Sync(); err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
		})
		b.Run("op=read/size="+sizeName(size)+"/via=driver", func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, benchChunk)
			for b.Loop() {
				r, err := store.Reader(ctx, "/bench/w/0", 0)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, r, buf); err != nil || n != size {
					b.Fatalf("read %d of %d: %v", n, size, err)
				}
				r.Close()
			}
		})
		b.Run("op=read/size="+sizeName(size)+"/via=raw", func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, benchChunk)
			for b.Loop() {
				f, err := os.Open(filepath.Join(dir, "raw0"))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, f, buf); err != nil || n != size {
					b.Fatalf("read %d of %d: %v", n, size, err)
				}
				f.Close()
			}
		})
	}
}
