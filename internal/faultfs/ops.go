package faultfs

import (
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Op is a file system operation as the FUSE layer receives it from the
// kernel. One system call can become several operations: open(2) of a
// path is a Lookup per component the kernel does not hold, then an Open;
// a write(2) larger than 1 MiB is one Write per MiB.
type Op uint8

// Reading operations.
const (
	OpLookup  Op = iota + 1 // resolve a name in a directory (every path component)
	OpGetattr               // stat, fstat
	OpOpen                  // open of a file or directory (no create)
	OpRead                  // read of a file, readlink
	OpReaddir               // the first read of an open directory's entries
)

// Mutating operations.
const (
	OpCreate  Op = iota + 6 // open with O_CREAT of a name that did not exist
	OpMkdir                 // mkdir
	OpLink                  // link
	OpSymlink               // symlink
	OpRename                // rename
	OpUnlink                // unlink
	OpRmdir                 // rmdir
	OpWrite                 // write, fallocate, and copy_file_range (to its destination)
	OpFsync                 // fsync and fdatasync of a file or a directory
	OpSetattr               // truncate, ftruncate, chmod, chown, utimes
	numOps
)

var opNames = [numOps]string{"", "lookup", "getattr", "open", "read", "readdir",
	"create", "mkdir", "link", "symlink", "rename", "unlink", "rmdir", "write", "fsync", "setattr"}

func (o Op) String() string {
	if o > 0 && o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Mutating reports whether o may change the backing directory.
func (o Op) Mutating() bool { return Mutating.Has(o) }

// Ops is a set of operations.
type Ops uint32

// Sets of operations.
const (
	Reading  Ops = 1<<OpLookup | 1<<OpGetattr | 1<<OpOpen | 1<<OpRead | 1<<OpReaddir
	Mutating Ops = 1<<OpCreate | 1<<OpMkdir | 1<<OpLink | 1<<OpSymlink | 1<<OpRename |
		1<<OpUnlink | 1<<OpRmdir | 1<<OpWrite | 1<<OpFsync | 1<<OpSetattr
	All = Reading | Mutating
)

// Set returns the set holding ops.
func Set(ops ...Op) Ops {
	var s Ops
	for _, o := range ops {
		s |= 1 << o
	}
	return s
}

// Has reports whether o is in s.
func (s Ops) Has(o Op) bool { return s&(1<<o) != 0 }

func (s Ops) String() string {
	switch s {
	case Reading:
		return "reading"
	case Mutating:
		return "mutating"
	case All:
		return "all"
	}
	var names []string
	for o := Op(1); o < numOps; o++ {
		if s.Has(o) {
			names = append(names, o.String())
		}
	}
	return strings.Join(names, "|")
}

// Action is what the layer does to an operation a Rule picks.
type Action uint8

const (
	// EIO fails the operation with EIO without performing it: the
	// request never reached the server.
	EIO Action = iota + 1
	// ActedLost performs the operation on the backing directory, then
	// fails it with the error an NFS client reports when the reply was
	// lost and its retransmission found the work already done (see
	// LostErrno). If the operation itself fails, that error is returned.
	ActedLost
	// Delay waits Rule.Delay, then performs the operation.
	Delay
	// Stall holds the operation without performing it until the file
	// system is closed or Rule.Delay (default DefaultStall) passes, then
	// fails it with EIO. An interrupted caller gets EINTR at once.
	Stall
)

var actionNames = [...]string{"", "eio", "acted-lost", "delay", "stall"}

func (a Action) String() string {
	if int(a) < len(actionNames) && a > 0 {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// DefaultStall bounds a Stall whose Rule.Delay is zero.
const DefaultStall = 30 * time.Second

// LostErrno is the error ActedLost returns for op: what an NFS client
// reports when it retransmits a call whose first transmission acted but
// whose reply was lost. A rename, unlink or rmdir no longer finds its
// source (ENOENT); an exclusive create, a mkdir, a link or a symlink finds
// its name taken (EEXIST). Every other operation, a create without O_EXCL
// included, gets EIO, as on a soft mount whose call timed out.
func LostErrno(op Op, exclusive bool) syscall.Errno {
	switch op {
	case OpRename, OpUnlink, OpRmdir:
		return syscall.ENOENT
	case OpMkdir, OpLink, OpSymlink:
		return syscall.EEXIST
	case OpCreate:
		if exclusive {
			return syscall.EEXIST
		}
	}
	return syscall.EIO
}

// Rule picks operations to fault. A rule counts the operations in Ops
// from the moment it is added. With Nth > 0 it applies Action to the Nth
// of them and to the Times-1 after it (Times 0 counts as 1); with Nth == 0
// it applies Action to each with probability Prob, drawn from a generator
// seeded with Seed. Rules are tried in the order they were added; every
// rule counts every operation in its set, and the first that fires
// decides.
type Rule struct {
	Ops    Ops // zero: All
	Action Action
	Nth    int64
	Times  int64
	Prob   float64
	Seed   uint64
	Delay  time.Duration // Delay: the latency added; Stall: the bound
}

func (r Rule) String() string {
	ops := r.Ops
	if ops == 0 {
		ops = All
	}
	if r.Nth > 0 {
		return r.Action.String() + " on " + ops.String() + " op #" + strconv.FormatInt(r.Nth, 10)
	}
	return r.Action.String() + " on " + ops.String() + " ops with p=" + strconv.FormatFloat(r.Prob, 'g', -1, 64)
}

// Fired is one fault applied, for a test's log.
type Fired struct {
	Op     Op
	Action Action
	Name   string // the file's path below the mountpoint, as the layer knew it
}

func (f Fired) String() string { return f.Action.String() + " " + f.Op.String() + " " + f.Name }
