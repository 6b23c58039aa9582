package multipart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/berthio/berth/driver"
)

// reserveFirst and reserveMax bound how many part numbers a session
// reserves at a time: the window doubles as the session streams on.
const (
	reserveFirst = 16
	reserveMax   = 512
)

// Writer opens a session on the upload at p, publishing a record that
// names it the owner (fencing every earlier session) and reserves its
// first part numbers. With append, the tail the last Close left is read
// back into the part buffer: at most one part.
func (u *Bucket) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	s := u.Slot(p)
	w := &writer{u: u, slot: s, id: RandomID()}
	if !append {
		// Most new uploads go to a path that has none: try record 1 first,
		// without listing. It exists whenever any record does (teardown
		// removes it last), so winning it means the slot was empty.
		ps, err := u.PartSize(ctx)
		if err != nil {
			return nil, err
		}
		next := &Record{Upload: RandomID(), Writer: w.id, PartSize: ps, Reserved: 1 + reserveFirst}
		nh, err := s.publish(ctx, Head{}, next)
		if err == nil {
			w.nextPart, w.window = 1, reserveFirst
			w.head, w.base = nh, 0
			w.start(ps)
			return w, nil
		}
		if !errors.Is(err, errLost) {
			return nil, err
		}
	}
	for range 16 {
		h, err := s.Latest(ctx)
		if err != nil {
			return nil, err
		}
		var next *Record
		if append {
			if !h.Live() {
				return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
			}
			next = h.Rec.clone()
		} else {
			ps, err := u.PartSize(ctx)
			if err != nil {
				return nil, err
			}
			next = &Record{Upload: RandomID(), PartSize: ps}
		}
		next.Writer = w.id
		w.nextPart = 1
		if append {
			w.nextPart = max(h.Rec.Reserved, 1)
			for _, pt := range h.Rec.Parts {
				w.nextPart = max(w.nextPart, pt.N+1)
			}
		}
		w.window = reserveFirst
		next.Reserved = w.nextPart + w.window
		nh, err := s.publish(ctx, h, next)
		if errors.Is(err, errLost) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !append && h.Live() && h.Rec.UploadID != "" {
			u.Store.Abort(ctx, s.MPKey(h.Rec), h.Rec.UploadID) // the replaced upload's data
		}
		w.head, w.base = nh, nh.Rec.Size()
		w.start(nh.Rec.PartSize)
		if t := nh.Rec.Tail; t != nil {
			if err := w.readTail(ctx, t); err != nil {
				w.release()
				return nil, err
			}
		}
		return w, nil
	}
	return nil, driver.Errorf(driver.ErrConflict, "too many writers racing for the upload")
}

// writer is one session. Full parts are uploaded in the background, at
// most Concurrency buffers of one part each existing at a time: the
// memory bound.
type writer struct {
	u      *Bucket
	slot   *Slot
	id     string
	head   Head  // the record this session published last
	base   int64 // durable bytes when the session began
	window int32 // part numbers reserved per extension

	nextPart int32
	buf      []byte      // the part being filled; starts with the resumed tail
	free     chan []byte // buffers not in flight
	wg       sync.WaitGroup
	mu       sync.Mutex
	done     []Part // parts this session uploaded
	err      error  // first upload error, sticky
	written  int64
	ctx      context.Context // for part uploads; Cancel cancels it
	cancel   context.CancelFunc
}

func (w *writer) start(partSize int64) {
	w.free = make(chan []byte, w.u.Concurrency)
	for range w.u.Concurrency {
		w.free <- nil // allocated on first use
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.buf = w.take(partSize)
}

func (w *writer) take(partSize int64) []byte {
	b := <-w.free
	if b == nil {
		if w.u.Buffers == nil {
			b = make([]byte, 0, partSize)
		} else if p, ok := w.u.Buffers.Get().(*[]byte); ok && int64(cap(*p)) == partSize {
			b = *p
		} else {
			b = make([]byte, 0, partSize)
		}
	}
	return b[:0]
}

// release hands the session's part buffers to Buffers once no part is in
// flight, so that the next session takes them instead of allocating
// Concurrency parts anew. The writer can still take buffers afterwards:
// it then allocates.
func (w *writer) release() {
	if w.free == nil || w.u.Buffers == nil {
		return
	}
	w.wg.Wait()
	put := func(b []byte) {
		if b != nil && int64(cap(b)) == w.partSize() {
			b = b[:0]
			w.u.Buffers.Put(&b)
		}
	}
	put(w.buf)
	w.buf = nil
	for n := len(w.free); n > 0; n-- {
		put(<-w.free)
		w.free <- nil
	}
}

func (w *writer) partSize() int64 { return w.head.Rec.PartSize }

func (w *writer) readTail(ctx context.Context, t *Tail) error {
	r, _, err := w.u.Store.Get(ctx, t.Key)
	if w.u.Store.IsNotFound(err) {
		// A tail is removed only once a newer record no longer names it:
		// another session took the upload over (or ended it) between our
		// publish and this read.
		return driver.Errorf(driver.ErrConflict, "the upload was taken over while it was opened (its tail is gone): %v", err)
	}
	if err != nil {
		return fmt.Errorf("read back the upload's tail: %w", err)
	}
	defer r.Close()
	n, err := io.ReadFull(r, w.buf[:t.Size])
	if err != nil {
		return fmt.Errorf("read back the upload's tail (%d of %d bytes): %w", n, t.Size, err)
	}
	w.buf = w.buf[:t.Size]
	return nil
}

func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) Size() int64 { return w.base + w.written }

func (w *writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.failure(); err != nil {
			return n, err
		}
		c := min(len(p), int(w.partSize())-len(w.buf))
		w.buf = append(w.buf, p[:c]...)
		p, n = p[c:], n+c
		w.written += int64(c)
		if int64(len(w.buf)) == w.partSize() {
			if err := w.flushPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flushPart sends the full buffer as the next part, in the background.
func (w *writer) flushPart() error {
	num, err := w.reserve()
	if err != nil {
		w.setErr(err)
		return err
	}
	data, uploadID, key := w.buf, w.head.Rec.UploadID, w.slot.MPKey(w.head.Rec)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		etag, err := w.u.Store.UploadPart(w.ctx, key, uploadID, num, data)
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("upload part %d: %w", num, err)
		}
		if err == nil {
			w.done = append(w.done, Part{N: num, ETag: etag, Size: int64(len(data))})
		}
		w.mu.Unlock()
		w.free <- data
	}()
	w.buf = w.take(w.partSize())
	return nil
}

func (w *writer) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// reserve returns the next part number, first creating the multipart
// upload or extending the reservation when needed. Both publish a record,
// which fails for a fenced session: it never uploads outside a reservation
// of its own, and learns it is fenced at its next part.
func (w *writer) reserve() (int32, error) {
	if w.nextPart > w.u.MaxParts {
		return 0, driver.Errorf(driver.ErrTooLarge, "the upload needs more than %d parts of %d bytes; declare its size with driver.WithSizeHint or raise the part size", w.u.MaxParts, w.partSize())
	}
	rec := w.head.Rec
	if rec.UploadID == "" || w.nextPart >= rec.Reserved {
		next := rec.clone()
		var created string
		if next.UploadID == "" {
			next.Stage = ""
			if st := w.u.stager(); st != nil {
				staged, err := st.Staged(w.ctx)
				if err != nil {
					return 0, err
				}
				if staged {
					next.Stage = w.slot.StageKey(next.Upload)
				}
			}
			id, err := w.u.Store.CreateMultipart(w.ctx, w.slot.MPKey(next))
			if err != nil {
				return 0, err
			}
			created = id
			next.UploadID = created
		}
		if w.nextPart >= rec.Reserved {
			w.window = min(w.window*2, reserveMax)
			next.Reserved = min(w.nextPart+w.window, w.u.MaxParts+1)
		}
		h, err := w.slot.publish(w.ctx, w.head, next)
		if err != nil {
			if created != "" {
				w.u.Store.Abort(context.Background(), w.slot.MPKey(next), created)
			}
			return 0, conflict(err)
		}
		w.head = h
	}
	num := w.nextPart
	w.nextPart++
	return num, nil
}

// wait waits for the parts in flight and returns this session's parts.
func (w *writer) wait() ([]Part, error) {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortFunc(w.done, func(a, b Part) int { return int(a.N - b.N) })
	return w.done, w.err
}

// Close makes every byte written durable: the parts in flight finish, the
// rest of the buffer goes to a tail object of this session, and the
// record naming both is published (CONTRACT 3).
func (w *writer) Close() error {
	defer w.release()
	defer w.cancel()
	parts, err := w.wait()
	if err != nil {
		return conflict(err)
	}
	if w.written == 0 {
		return nil // nothing new to make durable
	}
	ctx := context.Background()
	next := w.head.Rec.clone()
	next.Parts = append(next.Parts, parts...)
	next.Tail = nil
	if len(w.buf) > 0 {
		key := w.slot.Prefix + "tail." + w.id
		if err := w.u.Store.Put(ctx, key, w.buf); err != nil {
			return err
		}
		next.Tail = &Tail{Key: key, Size: int64(len(w.buf))}
	}
	next.Reserved = w.nextPart // a closed session uses no more numbers
	old := w.head.Rec.Tail
	h, err := w.slot.publish(ctx, w.head, next)
	if err != nil {
		if next.Tail != nil {
			w.u.Store.DeleteKeys(ctx, []string{next.Tail.Key})
		}
		return conflict(err)
	}
	if old != nil {
		w.u.Store.DeleteKeys(ctx, []string{old.Key})
	}
	w.head, w.base, w.written, w.done = h, next.Size(), 0, nil
	return nil
}

// Commit finishes the upload: an upload smaller than a part is one PUT;
// otherwise the buffer goes up as the last part and the multipart upload
// is completed (at the path, or staged: Stager). The slot is sealed first,
// so of two sessions committing (RGW completes one upload twice) only the
// owner gets there.
func (w *writer) Commit(ctx context.Context) error {
	defer w.release()
	defer w.cancel()
	parts, err := w.wait()
	if err != nil {
		return conflict(err)
	}
	rec := w.head.Rec
	if rec.UploadID == "" {
		if err := w.slot.seal(ctx, w.head); err != nil {
			return conflict(err)
		}
		if err := w.u.Store.Put(ctx, w.slot.Key, w.buf); err != nil {
			return err
		}
		return w.slot.teardown(ctx, rec, false)
	}
	if len(w.buf) > 0 || len(rec.Parts)+len(parts) == 0 {
		if err := w.flushPart(); err != nil {
			return err
		}
		if parts, err = w.wait(); err != nil {
			return conflict(err)
		}
		rec = w.head.Rec
	}
	all := append(slices.Clone(rec.Parts), parts...)
	slices.SortFunc(all, func(a, b Part) int { return int(a.N - b.N) })
	if err := w.slot.seal(ctx, w.head); err != nil {
		return conflict(err)
	}
	if st := w.u.stager(); rec.Stage != "" && st != nil {
		err = st.CommitStaged(ctx, w.slot, rec, all)
	} else {
		err = w.u.Store.Complete(ctx, w.slot.Key, rec.UploadID, all)
	}
	if err != nil {
		return err
	}
	return w.slot.teardown(ctx, rec, false)
}

// Cancel seals the upload and removes it with its multipart upload. An
// upload already gone is no error; one another session owns is
// ErrConflict.
func (w *writer) Cancel(ctx context.Context) error {
	w.cancel()
	w.wait()
	defer w.release()
	h, err := w.slot.Latest(ctx)
	if err != nil {
		return err
	}
	if !h.Live() {
		return nil
	}
	if !h.same(w.head) {
		return conflict(errLost)
	}
	if err := w.slot.seal(ctx, h); err != nil {
		return conflict(err)
	}
	return w.slot.teardown(ctx, h.Rec, true)
}
