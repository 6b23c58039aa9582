package oss

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
)

// An upload's state lives in the bucket, never in a process, under the slot
// prefix .berth/uploads/<path>~u/ (under the root directory):
//
//   - v.<n> (16 hex digits): a chain of immutable JSON records. Each is
//     written with x-oss-forbid-overwrite: true, OSS's one conditional
//     write, so that of several writers racing to publish record n+1 at
//     most one succeeds: publishing is a compare-and-swap on the head.
//     The newest record is the state.
//   - tail.<session>: the bytes a session closed that did not fill a part.
//   - sealed.<n>: Commit and Cancel end the chain on head n, again with
//     forbid-overwrite; a publisher on head n checks for it afterwards.
//
// The data is one multipart upload per upload, its id pinned in the
// records (never found again with ListMultipartUploads). Part numbers are
// reserved in the records: a session uploads only numbers below the
// Reserved of a record it published itself, and a new session starts above
// every earlier reservation, so a fenced session still uploading can never
// overwrite a part of the session that took over.

// record is one state of an upload. Parts and Tail are the durable bytes:
// only Close changes them; reservations carry them over unchanged.
type record struct {
	Upload   string `json:"upload"` // identity of the upload
	Writer   string `json:"writer"` // the session that owns it
	Nonce    string `json:"nonce"`  // tells two records of one number apart
	UploadID string `json:"uploadId,omitempty"`
	PartSize int64  `json:"partSize"`
	Parts    []part `json:"parts,omitempty"`
	Tail     *tail  `json:"tail,omitempty"`
	// Reserved bounds the part numbers the owner may use: below it.
	Reserved int `json:"reserved"`
}

type part struct {
	N    int    `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

type tail struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

func (r *record) size() int64 {
	var n int64
	for _, p := range r.Parts {
		n += p.Size
	}
	if r.Tail != nil {
		n += r.Tail.Size
	}
	return n
}

// clone copies r for the next record.
func (r *record) clone() *record {
	c := *r
	c.Parts = slices.Clone(r.Parts)
	return &c
}

var errLost = errors.New("lost the race for the upload")

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func versionName(n uint64) string { return fmt.Sprintf("v.%016x", n) }
func sealName(n uint64) string    { return fmt.Sprintf("sealed.%016x", n) }

// normETag makes ETags from listings and from response headers comparable.
func normETag(e string) string { return strings.ToUpper(strings.Trim(e, `"`)) }

// slot is the state prefix of one upload path.
type slot struct {
	b      *backend
	key    string // the upload's own key: where Commit makes it visible
	prefix string // key prefix of the state, ending in '/'
}

func (b *backend) slot(p string) *slot {
	return &slot{b: b, key: b.key(p), prefix: b.key(driver.InternalPrefix+"/uploads"+p+"~u") + "/"}
}

// head is the newest record as one process read it.
type head struct {
	n      uint64
	etag   string // of record n, to tell whether it is still the same
	rec    *record
	sealed bool
}

func (h head) same(o head) bool { return h.n == o.n && h.etag == o.etag }

// listing is what a slot holds: record numbers with their ETags, seals,
// every key.
type listing struct {
	records map[uint64]string
	seals   map[uint64]bool
	keys    []string
}

// sealedFrom reports a seal on record n or a later one: a teardown cut
// short leaves the seal of a later head next to the first records, and
// the upload must not come back at the state of an early record.
func (l listing) sealedFrom(n uint64) bool {
	for m := range l.seals {
		if m >= n {
			return true
		}
	}
	return false
}

func (s *slot) list(ctx context.Context) (listing, error) {
	l := listing{records: map[uint64]string{}, seals: map[uint64]bool{}}
	err := s.b.eachPage(ctx, s.prefix, "", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			l.keys = append(l.keys, o.Key)
			name := strings.TrimPrefix(o.Key, s.prefix)
			if hx, ok := strings.CutPrefix(name, "v."); ok {
				if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
					l.records[n] = normETag(o.ETag)
				}
			}
			if hx, ok := strings.CutPrefix(name, "sealed."); ok {
				if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
					l.seals[n] = true
				}
			}
		}
		return nil
	})
	return l, err
}

// latest reads the head: a listing, then the newest record. n == 0 means no
// upload.
func (s *slot) latest(ctx context.Context) (head, error) {
	for range 8 {
		l, err := s.list(ctx)
		if err != nil {
			return head{}, err
		}
		var h head
		for n := range l.records {
			h.n = max(h.n, n)
		}
		if h.n == 0 {
			return h, nil
		}
		h.etag, h.sealed = l.records[h.n], l.sealedFrom(h.n)
		raw, err := s.b.get(ctx, s.prefix+versionName(h.n))
		if err != nil {
			if isNotFound(err) {
				continue // withdrawn by a publisher that lost; look again
			}
			return head{}, err
		}
		h.rec = &record{}
		if err := json.Unmarshal(raw, h.rec); err != nil {
			return head{}, fmt.Errorf("upload record %s%s: %w", s.prefix, versionName(h.n), err)
		}
		return h, nil
	}
	return head{}, errLost
}

// putIfAbsent creates key with body unless it exists, with
// x-oss-forbid-overwrite: true. After a refusal, a 5xx or a lost answer,
// the object is read back and compared (every body carries a nonce), so
// that a write of our own whose answer was lost is not taken for someone
// else's (F5). It reports whether the object now holds body, and its ETag.
func (b *backend) putIfAbsent(ctx context.Context, key string, body []byte) (bool, string, error) {
	etag, err := b.put(ctx, key, body, true)
	if err == nil {
		return true, normETag(etag), nil
	}
	if !isAlreadyExists(err) && !isServerError(err) && httpStatus(err) != 0 {
		return false, "", err
	}
	if ctx.Err() != nil {
		return false, "", err
	}
	var hdr http.Header
	r, gerr := b.bucket.GetObject(key, opts(ctx, alioss.GetResponseHeader(&hdr))...)
	if gerr != nil {
		if isNotFound(gerr) && !isAlreadyExists(err) {
			return false, "", err // the write failed and left nothing
		}
		return false, "", gerr
	}
	defer r.Close()
	cur, rerr := io.ReadAll(r)
	if rerr != nil {
		return false, "", rerr
	}
	return bytes.Equal(cur, body), normETag(hdr.Get("ETag")), nil
}

// publish writes rec as the record after h. It returns errLost if another
// process published after h, sealed h, or tore the chain down and began a
// new one. On success it returns the new head.
func (s *slot) publish(ctx context.Context, h head, rec *record) (head, error) {
	rec.Nonce = randomID()
	data, err := json.Marshal(rec)
	if err != nil {
		return head{}, err
	}
	key := s.prefix + versionName(h.n+1)
	won, etag, err := s.b.putIfAbsent(ctx, key, data)
	if err != nil {
		return head{}, err
	}
	if !won {
		return head{}, errLost
	}
	if h.n > 0 {
		// Record h.n must still be the one we read, and not sealed.
		l, err := s.list(ctx)
		if err != nil {
			return head{}, err
		}
		if l.records[h.n] != h.etag || l.sealedFrom(h.n) {
			s.b.bucket.DeleteObject(key, opts(ctx)...)
			return head{}, errLost
		}
	}
	return head{n: h.n + 1, etag: etag, rec: rec}, nil
}

// seal ends the upload on head h, then checks h is still the head; on
// errLost the seal is withdrawn.
func (s *slot) seal(ctx context.Context, h head) error {
	key := s.prefix + sealName(h.n)
	won, _, err := s.b.putIfAbsent(ctx, key, []byte(randomID()))
	if err != nil {
		return err
	}
	if !won {
		return errLost
	}
	l, err := s.list(ctx)
	if err == nil && l.records[h.n] != h.etag {
		err = errLost // the chain was torn down and begun anew
	}
	for n := range l.records {
		if err == nil && n > h.n {
			err = errLost // a newer record
		}
	}
	if err != nil {
		s.b.bucket.DeleteObject(key, opts(ctx)...)
	}
	return err
}

// teardown removes a sealed slot: the multipart upload if it was not
// completed, the key's multipart uploads no record names (a creator
// killed before it recorded one, F16; while the slot is sealed no session
// starts another), then every object, the seals and record 1 last.
func (s *slot) teardown(ctx context.Context, abortID string) error {
	if abortID != "" {
		s.b.abort(ctx, s.key, abortID)
	}
	if err := s.b.abortUnrecorded(ctx, s.key); err != nil {
		return err
	}
	l, err := s.list(ctx)
	if err != nil {
		return err
	}
	// While record 1 exists no new upload can take the slot, so a Writer
	// that creates record 1 finds the slot empty of everything that counts.
	var first, last []string
	for _, k := range l.keys {
		name := strings.TrimPrefix(k, s.prefix)
		if strings.HasPrefix(name, "sealed.") || name == versionName(1) {
			last = append(last, k)
		} else {
			first = append(first, k)
		}
	}
	if err := s.b.deleteKeys(ctx, first); err != nil {
		return err
	}
	return s.b.deleteKeys(ctx, last)
}

// abortUnrecorded aborts every multipart upload of exactly key. OSS's
// ListMultipartUploads takes a real prefix.
func (b *backend) abortUnrecorded(ctx context.Context, key string) error {
	return b.eachUpload(ctx, key, func(u alioss.UncompletedUpload) error {
		if u.Key == key {
			b.abort(ctx, key, u.UploadID)
		}
		return nil
	})
}

// eachUpload runs fn on every multipart upload whose key starts with
// prefix.
func (b *backend) eachUpload(ctx context.Context, prefix string, fn func(alioss.UncompletedUpload) error) error {
	km, im := "", ""
	for {
		o := opts(ctx, alioss.Prefix(prefix), alioss.MaxUploads(1000))
		if km != "" {
			o = append(o, alioss.KeyMarker(km), alioss.UploadIDMarker(im))
		}
		out, err := b.bucket.ListMultipartUploads(o...)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			if err := fn(u); err != nil {
				return err
			}
		}
		if !out.IsTruncated || out.NextKeyMarker == "" {
			return nil
		}
		km, im = out.NextKeyMarker, out.NextUploadIDMarker
	}
}

func (b *backend) abort(ctx context.Context, key, uploadID string) {
	b.bucket.AbortMultipartUpload(alioss.InitiateMultipartUploadResult{Bucket: b.cfg.Bucket, Key: key, UploadID: uploadID}, opts(ctx)...)
}

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}
