package swift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/berthio/berth/driver"
)

// An upload's state is one small JSON object, .berth/uploads/<path>~u/state
// in the data container, read and written whole (a Swift PUT replaces an
// object atomically). It pins the upload's identity and every durable
// byte: the segments written so far and the short tail of the last Close.
// Nothing is found by listing.
//
// Segments live in the segment container under
// .berth/segments/<upload>/<session>/<n>, the tail of a Close under
// .berth/segments/<upload>/<session>/tail: every writer session writes
// under a name of its own, so two sessions can never overwrite each
// other's bytes, and a state names the segments of one chain of sessions.
type state struct {
	Upload    string    `json:"upload"` // the upload's identity; names its segment prefix
	Gen       uint64    `json:"gen"`
	Owner     string    `json:"owner"` // the session that published it
	Nonce     string    `json:"nonce"` // tells two publications apart
	ChunkSize int64     `json:"chunkSize"`
	Segments  []segment `json:"segments,omitempty"`
	Tail      *segment  `json:"tail,omitempty"`
}

type segment struct {
	Name string `json:"name"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

func (s *state) size() int64 {
	var n int64
	for _, g := range s.Segments {
		n += g.Size
	}
	if s.Tail != nil {
		n += s.Tail.Size
	}
	return n
}

func (s *state) clone() *state {
	c := *s
	c.Segments = slices.Clone(s.Segments)
	return &c
}

// references reports whether s names any of the segments.
func (s *state) references(segs []segment) bool {
	for _, g := range segs {
		if s.Tail != nil && s.Tail.Name == g.Name {
			return true
		}
		for _, h := range s.Segments {
			if h.Name == g.Name {
				return true
			}
		}
	}
	return false
}

// errLost: another session published in between (read back or checked).
var errLost = errors.New("lost the upload to another writer")

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}

const stateSuffix = "~u/state"

func (b *backend) stateName(p string) string { return b.internal("uploads" + p + stateSuffix) }

// uploadPath is the upload path of a state object's name, or "".
func (b *backend) uploadPath(name string) string {
	rest, ok := strings.CutPrefix(name, b.internal("uploads"))
	if !ok || !strings.HasSuffix(rest, stateSuffix) {
		return ""
	}
	return strings.TrimSuffix(rest, stateSuffix)
}

func (b *backend) segmentPrefix(upload string) string { return b.internal("segments/"+upload) + "/" }

// readState returns the upload at p, nil when there is none.
func (b *backend) readState(ctx context.Context, p string) (*state, error) {
	raw, err := b.getObject(ctx, b.cfg.Container, b.stateName(p))
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st := &state{}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("upload state of %s: %w", p, err)
	}
	return st, nil
}

// publish writes st as the state of p and reads it back: errLost when
// another session's state is there instead (it wrote after us). Swift has
// no conditional write that a racing writer cannot also win
// (BACKENDS.md), so this detects what a read-back can and no more.
func (b *backend) publish(ctx context.Context, p string, st *state) (*state, error) {
	st.Nonce = randomID()
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if _, err := b.putObject(ctx, b.cfg.Container, b.stateName(p), data, nil); err != nil {
		return nil, err
	}
	cur, err := b.readState(ctx, p)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.Nonce != st.Nonce {
		return cur, errLost
	}
	return st, nil
}

// owned checks that st, published by this session, is still the state
// of p: errLost when another session published since, or the upload was
// committed, cancelled or deleted.
func (b *backend) owned(ctx context.Context, p string, st *state) error {
	cur, err := b.readState(ctx, p)
	if err != nil {
		return err
	}
	if cur == nil || cur.Nonce != st.Nonce {
		return errLost
	}
	return nil
}

// removeUpload ends the upload st at p: its state first (so that its
// writers find it gone and fail with ErrConflict), then every segment and
// tail under its prefix: those of an upload in progress belong to no
// committed object.
func (b *backend) removeUpload(ctx context.Context, p string, st *state) error {
	if err := b.deleteObject(ctx, b.cfg.Container, b.stateName(p)); err != nil && !isNotFound(err) {
		return err
	}
	return b.dropUpload(ctx, p, st.Upload)
}

// dropUpload removes the segments of an upload at p that is no longer in
// progress, unless a Commit racing us has just made them the object at p:
// then that manifest owns them.
func (b *backend) dropUpload(ctx context.Context, p, upload string) error {
	owner, err := b.uploadOf(ctx, b.key(p))
	if err != nil || owner == upload {
		return err
	}
	return b.removeSegments(ctx, upload, nil)
}

// removeSegments deletes the segments of upload under its prefix, except
// those named in keep: the names in its index, if any, then whatever a
// listing of the prefix shows (orphans of sessions that lost a race).
func (b *backend) removeSegments(ctx context.Context, upload string, keep map[string]bool) error {
	if upload == "" || strings.ContainsAny(upload, "/.") {
		return nil
	}
	prefix := b.segmentPrefix(upload)
	var names []string
	if keep == nil {
		if raw, err := b.getObject(ctx, b.cfg.SegmentContainer, prefix+"index"); err == nil {
			var idx []string
			if json.Unmarshal(raw, &idx) == nil {
				names = append(names, idx...)
			}
		} else if !isNotFound(err) {
			return err
		}
	}
	objs, err := b.listObjects(ctx, b.cfg.SegmentContainer, prefix, 0)
	if err != nil {
		return err
	}
	for _, o := range objs {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	names = slices.DeleteFunc(names, func(n string) bool { return keep[n] || n == prefix+"index" })
	if err := b.deleteObjects(ctx, b.cfg.SegmentContainer, names); err != nil {
		return err
	}
	if keep == nil {
		return b.deleteObjects(ctx, b.cfg.SegmentContainer, []string{prefix + "index"})
	}
	return nil
}
