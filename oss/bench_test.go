package oss

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// The one setting both sides of BenchmarkStream use: the driver's
// PartSize and Concurrency, and the SDK upload's part size and workers.
const (
	benchPartSize    = 16 << 20
	benchConcurrency = 4
	benchChunk       = 1 << 20 // the driver is written in 1 MiB calls
)

var benchSizes = []int64{64 << 20, 1 << 30}

func benchSizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

func benchPattern() []byte {
	p := make([]byte, benchChunk)
	rand.NewChaCha8([32]byte{'l', 'a', 'y', 'e', 'r'}).Read(p)
	return p
}

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

// sdkUpload is the SDK's own multipart upload of n bytes of chunk,
// repeated: InitiateMultipartUpload, UploadPart by conc workers from
// buffers of partSize (the same bound on memory as the driver's writer),
// CompleteMultipartUpload.
func sdkUpload(b *alioss.Bucket, key string, chunk []byte, n, partSize int64, conc int) error {
	imur, err := b.InitiateMultipartUpload(key)
	if err != nil {
		return err
	}
	type job struct {
		num  int
		data []byte
	}
	jobs, free := make(chan job), make(chan []byte, conc)
	for range conc {
		free <- make([]byte, 0, partSize)
	}
	var (
		mu    sync.Mutex
		parts []alioss.UploadPart
		first error
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			for j := range jobs {
				p, err := b.UploadPart(imur, bytes.NewReader(j.data), int64(len(j.data)), j.num)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				parts = append(parts, p)
				mu.Unlock()
				free <- j.data
			}
		})
	}
	num := 1
	for left := n; left > 0; num++ {
		buf := (<-free)[:0]
		for int64(len(buf)) < min(partSize, left) {
			buf = append(buf, chunk[:min(int64(len(chunk)), min(partSize, left)-int64(len(buf)))]...)
		}
		left -= int64(len(buf))
		jobs <- job{num, buf}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		b.AbortMultipartUpload(imur)
		return first
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	_, err = b.CompleteMultipartUpload(imur, parts)
	return err
}

// BenchmarkStream compares, on one in-process OSS server in one run, a
// layer streamed through the driver (Writer, 1 MiB Writes, Commit; Reader
// and io.CopyBuffer) with the same bytes through aliyun-oss-go-sdk's own
// multipart upload (sdkUpload: 16 MiB parts, 4 at a time, like the
// driver) and one plain GetObject. Both sides use the driver's SDK client
// (the same transport, CRC checks on). Each write goes to a new key,
// deleted after it, untimed. via=both runs the two writes in one loop,
// alternating their order, and reports driver/sdk-speed: the driver's
// throughput over the SDK's. The server shares the machine with the
// client: the numbers compare the two clients, they do not measure OSS.
//
//	go test -run '^$' -bench Stream -benchtime 3x -count 3 ./oss/ | tee bench.txt
//	benchstat -col /via bench.txt
func BenchmarkStream(b *testing.B) {
	ts := newTestServer(b)
	ctx := context.Background()
	cfg := ts.config()
	cfg.PartSize, cfg.Concurrency = benchPartSize, benchConcurrency
	st := ts.open(b, cfg)
	bk := backendOf(b, st).bucket
	chunk := benchPattern()
	del := func(key string) {
		if err := bk.DeleteObject(key); err != nil {
			b.Fatal(err)
		}
	}
	for _, size := range benchSizes {
		sz := benchSizeName(size)
		b.Run("op=write/size="+sz+"/via=driver", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				path := fmt.Sprintf("/bench/w/driver-%s-%d", sz, i)
				w, err := st.Writer(ctx, path, false)
				if err == nil {
					err = writeLayer(w, chunk, size)
				}
				if err == nil {
					err = w.Commit(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				del(path[1:])
				b.StartTimer()
			}
		})
		b.Run("op=write/size="+sz+"/via=sdk", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("bench/w/sdk-%s-%d", sz, i)
				if err := sdkUpload(bk, key, chunk, size, benchPartSize, benchConcurrency); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				del(key)
				b.StartTimer()
			}
		})
		// Both in one loop, alternating which goes first: on a shared
		// machine whose load drifts, the ratio of the two is steadier than
		// that of two sub-benchmarks run one after the other.
		b.Run("op=write/size="+sz+"/via=both", func(b *testing.B) {
			var td, ts time.Duration
			for i := 0; b.Loop(); i++ {
				path, key := fmt.Sprintf("/bench/w/pd-%s-%d", sz, i), fmt.Sprintf("bench/w/ps-%s-%d", sz, i)
				driverOp := func() error {
					start := time.Now()
					w, err := st.Writer(ctx, path, false)
					if err == nil {
						err = writeLayer(w, chunk, size)
					}
					if err == nil {
						err = w.Commit(ctx)
					}
					td += time.Since(start)
					return err
				}
				sdkOp := func() error {
					start := time.Now()
					err := sdkUpload(bk, key, chunk, size, benchPartSize, benchConcurrency)
					ts += time.Since(start)
					return err
				}
				ops := []func() error{driverOp, sdkOp}
				if i%2 == 1 {
					ops[0], ops[1] = ops[1], ops[0]
				}
				for _, op := range ops {
					if err := op(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				del(path[1:])
				del(key)
				b.StartTimer()
			}
			mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mbps(td), "driver-MB/s")
			b.ReportMetric(mbps(ts), "sdk-MB/s")
			b.ReportMetric(ts.Seconds()/td.Seconds(), "driver/sdk-speed")
		})
		src := "/bench/r/" + sz
		written := false
		source := func(b *testing.B) {
			if !written {
				if err := sdkUpload(bk, src[1:], chunk, size, benchPartSize, benchConcurrency); err != nil {
					b.Fatal(err)
				}
				written = true
			}
		}
		b.Run("op=read/size="+sz+"/via=driver", func(b *testing.B) {
			source(b)
			b.SetBytes(size)
			buf := make([]byte, benchChunk)
			for b.Loop() {
				r, err := st.Reader(ctx, src, 0)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, r, buf)
				r.Close()
				if err != nil || n != size {
					b.Fatalf("read %d of %d: %v", n, size, err)
				}
			}
		})
		b.Run("op=read/size="+sz+"/via=sdk", func(b *testing.B) {
			source(b)
			b.SetBytes(size)
			buf := make([]byte, benchChunk)
			for b.Loop() {
				r, err := bk.GetObject(src[1:])
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, r, buf)
				r.Close()
				if err != nil || n != size {
					b.Fatalf("read %d of %d: %v", n, size, err)
				}
			}
		})
		if written {
			del(src[1:])
		}
	}
}
