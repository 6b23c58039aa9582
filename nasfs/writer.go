package nasfs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/berthio/berth/driver"
)

// Writer opens a writer session on the upload at p. A new upload (append
// false) replaces any upload in progress there; append continues the one in
// progress. Either way the session publishes a record naming itself the
// owner, which fences every earlier session (CONTRACT 5).
func (b *backend) Writer(_ context.Context, p string, append bool) (driver.FileWriter, error) {
	s, fresh, err := b.openSlot(p, !append)
	if errors.Is(err, fs.ErrNotExist) && append {
		return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
	}
	if err != nil {
		return nil, err
	}
	w := &writer{b: b, slot: s, path: p, id: randomID()}
	if fresh {
		w.head = head{rec: &record{Upload: randomID(), Status: statusOpen}}
		return w, nil
	}
	for range retries {
		h, err := s.latest()
		if err != nil {
			s.close()
			return nil, err
		}
		next := &record{Upload: randomID(), Writer: w.id, Status: statusOpen}
		if append {
			if h.rec.Status != statusOpen {
				s.close()
				return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
			}
			next.Segments = h.rec.Segments
			if h.rec.Upload != "" {
				next.Upload = h.rec.Upload
			}
		}
		h, err = s.publish(h, next, false)
		if errors.Is(err, errLost) {
			continue
		}
		if errors.Is(err, errGone) && !append {
			// Deleted under us: start over in a fresh slot.
			s.close()
			if s, fresh, err = b.openSlot(p, true); err != nil {
				return nil, err
			}
			w.slot = s
			if fresh {
				w.head = head{rec: &record{Upload: randomID(), Status: statusOpen}}
				return w, nil
			}
			continue
		}
		if err != nil {
			s.close()
			return nil, conflict(err)
		}
		w.head = h
		w.base = next.size()
		return w, nil
	}
	s.close()
	return nil, driver.Errorf(driver.ErrConflict, "too many writers racing for the upload")
}

// writer is one session. Its bytes go to its own segment file; Close and
// Commit publish the next record on top of the one this session published.
type writer struct {
	b    *backend
	slot *slot
	path string
	id   string
	head head  // the record this session published last
	base int64 // durable bytes when the session began

	f       *os.File
	buf     *bufio.Writer
	written int64
	err     error // sticky write error
}

func (w *writer) segName() string { return "seg." + w.id }

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.f == nil {
		f, err := w.slot.dir.OpenFile(w.segName(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = conflict(errGone)
			}
			w.err = err
			return 0, err
		}
		w.f = f
		w.buf = bufio.NewWriterSize(f, w.b.cfg.WriteBufferSize)
	}
	n, err := w.buf.Write(p)
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// ReadFrom lets io.Copy hand large reads straight to the segment.
func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{w}, r)
}

func (w *writer) Size() int64 { return w.base + w.written }

// flush makes this session's segment durable and closes it.
func (w *writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return nil
	}
	err := w.buf.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	w.err = err
	return err
}

// segments is the upload's content: the durable segments plus this
// session's own.
func (w *writer) segments() []segment {
	segs := append([]segment(nil), w.head.rec.Segments...)
	if w.written > 0 {
		segs = append(segs, segment{Name: w.segName(), Size: w.written})
	}
	return segs
}

// Close makes every byte written durable: the record it publishes names
// this session's segment, so any instance's Writer(append) continues after
// it (CONTRACT 3).
func (w *writer) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.written == 0 {
		w.slot.close()
		return nil // nothing new to make durable
	}
	next := &record{Upload: w.head.rec.Upload, Writer: w.id, Status: statusOpen, Segments: w.segments()}
	h, err := w.slot.publish(w.head, next, true)
	if err == nil {
		w.head, w.base, w.written = h, next.size(), 0
	}
	w.slot.close()
	return conflict(err)
}

// Commit assembles the segments into a staging file (a hard link when
// there is one segment, which no one writes any more), publishes the
// committed record (which fences every other session), then renames the
// staging file over the path. The upload's slot is then torn down.
func (w *writer) Commit(ctx context.Context) error {
	if err := w.flush(); err != nil {
		return err
	}
	if fi, err := w.b.root.Lstat(rel(w.path)); err == nil && fi.IsDir() {
		return driver.Errorf(driver.ErrConflict, "%s is a directory", w.path)
	}
	segs := w.segments()
	tmp, err := w.assemble(ctx, segs)
	if err != nil {
		return err
	}
	done := &record{Upload: w.head.rec.Upload, Writer: w.id, Status: statusCommitted, Segments: segs}
	h, err := w.slot.publish(w.head, done, false)
	if err != nil {
		w.b.root.Remove(tmp)
		return conflict(err)
	}
	if err := w.b.renameInto(tmp, rel(w.path)); err != nil {
		w.b.root.Remove(tmp)
		return err
	}
	w.slot.teardown(h.n)
	w.slot.close()
	return nil
}

func (w *writer) assemble(ctx context.Context, segs []segment) (string, error) {
	if len(segs) == 1 {
		for range retries {
			tmp := tmpDir + "/" + randomID()
			err := w.b.root.Link(w.slot.name+"/"+segs[0].Name, tmp)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := w.b.root.Stat(tmpDir); serr != nil {
					if err := w.b.mkdirAll(tmpDir); err != nil {
						return "", err
					}
					continue
				}
				return "", conflict(errGone)
			}
			return tmp, err
		}
	}
	f, tmp, err := w.b.createTemp()
	if err != nil {
		return "", err
	}
	err = w.concat(ctx, f, segs)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.b.root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

func (w *writer) concat(ctx context.Context, dst *os.File, segs []segment) error {
	for _, seg := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := w.slot.dir.Open(seg.Name)
		if errors.Is(err, fs.ErrNotExist) {
			return conflict(errGone)
		}
		if err != nil {
			return err
		}
		_, err = io.CopyN(dst, src, seg.Size) // copy_file_range where the kernel can
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Cancel publishes the cancelled record, fencing every other session, and
// tears the slot down.
func (w *writer) Cancel(context.Context) error {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.slot.closed() {
		s, _, err := w.b.openSlot(w.path, false)
		if err != nil {
			return nil // already gone
		}
		w.slot = s
	}
	defer w.slot.close()
	h, err := w.slot.latest()
	if err != nil || h.rec.Status != statusOpen || (h.rec.Upload != w.head.rec.Upload && h.n > w.head.n) {
		return nil // already gone, or a newer upload replaced it
	}
	if h.n != w.head.n || !bytes.Equal(h.raw, w.head.raw) {
		return conflict(errLost)
	}
	done := &record{Upload: w.head.rec.Upload, Writer: w.id, Status: statusCancelled, Segments: h.rec.Segments}
	h, err = w.slot.publish(h, done, false)
	if err != nil {
		return conflict(err)
	}
	w.slot.teardown(h.n)
	return nil
}
