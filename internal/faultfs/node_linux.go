//go:build linux

package faultfs

import (
	"context"
	"hash/fnv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a backing file or directory, named by its file handle: an
// operation on it opens the handle (open_by_handle_at), so it reaches the
// same inode wherever another process has moved it, as NFS does.
type node struct {
	fs.Inode
	fsys *FS
	h    unix.FileHandle
}

var (
	_ fs.NodeLookuper        = (*node)(nil)
	_ fs.NodeGetattrer       = (*node)(nil)
	_ fs.NodeSetattrer       = (*node)(nil)
	_ fs.NodeOpener          = (*node)(nil)
	_ fs.NodeOpendirHandler  = (*node)(nil)
	_ fs.NodeCreater         = (*node)(nil)
	_ fs.NodeMkdirer         = (*node)(nil)
	_ fs.NodeLinker          = (*node)(nil)
	_ fs.NodeSymlinker       = (*node)(nil)
	_ fs.NodeReadlinker      = (*node)(nil)
	_ fs.NodeRenamer         = (*node)(nil)
	_ fs.NodeUnlinker        = (*node)(nil)
	_ fs.NodeRmdirer         = (*node)(nil)
	_ fs.NodeCopyFileRanger  = (*node)(nil)
	_ fs.NodeStatfser        = (*node)(nil)
	_ fs.FileReaddirenter    = (*dir)(nil)
	_ fs.FileFsyncdirer      = (*dir)(nil)
	_ fs.FilePassthroughFder = (*file)(nil)
)

// errno converts an error of a system call; a stale handle (the inode is
// gone) is ENOENT, what a local file system says of a removed file.
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	e := fs.ToErrno(err)
	if e == syscall.ESTALE {
		return syscall.ENOENT
	}
	return e
}

// open opens the node's backing inode with flags; the caller closes the
// descriptor.
func (n *node) open(flags int) (int, syscall.Errno) {
	fd, err := unix.OpenByHandleAt(n.fsys.m.rootFd, n.h, flags|unix.O_CLOEXEC)
	return fd, errno(err)
}

// at runs fn on a descriptor (O_PATH) of the node, for the *at calls.
func (n *node) at(fn func(fd int) syscall.Errno) syscall.Errno {
	fd, e := n.open(unix.O_PATH)
	if e != 0 {
		return e
	}
	defer unix.Close(fd)
	return fn(fd)
}

// name returns a function naming child (or the node itself, when child is
// "") for the fault log.
func (n *node) name(child string) func() string {
	return func() string {
		p := "/" + n.Path(nil)
		if child != "" {
			if p != "/" {
				p += "/"
			}
			p += child
		}
		return p
	}
}

// child makes the node for the inode open at fd, reached as a child of n,
// and fills out with its attributes.
func (n *node) child(ctx context.Context, fd int, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, errno(err)
	}
	h, _, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, errno(err)
	}
	out.Attr.FromStat(&st)
	// The handle holds the inode's generation: an inode number reused by
	// a new file gets a new node.
	g := fnv.New64a()
	g.Write(h.Bytes())
	id := fs.StableAttr{Mode: st.Mode, Ino: st.Ino, Gen: g.Sum64() | 1}
	return n.NewInode(ctx, &node{fsys: n.fsys, h: h}, id), 0
}

// childAt makes the node for the entry name of the directory dirfd.
func (n *node) childAt(ctx context.Context, dirfd int, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errno(err)
	}
	defer unix.Close(fd)
	return n.child(ctx, fd, out)
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (ch *fs.Inode, e syscall.Errno) {
	e = n.fsys.apply(ctx, OpLookup, false, n.name(name), func() syscall.Errno {
		return n.at(func(dfd int) (e syscall.Errno) {
			ch, e = n.childAt(ctx, dfd, name, out)
			return e
		})
	})
	if e != 0 {
		return nil, e
	}
	return ch, 0
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.fsys.apply(ctx, OpGetattr, false, n.name(""), func() syscall.Errno {
		if f, ok := fh.(*file); ok {
			return f.LoopbackFile.Getattr(ctx, out)
		}
		return n.at(func(fd int) syscall.Errno {
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err != nil {
				return errno(err)
			}
			out.FromStat(&st)
			return 0
		})
	})
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return n.fsys.apply(ctx, OpSetattr, false, n.name(""), func() syscall.Errno {
		if f, ok := fh.(*file); ok {
			return f.LoopbackFile.Setattr(ctx, in, out)
		}
		// truncate(2), chmod(2) and the like on a path: go through a
		// descriptor opened for the purpose.
		flags := unix.O_RDONLY
		if _, ok := in.GetSize(); ok {
			flags = unix.O_WRONLY
		}
		fd, e := n.open(flags)
		if e != 0 {
			return e
		}
		lf := fs.NewLoopbackFile(fd).(*fs.LoopbackFile)
		defer lf.Release(ctx)
		return lf.Setattr(ctx, in, out)
	})
}

func (n *node) Open(ctx context.Context, flags uint32) (fh fs.FileHandle, fuseFlags uint32, e syscall.Errno) {
	e = n.fsys.apply(ctx, OpOpen, false, n.name(""), func() syscall.Errno {
		// The kernel keeps O_APPEND offsets itself, as go-fuse's loopback.
		fd, e := n.open(int(flags) &^ (unix.O_APPEND | unix.O_CREAT | unix.O_EXCL | fuse.FMODE_EXEC))
		if e == 0 {
			fh = n.newFile(fd)
		}
		return e
	})
	if e != 0 {
		if fh != nil {
			fh.(*file).Release(ctx)
		}
		return nil, 0, e
	}
	return fh, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fh fs.FileHandle, fuseFlags uint32, e syscall.Errno) {
	e = n.fsys.apply(ctx, OpOpen, false, n.name(""), func() syscall.Errno {
		fd, e := n.open(unix.O_RDONLY | unix.O_DIRECTORY)
		if e != 0 {
			return e
		}
		ds, e := fs.NewLoopbackDirStreamFd(fd)
		if e != 0 {
			unix.Close(fd)
			return e
		}
		fh = &dir{ds: ds, n: n}
		return 0
	})
	if e != 0 {
		if fh != nil {
			fh.(*dir).Releasedir(ctx, 0)
		}
		return nil, 0, e
	}
	return fh, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (ch *fs.Inode, fh fs.FileHandle, fuseFlags uint32, e syscall.Errno) {
	excl := flags&unix.O_EXCL != 0
	e = n.fsys.apply(ctx, OpCreate, excl, n.name(name), func() syscall.Errno {
		return n.at(func(dfd int) syscall.Errno {
			fd, err := unix.Openat(dfd, name, int(flags&^unix.O_APPEND)|unix.O_CREAT|unix.O_CLOEXEC, mode)
			if err != nil {
				return errno(err)
			}
			fh = n.newFile(fd)
			ch, e = n.child(ctx, fd, out)
			return e
		})
	})
	if e != 0 {
		if fh != nil {
			fh.(*file).Release(ctx)
		}
		return nil, nil, 0, e
	}
	return ch, fh, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.makeEntry(ctx, OpMkdir, name, out, func(dfd int) syscall.Errno {
		return errno(unix.Mkdirat(dfd, name, mode))
	})
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	return n.makeEntry(ctx, OpLink, name, out, func(dfd int) syscall.Errno {
		return t.at(func(tfd int) syscall.Errno {
			return errno(unix.Linkat(tfd, "", dfd, name, unix.AT_EMPTY_PATH))
		})
	})
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.makeEntry(ctx, OpSymlink, name, out, func(dfd int) syscall.Errno {
		return errno(unix.Symlinkat(target, dfd, name))
	})
}

// makeEntry runs op's fault plan around mk, which makes the entry name in
// this directory (given its descriptor), then looks the new entry up.
func (n *node) makeEntry(ctx context.Context, op Op, name string, out *fuse.EntryOut, mk func(dfd int) syscall.Errno) (ch *fs.Inode, e syscall.Errno) {
	e = n.fsys.apply(ctx, op, false, n.name(name), func() syscall.Errno {
		return n.at(func(dfd int) syscall.Errno {
			if e := mk(dfd); e != 0 {
				return e
			}
			ch, e = n.childAt(ctx, dfd, name, out)
			return e
		})
	})
	if e != 0 {
		return nil, e
	}
	return ch, 0
}

func (n *node) Readlink(ctx context.Context) (target []byte, e syscall.Errno) {
	e = n.fsys.apply(ctx, OpRead, false, n.name(""), func() syscall.Errno {
		return n.at(func(fd int) syscall.Errno {
			buf := make([]byte, unix.PathMax)
			k, err := unix.Readlinkat(fd, "", buf)
			target = buf[:max(k, 0)]
			return errno(err)
		})
	})
	if e != 0 {
		return nil, e
	}
	return target, 0
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	p, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	return n.fsys.apply(ctx, OpRename, false, n.name(name), func() syscall.Errno {
		return n.at(func(from int) syscall.Errno {
			return p.at(func(to int) syscall.Errno {
				return errno(unix.Renameat2(from, name, to, newName, uint(flags)))
			})
		})
	})
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.fsys.apply(ctx, OpUnlink, false, n.name(name), func() syscall.Errno {
		return n.at(func(dfd int) syscall.Errno { return errno(unix.Unlinkat(dfd, name, 0)) })
	})
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.fsys.apply(ctx, OpRmdir, false, n.name(name), func() syscall.Errno {
		return n.at(func(dfd int) syscall.Errno { return errno(unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)) })
	})
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (copied uint32, e syscall.Errno) {
	in, ok1 := fhIn.(*file)
	dst, ok2 := fhOut.(*file)
	if !ok1 || !ok2 {
		return 0, syscall.ENOTSUP
	}
	e = n.fsys.apply(ctx, OpWrite, false, dst.n.name(""), func() syscall.Errno {
		inFd, _ := in.LoopbackFile.PassthroughFd()
		outFd, _ := dst.LoopbackFile.PassthroughFd()
		i, o := int64(offIn), int64(offOut)
		k, err := unix.CopyFileRange(inFd, &i, outFd, &o, int(length), int(flags))
		copied = uint32(max(k, 0))
		return errno(err)
	})
	if e != 0 {
		return 0, e
	}
	return copied, 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(n.fsys.m.rootFd, &st); err != nil {
		return errno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

// file is an open backing file. It declines FUSE passthrough, which would
// let the kernel read and write the backing file without the layer.
type file struct {
	*fs.LoopbackFile
	n *node
}

func (n *node) newFile(fd int) *file {
	return &file{LoopbackFile: fs.NewLoopbackFile(fd).(*fs.LoopbackFile), n: n}
}

// PassthroughFd declines passthrough.
func (f *file) PassthroughFd() (int, bool) { return -1, false }

func (f *file) Read(ctx context.Context, buf []byte, off int64) (res fuse.ReadResult, e syscall.Errno) {
	e = f.n.fsys.apply(ctx, OpRead, false, f.n.name(""), func() (e syscall.Errno) {
		// Read whole now, so that an error is this call's.
		k, err := syscall.Pread(f.fd(), buf, off)
		res = fuse.ReadResultData(buf[:max(k, 0)])
		return errno(err)
	})
	if e != 0 {
		return nil, e
	}
	return res, 0
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (written uint32, e syscall.Errno) {
	e = f.n.fsys.apply(ctx, OpWrite, false, f.n.name(""), func() (e syscall.Errno) {
		written, e = f.LoopbackFile.Write(ctx, data, off)
		return e
	})
	if e != 0 {
		return 0, e
	}
	return written, 0
}

func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (written uint32, e syscall.Errno) {
	e = f.n.fsys.apply(ctx, OpWrite, false, f.n.name(""), func() (e syscall.Errno) {
		written, e = f.LoopbackFile.Writev(ctx, data, off)
		return e
	})
	if e != 0 {
		return 0, e
	}
	return written, 0
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.n.fsys.apply(ctx, OpFsync, false, f.n.name(""), func() syscall.Errno {
		return f.LoopbackFile.Fsync(ctx, flags)
	})
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return f.n.fsys.apply(ctx, OpWrite, false, f.n.name(""), func() syscall.Errno {
		return f.LoopbackFile.Allocate(ctx, off, size, mode)
	})
}

// fd is the backing descriptor, valid until Release.
func (f *file) fd() int {
	fd, _ := f.LoopbackFile.PassthroughFd()
	return fd
}

// dir is an open backing directory.
type dir struct {
	ds     fs.DirStream
	n      *node
	listed bool // the first Readdirent was counted
}

func (d *dir) Readdirent(ctx context.Context) (de *fuse.DirEntry, e syscall.Errno) {
	next := d.ds.(fs.FileReaddirenter).Readdirent
	if d.listed {
		return next(ctx)
	}
	d.listed = true
	e = d.n.fsys.apply(ctx, OpReaddir, false, d.n.name(""), func() (e syscall.Errno) {
		de, e = next(ctx)
		return e
	})
	if e != 0 {
		return nil, e
	}
	return de, 0
}

func (d *dir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.ds.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dir) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.ds.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
		return
	}
	d.ds.Close()
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.n.fsys.apply(ctx, OpFsync, false, d.n.name(""), func() syscall.Errno {
		if s, ok := d.ds.(fs.FileFsyncdirer); ok {
			return s.Fsyncdir(ctx, flags)
		}
		return syscall.ENOTSUP
	})
}
