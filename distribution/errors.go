package distribution

import (
	"errors"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/berthio/berth/driver"
)

// mapErr turns a Berth error of the kinds distribution's registry tells
// apart into distribution's own error values: the registry matches them
// with type switches on the value types (err.(storagedriver.PathNotFoundError)),
// so they are returned by value and unwrapped. Every other error, the
// caller's own from a WalkFn included, is returned as it is: a Berth
// *driver.Error still matches its kind with errors.Is (driver.ErrConflict,
// driver.ErrTooLarge, ...) and reaches the SDK's error with errors.As.
func (s *StorageDriver) mapErr(err error, path string, offset int64) error {
	if err == nil {
		return nil
	}
	var de *driver.Error
	if !errors.As(err, &de) {
		return err
	}
	switch de.Kind {
	case driver.ErrNotFound:
		return storagedriver.PathNotFoundError{Path: path, DriverName: s.d.Name()}
	case driver.ErrInvalidPath:
		return storagedriver.InvalidPathError{Path: path, DriverName: s.d.Name()}
	case driver.ErrInvalidOffset:
		return storagedriver.InvalidOffsetError{Path: path, Offset: offset, DriverName: s.d.Name()}
	}
	return err
}

// ClassifyError implements driver.Classifier for a wrapped distribution
// driver: distribution's error values become Berth's kinds. A
// storagedriver.Error (the catch-all that distribution's base.Base wraps
// every other error in, without Unwrap) is classified by its Detail.
func (b *Backend) ClassifyError(err error) error {
	var (
		nf  storagedriver.PathNotFoundError
		ip  storagedriver.InvalidPathError
		io  storagedriver.InvalidOffsetError
		un  storagedriver.ErrUnsupportedMethod
		ce  storagedriver.Error
		ces storagedriver.Errors
	)
	switch {
	case errors.As(err, &nf):
		return driver.ErrNotFound
	case errors.As(err, &ip):
		return driver.ErrInvalidPath
	case errors.As(err, &io):
		return driver.ErrInvalidOffset
	case errors.As(err, &un):
		return driver.ErrUnsupported
	case errors.As(err, &ce) && ce.Detail != nil:
		if k := driver.KindOf(ce.Detail); k != nil {
			return k
		}
		return b.ClassifyError(ce.Detail)
	case errors.As(err, &ces) && len(ces.Errs) == 1:
		return b.ClassifyError(ces.Errs[0])
	}
	return nil
}
