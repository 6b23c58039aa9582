//go:build cgo

package rados

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/berthio/berth/driver"
)

// writer is one session of an upload. It fills a chunk buffer and hands
// full chunks to a chunkWriter; Close writes the partial last chunk too
// and publishes the new state; Commit publishes a file record.
type writer struct {
	b        *backend
	ctx      context.Context
	p        string
	oid, key string
	session  string

	raw     []byte // the entry's value as this session last wrote it: its fence
	pubRuns []run  // the runs raw names: chunks no longer this session's alone
	cs      int64
	runs    []run
	size    int64

	cw       *chunkWriter
	cur      []byte // bytes [idx*cs, idx*cs+len(cur)) not yet written
	idx      int64
	dirty    bool     // cur holds bytes not in any chunk object
	replaced []string // chunk objects the next publish stops naming
	err      error
	sealed   []byte // the sealed value, once Commit sealed the entry

	// The entry's value and runs before Commit sealed it, to put back if
	// the Commit fails before its file record could be published.
	presealRaw  []byte
	presealRuns []run
}

var _ driver.FileWriter = (*writer)(nil)

// start sets the session up from the state it took over, reading the
// partial last chunk back into the buffer.
func (w *writer) start(rec *uploadRec) error {
	w.cs, w.runs, w.pubRuns, w.size = rec.ChunkSize, slices.Clone(rec.Runs), rec.Runs, rec.Size
	w.cw = newChunkWriter(w.b, w.session, w.cs)
	w.idx = w.size / w.cs
	n := w.size - w.idx*w.cs
	// The first buffer starts small and grows: most uploads are small.
	w.cur = w.cw.adopt(make([]byte, 0, min(w.cs, max(n, 64<<10))))
	if n == 0 {
		return nil
	}
	oid, ok := chunkAt(w.runs, w.idx)
	if !ok {
		return driver.Errorf(driver.ErrConflict, "the upload at %s changed while it was opened", w.p)
	}
	w.cur = w.cur[:n]
	var got int
	err := faulty(oid, false, func() (err error) { got, err = w.b.io.Read(oid, w.cur, 0); return err })
	if err == nil && int64(got) != n {
		err = errShortChunk(oid, got, n)
	}
	var short *shortChunkError
	if isNotFound(err) || errors.As(err, &short) {
		// Superseded and deleted by a newer session: this one is fenced.
		return driver.Errorf(driver.ErrConflict, "the upload at %s was taken over while it was opened: %v", w.p, err)
	}
	return err // a transport error (a timeout) is no conflict
}

func (w *writer) Size() int64 { return w.size }

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	done := 0
	for len(p) > 0 {
		n := min(int(w.cs)-len(w.cur), len(p))
		w.cur = append(w.cur, p[:n]...)
		p, done, w.size, w.dirty = p[n:], done+n, w.size+int64(n), true
		if int64(len(w.cur)) == w.cs {
			if err := w.flush(); err != nil {
				w.err = err
				return done, err
			}
		}
	}
	return done, nil
}

// flush hands the buffer to the chunk writer as chunk idx: full, or the
// partial last one at Close and Commit.
func (w *writer) flush() error {
	if !w.dirty {
		return nil
	}
	w.addRun(w.idx)
	w.cw.put(w.ctx, w.idx, w.cur)
	w.dirty = false
	full := int64(len(w.cur)) == w.cs
	w.cur = nil
	if !full {
		return nil
	}
	w.idx++
	buf, err := w.cw.buffer()
	w.cur = buf
	return err
}

// addRun records that this session writes chunk idx, in place of the
// previous session's partial chunk there, if any.
func (w *writer) addRun(idx int64) {
	if n := len(w.runs); n > 0 {
		last := &w.runs[n-1]
		if last.Gen != w.session && last.First+last.N-1 == idx {
			w.replaced = append(w.replaced, chunkObj(last.Gen, idx))
			if last.N--; last.N == 0 {
				w.runs = w.runs[:n-1]
			}
		}
	}
	if n := len(w.runs); n > 0 && w.runs[n-1].Gen == w.session && w.runs[n-1].First+w.runs[n-1].N == idx {
		w.runs[n-1].N++
		return
	}
	w.runs = append(w.runs, run{Gen: w.session, First: idx, N: 1})
}

// settle writes what is buffered and waits for every chunk write.
func (w *writer) settle() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.cw.wait()
}

// publish replaces the entry's value with the session's state (sealed
// for Commit), if the session still owns it.
func (w *writer) publish(sealed bool) ([]byte, error) {
	rec := uploadRec{ID: w.id(), Owner: w.session, Sealed: sealed, Size: w.size, ChunkSize: w.cs,
		Runs: w.runs, MTime: time.Now().UnixNano(), Nonce: newID()}
	val := encode(&rec)
	if err := w.b.casEntry(w.oid, w.key, w.raw, val); err != nil {
		if err == errLost {
			return nil, w.fenced()
		}
		return nil, err
	}
	w.raw, w.pubRuns = val, slices.Clone(w.runs)
	if !sealed { // else Commit deletes them once it published the file
		w.dropReplaced()
	}
	return val, nil
}

// dropReplaced deletes the chunks that the published state names no
// more: what a failure leaves is Sweep's, and the publish stands.
func (w *writer) dropReplaced() {
	w.b.deleteChunks(w.replaced)
	w.replaced = nil
}

func (w *writer) id() string {
	if rec, err := decodeUpload(w.raw); err == nil {
		return rec.ID
	}
	return ""
}

// fenced cleans up after a session that lost its upload: the chunks it
// wrote since its last publish are nobody's.
func (w *writer) fenced() error {
	w.discardOwn()
	return driver.Errorf(driver.ErrConflict,
		"the upload at %s was taken over by another writer, committed, cancelled or deleted", w.p)
}

// discardOwn deletes the chunks this session wrote and did not publish.
func (w *writer) discardOwn() {
	w.cw.release()
	var own []string
	for _, n := range w.cw.names() {
		_, idx, _ := parseChunkObj(n)
		if pub, ok := chunkAt(w.pubRuns, idx); !ok || pub != n {
			own = append(own, n)
		}
	}
	w.b.deleteChunks(own)
}

func (w *writer) Close() error {
	defer w.cw.release()
	if err := w.settle(); err != nil {
		w.discardOwn()
		return err
	}
	_, err := w.publish(false)
	return err
}

func (w *writer) Commit(ctx context.Context) error {
	if w.sealed == nil {
		if err := w.settle(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, runs := w.raw, w.pubRuns
		val, err := w.publish(true)
		if err != nil {
			return err
		}
		w.sealed, w.presealRaw, w.presealRuns = val, raw, runs
	}
	rec := &fileRec{Size: w.size, MTime: time.Now().UnixNano(), Nonce: newID()}
	if w.size > 0 {
		rec.ChunkSize, rec.Runs = w.cs, w.runs
	}
	old, err := w.b.replaceFile(context.Background(), w.p, encode(rec))
	if err != nil {
		if !isUncertain(err) {
			w.unseal()
		}
		return err
	}
	w.dropReplaced()
	w.cw.release()
	dir, name := split(w.p)
	if err := w.b.link(treeFiles, dir); err != nil {
		return err
	}
	if _, err := w.b.removeUpload(dir, name, w.sealed); err != nil && err != errLost {
		return err
	}
	w.b.dropFile(old, rec.Runs)
	return nil
}

// unseal puts the upload back as it was before Commit sealed it (its
// size and runs as the last Close or Writer left them, the chunks the seal
// stopped naming not yet deleted), after a Commit that failed before its
// file record could have been published: the upload resumes at the size it
// had, or this writer commits again, instead of it being lost. If this
// fails too, the upload stays sealed until Sweep removes it.
func (w *writer) unseal() {
	rec, err := decodeUpload(w.presealRaw)
	if err != nil {
		return
	}
	rec.Nonce, rec.MTime = newID(), time.Now().UnixNano()
	val := encode(rec)
	if err := w.b.casEntry(w.oid, w.key, w.sealed, val); err != nil {
		return
	}
	w.raw, w.pubRuns, w.sealed = val, w.presealRuns, nil
}

func (w *writer) Cancel(ctx context.Context) error {
	w.cw.wait()
	dir, name := split(w.p)
	if w.sealed != nil {
		return driver.Errorf(driver.ErrConflict, "the upload at %s is being committed", w.p)
	}
	removed, err := w.b.removeUpload(dir, name, w.raw)
	if err == errLost || (err == nil && !removed) {
		return w.fenced()
	}
	if err != nil {
		return err
	}
	w.pubRuns = nil // removeUpload deleted what they named
	w.discardOwn()
	return nil
}
