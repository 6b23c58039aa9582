//go:build linux

package faultfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// mount is the Linux state of an FS.
type mount struct {
	rootFd int           // the backing directory, mount_fd of open_by_handle_at (which refuses O_PATH)
	srv    *fuse.Server  // serves the mount
	done   chan struct{} // closed when the server has stopped and rootFd is closed
}

// Available reports why this process cannot mount a faultfs, or nil: it
// needs root (mount(2) and open_by_handle_at(2)) and /dev/fuse.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root: faultfs calls mount(2) and open_by_handle_at(2) itself")
	}
	fd, err := syscall.Open("/dev/fuse", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/fuse: %w", err)
	}
	syscall.Close(fd)
	return nil
}

// New mounts backing on mountpoint, an existing empty directory, with no
// rules. The caller must Close it.
func New(backing, mountpoint string) (*FS, error) {
	rootFd, err := unix.Open(backing, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("faultfs: backing directory: %w", err)
	}
	h, _, err := unix.NameToHandleAt(rootFd, "", unix.AT_EMPTY_PATH)
	if err != nil {
		unix.Close(rootFd)
		return nil, fmt.Errorf("faultfs: backing directory %s: its file system gives no file handles: %w", backing, err)
	}
	f := &FS{backing: backing, dir: mountpoint, stop: make(chan struct{}),
		m: &mount{rootFd: rootFd, done: make(chan struct{})}}
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict:  true, // mount(2) ourselves; never fusermount
			FsName:             "faultfs",
			Name:               "faultfs",
			MaxWrite:           fuse.MAX_KERNEL_WRITE, // 1 MiB per WRITE request
			DisableXAttrs:      true,
			DisableReadDirPlus: true, // no lookups hidden inside readdir
			DisableSplice:      true, // 1 MiB requests do not fit a pipe; go-fuse logs each fallback
		},
	}
	srv, err := fs.Mount(mountpoint, &node{fsys: f, h: h}, opts)
	if err != nil {
		unix.Close(rootFd)
		return nil, fmt.Errorf("faultfs: mount %s on %s: %w", backing, mountpoint, err)
	}
	f.m.srv = srv
	go func() {
		srv.Wait() // returns once the kernel ends the connection
		unix.Close(rootFd)
		close(f.m.done)
	}()
	return f, nil
}

// unmount unmounts dir, or detaches it while descriptors on it are open.
func (m *mount) unmount(dir string) error {
	err := syscall.Unmount(dir, 0)
	if errors.Is(err, syscall.EBUSY) {
		// Open descriptors (driver instances that are never closed): the
		// server keeps serving them until they are closed.
		return syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if err != nil {
		return err
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("unmounted, but the FUSE server did not stop within 10s")
	}
}
