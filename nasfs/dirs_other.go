//go:build !linux

package nasfs

import (
	"errors"
	"os"
	"path"
)

// renameAt renames from/name to to/newName. Without renameat(2) in the
// standard library here, it resolves both paths from the root again, which
// is slower but just as safe.
func (b *backend) renameAt(from *dirHandle, name string, to *dirHandle, newName string) error {
	return b.root.Rename(path.Join(from.rel, name), path.Join(to.rel, newName))
}

// openBeneath is openat2 on Linux; elsewhere the caller goes through
// os.Root.
func (b *backend) openBeneath(string, bool) (*os.File, error) { return nil, errors.ErrUnsupported }
