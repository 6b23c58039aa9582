package multipart

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/objkey"
)

// Store is what a driver gives the protocol: its SDK's object and
// multipart-upload calls, on full object keys of its bucket. Errors are
// the SDK's own; the protocol tells them apart only through IsNotFound,
// IsPreconditionFailed and CreateFailed.
type Store interface {
	// Put writes body at key, replacing any object there, with the
	// driver's write settings (encryption, storage class, ACL).
	Put(ctx context.Context, key string, body []byte) error
	// Create writes body at key only if no object is there (S3's
	// If-None-Match: *, OSS's x-oss-forbid-overwrite) and returns the new
	// object's ETag in the form List gives.
	Create(ctx context.Context, key string, body []byte) (etag string, err error)
	// CreateFailed tells what a failed Create means. With readBack the
	// outcome is unknown, or the refusal may be of our own write retried
	// after its answer was lost (F5): the object is read back and
	// compared. With absentIsFailure, an object then missing means Create
	// failed and wrote nothing, and Create's error stands. Without
	// readBack, Create's error stands as it is.
	CreateFailed(ctx context.Context, err error) (readBack, absentIsFailure bool)
	// Get opens the object at key, with its ETag in the form List gives.
	Get(ctx context.Context, key string) (io.ReadCloser, string, error)
	// Stat is a HEAD of key: its size, modification time, and ETag in the
	// form a copy's source condition takes.
	Stat(ctx context.Context, key string) (Object, error)
	// List calls fn with every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Delete removes the object at key.
	Delete(ctx context.Context, key string) error
	// DeleteKeys removes keys, in batches; a missing key counts as
	// removed.
	DeleteKeys(ctx context.Context, keys []string) error
	// IsNotFound reports a missing key or multipart upload (a missing
	// bucket is not one).
	IsNotFound(err error) bool
	// IsPreconditionFailed reports a conditional request that did not
	// hold (a copy's source ETag).
	IsPreconditionFailed(err error) bool

	// CreateMultipart starts a multipart upload at key, with the driver's
	// write settings, and returns its id.
	CreateMultipart(ctx context.Context, key string) (string, error)
	// UploadPart sends part n of upload id at key and returns its ETag.
	UploadPart(ctx context.Context, key, id string, n int32, data []byte) (string, error)
	// Complete completes upload id at key with parts, in part-number
	// order. A completion whose answer was lost and that the server had
	// done must be taken for a success (F5).
	Complete(ctx context.Context, key, id string, parts []Part) error
	// Abort aborts upload id at key; what it does not remove, Sweep does.
	Abort(ctx context.Context, key, id string)
	// ListMultipart calls fn with every multipart upload whose key starts
	// with prefix ("" for the whole bucket). Servers differ in what a
	// prefix finds (MinIO answers for an exact key or "" only).
	ListMultipart(ctx context.Context, prefix string, fn func(Upload) error) error
}

// Stager is implemented by a Store whose multipart uploads may be staged:
// created at a staging key of the slot, Slot.StageKey, and completed there
// before their recorded bytes are copied to the path (package s3, for
// servers such as Ceph RGW that refuse to complete an upload with some of
// its parts). Such an upload's records name the staging key in Stage.
type Stager interface {
	// Staged tells whether a new multipart upload is to be staged.
	Staged(ctx context.Context) (bool, error)
	// MayStage reports whether this instance may have created staged
	// uploads: false only when it is known not to.
	MayStage() bool
	// CommitStaged completes rec's staged upload and copies the bytes of
	// the recorded parts, sorted by number, to the slot's key. The staging
	// object may be left for the slot's teardown.
	CommitStaged(ctx context.Context, s *Slot, rec *Record, parts []Part) error
}

// Object is one object as a listing or a HEAD describes it.
type Object struct {
	Key      string
	ETag     string
	Size     int64
	Modified time.Time
}

// Upload is one multipart upload as ListMultipart describes it.
type Upload struct {
	Key       string
	ID        string
	Initiated time.Time
}

// Bucket runs the protocol for one driver instance on its bucket. The
// driver fills it once, in its New.
type Bucket struct {
	Store Store
	// Keys maps driver paths to keys under the root directory.
	Keys objkey.Layout
	// MaxParts is the server's part count limit per upload.
	MaxParts int32
	// Concurrency is the parts one writer uploads at once: it buffers at
	// most Concurrency parts.
	Concurrency int
	// PartSize picks the part size of a new upload, from the driver's
	// configuration and the size hint of ctx (driver.SizeHint).
	PartSize func(ctx context.Context) (int64, error)
	// Buffers, when not nil, recycles writers' part buffers between
	// sessions (a registry opens a writer per PATCH request).
	Buffers *sync.Pool
}

// key maps a driver path to its object key.
func (u *Bucket) key(p string) string { return u.Keys.Key(p) }

// internal is the key of a path under driver.InternalPrefix.
func (u *Bucket) internal(rel string) string { return u.Keys.Key(driver.InternalPrefix + rel) }

// stager is the Store's Stager, or nil.
func (u *Bucket) stager() Stager {
	st, _ := u.Store.(Stager)
	return st
}

// PutIfAbsent creates key with body unless it exists. A retried request
// whose first attempt did succeed is refused (F5): the body is read back
// and compared, so our own write is not taken for someone else's (every
// body the protocol writes carries a nonce). It reports whether the
// object now holds body, and its ETag.
func (u *Bucket) PutIfAbsent(ctx context.Context, key string, body []byte) (bool, string, error) {
	etag, err := u.Store.Create(ctx, key, body)
	if err == nil {
		return true, etag, nil
	}
	readBack, absentIsFailure := u.Store.CreateFailed(ctx, err)
	if !readBack {
		return false, "", err
	}
	r, etag, gerr := u.Store.Get(ctx, key)
	if gerr != nil {
		if absentIsFailure && u.Store.IsNotFound(gerr) {
			return false, "", err // the write failed and left nothing
		}
		return false, "", gerr
	}
	defer r.Close()
	cur, rerr := io.ReadAll(r)
	if rerr != nil {
		return false, "", rerr
	}
	return bytes.Equal(cur, body), etag, nil
}

// listKeys lists every key under prefix.
func (u *Bucket) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := u.Store.List(ctx, prefix, func(o Object) error {
		keys = append(keys, o.Key)
		return nil
	})
	return keys, err
}

// AbortUnrecorded aborts every multipart upload of exactly key, whatever
// the server's listing does with the prefix.
func (u *Bucket) AbortUnrecorded(ctx context.Context, key string) error {
	return u.abortUploads(ctx, key, func(k string) bool { return k == key })
}

// abortUploads aborts the multipart uploads listed under prefix whose key
// match accepts.
func (u *Bucket) abortUploads(ctx context.Context, prefix string, match func(key string) bool) error {
	return u.Store.ListMultipart(ctx, prefix, func(up Upload) error {
		if match(up.Key) {
			u.Store.Abort(ctx, up.Key, up.ID)
		}
		return nil
	})
}
