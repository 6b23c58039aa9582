//go:build cgo

package rados

/*
#cgo LDFLAGS: -lrados
#include <stdlib.h>
#include <string.h>
#include <rados/librados.h>

// The steps go-ceph does not wrap (rados_write_op_omap_cmp and
// rados_write_op_cmpxattr), and a write op built and run in one place so
// that no C pointer outlives the call that needs it. librados copies every
// key, value and buffer into the op when the step is added.
static void berth_omap_cmp(rados_write_op_t op, const char *key, const char *val, size_t len) {
	rados_write_op_omap_cmp(op, key, LIBRADOS_CMPXATTR_OP_EQ, val, len, NULL);
}

static void berth_omap_set1(rados_write_op_t op, const char *key, const char *val, size_t len) {
	const char *keys[1] = {key};
	const char *vals[1] = {val};
	size_t lens[1] = {len};
	rados_write_op_omap_set(op, keys, vals, lens, 1);
}

static void berth_omap_rm1(rados_write_op_t op, const char *key) {
	const char *keys[1] = {key};
	rados_write_op_omap_rm_keys(op, keys, 1);
}
*/
import "C"

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/ceph/go-ceph/rados"
)

// wop is a compound write op on one object: every step applies, or none
// (a failed comparison aborts the op with ECANCELED, a failed version
// assertion with ERANGE).
type wop struct {
	op C.rados_write_op_t
}

func newWop() *wop { return &wop{op: C.rados_create_write_op()} }

func (w *wop) release() { C.rados_release_write_op(w.op) }

// cbytes returns a pointer C may read len(b) bytes from during one call.
// Byte slices hold no Go pointers, so passing them is allowed; an empty
// slice gets a pointer to a static zero byte.
func cbytes(b []byte) *C.char {
	if len(b) == 0 {
		return (*C.char)(unsafe.Pointer(&zero))
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

var zero byte

// omapCmp asserts that key's value equals val; a missing key compares as
// the empty value, so val == nil asserts the key is absent.
func (w *wop) omapCmp(key string, val []byte) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	C.berth_omap_cmp(w.op, k, cbytes(val), C.size_t(len(val)))
}

func (w *wop) omapSet(key string, val []byte) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	C.berth_omap_set1(w.op, k, cbytes(val), C.size_t(len(val)))
}

func (w *wop) omapRm(key string) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	C.berth_omap_rm1(w.op, k)
}

// assertVersion fails the op with ERANGE unless the object's version is v.
func (w *wop) assertVersion(v uint64) { C.rados_write_op_assert_version(w.op, C.uint64_t(v)) }

func (w *wop) remove() { C.rados_write_op_remove(w.op) }

// create makes the object if it does not exist, so that the steps after
// it (an omap comparison) see an existing, empty object.
func (w *wop) create() { C.rados_write_op_create(w.op, C.LIBRADOS_CREATE_IDEMPOTENT, nil) }

// operate runs the op on oid; the object's new version is then
// io.GetLastVersion(), if io is used by no other goroutine.
func (w *wop) operate(io *rados.IOContext, oid string) error {
	return faulty(oid, true, func() error {
		o := C.CString(oid)
		defer C.free(unsafe.Pointer(o))
		ret := C.rados_write_op_operate(w.op, C.rados_ioctx_t(io.Pointer()), o, nil, 0)
		if ret < 0 {
			return errno(-ret)
		}
		return nil
	})
}

// faulty runs op, a write (or, write false, a read) of oid, through the
// fault a test put on it (testOpFault), if any.
func faulty(oid string, write bool, op func() error) error {
	loss := lossNone
	if f := testOpFault.Load(); f != nil {
		loss = (*f)(oid, write)
	}
	if loss == lossRequest {
		return errno(syscall.ETIMEDOUT) // the op never reached the OSD
	}
	err := op()
	if err == nil && loss == lossReply {
		return errno(syscall.ETIMEDOUT) // the OSD acted; its reply was lost
	}
	return err
}

// opFault, which only tests set (testOpFault), picks the ops on which a
// fault makes the call time out: a write (a compound op on a directory
// object, or a chunk object's write or removal) before it reaches the OSD
// (lossRequest) or after the OSD applied it (lossReply), or an entry read
// (getEntry) before it runs, as rados_osd_op_timeout does when a reply is
// held up. librados resends on a torn connection by itself, so timeouts
// are how such faults reach the driver; this hook puts one on the op a
// test picks.
type opFault func(oid string, write bool) opLoss

type opLoss int

const (
	lossNone opLoss = iota
	lossRequest
	lossReply
)

var testOpFault atomic.Pointer[opFault]
