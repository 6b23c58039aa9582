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
	err := syscall.Renameat(int(from.f.Fd()), name, int(to.f.Fd()), newName)
	runtime.KeepAlive(from.f)
	runtime.KeepAlive(to.f)
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: name, New: newName, Err: err}
	}
	return nil
}
