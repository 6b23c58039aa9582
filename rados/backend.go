//go:build cgo

package rados

import (
	"context"
	"errors"
	"net/http"

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
	if err := op.Operate(b.io, oid, rados.OperationNoFlag); err != nil {
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
func (b *backend) casEntry(oid, key string, old, val []byte) error {
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

// setKey sets key unconditionally (an idempotent directory link).
func (b *backend) setKey(oid, key string) error {
	w := newWop()
	defer w.release()
	w.omapSet(key, []byte{'1'})
	return w.operate(b.io, oid)
}

func (b *backend) rmKey(oid, key string) error {
	w := newWop()
	defer w.release()
	w.omapRm(key)
	err := w.operate(b.io, oid)
	if isNotFound(err) {
		return nil
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
