package swift

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
)

// chunkSizeFor picks the chunk size of a new upload: the configured one,
// or larger when a size hint needs it to stay within MaxSegments; beyond
// MaxObjectSize it is ErrTooLarge before anything is sent.
func (b *backend) chunkSizeFor(ctx context.Context) (int64, error) {
	cs := b.cfg.ChunkSize
	hint, ok := driver.SizeHint(ctx)
	if !ok {
		return cs, nil
	}
	if hint > MaxObjectSize {
		return 0, driver.Errorf(driver.ErrTooLarge, "declared size %d exceeds %d (%d segments of at most %d bytes)",
			hint, int64(MaxObjectSize), MaxSegments, MaxChunkSize)
	}
	if need := (hint + MaxSegments - 1) / MaxSegments; need > cs {
		cs = min((need+1<<20-1)&^(1<<20-1), MaxChunkSize) // whole MiB
	}
	return cs, nil
}

// Writer opens a session on the upload at p: it publishes a state naming
// itself the owner, which a session still writing on the same upload
// finds at its next Close, Commit or Cancel (ErrConflict). Without append
// a new upload replaces the one in progress and its segments are removed;
// with append the tail of the last Close is read back into the buffer (at
// most one chunk).
func (b *backend) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	cur, err := b.readState(ctx, p)
	if err != nil {
		return nil, err
	}
	w := &writer{b: b, path: p, sid: randomID()}
	var next *state
	if append {
		if cur == nil {
			return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
		}
		next = cur.clone()
	} else {
		cs, err := b.chunkSizeFor(ctx)
		if err != nil {
			return nil, err
		}
		next = &state{Upload: randomID(), ChunkSize: cs}
	}
	if cur != nil {
		next.Gen = cur.Gen + 1
	}
	next.Owner = w.sid
	st, err := b.publish(ctx, p, next)
	if err != nil {
		return nil, conflict(err)
	}
	if cur != nil && cur.Upload != st.Upload {
		// The replaced upload's data; its writer, if any, is fenced.
		if err := b.dropUpload(ctx, p, cur.Upload); err != nil {
			return nil, err
		}
	}
	w.st, w.base = st, st.size()
	w.start()
	if t := st.Tail; t != nil {
		raw, err := b.getObject(ctx, b.cfg.SegmentContainer, t.Name)
		if err != nil {
			return nil, fmt.Errorf("read back the upload's tail: %w", err)
		}
		if int64(len(raw)) != t.Size {
			return nil, fmt.Errorf("the upload's tail %s holds %d bytes, its state says %d", t.Name, len(raw), t.Size)
		}
		w.buf = w.buf[:copy(w.buf[:t.Size], raw)]
	}
	return w, nil
}

// writer is one session. Full chunks go up as segments in the background,
// at most Concurrency buffers of one chunk existing at a time: the memory
// bound.
type writer struct {
	b    *backend
	path string
	sid  string
	st   *state // the state this session published last
	base int64  // durable bytes when the session began

	buf     []byte
	free    chan []byte
	wg      sync.WaitGroup
	mu      sync.Mutex
	done    []segment // segments this session uploaded, not yet published
	err     error
	seq     int
	written int64
	ctx     context.Context
	cancel  context.CancelFunc
}

func (w *writer) start() {
	n := w.b.cfg.Concurrency
	w.free = make(chan []byte, n)
	for range n {
		w.free <- nil // allocated on first use
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.buf = w.take()
}

func (w *writer) take() []byte {
	b := <-w.free
	if b == nil {
		b = make([]byte, 0, w.st.ChunkSize)
	}
	return b[:0]
}

func (w *writer) Size() int64 { return w.base + w.written }

func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.failure(); err != nil {
			return n, err
		}
		c := min(len(p), int(w.st.ChunkSize)-len(w.buf))
		w.buf = append(w.buf, p[:c]...)
		p, n = p[c:], n+c
		w.written += int64(c)
		if int64(len(w.buf)) == w.st.ChunkSize {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush uploads the buffer as this session's next segment, in the
// background.
func (w *writer) flush() error {
	if len(w.st.Segments)+w.seq >= MaxSegments {
		err := driver.Errorf(driver.ErrTooLarge, "the upload needs more than %d segments of %d bytes; declare its size with driver.WithSizeHint or raise ChunkSize",
			MaxSegments, w.st.ChunkSize)
		w.setErr(err)
		return err
	}
	name := fmt.Sprintf("%s%s/%08d", w.b.segmentPrefix(w.st.Upload), w.sid, w.seq)
	w.seq++
	data := w.buf
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		etag, err := w.b.putObject(w.ctx, w.b.cfg.SegmentContainer, name, data, nil)
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("upload segment %s: %w", name, err)
		}
		if err == nil {
			w.done = append(w.done, segment{Name: name, ETag: etag, Size: int64(len(data))})
		}
		w.mu.Unlock()
		w.free <- data
	}()
	w.buf = w.take()
	return nil
}

func (w *writer) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// wait waits for the segments in flight and returns this session's
// unpublished segments in order.
func (w *writer) wait() ([]segment, error) {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortFunc(w.done, func(a, b segment) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return slices.Clone(w.done), w.err
}

// discard removes segments this session uploaded but never published: no
// state names them, so nothing else can need them.
func (w *writer) discard(segs []segment) {
	names := make([]string, len(segs))
	for i, s := range segs {
		names[i] = s.Name
	}
	w.b.deleteObjects(context.Background(), w.b.cfg.SegmentContainer, names)
}

// Close makes every byte written durable (CONTRACT 3): the segments in
// flight finish, the rest of the buffer goes to this session's tail
// object, and a state naming both is published and read back.
func (w *writer) Close() error {
	defer w.cancel()
	segs, err := w.wait()
	if err != nil {
		w.discard(segs)
		return err
	}
	if w.written == 0 {
		return nil // nothing new to make durable
	}
	ctx := context.Background()
	if err := w.b.owned(ctx, w.path, w.st); err != nil {
		w.discard(segs)
		return conflict(err)
	}
	next := w.st.clone()
	next.Segments = append(next.Segments, segs...)
	next.Tail = nil
	mine := slices.Clone(segs)
	if len(w.buf) > 0 {
		name := w.b.segmentPrefix(w.st.Upload) + w.sid + "/tail"
		etag, err := w.b.putObject(ctx, w.b.cfg.SegmentContainer, name, w.buf, nil)
		if err != nil {
			w.discard(segs)
			return err
		}
		next.Tail = &segment{Name: name, ETag: etag, Size: int64(len(w.buf))}
		mine = append(mine, *next.Tail)
	}
	next.Gen++
	next.Owner = w.sid
	old := w.st.Tail
	st, err := w.b.publish(ctx, w.path, next)
	if err != nil {
		// A session that resumed from our state in between has built on
		// our bytes: they are durable. Otherwise another session won; our
		// segments stay for the upload's teardown (a state that read ours
		// before it was replaced may still name them).
		if st != nil && st.references(mine) {
			err = nil
			next = st
		} else {
			return conflict(err)
		}
	}
	if old != nil && (next.Tail == nil || next.Tail.Name != old.Name) {
		w.b.deleteObjects(ctx, w.b.cfg.SegmentContainer, []string{old.Name})
	}
	w.st, w.base, w.written, w.done, w.seq = next, next.size(), 0, nil, 0
	return nil
}

// Commit makes the upload visible at its path: one PUT when it never
// filled a chunk, else the rest of the buffer as the last segment, an
// index of the segments, and a Static Large Object manifest naming them,
// which owns them from then on. The upload's state and leftovers are
// removed afterwards.
func (w *writer) Commit(ctx context.Context) error {
	defer w.cancel()
	segs, err := w.wait()
	if err != nil {
		w.discard(segs)
		return err
	}
	if err := w.b.owned(ctx, w.path, w.st); err != nil {
		w.discard(segs)
		return conflict(err)
	}
	key := w.b.key(w.path)
	previous, err := w.b.uploadOf(ctx, key)
	if err != nil {
		return err
	}
	all := append(slices.Clone(w.st.Segments), segs...)
	if len(all) == 0 {
		if _, err := w.b.putObject(ctx, w.b.cfg.Container, key, w.buf, nil); err != nil {
			return err
		}
	} else {
		if len(w.buf) > 0 {
			if err := w.flush(); err != nil {
				return err
			}
			last, err := w.wait()
			if err != nil {
				w.discard(last)
				return err
			}
			all = append(slices.Clone(w.st.Segments), last...)
		}
		if err := w.b.putManifest(ctx, key, w.st.Upload, all); err != nil {
			return err
		}
	}
	keep := map[string]bool{}
	for _, s := range all {
		keep[s.Name] = true
	}
	if err := w.b.deleteObject(ctx, w.b.cfg.Container, w.b.stateName(w.path)); err != nil && !isNotFound(err) {
		return err
	}
	if err := w.b.removeSegments(ctx, w.st.Upload, keep); err != nil {
		return err
	}
	if previous != w.st.Upload {
		return w.b.dropReplaced(ctx, key, previous)
	}
	return nil
}

// putManifest writes the segment index, then the manifest that owns the
// segments: a reader sees the whole object or the one before.
func (b *backend) putManifest(ctx context.Context, key, upload string, segs []segment) error {
	names := make([]string, len(segs))
	type entry struct {
		Path string `json:"path"`
		ETag string `json:"etag,omitempty"`
		Size int64  `json:"size_bytes"`
	}
	man := make([]entry, len(segs))
	for i, s := range segs {
		names[i] = s.Name
		man[i] = entry{Path: "/" + b.cfg.SegmentContainer + "/" + s.Name, ETag: s.ETag, Size: s.Size}
	}
	idx, _ := json.Marshal(names)
	if _, err := b.putObject(ctx, b.cfg.SegmentContainer, b.segmentPrefix(upload)+"index", idx, nil); err != nil {
		return err
	}
	body, _ := json.Marshal(man)
	return b.call(ctx, swift.RequestOpts{
		Container: b.cfg.Container, ObjectName: key, Operation: "PUT",
		Parameters: url.Values{"multipart-manifest": {"put"}},
		Headers: swift.Headers{"Content-Length": strconv.Itoa(len(body)), "Content-Type": contentType,
			metaUpload: upload},
		Body: bytes.NewReader(body), NoResponse: true,
	})
}

// Cancel removes the upload with its segments. An upload already gone is
// no error; one another session owns is ErrConflict.
func (w *writer) Cancel(ctx context.Context) error {
	w.cancel()
	segs, _ := w.wait()
	cur, err := w.b.readState(ctx, w.path)
	if err != nil {
		return err
	}
	if cur == nil {
		w.discard(segs)
		return nil
	}
	if cur.Nonce != w.st.Nonce {
		w.discard(segs)
		return conflict(errLost)
	}
	return w.b.removeUpload(ctx, w.path, cur)
}
