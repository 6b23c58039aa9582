//go:build cgo

package rados

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/berthio/berth/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriterHeapBounded streams a layer through Writer in 1 MiB Writes and
// checks the memory bound, ChunkSize x Concurrency + 16 MiB (the writer
// holds at most Concurrency chunk buffers), then reads it back through
// Reader, under the same bound (a reader holds one chunk more, which the
// slack covers at this chunk size), and compares the SHA-256. 256 MiB by
// default; BERTH_RADOS_HEAP_BYTES=1073741824 streams 1 GiB.
func TestWriterHeapBounded(t *testing.T) {
	const (
		chunkSize = 8 << 20
		conc      = 4
		slack     = 16 << 20
		write     = 1 << 20
	)
	total := int64(256 << 20)
	if v := os.Getenv("BERTH_RADOS_HEAP_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		total = n
	}
	st, _ := openTest(t, func(c *Config) { c.ChunkSize, c.Concurrency = chunkSize, conc })
	ctx := t.Context()
	rng := rand.NewChaCha8([32]byte{'h', 'e', 'a', 'p'})
	buf := make([]byte, write)
	sum := sha256.New()
	bound := uint64(chunkSize*conc + slack)

	start := time.Now()
	hp := testenv.StartHeapPeak()
	w, err := st.Writer(ctx, "/heap/layer", false)
	require.NoError(t, err)
	for n := int64(0); n < total; n += write {
		rng.Read(buf) // every chunk differs: a chunk stored twice or out of order changes the digest
		sum.Write(buf)
		_, err := w.Write(buf)
		require.NoError(t, err)
	}
	require.NoError(t, w.Commit(ctx))
	grew := hp.Growth()
	took := time.Since(start)
	t.Logf("write %d MiB in %v (%.0f MB/s), peak heap growth %.1f MiB (bound %.0f MiB)",
		total>>20, took.Round(time.Millisecond), float64(total)/took.Seconds()/1e6, testenv.MiB(grew), testenv.MiB(bound))
	assert.LessOrEqual(t, grew, bound, "writer: peak heap growth %.1f MiB over ChunkSize*Concurrency+16 MiB", testenv.MiB(grew))

	start = time.Now()
	hp = testenv.StartHeapPeak()
	r, err := st.Reader(ctx, "/heap/layer", 0)
	require.NoError(t, err)
	got := sha256.New()
	n, err := io.CopyBuffer(got, r, buf)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	grew = hp.Growth()
	took = time.Since(start)
	t.Logf("read %d MiB in %v (%.0f MB/s), peak heap growth %.1f MiB", n>>20, took.Round(time.Millisecond),
		float64(n)/took.Seconds()/1e6, testenv.MiB(grew))
	assert.LessOrEqual(t, grew, bound, "reader: peak heap growth %.1f MiB", testenv.MiB(grew))
	assert.Equal(t, total, n)
	assert.True(t, bytes.Equal(sum.Sum(nil), got.Sum(nil)), "the layer read back differs")
	require.NoError(t, st.Delete(ctx, "/heap"))
}
