package swift

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berthio/berth/internal/testenv"
)

// TestWriterHeapBounded streams 256 MiB through the driver's Writer on
// each server and checks the documented bound (a writer buffers at most
// ChunkSize x Concurrency), with 16 MiB for ncw/swift's and the HTTP
// stack's own allocations; then reads the object back and compares size
// and SHA-256.
func TestWriterHeapBounded(t *testing.T) {
	const (
		total     = 256 << 20
		call      = 1 << 20
		chunkSize = 8 << 20
		conc      = 4
		slack     = 16 << 20
	)
	for _, srv := range testenv.SwiftServers {
		t.Run(srv.ID, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cfg := liveConfig(t, srv)
			cfg.ChunkSize, cfg.Concurrency = chunkSize, conc
			st, err := New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.NewChaCha8([32]byte{'b', 'e', 'r', 't', 'h'})
			chunk := make([]byte, call)
			sum := sha256.New()
			start := time.Now()
			hp := testenv.StartHeapPeak()
			w, err := st.Writer(ctx, "/heap/layer", false)
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < total; n += call {
				rng.Read(chunk) // every chunk differs: a segment out of order changes the digest
				sum.Write(chunk)
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			grew := hp.Growth()
			elapsed := time.Since(start)
			bound := uint64(chunkSize*conc + slack)
			t.Logf("%s: %d MiB in %s (%.0f MB/s), peak heap growth %.1f MiB (bound %.0f MiB)",
				srv.ID, total>>20, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, testenv.MiB(grew), testenv.MiB(bound))
			if grew > bound {
				t.Errorf("peak heap growth %.1f MiB exceeds ChunkSize*Concurrency+16 MiB = %.0f MiB", testenv.MiB(grew), testenv.MiB(bound))
			}
			fi, err := st.Stat(ctx, "/heap/layer")
			if err != nil || fi.Size() != total {
				t.Fatalf("Stat: %v, %v", fi, err)
			}
			r, err := st.Reader(ctx, "/heap/layer", 0)
			if err != nil {
				t.Fatal(err)
			}
			got := sha256.New()
			n, err := io.CopyBuffer(got, r, chunk)
			r.Close()
			if err != nil || n != total || !bytes.Equal(sum.Sum(nil), got.Sum(nil)) {
				t.Errorf("read back %d bytes (%v): the object differs from the bytes written", n, err)
			}
		})
	}
}
