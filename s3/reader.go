package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/driver"
)

// readAhead streams a large object with up to ReadConcurrency ranged GETs
// of ReadChunkSize in flight, delivered in order, for links where one TCP
// stream does not fill the pipe (off by default: see Config). The first chunk comes from the GET that
// opened the read; every later range carries If-Match with that GET's
// ETag, so a reader never mixes two versions of an object replaced
// meanwhile (CONTRACT 1): it fails instead. It holds at most
// ReadConcurrency chunks.
type readAhead struct {
	b          *backend
	key, etag  string
	ctx        context.Context
	cancel     context.CancelFunc
	first      io.ReadCloser // the opening GET, read for its first chunk only
	firstLeft  int64
	next, end  int64 // the next range to fetch; the end of the read
	chunk      int64
	queue      []*fetch // in order; the head is being read
	free       [][]byte
	wg         sync.WaitGroup
	off        int // read position in queue[0].data
	err        error
	inFlight   int
	concurrent int
}

type fetch struct {
	done chan struct{}
	data []byte
	err  error
}

// newReadAhead takes over out, the answer to a GET of the first chunk from
// offset, and reads on ahead to end. A read that the first chunk covers
// is just out's body.
func (b *backend) newReadAhead(ctx context.Context, key string, out *s3.GetObjectOutput, offset, end int64) io.ReadCloser {
	first := aws.ToInt64(out.ContentLength)
	if offset+first >= end || aws.ToString(out.ETag) == "" {
		return out.Body
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &readAhead{
		b: b, key: key, etag: aws.ToString(out.ETag), ctx: ctx, cancel: cancel,
		first: out.Body, firstLeft: first, next: offset + first, end: end,
		chunk: b.cfg.ReadChunkSize, concurrent: b.cfg.ReadConcurrency,
	}
	for r.inFlight < r.concurrent-1 && r.schedule() {
	}
	return r
}

// schedule starts the GET of the next range; false when none is left.
func (r *readAhead) schedule() bool {
	if r.next >= r.end {
		return false
	}
	lo, hi := r.next, min(r.next+r.chunk, r.end)
	r.next = hi
	f := &fetch{done: make(chan struct{}), data: r.buffer()[:hi-lo]}
	r.queue = append(r.queue, f)
	r.inFlight++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(f.done)
		out, err := r.b.client.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket: &r.b.bucket, Key: aws.String(r.key), IfMatch: aws.String(r.etag),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", lo, hi-1)),
		})
		if err != nil {
			if isPreconditionFailed(err) {
				err = driver.Errorf(driver.ErrConflict, "the object was replaced while it was read")
			}
			f.err = err
			return
		}
		defer out.Body.Close()
		_, f.err = io.ReadFull(out.Body, f.data)
	}()
	return true
}

// buffer returns a chunk buffer: one this reader is done with, or one of
// an earlier reader's from the pool, or a new one.
func (r *readAhead) buffer() []byte {
	if k := len(r.free); k > 0 {
		buf := r.free[k-1]
		r.free = r.free[:k-1]
		return buf
	}
	if p, ok := r.b.chunks.Get().(*[]byte); ok && int64(cap(*p)) == r.chunk {
		return (*p)[:r.chunk]
	}
	return make([]byte, r.chunk)
}

func (r *readAhead) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.firstLeft > 0 {
		n, err := r.first.Read(p[:min(int64(len(p)), r.firstLeft)])
		r.firstLeft -= int64(n)
		if r.firstLeft == 0 {
			r.first.Close()
			r.schedule() // the opening GET's slot is free
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			r.err = err
		}
		return n, r.err
	}
	if len(r.queue) == 0 {
		return 0, io.EOF
	}
	f := r.queue[0]
	select {
	case <-f.done:
	case <-r.ctx.Done():
		r.err = r.ctx.Err()
		return 0, r.err
	}
	if f.err != nil {
		r.err = f.err
		return 0, r.err
	}
	n := copy(p, f.data[r.off:])
	r.off += n
	if r.off == len(f.data) {
		r.queue, r.off = r.queue[1:], 0
		r.free = append(r.free, f.data)
		r.inFlight--
		r.schedule()
	}
	return n, nil
}

// WriteTo hands each chunk to w as it arrives, in order, without copying
// it through a buffer of the caller's (io.Copy uses it).
func (r *readAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if r.err == nil && r.firstLeft > 0 {
		// The opening GET is a stream: read it whole into a chunk buffer,
		// which the next fetch then reuses.
		buf := r.buffer()[:r.firstLeft]
		n, err := io.ReadFull(r.first, buf)
		r.firstLeft -= int64(n)
		r.first.Close()
		if err == nil {
			var m int
			m, err = w.Write(buf)
			total += int64(m)
		}
		if err != nil {
			r.err = err
			return total, err
		}
		r.free = append(r.free, buf[:cap(buf)])
		r.schedule()
	}
	for r.err == nil && len(r.queue) > 0 {
		f := r.queue[0]
		select {
		case <-f.done:
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			return total, r.err
		}
		if f.err != nil {
			r.err = f.err
			break
		}
		n, err := w.Write(f.data[r.off:])
		total += int64(n)
		if err != nil {
			r.off += n
			r.err = err
			break
		}
		r.queue, r.off = r.queue[1:], 0
		r.free = append(r.free, f.data)
		r.inFlight--
		r.schedule()
	}
	return total, r.err
}

func (r *readAhead) Close() error {
	r.cancel()
	if r.firstLeft > 0 {
		r.first.Close()
	}
	r.wg.Wait()
	for _, f := range r.queue {
		r.free = append(r.free, f.data)
	}
	for _, buf := range r.free {
		buf = buf[:cap(buf)]
		r.b.chunks.Put(&buf)
	}
	r.queue, r.free = nil, nil
	if r.err == nil || errors.Is(r.err, context.Canceled) {
		r.err = errors.New("read after Close")
	}
	return nil
}
