//go:build cgo

package rados

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/berthio/berth/driver"
)

// errno is a negated librados return code from this package's own cgo
// calls. go-ceph's errors carry theirs behind ErrorCode.
type errno int

func (e errno) Error() string {
	return fmt.Sprintf("rados: ret=-%d, %s", int(e), syscall.Errno(e).Error())
}
func (e errno) ErrorCode() int { return -int(e) }
func (e errno) Unwrap() error  { return syscall.Errno(e) }
func (e errno) Is(t error) bool {
	c, ok := t.(interface{ ErrorCode() int })
	return ok && c.ErrorCode() == -int(e)
}

// code returns the errno behind err (positive: ENOENT, ...), or 0.
func code(err error) syscall.Errno {
	var c interface{ ErrorCode() int }
	if errors.As(err, &c) {
		if n := c.ErrorCode(); n < 0 {
			return syscall.Errno(-n)
		}
	}
	return 0
}

func isNotFound(err error) bool { return code(err) == syscall.ENOENT }

// isCanceled reports a failed omap or xattr comparison: someone changed
// the entry since it was read.
func isCanceled(err error) bool { return code(err) == syscall.ECANCELED }

// isStale reports a failed version assertion (ERANGE) or an object that
// vanished since it was read.
func isStale(err error) bool {
	c := code(err)
	return c == syscall.ERANGE || c == syscall.ENOENT || c == syscall.EOVERFLOW
}

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give librados errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify maps a librados errno to a driver kind, or nil. ECANCELED and
// ERANGE are lost races inside this package and never reach a caller
// unclassified; should one escape it is a conflict.
func classify(err error) error {
	switch code(err) {
	case 0:
		return nil
	case syscall.ENOENT:
		return driver.ErrNotFound
	case syscall.EPERM, syscall.EACCES:
		return driver.ErrPermission
	case syscall.ECANCELED, syscall.ERANGE, syscall.EEXIST:
		return driver.ErrConflict
	case syscall.EFBIG, syscall.EMSGSIZE:
		return driver.ErrTooLarge
	case syscall.ENAMETOOLONG:
		return driver.ErrInvalidPath
	case syscall.EOPNOTSUPP:
		return driver.ErrUnsupported
	}
	return nil
}
