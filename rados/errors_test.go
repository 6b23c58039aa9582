//go:build cgo

package rados

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	goceph "github.com/ceph/go-ceph/rados"
	"github.com/stretchr/testify/assert"

	"github.com/berthio/berth/driver"
)

// TestClassify: librados errnos map to driver kinds, whether they come
// from go-ceph or from this package's own cgo calls, wrapped or not.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		kind  error
	}{
		{syscall.ENOENT, driver.ErrNotFound},
		{syscall.EPERM, driver.ErrPermission},
		{syscall.EACCES, driver.ErrPermission},
		{syscall.ECANCELED, driver.ErrConflict},
		{syscall.ERANGE, driver.ErrConflict},
		{syscall.EEXIST, driver.ErrConflict},
		{syscall.EFBIG, driver.ErrTooLarge},
		{syscall.EMSGSIZE, driver.ErrTooLarge},
		{syscall.ENAMETOOLONG, driver.ErrInvalidPath},
		{syscall.EOPNOTSUPP, driver.ErrUnsupported},
		{syscall.ETIMEDOUT, nil},
		{syscall.EIO, nil},
		{syscall.ENOSPC, nil},
	} {
		own := error(errno(c.errno))
		assert.Equal(t, c.kind, classify(own), "own %v", c.errno)
		assert.Equal(t, c.kind, classify(fmt.Errorf("wrapped: %w", own)), "wrapped %v", c.errno)
		assert.True(t, errors.Is(own, c.errno), "errors.Is(%v, syscall.Errno)", c.errno)
	}
	assert.Equal(t, driver.ErrNotFound, classify(goceph.ErrNotFound))
	assert.Equal(t, driver.ErrPermission, classify(goceph.ErrPermissionDenied))
	assert.Equal(t, driver.ErrConflict, classify(goceph.ErrObjectExists))
	assert.True(t, errors.Is(errno(syscall.ENOENT), goceph.ErrNotFound), "own errno matches go-ceph's sentinel")
	assert.Nil(t, classify(errors.New("plain")))
	assert.Contains(t, errno(syscall.ECANCELED).Error(), "ret=-125")
}
