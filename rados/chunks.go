//go:build cgo

package rados

import (
	"context"
	"sync"
)

// inlineMax is the largest content kept in the file record itself: one
// atomic op on the directory object publishes it, with no chunk object.
// Registry link files and most manifests fit.
const inlineMax = 16 << 10

// chunkWriter writes one generation's chunk objects, at most Concurrency
// at a time, from at most Concurrency reused buffers of ChunkSize: those
// in flight and the one being filled, which waits for a free buffer when
// Concurrency writes are in flight. A failed write is reported by the
// next call of buffer or wait.
type chunkWriter struct {
	b     *backend
	gen   string
	cs    int64
	max   int
	free  chan []byte
	wg    sync.WaitGroup
	made  int
	mu    sync.Mutex
	err   error
	wrote []int64 // indices written (or attempted), for clean-up
	sema  chan struct{}
}

func newChunkWriter(b *backend, gen string, cs int64) *chunkWriter {
	c := b.cfg.Concurrency
	return &chunkWriter{b: b, gen: gen, cs: cs, max: c, free: make(chan []byte, c), sema: make(chan struct{}, c)}
}

// adopt counts a buffer the caller made towards the pool's limit; it
// joins the pool once written.
func (c *chunkWriter) adopt(buf []byte) []byte {
	c.made++
	return buf
}

// buffer returns an empty buffer of capacity cs, waiting for a write to
// finish when all are in use.
func (c *chunkWriter) buffer() ([]byte, error) {
	if err := c.failed(); err != nil {
		return nil, err
	}
	select {
	case buf := <-c.free:
		return buf[:0], nil
	default:
	}
	if c.made < c.max {
		c.made++
		return make([]byte, 0, c.cs), nil
	}
	buf := <-c.free
	return buf[:0], c.failed()
}

func (c *chunkWriter) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// put writes buf as chunk idx in the background; buf returns to the pool
// afterwards.
func (c *chunkWriter) put(ctx context.Context, idx int64, buf []byte) {
	c.mu.Lock()
	c.wrote = append(c.wrote, idx)
	c.mu.Unlock()
	c.sema <- struct{}{}
	c.wg.Go(func() {
		defer func() { <-c.sema }()
		err := ctx.Err()
		if err == nil {
			err = c.b.writeChunk(chunkObj(c.gen, idx), buf)
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		c.free <- buf
	})
}

// wait waits for every write and returns the first error.
func (c *chunkWriter) wait() error {
	c.wg.Wait()
	return c.failed()
}

// release waits for the writes and drops the buffers.
func (c *chunkWriter) release() {
	c.wg.Wait()
	for {
		select {
		case <-c.free:
		default:
			c.made = 0
			return
		}
	}
}

// names lists the chunk objects this writer wrote or tried to.
func (c *chunkWriter) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.wrote))
	for i, idx := range c.wrote {
		out[i] = chunkObj(c.gen, idx)
	}
	return out
}

// writeChunks stores content as chunks of cs bytes under gen, Concurrency
// at a time, straight from content.
func (b *backend) writeChunks(ctx context.Context, gen string, cs int64, content []byte) error {
	n := (int64(len(content)) + cs - 1) / cs
	return b.parallel(ctx, int(n), func(i int) error {
		lo := int64(i) * cs
		return b.writeChunk(chunkObj(gen, int64(i)), content[lo:min(lo+cs, int64(len(content)))])
	})
}

// writeChunk writes a whole chunk object (idempotent: a resent write
// writes the same bytes).
func (b *backend) writeChunk(oid string, data []byte) error {
	return b.retry(func() error {
		return faulty(oid, true, func() error { return b.io.WriteFull(oid, data) })
	})
}

// deleteChunks removes chunk objects, Concurrency at a time; missing ones
// are fine. It runs to the end even when the caller's context is gone, so
// as not to leak what it was asked to remove. Callers that delete chunks
// no record names any more, after their call took effect, ignore its
// error: what it leaves is Sweep's.
func (b *backend) deleteChunks(names []string) error {
	return b.parallel(context.Background(), len(names), func(i int) error {
		return b.retry(func() error {
			err := faulty(names[i], true, func() error { return b.io.Delete(names[i]) })
			if isNotFound(err) {
				return nil
			}
			return err
		})
	})
}

// parallel runs fn(0..n-1), Concurrency at a time, and returns the first
// error; after one, no new call starts.
func (b *backend) parallel(ctx context.Context, n int, fn func(i int) error) error {
	sema := make(chan struct{}, b.cfg.Concurrency)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range n {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if err := ctx.Err(); err != nil && !stop {
			mu.Lock()
			first = err
			mu.Unlock()
			stop = true
		}
		if stop {
			break
		}
		sema <- struct{}{}
		wg.Go(func() {
			defer func() { <-sema }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
