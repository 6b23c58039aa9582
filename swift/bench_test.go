package swift

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/internal/testenv"
)

// The one setting both sides of BenchmarkWrite use: the driver's ChunkSize
// and ncw/swift's LargeObjectOpts.ChunkSize. The driver uploads
// benchConcurrency segments at once; ncw/swift's writer one at a time.
const (
	benchChunkSize   = 16 << 20
	benchConcurrency = 4
	benchCall        = 1 << 20 // the layer is written in 1 MiB calls
	benchLayer       = 1 << 30
)

// patternReader yields n bytes of a repeated incompressible chunk.
type patternReader struct {
	p    []byte
	off  int
	left int64
}

func newPattern(n int64) *patternReader {
	p := make([]byte, benchCall)
	rand.NewChaCha8([32]byte{'l', 'a', 'y', 'e', 'r'}).Read(p)
	return &patternReader{p: p, left: n}
}

func (r *patternReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), r.left)]
	n := 0
	for n < len(b) {
		c := copy(b[n:], r.p[r.off:])
		n += c
		r.off = (r.off + c) % len(r.p)
	}
	r.left -= int64(n)
	return n, nil
}

// BenchmarkWrite writes a 1 GiB layer through the driver (Writer, then
// Commit) and through ncw/swift's own Static Large Object writer
// (StaticLargeObjectCreate), on the same server and container, side by
// side:
//
//	go test -run '^$' -bench Write -benchtime 2x ./swift/
func BenchmarkWrite(b *testing.B) {
	for _, srv := range testenv.SwiftServers {
		b.Run("server="+srv.ID, func(b *testing.B) {
			cfg := liveConfig(b, srv)
			cfg.ChunkSize, cfg.Concurrency = benchChunkSize, benchConcurrency
			ctx := context.Background()
			d, err := New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			var conn *swift.Connection
			if !d.As(&conn) {
				b.Fatal("no *swift.Connection behind the driver")
			}
			b.Run("via=driver", func(b *testing.B) {
				b.SetBytes(benchLayer)
				for i := 0; b.Loop(); i++ {
					p := fmt.Sprintf("/bench/driver-%d", i)
					w, err := d.Writer(ctx, p, false)
					if err != nil {
						b.Fatal(err)
					}
					buf := make([]byte, benchCall)
					r := newPattern(benchLayer)
					if _, err := io.CopyBuffer(w, r, buf); err != nil {
						b.Fatal(err)
					}
					if err := w.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := d.Delete(ctx, p); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
			b.Run("via=ncw-slo", func(b *testing.B) {
				b.SetBytes(benchLayer)
				for i := 0; b.Loop(); i++ {
					name := fmt.Sprintf("bench/ncw-%d", i)
					f, err := conn.StaticLargeObjectCreate(ctx, &swift.LargeObjectOpts{
						Container: cfg.Container, ObjectName: name, ChunkSize: benchChunkSize,
						SegmentContainer: cfg.Container, SegmentPrefix: "ncw-segments/" + name,
						ContentType: "application/octet-stream",
					})
					if err != nil {
						b.Fatal(err)
					}
					buf := make([]byte, benchCall)
					if _, err := io.CopyBuffer(f, newPattern(benchLayer), buf); err != nil {
						b.Fatal(err)
					}
					if err := f.Close(); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := conn.StaticLargeObjectDelete(ctx, cfg.Container, name); err != nil {
						b.Logf("delete %s: %v (the container is removed at the end)", name, err)
					}
					b.StartTimer()
				}
			})
		})
	}
}
