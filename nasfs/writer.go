package nasfs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"

	"github.com/berthio/berth/driver"
)

// Writer opens a writer session on the upload at p. A new upload (append
// false) replaces any upload in progress there; append continues the one in
// progress. Unless it created the slot itself, the session publishes a
// record naming itself the owner, which fences every earlier session
// (CONTRACT 5).
func (b *backend) Writer(_ context.Context, p string, append bool) (driver.FileWriter, error) {
	for range retries {
		s, fresh, err := b.openSlot(p, !append)
		if errors.Is(err, fs.ErrNotExist) && append {
			return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
		}
		if err != nil {
			return nil, err
		}
		w := &writer{b: b, slot: s, path: p, id: randomID()}
		if fresh {
			w.head = head{rec: &record{Upload: randomID()}}
			return w, nil
		}
		h, err := s.latest()
		if err != nil {
			s.close()
			return nil, err
		}
		if h.sealed {
			if append {
				s.close()
				return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
			}
			// The previous upload here was committed or cancelled and its
			// process has not moved the slot away yet, or died: do it.
			s.teardown()
			s.close()
			continue
		}
		next := &record{Upload: randomID(), Writer: w.id}
		inPlace := false
		if append {
			next.Segments = slices.Clone(h.rec.Segments)
			if h.rec.Upload != "" {
				next.Upload = h.rec.Upload
			}
			if last := len(next.Segments) - 1; last >= 0 {
				if h.rec.Closed {
					inPlace = !next.Segments[last].Shared
				} else {
					next.Segments[last].Shared = true // its writer may be alive
				}
			}
		}
		h, err = s.publish(h, next, false, nil)
		if errors.Is(err, errLost) || errors.Is(err, errGone) {
			s.close()
			continue // look again: a newer head, or a deleted slot
		}
		if err != nil {
			s.close()
			return nil, err
		}
		w.head, w.base, w.inPlace = h, next.size(), inPlace
		return w, nil
	}
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

	inPlace bool // the session extends the last segment, not a new one
	f       *os.File
	buf     *bufio.Writer
	written int64
	err     error // sticky write error
}

// directWrite is the size from which a Write goes to the file directly
// instead of through the buffer, which gathers small ones (a registry
// copies request bodies in 32 KiB pieces).
const directWrite = 256 << 10

// target is the file this session's bytes go to: its own segment, or the
// last one, extended in place.
func (w *writer) target() string {
	if w.inPlace {
		segs := w.head.rec.Segments
		return segs[len(segs)-1].Name
	}
	return "seg." + w.id
}

// open opens the session's file: its own segment, new, or the last one,
// cut to its recorded size (a session that died after writing past it may
// have left bytes there) and positioned at its end.
func (w *writer) open() (*os.File, error) {
	if !w.inPlace {
		return w.slot.dir.OpenFile(w.target(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	segs := w.head.rec.Segments
	size := segs[len(segs)-1].Size
	f, err := w.slot.dir.OpenFile(w.target(), os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	if err = f.Truncate(size); err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.f == nil {
		f, err := w.open()
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
	var n int
	var err error
	if len(p) >= directWrite {
		// Large enough for a system call of its own: copying it into the
		// buffer first would only cost a memcpy (bufio writes through only
		// when p exceeds what is free, not when it merely fills it).
		if err = w.buf.Flush(); err == nil {
			n, err = w.f.Write(p)
		}
	} else {
		n, err = w.buf.Write(p)
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
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

// segments is the upload's content: the durable segments plus what this
// session wrote, in its own segment or extending the last.
func (w *writer) segments() []segment {
	segs := slices.Clone(w.head.rec.Segments)
	switch {
	case w.written == 0:
	case w.inPlace:
		segs[len(segs)-1].Size += w.written
	default:
		segs = append(segs, segment{Name: w.target(), Size: w.written})
	}
	return segs
}

// Close makes every byte written durable: the record it publishes names
// this session's segment, so any instance's Writer(append) continues after
// it (CONTRACT 3).
func (w *writer) Close() error {
	defer w.slot.close()
	if w.written == 0 {
		return w.flush() // nothing new to make durable
	}
	next := &record{Upload: w.head.rec.Upload, Writer: w.id, Segments: w.segments(), Closed: true}
	var ferr error
	h, err := w.slot.publish(w.head, next, true, func() error {
		ferr = w.flush() // the segment's fsync, beside the record's
		return ferr
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return conflict(err)
	}
	w.head, w.base, w.written = h, next.size(), 0
	return nil
}

// Commit turns the upload into one file of the slot and renames it over
// the path. The file is the first segment, which no one writes any more:
// Commit seals the slot with a link to it (which fences every other
// session), then appends the later segments to it, so that only they are
// copied. An upload with no bytes, or whose first segment is shared (a
// fenced session may still write to it), gets a new file that copies all
// segments (their recorded sizes) before the seal. Then it renames
// the file over the path, makes the rename durable and moves the slot to
// the trash. A failure before the rename acted withdraws the seal, so that
// the upload stays as it was before Commit: resumable at its durable size.
func (w *writer) Commit(ctx context.Context) error {
	if err := w.flush(); err != nil {
		return err
	}
	dst := rel(w.path)
	parent, err := w.b.openParent(dst)
	if err != nil {
		return err
	}
	defer parent.close()
	base := path.Base(dst)
	if fi, err := parent.r.Lstat(base); err == nil && fi.IsDir() {
		return driver.Errorf(driver.ErrConflict, "%s is a directory", w.path)
	}
	segs := w.segments()
	// own: a new file of this Commit's, when there is no first segment to
	// extend in place (no bytes, or a fenced session may write to it).
	own := len(segs) == 0 || segs[0].Shared
	staged := ""
	if own {
		if staged, err = w.copyFile(ctx, segs); err != nil {
			return err
		}
	} else {
		staged = segs[0].Name
	}
	if err := w.slot.seal(w.head, staged); err != nil {
		if own {
			w.slot.dir.Remove(staged)
		}
		return conflict(err)
	}
	defer w.slot.close()
	var stagedInfo fs.FileInfo
	if own {
		stagedInfo, err = w.slot.dir.Lstat(staged)
	} else {
		stagedInfo, err = w.appendSegments(ctx, staged, segs)
	}
	if err != nil {
		return w.withdraw(err, staged, own)
	}
	dir := w.slot.handle()
	defer dir.close()
	if err := w.b.renameAt(dir, staged, parent, base); err != nil {
		if now, serr := parent.r.Lstat(base); serr != nil || !os.SameFile(stagedInfo, now) {
			if _, serr := w.slot.dir.Lstat(staged); errors.Is(serr, fs.ErrNotExist) {
				// Renamed after all (the path was replaced since), or torn
				// down after our seal by a new upload: the upload ended.
				return conflict(errGone)
			}
			if fi, serr := parent.r.Lstat(base); serr == nil && fi.IsDir() {
				err = driver.Errorf(driver.ErrConflict, "%s is a directory", w.path)
			}
			return w.withdraw(err, staged, own)
		}
		// The rename acted; its reply was lost (an NFS retransmission).
	}
	defer w.slot.teardown()
	return parent.sync()
}

// withdraw undoes a Commit that failed after its seal and before its
// rename acted: the seal goes, and the first segment is cut back to its
// recorded size (what a resume and a later Commit read of it anyway).
func (w *writer) withdraw(err error, staged string, own bool) error {
	w.slot.unseal(w.head, staged)
	if own {
		w.slot.dir.Remove(staged)
	} else if segs := w.segments(); len(segs) > 1 {
		if f, oerr := w.slot.dir.OpenFile(staged, os.O_WRONLY, 0); oerr == nil {
			f.Truncate(segs[0].Size)
			f.Close()
		}
	}
	return err
}

// copyFile writes segs (none: no bytes) to a new file of the slot, made
// durable, and returns its name.
func (w *writer) copyFile(ctx context.Context, segs []segment) (string, error) {
	name := "t." + randomID()
	f, err := w.slot.dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		return "", conflict(errGone)
	}
	if err != nil {
		return "", err
	}
	err = w.concat(ctx, f, segs)
	if err == nil && len(segs) > 0 {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.slot.dir.Remove(name)
		return "", err
	}
	return name, nil
}

// appendSegments appends segs[1:] to staged, segs[0] (cut to its recorded size
// first: an earlier Commit that failed midway may have appended some) and
// makes it durable, once the seal has fenced every other session. It
// returns the file's identity, for recognising a rename that acted.
func (w *writer) appendSegments(ctx context.Context, staged string, segs []segment) (fs.FileInfo, error) {
	if len(segs) <= 1 {
		return w.slot.dir.Lstat(staged)
	}
	f, err := w.slot.dir.OpenFile(segs[0].Name, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(segs[0].Size); err != nil {
		return nil, err
	}
	if _, err := f.Seek(segs[0].Size, io.SeekStart); err != nil {
		return nil, err
	}
	if err := w.concat(ctx, f, segs[1:]); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return f.Stat()
}

// sealSource names a file of the slot to link as the seal, so that sealing
// creates no inode; "" when the session has none.
func (w *writer) sealSource() string {
	switch {
	case w.written > 0:
		return w.target()
	case w.head.n > 0:
		return versionName(w.head.n)
	}
	return ""
}

// concat copies segs, each its recorded size, to dst at its offset.
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

// Cancel seals the slot, fencing every other session, and moves it to the
// trash. Cancel of an upload that is already gone is a no-op; of an upload
// another session took over, ErrConflict.
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
	if err != nil || h.sealed {
		return nil // already gone
	}
	if !h.same(w.head) {
		return conflict(errLost)
	}
	if err := w.slot.seal(h, w.sealSource()); err != nil {
		return conflict(err)
	}
	w.slot.teardown()
	return nil
}
