//go:build cgo

package rados

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ceph/go-ceph/rados"

	"github.com/berthio/berth/driver"
)

// backend translates driver calls to librados operations. New builds it.
type backend struct {
	cfg  Config
	conn *rados.Conn
	io   *rados.IOContext // shared by every call that needs no object version
	ios  chan *rados.IOContext
}

var _ driver.Backend = (*backend)(nil)

func (b *backend) Name() string { return Name }

func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Listing:               driver.Strong,
		Fencing:               driver.FencingStrict,
		Redirect:              false,
		MaxObjectSize:         MaxObjectSize,
		SharedAcrossProcesses: true,
	}
}

// RedirectURL: RADOS has no HTTP endpoint to sign a URL for.
func (b *backend) RedirectURL(*http.Request, string) (string, error) { return "", nil }

// As is the escape hatch behind Store.As: target may be a **rados.Conn or
// a **rados.IOContext (of go-ceph's rados package; the IOContext is set to
// the instance's namespace and shared: do not change it).
func (b *backend) As(target any) bool {
	switch t := target.(type) {
	case **rados.Conn:
		*t = b.conn
	case **rados.IOContext:
		*t = b.io
	default:
		return false
	}
	return true
}

// borrow returns an IOContext for one goroutine's exclusive use, so that
// GetLastVersion after an op is that op's version; give it back with
// giveBack.
func (b *backend) borrow() (*rados.IOContext, error) {
	select {
	case io := <-b.ios:
		return io, nil
	default:
	}
	io, err := b.conn.OpenIOContext(b.cfg.Pool)
	if err != nil {
		return nil, err
	}
	io.SetNamespace(b.cfg.Namespace)
	return io, nil
}

func (b *backend) giveBack(io *rados.IOContext) {
	select {
	case b.ios <- io:
	default:
		io.Destroy()
	}
}

// errLost is a compare-and-swap that lost: the entry changed since it was
// read.
var errLost = errors.New("lost a race for the entry")

// getEntry returns the value of key in the omap of oid, nil if the key or
// the object is missing.
func (b *backend) getEntry(oid, key string) ([]byte, error) {
	op := rados.CreateReadOp()
	defer op.Release()
	step := op.GetOmapValuesByKeys([]string{key})
	err := faulty(oid, false, func() error { return op.Operate(b.io, oid, rados.OperationNoFlag) })
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	kv, err := step.Next()
	if err != nil || kv == nil {
		return nil, err
	}
	if kv.Value == nil {
		return []byte{}, nil // present, empty: never written by this package
	}
	return kv.Value, nil
}

// casEntry replaces key's value old (nil: absent) with val (nil: remove
// the key) in one atomic op, or returns errLost if the value is no longer
// old.
//
// A transport error (a timeout, a connection lost for good) leaves open
// whether the op applied: the OSD may have acted and its reply been lost
// (CONTRACT 10, FAILURE-MODES F5). casEntry then reads the entry back: val
// there (values carry a fresh nonce) means the op applied, and old there
// means it did not, so it tries again, up to casTries times. Otherwise it
// returns an *uncertainError, and the caller must not undo or clean up on
// the assumption that the op failed: what it would delete may be named by
// the value it published.
func (b *backend) casEntry(oid, key string, old, val []byte) error {
	var unknown error // the error of an attempt that may have applied
	start := time.Now()
	for i := 0; i < casTries && (i == 0 || time.Since(start) < b.cfg.OpTimeout); i++ {
		err := b.casOnce(oid, key, old, val)
		if err == nil || (err == errLost && unknown == nil) {
			return err
		}
		if err != errLost {
			unknown = err
		}
		now, rerr := b.getEntry(oid, key)
		switch {
		case rerr != nil:
			return &uncertainError{err: unknown}
		case val != nil && bytes.Equal(now, val):
			return nil // applied; its reply was lost
		case err != errLost && sameEntry(now, old):
			continue // not applied: try again
		}
		// Changed by someone else, or (removal) gone: after an attempt of
		// ours that may have applied first, which it was is unknown.
		return &uncertainError{err: unknown, gone: val == nil && now == nil}
	}
	// Every attempt failed and the entry still holds old: the ops did not
	// apply (a read of the object queues behind a write the OSD received).
	return unknown
}

// casTries bounds the attempts of one update whose ops fail on the way
// (casEntry, retry); no attempt starts once OpTimeout has passed since the
// first, so that retries add at most about two OpTimeouts (an attempt and
// a read-back) to a call's worst case.
const casTries = 3

// sameEntry compares entry values, nil being absent.
func sameEntry(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(a, b)
}

// uncertainError is a compare-and-swap whose outcome is unknown. gone:
// it was to remove the entry, and the entry is absent now, removed by it
// or by someone else.
type uncertainError struct {
	err  error
	gone bool
}

func (e *uncertainError) Error() string {
	return fmt.Sprintf("the outcome of an entry update is unknown (%v)", e.err)
}

func (e *uncertainError) Unwrap() error { return e.err }

func isUncertain(err error) bool {
	var u *uncertainError
	return errors.As(err, &u)
}

// goneAfter reports an uncertain removal of an entry that is absent now:
// success for a caller that only needs it gone, and deletes nothing that
// the entry named.
func goneAfter(err error) bool {
	var u *uncertainError
	return errors.As(err, &u) && u.gone
}

// casOnce is one attempt of casEntry.
func (b *backend) casOnce(oid, key string, old, val []byte) error {
	w := newWop()
	defer w.release()
	if old == nil {
		w.create()
	}
	w.omapCmp(key, old)
	if val == nil {
		w.omapRm(key)
	} else {
		w.omapSet(key, val)
	}
	err := w.operate(b.io, oid)
	if isCanceled(err) || (old != nil && isNotFound(err)) {
		return errLost
	}
	return err
}

// setKey sets key unconditionally (an idempotent directory link). Being
// idempotent, it is tried again after an error (retry).
func (b *backend) setKey(oid, key string) error {
	return b.retry(func() error {
		w := newWop()
		defer w.release()
		w.omapSet(key, []byte{'1'})
		return w.operate(b.io, oid)
	})
}

// rmKey removes key, if there, trying again like setKey.
func (b *backend) rmKey(oid, key string) error {
	return b.retry(func() error {
		w := newWop()
		defer w.release()
		w.omapRm(key)
		err := w.operate(b.io, oid)
		if isNotFound(err) {
			return nil
		}
		return err
	})
}

// retry runs op, which must be idempotent, until it succeeds: at most
// casTries times, and none starting once OpTimeout has passed since the
// first.
func (b *backend) retry(op func() error) error {
	start := time.Now()
	err := op()
	for i := 1; err != nil && i < casTries && time.Since(start) < b.cfg.OpTimeout; i++ {
		err = op()
	}
	return err
}

// entries calls fn for the entries of a directory object, in key order,
// page by page. A missing object has none.
func (b *backend) entries(ctx context.Context, io *rados.IOContext, oid string, fn func(key string, val []byte) error) error {
	const page = 1000
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := io.GetOmapValues(oid, after, "", page)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			if err := fn(k, m[k]); err != nil {
				return err
			}
		}
		if len(m) < page {
			return nil
		}
		after = keys[len(keys)-1]
	}
}
