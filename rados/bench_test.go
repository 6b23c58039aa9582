//go:build cgo

package rados

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

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
// Both use the default ChunkSize (4 MiB) and Concurrency (4), and take the
// layer's bytes from one buffer holding all of it: when go-ceph's side
// wrote one 4 MiB pattern again and again, that pattern stayed in the CPU's
// cache and it measured librados copying from cache against the driver
// gathering 1 MiB Writes into chunk buffers (ratio 0.90 then, 0.97 now).
//
// The OSD's speed drifts during a run (allocation in a sparse file,
// other tenants), so each iteration runs both sides back to back, in
// alternating order (testenv.Pairs): ratio is the driver's throughput over
// go-ceph's (1 = as fast), the median of the pairs; driver-MB/s and
// go-ceph-MB/s are each side's; driver-peak-heap-MiB is the largest heap
// growth of one driver op.
//
//	go test -run '^$' -bench Stream -benchtime 4x ./rados
func BenchmarkStream(b *testing.B) {
	st, be := openTest(b, func(c *Config) { c.ChunkSize, c.Concurrency = DefaultChunkSize, DefaultConcurrency })
	cs := be.cfg.ChunkSize
	// The layer, incompressible and in memory whole, as a registry's
	// request bodies arrive: both sides take their bytes from it, so
	// neither reads one small buffer that stays in the CPU's cache.
	layer := make([]byte, slices.Max(benchSizes))
	rand.NewChaCha8([32]byte{'l', 'a', 'y', 'e', 'r'}).Read(layer)
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
				if _, err := w.Write(layer[n : n+min(benchWrite, size-n)]); err != nil {
					return err
				}
			}
			return w.Commit(ctx)
		}
		rawWrite := func(i int) error {
			return be.parallel(ctx, int(nchunks), func(j int) error {
				lo := int64(j) * cs
				return be.io.WriteFull(raw(i, int64(j)), layer[lo:lo+min(cs, size-lo)])
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
		b.Run(fmt.Sprintf("size=%s/op=write", benchSizeName(size)), func(b *testing.B) {
			testenv.Pairs(b, size,
				testenv.Side{Name: "driver", Heap: true, Run: func(i int) error {
					written = max(written, i+1)
					return driverWrite(i)
				}},
				testenv.Side{Name: "go-ceph", Run: rawWrite})
		})
		// The reads read what the writes left.
		at := func(i int) int { return i % max(written, 1) }
		b.Run(fmt.Sprintf("size=%s/op=read", benchSizeName(size)), func(b *testing.B) {
			testenv.Pairs(b, size,
				testenv.Side{Name: "driver", Heap: true, Run: func(i int) error { return driverRead(at(i)) }},
				testenv.Side{Name: "go-ceph", Run: func(i int) error { return rawRead(at(i)) }})
		})
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
