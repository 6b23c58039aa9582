package conformance

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchSizes are the layer sizes Bench streams.
var BenchSizes = []int64{1 << 20, 64 << 20, 1 << 30}

// Bench measures a backend with registry-shaped calls: small PutContent
// and GetContent (link files, manifests), layers streamed through a Writer
// and a Reader, List of a repository-sized directory, and Delete. Each
// sub-benchmark reports bytes per second where bytes move. Select sizes or
// calls with -bench, e.g. -bench 'Conformance/nasfs/stream-write/size=64MiB'.
// Everything written is removed afterwards.
func Bench(b *testing.B, h Harness) {
	ctx := context.Background()
	d := h.New(b)
	dir := Root + "/bench"
	b.Cleanup(func() { d.Delete(ctx, dir) })

	small := make([]byte, 4<<10)
	fillPattern(small, 1)
	b.Run("put/size=4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(small)))
		for i := 0; b.Loop(); i++ {
			if err := d.PutContent(ctx, fmt.Sprintf("%s/put/%d", dir, i%64), small); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/size=4KiB", func(b *testing.B) {
		if err := d.PutContent(ctx, dir+"/get", small); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(small)))
		for b.Loop() {
			if _, err := d.GetContent(ctx, dir+"/get"); err != nil {
				b.Fatal(err)
			}
		}
	})
	chunk := make([]byte, 1<<20)
	fillPattern(chunk, 2)
	for _, size := range BenchSizes {
		name := sizeLabel(size)
		p := dir + "/layer-" + name
		b.Run("stream-write/size="+name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				w, err := d.Writer(ctx, p, false)
				if err != nil {
					b.Fatal(err)
				}
				for left := size; left > 0; left -= int64(len(chunk)) {
					c := chunk[:min(left, int64(len(chunk)))]
					if _, err := w.Write(c); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("stream-read/size="+name, func(b *testing.B) {
			if fi, err := d.Stat(ctx, p); err != nil || fi.Size() != size {
				b.Skip("stream-write of this size did not run")
			}
			b.SetBytes(size)
			for b.Loop() {
				r, err := d.Reader(ctx, p, 0)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, r, chunk); err != nil || n != size {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
				r.Close()
			}
		})
		d.Delete(ctx, p)
	}
	b.Run("list/entries=100", func(b *testing.B) {
		for i := range 100 {
			if err := d.PutContent(ctx, fmt.Sprintf("%s/list/%03d", dir, i), small[:64]); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			if got, err := d.List(ctx, dir+"/list"); err != nil || len(got) != 100 {
				b.Fatalf("listed %d: %v", len(got), err)
			}
		}
	})
	b.Run("delete", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			p := fmt.Sprintf("%s/del/%d", dir, i)
			if err := d.PutContent(ctx, p, small[:64]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := d.Delete(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func fillPattern(p []byte, seed byte) {
	for i := range p {
		p[i] = byte(i*31) ^ seed ^ byte(i>>11)
	}
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
