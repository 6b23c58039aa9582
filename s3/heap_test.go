package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berthio/berth/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriterHeapBounded streams 256 MiB through the driver's Writer and
// checks the documented memory bound (Config.Concurrency: a writer
// buffers at most PartSize x Concurrency), with 16 MiB for the SDK's and
// the HTTP stack's own allocations, then reads the object back and
// compares its size and SHA-256.
func TestWriterHeapBounded(t *testing.T) {
	const (
		total     = 256 << 20
		chunkSize = 1 << 20
		partSize  = 8 << 20
		conc      = 4
		slack     = 16 << 20
	)
	eachServer(t, func(t *testing.T, s server) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.PartSize, cfg.Concurrency = partSize, conc
		st, err := New(ctx, cfg)
		require.NoError(t, err)

		// Every chunk differs, so that a part stored out of order or twice
		// changes the digest.
		rng := rand.NewChaCha8([32]byte{'b', 'e', 'r', 't', 'h'})
		chunk := make([]byte, chunkSize)
		sum := sha256.New()

		start := time.Now()
		hp := testenv.StartHeapPeak()
		w, err := st.Writer(ctx, "/heap/layer", false)
		require.NoError(t, err)
		for n := 0; n < total; n += chunkSize {
			rng.Read(chunk)
			sum.Write(chunk)
			_, err := w.Write(chunk)
			require.NoError(t, err)
		}
		require.NoError(t, w.Commit(ctx))
		grew := hp.Growth()
		elapsed := time.Since(start)
		bound := uint64(partSize*conc + slack)
		t.Logf("%s: %d MiB in %s (%.0f MB/s), peak heap growth %.1f MiB (bound %.0f MiB)",
			s.name, total>>20, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, testenv.MiB(grew), testenv.MiB(bound))
		assert.LessOrEqual(t, grew, bound, "peak heap growth %.1f MiB exceeds PartSize*Concurrency+16 MiB = %.0f MiB",
			testenv.MiB(grew), testenv.MiB(bound))

		fi, err := st.Stat(ctx, "/heap/layer")
		require.NoError(t, err)
		assert.EqualValues(t, total, fi.Size())
		r, err := st.Reader(ctx, "/heap/layer", 0)
		require.NoError(t, err)
		got := sha256.New()
		n, err := io.CopyBuffer(got, r, chunk)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.EqualValues(t, total, n)
		assert.True(t, bytes.Equal(sum.Sum(nil), got.Sum(nil)), "the object read back differs from the bytes written")
	})
}
