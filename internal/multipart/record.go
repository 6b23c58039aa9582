package multipart

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/berthio/berth/driver"
)

// Record is one state of an upload. Parts and Tail are the durable bytes:
// only Close changes them; reservations carry them over unchanged.
type Record struct {
	Upload   string `json:"upload"` // identity of the upload
	Writer   string `json:"writer"` // the session that owns it
	Nonce    string `json:"nonce"`  // tells two records of one number apart
	UploadID string `json:"uploadId,omitempty"`
	// Stage is the key of a staged multipart upload (Stager); empty when
	// it lives at the path itself.
	Stage    string `json:"stage,omitempty"`
	PartSize int64  `json:"partSize"`
	Parts    []Part `json:"parts,omitempty"`
	Tail     *Tail  `json:"tail,omitempty"`
	// Reserved bounds the part numbers the owner may use: below it.
	Reserved int32 `json:"reserved"`
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	N    int32  `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// Tail is the object holding the bytes a session closed that did not fill
// a part.
type Tail struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// Size is the upload's durable size: its parts and its tail.
func (r *Record) Size() int64 {
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
func (r *Record) clone() *Record {
	c := *r
	c.Parts = slices.Clone(r.Parts)
	return &c
}

// errLost is a lost race for the head of an upload's chain.
var errLost = errors.New("lost the race for the upload")

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}

// RandomID returns 16 random hex digits: session and upload identities,
// nonces.
func RandomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func versionName(n uint64) string { return fmt.Sprintf("v.%016x", n) }
func sealName(n uint64) string    { return fmt.Sprintf("sealed.%016x", n) }

// Slot is the state prefix of one upload path.
type Slot struct {
	u *Bucket
	// Key is the upload's own key: where Commit makes it visible.
	Key string
	// Prefix is the key prefix of the state, ending in '/'.
	Prefix string
}

// Slot returns the slot of the upload at path p.
func (u *Bucket) Slot(p string) *Slot {
	return &Slot{u: u, Key: u.key(p), Prefix: u.internal("/uploads"+p+"~u") + "/"}
}

// MPKey is the key of rec's multipart upload: its staging key, or the
// path.
func (s *Slot) MPKey(rec *Record) string {
	if rec.Stage != "" {
		return rec.Stage
	}
	return s.Key
}

// StageKey is the staging key of the upload with identity upload: a
// function of the identity, so that a multipart upload created there by a
// session killed before it recorded it is found again by exact key.
func (s *Slot) StageKey(upload string) string { return s.Prefix + "stage." + upload }

// Head is the newest record as one process read it. N == 0 means no
// upload.
type Head struct {
	N      uint64
	ETag   string // of record N, to tell whether it is still the same
	Rec    *Record
	Sealed bool
}

func (h Head) same(o Head) bool { return h.N == o.N && h.ETag == o.ETag }

// Live reports an upload in progress: a head that is not sealed.
func (h Head) Live() bool { return h.N > 0 && !h.Sealed }

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

func (s *Slot) list(ctx context.Context) (listing, error) {
	l := listing{records: map[uint64]string{}, seals: map[uint64]bool{}}
	err := s.u.Store.List(ctx, s.Prefix, func(o Object) error {
		l.keys = append(l.keys, o.Key)
		name := strings.TrimPrefix(o.Key, s.Prefix)
		if hx, ok := strings.CutPrefix(name, "v."); ok {
			if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
				l.records[n] = o.ETag
			}
		}
		if hx, ok := strings.CutPrefix(name, "sealed."); ok {
			if n, err := strconv.ParseUint(hx, 16, 64); err == nil {
				l.seals[n] = true
			}
		}
		return nil
	})
	return l, err
}

// Latest reads the head: a listing, then the newest record.
func (s *Slot) Latest(ctx context.Context) (Head, error) {
	for range 8 {
		l, err := s.list(ctx)
		if err != nil {
			return Head{}, err
		}
		var h Head
		for n := range l.records {
			h.N = max(h.N, n)
		}
		if h.N == 0 {
			return h, nil
		}
		h.ETag, h.Sealed = l.records[h.N], l.sealedFrom(h.N)
		raw, err := s.get(ctx, s.Prefix+versionName(h.N))
		if err != nil {
			if s.u.Store.IsNotFound(err) {
				continue // withdrawn by a publisher that lost; look again
			}
			return Head{}, err
		}
		h.Rec = &Record{}
		if err := json.Unmarshal(raw, h.Rec); err != nil {
			return Head{}, fmt.Errorf("upload record %s%s: %w", s.Prefix, versionName(h.N), err)
		}
		return h, nil
	}
	return Head{}, errLost
}

func (s *Slot) get(ctx context.Context, key string) ([]byte, error) {
	r, _, err := s.u.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// publish writes rec as the record after h. It returns errLost if another
// process published after h, sealed h, or tore the chain down and began a
// new one. On success it returns the new head.
func (s *Slot) publish(ctx context.Context, h Head, rec *Record) (Head, error) {
	rec.Nonce = RandomID()
	data, err := json.Marshal(rec)
	if err != nil {
		return Head{}, err
	}
	key := s.Prefix + versionName(h.N+1)
	won, etag, err := s.u.PutIfAbsent(ctx, key, data)
	if err != nil {
		return Head{}, err
	}
	if !won {
		return Head{}, errLost
	}
	if h.N > 0 {
		// Record h.N must still be the one we read, and not sealed.
		l, err := s.list(ctx)
		if err != nil {
			return Head{}, err
		}
		if l.records[h.N] != h.ETag || l.sealedFrom(h.N) {
			s.u.Store.Delete(ctx, key)
			return Head{}, errLost
		}
	}
	return Head{N: h.N + 1, ETag: etag, Rec: rec}, nil
}

// Seal ends the upload on head h, then checks h is still the head; if it
// is not, the seal is withdrawn and the error is ErrConflict.
func (s *Slot) Seal(ctx context.Context, h Head) error { return conflict(s.seal(ctx, h)) }

// seal is Seal reporting a lost race as errLost.
func (s *Slot) seal(ctx context.Context, h Head) error {
	key := s.Prefix + sealName(h.N)
	won, _, err := s.u.PutIfAbsent(ctx, key, []byte(RandomID()))
	if err != nil {
		return err
	}
	if !won {
		return errLost
	}
	l, err := s.list(ctx)
	if err == nil && l.records[h.N] != h.ETag {
		err = errLost // the chain was torn down and begun anew
	}
	for n := range l.records {
		if err == nil && n > h.N {
			err = errLost // a newer record
		}
	}
	if err != nil {
		s.u.Store.Delete(ctx, key)
	}
	return err
}

// teardown removes a sealed slot: rec's multipart upload if abortRec (it
// was not completed), then every object, the seal last so that the upload
// looks ended until the end. Multipart uploads of the key or of the
// slot's staging keys that no record names are aborted too: one whose
// create answer was lost, so that a retry made another (F5), or whose
// creator was killed before it recorded it (F16). A staging object that a
// Commit killed between completion and copy left is among the slot's
// objects. While the slot is sealed no session can start another upload.
// rec may be nil (no record left).
func (s *Slot) teardown(ctx context.Context, rec *Record, abortRec bool) error {
	if rec != nil && abortRec && rec.UploadID != "" {
		s.u.Store.Abort(ctx, s.MPKey(rec), rec.UploadID)
	}
	if err := s.u.AbortUnrecorded(ctx, s.Key); err != nil {
		return err
	}
	if st := s.u.stager(); (rec != nil && rec.Stage != "") || st != nil && st.MayStage() {
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
		name := strings.TrimPrefix(k, s.Prefix)
		if strings.HasPrefix(name, "sealed.") || name == versionName(1) {
			last = append(last, k)
		} else {
			first = append(first, k)
		}
	}
	if err := s.u.Store.DeleteKeys(ctx, first); err != nil {
		return err
	}
	return s.u.Store.DeleteKeys(ctx, last)
}

// abortStages aborts the multipart uploads at the slot's staging keys:
// every one under the prefix stage. (RGW lists by real prefix), and those
// at rec's own staging key (MinIO lists an exact key only).
func (s *Slot) abortStages(ctx context.Context, rec *Record) error {
	prefix := s.Prefix + "stage."
	match := func(k string) bool { return strings.HasPrefix(k, prefix) }
	if err := s.u.abortUploads(ctx, prefix, match); err != nil {
		return err
	}
	if rec == nil || rec.Upload == "" {
		return nil
	}
	return s.u.AbortUnrecorded(ctx, s.StageKey(rec.Upload))
}

// CompletedETag is the ETag S3 and OSS give a completed multipart object:
// the MD5 of the parts' MD5s (their ETags), a dash, and the part count,
// in lower-case hex (OSS answers in upper case). It is "" if an ETag is
// not an MD5.
func CompletedETag(parts []Part) string {
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
