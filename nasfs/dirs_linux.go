package nasfs

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
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

// openat2Works is cleared the first time the kernel says it has no
// openat2.
var openat2Works = func() *atomic.Bool { var b atomic.Bool; b.Store(true); return &b }()

// openBeneath opens name relative to the root with openat2(2) and
// RESOLVE_BENEATH: the kernel resolves the whole path in one call and
// fails it (EXDEV) if "..", an absolute symlink or a symlink leading
// outside would take it out of the root, which is what os.Root enforces by
// opening each directory on the way (about twenty system calls for a
// registry's blob path). pathOnly opens with O_PATH, for a stat. Where the
// kernel lacks openat2 (before 5.6) or a filter refuses it, it returns
// errors.ErrUnsupported and the caller goes through os.Root.
func (b *backend) openBeneath(name string, pathOnly bool) (*os.File, error) {
	if !openat2Works.Load() {
		return nil, errors.ErrUnsupported
	}
	flags := uint64(unix.O_RDONLY | unix.O_CLOEXEC)
	if pathOnly {
		flags = unix.O_PATH | unix.O_CLOEXEC
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	var fd int
	var err error
	for {
		fd, err = unix.Openat2(int(b.rootDir.Fd()), name, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	runtime.KeepAlive(b.rootDir)
	switch {
	case err == unix.ENOSYS:
		openat2Works.Store(false)
		return nil, errors.ErrUnsupported
	case err == unix.EXDEV:
		return nil, &os.PathError{Op: "openat2", Path: name, Err: errEscapes}
	case err != nil:
		return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}
