package s3

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/internal/testenv"
)

// The one setting both sides of BenchmarkStream use: the driver's
// PartSize and Concurrency (and ReadChunkSize and ReadConcurrency), and
// the transfer manager's PartSizeBytes and Concurrency.
const (
	benchPartSize    = 16 << 20
	benchConcurrency = 4
	benchChunk       = 1 << 20 // the driver is written in 1 MiB calls
)

// benchSizes are the layer sizes BenchmarkStream covers.
var benchSizes = []int64{64 << 20, 1 << 30}

func benchSizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// benchPattern is one chunk of incompressible bytes; a layer is this
// chunk repeated.
func benchPattern() []byte {
	p := make([]byte, benchChunk)
	rand.NewChaCha8([32]byte{'l', 'a', 'y', 'e', 'r'}).Read(p)
	return p
}

// patternReader repeats p without end: the transfer manager's upload reads
// the same bytes the driver is given, without a layer in memory.
type patternReader struct {
	p   []byte
	off int
}

func (r *patternReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], r.p[r.off:])
		n += c
		r.off = (r.off + c) % len(r.p)
	}
	return n, nil
}

// discardAt is the io.WriterAt the transfer manager's DownloadObject
// writes to.
type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// writeLayer writes n bytes of chunk, repeated, in len(chunk) calls.
func writeLayer(w io.Writer, chunk []byte, n int64) error {
	for n > 0 {
		c := chunk[:min(int64(len(chunk)), n)]
		if _, err := w.Write(c); err != nil {
			return err
		}
		n -= int64(len(c))
	}
	return nil
}

// benchOp times op once per iteration, after a runtime.GC() that is not
// timed, and reports the largest heap growth an op caused, sampled as
// heapPeak does (peak-heap-MiB: the peak of /memory/classes/heap/objects
// over the baseline taken after the GC). after, untimed, cleans up.
func benchOp(b *testing.B, size int64, op func(i int) error, after func(i int)) {
	b.SetBytes(size)
	var worst uint64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		hp := testenv.StartHeapPeak()
		b.StartTimer()
		err := op(i)
		b.StopTimer()
		worst = max(worst, hp.Growth())
		if err != nil {
			b.Fatal(err)
		}
		if after != nil {
			after(i)
		}
		b.StartTimer()
	}
	b.ReportMetric(testenv.MiB(worst), "peak-heap-MiB")
}

// BenchmarkStream compares, on each real S3 server in one run, a layer
// streamed through the driver (Writer, 1 MiB Writes, Commit; Reader and
// io.CopyBuffer) with the same bytes through aws-sdk-go-v2's transfer
// manager (UploadObject from a reader; DownloadObject to a discarding
// WriterAt) and through a plain GetObject (via=sdk-get). Both sides move
// parts, and read chunks, of 16 MiB, 4 at a time, over the same *s3.Client
// (the driver's: the same transport and checksum mode; the transfer
// manager is set to when_required like the driver, instead of its default
// CRC32 on every part). Each write goes to a new key, deleted after it,
// untimed. peak-heap-MiB is the largest heap growth of one op.
//
// via=sdk reads are an upper bound, not a like-for-like stream: parts go
// to a WriterAt that drops them, in any order, so nothing is buffered or
// copied, which a Reader delivering bytes in order cannot avoid. On RGW,
// which ignores partNumber, DownloadObject is one plain GET. RGW's garbage
// collector reclaims deleted objects in the background, so two runs of a
// few iterations differ by 10-20 %: take -count 6 or more before reading a
// ratio.
//
//	go test -run '^$' -bench Stream -benchtime 3x -count 2 ./s3/ | tee bench.txt
//	benchstat -col /via bench.txt
func BenchmarkStream(b *testing.B) {
	for _, name := range []string{"minio", "rgw"} {
		b.Run("server="+name, func(b *testing.B) {
			k := serverKeys[name]
			v := testenv.Require(b, k[:]...)
			benchServer(b, server{name, v[k[0]], v[k[1]], v[k[2]], v[k[3]]})
		})
	}
}

func benchServer(b *testing.B, s server) {
	ctx := context.Background()
	bucket := testenv.NewS3Bucket(b, s.raw(), "berth-bench-")
	cfg := s.config(bucket)
	cfg.PartSize, cfg.Concurrency = benchPartSize, benchConcurrency
	cfg.ReadChunkSize, cfg.ReadConcurrency = benchPartSize, benchConcurrency
	cfg.CommitMode = os.Getenv("BERTH_BENCH_COMMIT_MODE") // "direct" is the commit without staging
	st, err := New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	var c *s3.Client
	if !st.As(&c) {
		b.Fatal("the store gives no *s3.Client")
	}
	tm := transfermanager.New(c, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.Concurrency = benchPartSize, benchConcurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	chunk := benchPattern()
	del := func(key string) {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
			b.Fatal(err)
		}
	}

	for _, size := range benchSizes {
		sz := benchSizeName(size)
		b.Run("op=write/size="+sz+"/via=driver", func(b *testing.B) {
			path := func(i int) string { return fmt.Sprintf("/bench/w/driver-%s-%d", sz, i) }
			benchOp(b, size, func(i int) error {
				w, err := st.Writer(ctx, path(i), false)
				if err != nil {
					return err
				}
				if err := writeLayer(w, chunk, size); err != nil {
					return err
				}
				return w.Commit(ctx)
			}, func(i int) { del(path(i)[1:]) })
		})
		b.Run("op=write/size="+sz+"/via=sdk", func(b *testing.B) {
			key := func(i int) string { return fmt.Sprintf("bench/w/sdk-%s-%d", sz, i) }
			benchOp(b, size, func(i int) error {
				_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
					Bucket: &bucket, Key: aws.String(key(i)),
					Body: io.LimitReader(&patternReader{p: chunk}, size),
				})
				return err
			}, func(i int) { del(key(i)) })
		})

		// The reads all read one object the driver wrote, written by the
		// first read that runs (not at all when -bench selects no read).
		src, written := "/bench/r/"+sz, false
		source := func(b *testing.B) {
			if written {
				return
			}
			w, err := st.Writer(ctx, src, false)
			if err == nil {
				err = writeLayer(w, chunk, size)
			}
			if err == nil {
				err = w.Commit(ctx)
			}
			if err != nil {
				b.Fatal(err)
			}
			written = true
		}
		key := src[1:]
		b.Run("op=read/size="+sz+"/via=driver", func(b *testing.B) {
			source(b)
			buf := make([]byte, benchChunk)
			benchOp(b, size, func(int) error {
				r, err := st.Reader(ctx, src, 0)
				if err != nil {
					return err
				}
				defer r.Close()
				return checkCopy(io.CopyBuffer(io.Discard, r, buf))(size)
			}, nil)
		})
		b.Run("op=read/size="+sz+"/via=sdk", func(b *testing.B) {
			source(b)
			benchOp(b, size, func(int) error {
				out, err := tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{
					Bucket: &bucket, Key: &key, WriterAt: discardAt{}})
				if err != nil {
					return err
				}
				return checkCopy(aws.ToInt64(out.ContentLength), nil)(size)
			}, nil)
		})
		b.Run("op=read/size="+sz+"/via=sdk-get", func(b *testing.B) {
			source(b)
			buf := make([]byte, benchChunk)
			benchOp(b, size, func(int) error {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
				if err != nil {
					return err
				}
				defer out.Body.Close()
				return checkCopy(io.CopyBuffer(io.Discard, out.Body, buf))(size)
			}, nil)
		})
		if written {
			if err := st.Delete(ctx, src); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// checkCopy turns a copy's result into an error unless it moved want bytes.
func checkCopy(n int64, err error) func(want int64) error {
	return func(want int64) error {
		if err == nil && n != want {
			err = fmt.Errorf("read %d bytes of %d", n, want)
		}
		return err
	}
}
