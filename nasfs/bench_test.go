package nasfs_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthio/berth/internal/testenv"
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

// BenchmarkStream compares, in one run, a layer streamed through the nasfs
// driver (Writer, 1 MiB Writes, Commit; Reader) with the same bytes
// written to an os.File and fsynced, and read back from one. The two sides
// run back to back in every iteration (testenv.Pairs), so the disk's drift
// falls on both; "ratio" is the driver's throughput over the raw one's,
// the median of the pairs.
//
//   - vs=raw: os.Create, Write, Sync, as the yardstick.
//   - vs=raw-atomic: the same into a temp file, then rename into place
//     and fsync the directory: the least a durable atomic replace costs
//     on the same disk, which PutContent, Commit and Move must do
//     (CONTRACT 1, 11). The directory's fsync is a second journal commit,
//     which raw write+fsync does not pay; it shows at small sizes.
//
// Each iteration writes a new path in an existing directory, as a registry
// writes each upload to a new path, and removes it untimed.
//
//	go test -run '^$' -bench Stream -count 6 ./nasfs
func BenchmarkStream(b *testing.B) {
	ctx := context.Background()
	chunk := pattern()
	buf := make([]byte, benchChunk)
	for _, size := range benchSizes {
		dir := b.TempDir()
		store, err := nasfs.New(nasfs.Config{Root: dir})
		if err != nil {
			b.Fatal(err)
		}
		// A file that stays, so that removing an iteration's file leaves
		// its directory in place, as the raw side's stays: a registry's
		// directories hold many blobs.
		if err := store.PutContent(ctx, "/bench/w/keep", chunk[:1]); err != nil {
			b.Fatal(err)
		}
		final := filepath.Join(dir, "atomic")
		if err := os.MkdirAll(final, 0o755); err != nil {
			b.Fatal(err)
		}
		drv := testenv.Side{
			Name: "driver",
			Run: func(i int) error {
				w, err := store.Writer(ctx, fmt.Sprintf("/bench/w/%d", i), false)
				if err != nil {
					return err
				}
				if err := writeChunks(w, chunk, size); err != nil {
					return err
				}
				return w.Commit(ctx)
			},
			Then: func(i int) error { return store.Delete(ctx, fmt.Sprintf("/bench/w/%d", i)) },
		}
		raw := testenv.Side{
			Name: "raw",
			Run: func(i int) error {
				return writeSynced(filepath.Join(dir, fmt.Sprintf("raw%d", i)), chunk, size)
			},
			Then: func(i int) error { return os.Remove(filepath.Join(dir, fmt.Sprintf("raw%d", i))) },
		}
		atomic := testenv.Side{
			Name: "raw-atomic",
			Run: func(i int) error {
				tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
				if err := writeSynced(tmp, chunk, size); err != nil {
					return err
				}
				if err := os.Rename(tmp, filepath.Join(final, fmt.Sprint(i))); err != nil {
					return err
				}
				d, err := os.Open(final)
				if err != nil {
					return err
				}
				defer d.Close()
				return d.Sync()
			},
			Then: func(i int) error { return os.Remove(filepath.Join(final, fmt.Sprint(i))) },
		}
		b.Run("op=write/size="+sizeName(size)+"/vs=raw", func(b *testing.B) {
			testenv.Pairs(b, size, drv, raw)
		})
		b.Run("op=write/size="+sizeName(size)+"/vs=raw-atomic", func(b *testing.B) {
			testenv.Pairs(b, size, drv, atomic)
		})
		if err := drv.Run(-1); err != nil {
			b.Fatal(err)
		}
		if err := raw.Run(-1); err != nil {
			b.Fatal(err)
		}
		drain := func(r io.ReadCloser, err error) error {
			if err != nil {
				return err
			}
			defer r.Close()
			if n, err := io.CopyBuffer(io.Discard, r, buf); err != nil || n != size {
				return fmt.Errorf("read %d of %d: %v", n, size, err)
			}
			return nil
		}
		b.Run("op=read/size="+sizeName(size)+"/vs=raw", func(b *testing.B) {
			testenv.Pairs(b, size, testenv.Side{
				Name: "driver",
				Run:  func(int) error { return drain(store.Reader(ctx, "/bench/w/-1", 0)) },
			}, testenv.Side{
				Name: "raw",
				Run:  func(int) error { return drain(os.Open(filepath.Join(dir, "raw-1"))) },
			})
		})
	}
}
