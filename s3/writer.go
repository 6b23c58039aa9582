package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/driver"
)

// reserveFirst and reserveMax bound how many part numbers a session
// reserves at a time: the window doubles as the session streams on.
const (
	reserveFirst = 16
	reserveMax   = 512
)

// partSizeFor picks the part size of a new upload: the configured one, or
// larger when a size hint says the upload needs it to stay under MaxParts
// (with a tenth spare for reservations of sessions that were fenced).
func (b *backend) partSizeFor(ctx context.Context) (int64, error) {
	ps := b.cfg.PartSize
	hint, ok := driver.SizeHint(ctx)
	if !ok {
		return ps, nil
	}
	if hint > MaxObjectSize {
		return 0, driver.Errorf(driver.ErrTooLarge, "declared size %d exceeds S3's object limit of %d", hint, int64(MaxObjectSize))
	}
	const usable = MaxParts * 9 / 10
	if need := (hint + usable - 1) / usable; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return min(ps, MaxPartSize), nil
}

// Writer opens a session on the upload at p, publishing a record that
// names it the owner (fencing every earlier session) and reserves its
// first part numbers. With append, the tail the last Close left is read
// back into the part buffer: at most one part.
func (b *backend) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	s := b.slot(p)
	w := &writer{b: b, slot: s, id: randomID()}
	if !append {
		// Most new uploads go to a path that has none: try record 1 first,
		// without listing. It exists whenever any record does (teardown
		// removes it last), so winning it means the slot was empty.
		ps, err := b.partSizeFor(ctx)
		if err != nil {
			return nil, err
		}
		next := &record{Upload: randomID(), Writer: w.id, PartSize: ps, Reserved: 1 + reserveFirst}
		nh, err := s.publish(ctx, head{}, next)
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
		h, err := s.latest(ctx)
		if err != nil {
			return nil, err
		}
		var next *record
		if append {
			if h.n == 0 || h.sealed {
				return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
			}
			next = h.rec.clone()
		} else {
			ps, err := b.partSizeFor(ctx)
			if err != nil {
				return nil, err
			}
			next = &record{Upload: randomID(), PartSize: ps}
		}
		next.Writer = w.id
		w.nextPart = 1
		if append {
			w.nextPart = max(h.rec.Reserved, 1)
			for _, pt := range h.rec.Parts {
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
		if !append && h.n > 0 && !h.sealed && h.rec.UploadID != "" {
			b.abort(ctx, s.mpKey(h.rec), h.rec.UploadID) // the replaced upload's data
		}
		w.head, w.base = nh, nh.rec.size()
		w.start(nh.rec.PartSize)
		if t := nh.rec.Tail; t != nil {
			if err := w.readTail(ctx, t); err != nil {
				return nil, err
			}
		}
		return w, nil
	}
	return nil, driver.Errorf(driver.ErrConflict, "too many writers racing for the upload")
}

// writer is one session. Full parts are uploaded in the background, at
// most cfg.Concurrency buffers of one part each existing at a time: the
// memory bound.
type writer struct {
	b      *backend
	slot   *slot
	id     string
	head   head  // the record this session published last
	base   int64 // durable bytes when the session began
	window int32 // part numbers reserved per extension

	nextPart int32
	buf      []byte      // the part being filled; starts with the resumed tail
	free     chan []byte // buffers not in flight
	wg       sync.WaitGroup
	mu       sync.Mutex
	done     []part // parts this session uploaded
	err      error  // first upload error, sticky
	written  int64
	ctx      context.Context // for part uploads; Cancel cancels it
	cancel   context.CancelFunc
}

func (w *writer) start(partSize int64) {
	w.free = make(chan []byte, w.b.cfg.Concurrency)
	for range w.b.cfg.Concurrency {
		w.free <- nil // allocated on first use
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.buf = w.take(partSize)
}

func (w *writer) take(partSize int64) []byte {
	b := <-w.free
	if b == nil {
		if p, ok := w.b.parts.Get().(*[]byte); ok && int64(cap(*p)) == partSize {
			b = *p
		} else {
			b = make([]byte, 0, partSize)
		}
	}
	return b[:0]
}

// release hands the session's part buffers to the driver's pool once no
// part is in flight, so that the next session (a registry opens one per
// PATCH) takes them instead of allocating Concurrency parts anew. The
// writer can still take buffers afterwards: it then allocates.
func (w *writer) release() {
	if w.free == nil {
		return
	}
	w.wg.Wait()
	put := func(b []byte) {
		if b != nil && int64(cap(b)) == w.partSize() {
			b = b[:0]
			w.b.parts.Put(&b)
		}
	}
	put(w.buf)
	w.buf = nil
	for n := len(w.free); n > 0; n-- {
		put(<-w.free)
		w.free <- nil
	}
}

func (w *writer) partSize() int64 { return w.head.rec.PartSize }

func (w *writer) readTail(ctx context.Context, t *tail) error {
	out, err := w.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &w.b.bucket, Key: aws.String(t.Key)})
	if err != nil {
		return fmt.Errorf("read back the upload's tail: %w", err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, w.buf[:t.Size])
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
	data, uploadID, key := w.buf, w.head.rec.UploadID, w.slot.mpKey(w.head.rec)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		out, err := w.b.client.UploadPart(w.ctx, &s3.UploadPartInput{
			Bucket: &w.b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
			PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		})
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("upload part %d: %w", num, err)
		}
		if err == nil {
			w.done = append(w.done, part{N: num, ETag: aws.ToString(out.ETag), Size: int64(len(data))})
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
// of its own.
func (w *writer) reserve() (int32, error) {
	if w.nextPart > MaxParts {
		return 0, driver.Errorf(driver.ErrTooLarge, "the upload needs more than %d parts of %d bytes; declare its size with driver.WithSizeHint or raise the part size", MaxParts, w.partSize())
	}
	rec := w.head.rec
	if rec.UploadID == "" || w.nextPart >= rec.Reserved {
		next := rec.clone()
		var created string
		if next.UploadID == "" {
			staged, err := w.b.stagedMode(w.ctx)
			if err != nil {
				return 0, err
			}
			next.Stage = ""
			if staged {
				next.Stage = w.slot.stageKey(next.Upload)
			}
			in := &s3.CreateMultipartUploadInput{Bucket: &w.b.bucket, Key: aws.String(w.slot.mpKey(next))}
			in.ServerSideEncryption, in.SSEKMSKeyId = w.b.sse()
			in.StorageClass, in.ACL = w.b.storageClass(), w.b.acl()
			out, err := w.b.client.CreateMultipartUpload(w.ctx, in)
			if err != nil {
				return 0, err
			}
			created = aws.ToString(out.UploadId)
			next.UploadID = created
		}
		if w.nextPart >= rec.Reserved {
			w.window = min(w.window*2, reserveMax)
			next.Reserved = min(w.nextPart+w.window, MaxParts+1)
		}
		h, err := w.slot.publish(w.ctx, w.head, next)
		if err != nil {
			if created != "" {
				w.b.abort(context.Background(), w.slot.mpKey(next), created)
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
func (w *writer) wait() ([]part, error) {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortFunc(w.done, func(a, b part) int { return int(a.N - b.N) })
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
	next := w.head.rec.clone()
	next.Parts = append(next.Parts, parts...)
	next.Tail = nil
	if len(w.buf) > 0 {
		key := w.slot.prefix + "tail." + w.id
		if _, err := w.b.client.PutObject(context.Background(), w.b.putInput(key, w.buf)); err != nil {
			return err
		}
		next.Tail = &tail{Key: key, Size: int64(len(w.buf))}
	}
	next.Reserved = w.nextPart // a closed session uses no more numbers
	old := w.head.rec.Tail
	h, err := w.slot.publish(context.Background(), w.head, next)
	if err != nil {
		if next.Tail != nil {
			w.b.deleteKeys(context.Background(), []string{next.Tail.Key})
		}
		return conflict(err)
	}
	if old != nil {
		w.b.deleteKeys(context.Background(), []string{old.Key})
	}
	w.head, w.base, w.written, w.done = h, next.size(), 0, nil
	return nil
}

// Commit finishes the upload: an upload smaller than a part is one PUT;
// otherwise the buffer goes up as the last part and the multipart upload
// is completed. The slot is sealed first, so of two sessions committing
// (RGW completes one upload twice) only the owner gets there.
func (w *writer) Commit(ctx context.Context) error {
	defer w.release()
	defer w.cancel()
	parts, err := w.wait()
	if err != nil {
		return conflict(err)
	}
	rec := w.head.rec
	if rec.UploadID == "" {
		if err := w.slot.seal(ctx, w.head); err != nil {
			return conflict(err)
		}
		if _, err := w.b.client.PutObject(ctx, w.b.putInput(w.slot.key, w.buf)); err != nil {
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
		rec = w.head.rec
	}
	all := append(slices.Clone(rec.Parts), parts...)
	slices.SortFunc(all, func(a, b part) int { return int(a.N - b.N) })
	if err := w.slot.seal(ctx, w.head); err != nil {
		return conflict(err)
	}
	if rec.Stage != "" {
		err = w.slot.commitStaged(ctx, rec, all)
	} else {
		err = w.b.complete(ctx, w.slot.key, rec.UploadID, all)
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
	h, err := w.slot.latest(ctx)
	if err != nil {
		return err
	}
	if h.n == 0 || h.sealed {
		return nil
	}
	if !h.same(w.head) {
		return conflict(errLost)
	}
	if err := w.slot.seal(ctx, h); err != nil {
		return conflict(err)
	}
	return w.slot.teardown(ctx, h.rec, true)
}

// complete completes a multipart upload. If the answer is lost and the
// SDK's retry finds the upload gone (F5), the object's ETag tells whether
// it was this completion that made it.
func (b *backend) complete(ctx context.Context, key, uploadID string, parts []part) error {
	cps := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cps[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cps},
	})
	if err == nil || !isNotFound(err) {
		return err
	}
	out, herr := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(key)})
	if herr == nil && strings.Trim(aws.ToString(out.ETag), `"`) == multipartETag(parts) {
		return nil
	}
	return err
}

// multipartETag is the ETag S3 gives a completed multipart object: the MD5
// of the parts' MD5s, a dash, and the part count.
func multipartETag(parts []part) string {
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil {
			return ""
		}
		h.Write(sum)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
}

func (b *backend) abort(ctx context.Context, key, uploadID string) {
	b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID)})
}
