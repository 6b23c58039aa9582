//go:build cgo

package rados

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// sortEntries orders a directory's entries by name, a file before a
// directory of the same name.
func sortEntries(ents []dirEntry) {
	slices.SortFunc(ents, func(a, b dirEntry) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.file != nil {
			return -1
		}
		return 1
	})
}

// chunkReader streams [pos, end) of a chunked file, reading up to
// Concurrency chunks ahead, each in one op, delivered in order. It holds
// at most Concurrency+1 buffers of ChunkSize: the one it delivers and
// those in flight.
type chunkReader struct {
	b        *backend
	ctx      context.Context
	p        string
	start    int64 // first byte of the range, the end as asked
	wantEnd  int64
	rec      *fileRec
	pos, end int64 // next byte to deliver, end of the range
	next     int64 // next byte to fetch
	queue    []*fetch
	cur      *fetch
	off      int // read position in cur.buf
	free     [][]byte
	err      error
}

type fetch struct {
	done chan struct{}
	buf  []byte
	err  error
}

func (b *backend) newChunkReader(ctx context.Context, p string, rec *fileRec, offset, end, wantEnd int64) *chunkReader {
	return &chunkReader{b: b, ctx: ctx, p: p, rec: rec, pos: offset, end: end, next: offset, start: offset, wantEnd: wantEnd}
}

// restart starts over on the file's current record, when a chunk was
// gone before any byte was delivered: the file was replaced after its
// record was read.
func (r *chunkReader) restart(err error) error {
	if r.pos != r.start {
		return err // bytes of the old content are out: no switching now
	}
	changed, cerr := r.b.changed(r.p, r.rec, err)
	if cerr != nil || !changed {
		return cmp.Or(cerr, err)
	}
	rec, cerr := r.b.mustFile(r.p)
	if cerr != nil {
		return cerr
	}
	if r.start > rec.Size {
		return err
	}
	for _, f := range r.queue {
		<-f.done
	}
	r.queue, r.rec, r.next = nil, rec, r.start
	r.end = rec.Size
	if r.wantEnd >= 0 && r.wantEnd < r.end {
		r.end = r.wantEnd
	}
	if rec.Runs == nil { // replaced by a small file: its record holds it
		r.cur, r.off, r.next = &fetch{buf: rec.Inline[r.start:r.end]}, 0, r.end
	}
	return nil
}

// schedule starts fetches until Concurrency are queued or the range is
// covered.
func (r *chunkReader) schedule() {
	cs := r.rec.ChunkSize
	for len(r.queue) < r.b.cfg.Concurrency && r.next < r.end {
		idx := r.next / cs
		lo := r.next - idx*cs
		hi := min(cs, r.end-idx*cs)
		var buf []byte
		if n := len(r.free); n > 0 && int64(cap(r.free[n-1])) >= hi-lo {
			buf, r.free = r.free[n-1][:hi-lo], r.free[:n-1]
		} else {
			buf = make([]byte, hi-lo, max(hi-lo, min(cs, r.end-r.pos)))
		}
		f := &fetch{done: make(chan struct{}), buf: buf}
		oid, ok := chunkAt(r.rec.Runs, idx)
		go func() {
			defer close(f.done)
			if !ok {
				f.err = errors.New("the file record names no chunk for this offset")
				return
			}
			n, err := r.b.io.Read(oid, f.buf, uint64(lo))
			if err == nil && n != len(f.buf) {
				err = errShortChunk(oid, n, int64(len(f.buf))+lo)
			}
			f.err = err
		}()
		r.queue = append(r.queue, f)
		r.next = idx*cs + hi
	}
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for r.cur == nil || r.off == len(r.cur.buf) {
		if r.cur != nil {
			if r.rec.Runs != nil {
				r.free = append(r.free, r.cur.buf)
			}
			r.cur = nil
		}
		if r.pos >= r.end {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return 0, err
		}
		r.schedule()
		f := r.queue[0]
		r.queue = r.queue[1:]
		r.schedule() // keep Concurrency fetches in flight while f is delivered
		<-f.done
		if f.err != nil {
			if err := r.restart(f.err); err != nil {
				r.err = err
				return 0, err
			}
			continue
		}
		r.cur, r.off = f, 0
	}
	n := copy(p, r.cur.buf[r.off:])
	r.off += n
	r.pos += int64(n)
	return n, nil
}

// Close waits for the fetches in flight: librados calls cannot be
// abandoned while they write into a buffer.
func (r *chunkReader) Close() error {
	var wg sync.WaitGroup
	for _, f := range r.queue {
		wg.Go(func() { <-f.done })
	}
	wg.Wait()
	r.queue, r.cur, r.free = nil, nil, nil
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	return nil
}
