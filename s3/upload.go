package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berthio/berth/driver"
)

// An upload's state lives in the bucket, never in a process, under the slot
// prefix .berth/uploads/<path>~u/ (under the root directory):
//
//   - v.<n> (16 hex digits): a chain of immutable JSON records. Each is
//     written with PUT If-None-Match: *, which both MinIO and RGW let
//     exactly one of several racing writers win: publishing record n+1 is
//     a compare-and-swap on the head. The newest record is the state.
//   - tail.<session>: the bytes a session closed that did not fill a part.
//   - sealed.<n>: Commit and Cancel end the chain on head n, again with
//     If-None-Match; a publisher on head n checks for it afterwards.
//   - stage.<upload>: on servers that refuse to complete a multipart
//     upload with a subset of its parts (Ceph RGW), the multipart upload
//     lives at this key instead of the path, and Commit completes it here
//     before copying the recorded bytes to the path (stage.go).
//
// The data is one multipart upload per upload, its id pinned in the
// records (never found again with ListMultipartUploads). Part numbers are
// reserved in the records: a session uploads only numbers below the
// Reserved of a record it published itself, and a new session starts above
// every earlier reservation, so a fenced session still uploading can never
// overwrite a part of the session that took over. Extending a reservation
// is a publish, so a fenced session learns it is fenced at its next part.

// record is one state of an upload. Parts and Tail are the durable bytes:
// only Close changes them; reservations carry them over unchanged.
type record struct {
	Upload   string `json:"upload"` // identity of the upload
	Writer   string `json:"writer"` // the session that owns it
	Nonce    string `json:"nonce"`  // tells two records of one number apart
	UploadID string `json:"uploadId,omitempty"`
	// Stage is the key of a staged multipart upload (stage.go); empty
	// when it lives at the path itself.
	Stage    string `json:"stage,omitempty"`
	PartSize int64  `json:"partSize"`
	Parts    []part `json:"parts,omitempty"`
	Tail     *tail  `json:"tail,omitempty"`
	// Reserved bounds the part numbers the owner may use: below it.
	Reserved int32 `json:"reserved"`
}

type part struct {
	N    int32  `json:"n"`
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

var (
	errLost = errors.New("lost the race for the upload")
)

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func versionName(n uint64) string { return fmt.Sprintf("v.%016x", n) }
func sealName(n uint64) string    { return fmt.Sprintf("sealed.%016x", n) }

// slot is the state prefix of one upload path.
type slot struct {
	b      *backend
	key    string // the upload's own key: where Commit makes it visible
	prefix string // key prefix of the state, ending in '/'
}

func (b *backend) slot(p string) *slot {
	return &slot{b: b, key: b.key(p), prefix: b.key(driver.InternalPrefix+"/uploads"+p+"~u") + "/"}
}

// mpKey is the key of rec's multipart upload: its staging key, or the
// path.
func (s *slot) mpKey(rec *record) string {
	if rec.Stage != "" {
		return rec.Stage
	}
	return s.key
}

// stageKey is the staging key of the upload with identity upload: a
// function of the identity, so that a multipart upload created there by a
// session killed before it recorded it is found again by exact key.
func (s *slot) stageKey(upload string) string { return s.prefix + "stage." + upload }

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

// sealedFrom reports a seal on record n or a later one. A teardown that
// was cut short (its process killed) leaves the seal of a later head next
// to the first records: the upload still ended, and must not come back at
// the state of an early record.
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
	pages := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.bucket, Prefix: aws.String(s.prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return l, err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			l.keys = append(l.keys, k)
			name := strings.TrimPrefix(k, s.prefix)
			if hx, ok := strings.CutPrefix(name, "v."); ok {
				if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
					l.records[n] = aws.ToString(o.ETag)
				}
			}
			if hx, ok := strings.CutPrefix(name, "sealed."); ok {
				if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
					l.seals[n] = true
				}
			}
		}
	}
	return l, nil
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
		out, err := s.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.b.bucket, Key: aws.String(s.prefix + versionName(h.n))})
		if err != nil {
			if isNotFound(err) {
				continue // withdrawn by a publisher that lost; look again
			}
			return head{}, err
		}
		raw, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
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

// putIfAbsent creates key with body unless it exists. A retried request
// whose first attempt did succeed gets 412 (F5): the body is read back and
// compared, so our own write is not taken for someone else's. It reports
// whether the object now holds body, and its ETag.
func (b *backend) putIfAbsent(ctx context.Context, key string, body []byte) (bool, string, error) {
	in := b.putInput(key, body)
	in.IfNoneMatch = aws.String("*")
	out, err := b.client.PutObject(ctx, in)
	if err == nil {
		return true, aws.ToString(out.ETag), nil
	}
	if !isPreconditionFailed(err) && !isServerError(err) {
		return false, "", err
	}
	got, gerr := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(key)})
	if gerr != nil {
		if isNotFound(gerr) && isServerError(err) {
			return false, "", err // the server failed and wrote nothing
		}
		return false, "", gerr
	}
	defer got.Body.Close()
	cur, rerr := io.ReadAll(got.Body)
	if rerr != nil {
		return false, "", rerr
	}
	return bytes.Equal(cur, body), aws.ToString(got.ETag), nil
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
			s.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.b.bucket, Key: aws.String(key)})
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
		s.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.b.bucket, Key: aws.String(key)})
	}
	return err
}

// teardown removes a sealed slot: rec's multipart upload if abortRec
// (it was not completed), then every object, the seal last so that the
// upload looks ended until the end. Multipart uploads of the key or of
// the slot's staging keys that no record names are aborted too: one whose
// CreateMultipartUpload answer was lost, so that the SDK's retry made
// another (F5), or whose creator was killed before it recorded it (F16).
// A staging object that a Commit killed between completion and copy left
// is among the slot's objects. While the slot is sealed no session can
// start another upload. rec may be nil (no record left).
func (s *slot) teardown(ctx context.Context, rec *record, abortRec bool) error {
	if rec != nil && abortRec && rec.UploadID != "" {
		s.b.abort(ctx, s.mpKey(rec), rec.UploadID)
	}
	if err := s.b.abortUnrecorded(ctx, s.key); err != nil {
		return err
	}
	if (rec != nil && rec.Stage != "") || s.b.mayStage() {
		if err := s.abortStages(ctx, rec); err != nil {
			return err
		}
	}
	l, err := s.list(ctx)
	if err != nil {
		return err
	}
	// The seals and record 1 go last: while record 1 exists no new upload
	// can take the slot, so a Writer that creates record 1 finds the slot
	// empty of everything that counts.
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

// abortUnrecorded aborts every multipart upload of exactly key. MinIO
// answers ListMultipartUploads for an exact key only, RGW for a real
// prefix: both find the key's own.
func (b *backend) abortUnrecorded(ctx context.Context, key string) error {
	return b.abortUploads(ctx, key, func(k string) bool { return k == key })
}

// abortUploads aborts the multipart uploads listed under prefix whose key
// match accepts.
func (b *backend) abortUploads(ctx context.Context, prefix string, match func(key string) bool) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: aws.String(prefix)}
	for {
		out, err := b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			if key := aws.ToString(u.Key); match(key) {
				b.abort(ctx, key, aws.ToString(u.UploadId))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}

// isServerError reports a 5xx answer. RGW answers some losing conditional
// writes with 500 (BACKENDS.md), so after one the outcome is read back.
func isServerError(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}
