//go:build cgo

package rados

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// benchSizes are the layer sizes BenchmarkStream covers: a small one that
// every run can afford, and the 1 GiB layer of the issue.
var benchSizes = []int64{64 << 20, 1 << 30}

const benchWrite = 1 << 20 // the driver is written in 1 MiB calls

func benchSizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// BenchmarkStream compares, in one run on the test cluster, a layer
// streamed through the driver (Writer, 1 MiB Writes, Commit; Reader with
// io.CopyBuffer) with the same bytes moved by plain go-ceph calls in the
// same chunk size and concurrency (WriteFull of each chunk object,
// Concurrency at a time; Read of each chunk into a buffer): the raw
// ceiling, with no record, no index, no fencing and no ordered delivery.
// Both use the default ChunkSize (4 MiB) and Concurrency (4).
//
// The OSD's speed drifts during a run (allocation in a sparse file,
// other tenants), so each iteration runs both sides back to back, in
// alternating order, and the ratio is taken per iteration: ratio is the
// driver's throughput over go-ceph's (1 = as fast), the geometric mean
// of the iterations. ns/op and MB/s are the pair's; driver-MB/s and
// go-ceph-MB/s are each side's; peak-heap-MiB is the largest heap growth
// of one driver op.
//
//	go test -run '^$' -bench Stream -benchtime 4x ./rados
func BenchmarkStream(b *testing.B) {
	st, be := openTest(b, func(c *Config) { c.ChunkSize, c.Concurrency = DefaultChunkSize, DefaultConcurrency })
	cs := be.cfg.ChunkSize
	pattern := make([]byte, cs) // one chunk of incompressible bytes, repeated
	rand.NewChaCha8([32]byte{'l', 'a', 'y', 'e', 'r'}).Read(pattern)
	ctx := b.Context()
	gen := newID()
	raw := func(i int, idx int64) string { return chunkObj(gen, int64(i)<<32|idx) }
	path := func(i int) string { return fmt.Sprintf("/bench/%d", i) }
	buf := make([]byte, benchWrite)
	var bufs sync.Pool

	for _, size := range benchSizes {
		nchunks := (size + cs - 1) / cs
		driverWrite := func(i int) error {
			w, err := st.Writer(ctx, path(i), false)
			if err != nil {
				return err
			}
			for n := int64(0); n < size; n += benchWrite {
				off := n % cs
				if _, err := w.Write(pattern[off : off+min(benchWrite, size-n)]); err != nil {
					return err
				}
			}
			return w.Commit(ctx)
		}
		rawWrite := func(i int) error {
			return be.parallel(ctx, int(nchunks), func(j int) error {
				lo := int64(j) * cs
				return be.io.WriteFull(raw(i, int64(j)), pattern[:min(cs, size-lo)])
			})
		}
		driverRead := func(i int) error {
			r, err := st.Reader(ctx, path(i), 0)
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.CopyBuffer(io.Discard, r, buf)
			if err == nil && n != size {
				err = fmt.Errorf("read %d bytes, want %d", n, size)
			}
			return err
		}
		rawRead := func(i int) error {
			return be.parallel(ctx, int(nchunks), func(j int) error {
				p, _ := bufs.Get().([]byte)
				if p == nil {
					p = make([]byte, cs)
				}
				defer bufs.Put(p)
				lo := int64(j) * cs
				_, err := be.io.Read(raw(i, int64(j)), p[:min(cs, size-lo)], 0)
				return err
			})
		}
		written := 0
		pair := func(op string, drv, rw func(i int) error) {
			b.Run(fmt.Sprintf("size=%s/op=%s", benchSizeName(size), op), func(b *testing.B) {
				b.SetBytes(2 * size)
				var worst uint64
				var dsum, rsum time.Duration
				logRatio := 0.0
				n := 0
				for i := 0; b.Loop(); i++ {
					if op == "write" {
						written = i + 1
					}
					j := i
					if op == "read" {
						j = i % max(written, 1) // read what the writes left
					}
					var d, r time.Duration
					timed := func(f func(int) error, heap bool) time.Duration {
						b.StopTimer()
						var hp *testenv.HeapPeak
						if heap {
							hp = testenv.StartHeapPeak()
						}
						start := time.Now()
						b.StartTimer()
						err := f(j)
						b.StopTimer()
						took := time.Since(start)
						if hp != nil {
							worst = max(worst, hp.Growth())
						}
						b.StartTimer()
						if err != nil {
							b.Fatal(err)
						}
						return took
					}
					if i%2 == 0 {
						d, r = timed(drv, true), timed(rw, false)
					} else {
						r, d = timed(rw, false), timed(drv, true)
					}
					dsum, rsum, n = dsum+d, rsum+r, n+1
					logRatio += math.Log(r.Seconds() / d.Seconds())
				}
				mbs := func(d time.Duration) float64 { return float64(size) * float64(n) / d.Seconds() / 1e6 }
				b.ReportMetric(mbs(dsum), "driver-MB/s")
				b.ReportMetric(mbs(rsum), "go-ceph-MB/s")
				b.ReportMetric(math.Exp(logRatio/float64(n)), "ratio")
				b.ReportMetric(testenv.MiB(worst), "peak-heap-MiB")
			})
		}
		pair("write", driverWrite, rawWrite)
		pair("read", driverRead, rawRead)
		// Free the space before the next size: the OSD is a sparse file.
		if err := st.Delete(ctx, "/bench"); err != nil && !errors.Is(err, driver.ErrNotFound) {
			b.Fatal(err)
		}
		var rawObjs []string
		be.io.ListObjects(func(oid string) {
			if g, _, ok := parseChunkObj(oid); ok && g == gen {
				rawObjs = append(rawObjs, oid)
			}
		})
		if err := be.deleteChunks(rawObjs); err != nil {
			b.Fatal(err)
		}
	}
}
