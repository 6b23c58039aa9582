package nasfs

import (
	"os"
	"runtime"
	"syscall"
)

// renameAt renames from/name to to/newName with renameat(2) on the two
// open directories: no path is resolved, so nothing can follow a symlink
// (rename never follows its last components).
func (b *backend) renameAt(from *dirHandle, name string, to *dirHandle, newName string) error {
	src, err := from.file()
	if err != nil {
		return err
	}
	dst, err := to.file()
	if err != nil {
		return err
	}
	err = syscall.Renameat(int(src.Fd()), name, int(dst.Fd()), newName)
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: name, New: newName, Err: err}
	}
	return nil
}
