package nasfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/berthio/berth/driver"
)

// An upload slot is the directory .berth/uploads/<path>~u. It holds the
// upload's state as a chain of immutable records v.<n> (16 hex digits), the
// data segments seg.<writer> (one per writer session), staging files t.*,
// and, once the upload is committed or cancelled, the seal.
//
// A record is published by link(2)ing a fully written file to the next name
// in the chain. link fails with EEXIST if that name exists, on local
// filesystems and on NFS alike, so publishing is a compare-and-swap: of two
// processes that read record n, exactly one publishes n+1. No lock and no
// flock is involved. A slot with no record holds the fresh upload of the
// process that created the directory, with nothing durable yet: the
// directory is the first record, which saves an inode on every upload.
//
// A writer session writes a segment of its own, or, when the head is a
// record its owner published at Close (no one writes now), it extends the
// last segment in place, which saves copying it at Commit. A segment
// becomes part of the upload only when its writer publishes a record naming
// it, or its new size (Close). A session that opens on a head that is not
// a Close record may be fencing a live writer, which may be extending the
// last segment: it marks that segment shared, never to be extended or
// committed in place again, and writes its own. So bytes of two writers
// can never interleave, and what a record names is never written again.
//
// Commit and Cancel end the chain by linking an existing file of the slot
// to the name sealed.<n>, n the number of the head they own (again a
// compare-and-swap, and no new inode), then checking that record n is
// still the head. A publisher building on record n checks for sealed.<n>
// after linking its record. Of a sealer and a publisher on one head, at
// most one succeeds; a stale sealer's seal names an old head, so it can
// neither block nor end the upload. A sealed slot is moved to the trash as
// a whole.
//
// A writer that finds its slot moved (Delete), its predecessor record
// replaced, or the slot sealed has been fenced and gets ErrConflict.

func sealName(n uint64) string { return fmt.Sprintf("sealed.%016x", n) }

type segment struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Shared: a session that was fenced may still write to the file past
	// Size, so it is never extended again, nor committed in place.
	Shared bool `json:"shared,omitempty"`
}

// record is one state of an upload in progress.
type record struct {
	Upload   string    `json:"upload"` // identity of the upload
	Writer   string    `json:"writer"` // the writer session that owns it
	Nonce    string    `json:"nonce"`  // tells two records of one number apart
	Segments []segment `json:"segments"`
	// Closed: published by the owner's Close, which had closed its file:
	// no session writes to the upload now.
	Closed bool `json:"closed,omitempty"`
}

func (r *record) size() int64 {
	var n int64
	for _, s := range r.Segments {
		n += s.Size
	}
	return n
}

var (
	// errLost: another process published or sealed first.
	errLost = errors.New("lost the race for the upload")
	// errGone: the slot was deleted or replaced while we held it.
	errGone = errors.New("upload slot was deleted or replaced")
	// errSealed: the upload was committed or cancelled.
	errSealed = errors.New("upload was committed or cancelled")
)

func versionName(n uint64) string { return fmt.Sprintf("v.%016x", n) }

// slot is one process's handle on an upload slot directory.
type slot struct {
	b    *backend
	name string   // path of the slot relative to the root
	dir  *os.Root // the slot directory itself, held open

	parent *dirHandle // the slot's parent as the last check found it, or nil
}

// openSlot opens the slot of an upload path, creating it if create is set.
// fresh reports that this call created the directory: the slot then holds
// a new, empty upload owned by the caller, with no record yet.
func (b *backend) openSlot(p string, create bool) (s *slot, fresh bool, err error) {
	name := slotRel(p)
	parentRel, base := path.Dir(name), path.Base(name)
	for range retries {
		parent, err := b.root.OpenRoot(parentRel)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err := b.mkdirAll(parentRel); err != nil {
				return nil, false, err
			}
			continue // a concurrent prune may remove it again
		}
		if err != nil {
			return nil, false, err
		}
		fresh = false
		if create {
			err := parent.Mkdir(base, 0o755)
			switch {
			case err == nil:
				fresh = true
			case errors.Is(err, fs.ErrExist):
			case errors.Is(err, fs.ErrNotExist):
				parent.Close()
				continue // the parent was removed meanwhile
			default:
				parent.Close()
				return nil, false, err
			}
		}
		dir, err := parent.OpenRoot(base)
		parent.Close()
		if errors.Is(err, fs.ErrNotExist) && create {
			continue // deleted between mkdir and open
		}
		if err != nil {
			return nil, false, err
		}
		return &slot{b: b, name: name, dir: dir}, fresh, nil
	}
	return nil, false, errors.New("upload slot kept disappearing")
}

func (s *slot) close() {
	s.dropParent()
	if s.dir != nil {
		s.dir.Close()
		s.dir = nil
	}
}

func (s *slot) closed() bool { return s.dir == nil }

// head is the newest record file of a slot as one process read it.
type head struct {
	n      uint64  // number of the newest record file; 0: none
	raw    []byte  // its bytes, to tell whether it is still there
	rec    *record // the newest record that parses
	sealed bool    // the upload was committed or cancelled
}

func (h head) same(o head) bool { return h.n == o.n && bytes.Equal(h.raw, o.raw) }

// names lists the slot directory.
func (s *slot) names() ([]string, error) {
	d, err := s.dir.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// latest reads the head of the chain. A record published without fsync
// (only Close promises durability) may be empty after a crash; the state is
// then the newest record that parses.
func (s *slot) latest() (head, error) {
	for range retries {
		names, err := s.names()
		if err != nil {
			return head{}, err
		}
		var h head
		var nums []uint64
		for _, name := range names {
			if hex, ok := strings.CutPrefix(name, "v."); ok {
				if n, err := strconv.ParseUint(hex, 16, 64); err == nil {
					nums = append(nums, n)
				}
			}
		}
		h.sealed = slices.Contains(names, sealName(0))
		if len(nums) == 0 {
			h.rec = freshRecord()
			return h, nil
		}
		slices.Sort(nums)
		h.n = nums[len(nums)-1]
		h.sealed = slices.Contains(names, sealName(h.n))
		h.raw, err = s.dir.ReadFile(versionName(h.n))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by a publisher that lost; look again
		}
		if err != nil {
			return head{}, err
		}
		for i := len(nums) - 1; i >= 0 && h.rec == nil; i-- {
			raw := h.raw
			if i < len(nums)-1 {
				if raw, err = s.dir.ReadFile(versionName(nums[i])); err != nil {
					continue
				}
			}
			h.rec = parseRecord(raw)
		}
		if h.rec == nil {
			// Only unsynced records, cut short by a crash: what was durable
			// is the fresh upload.
			h.rec = freshRecord()
		}
		return h, nil
	}
	return head{}, errGone
}

// freshRecord is the state of a slot with no record: an upload opened by
// the process that created the directory, with nothing durable yet.
func freshRecord() *record { return &record{} }

func parseRecord(raw []byte) *record {
	var rec record
	if json.Unmarshal(raw, &rec) != nil || rec.Upload == "" {
		return nil
	}
	return &rec
}

// publish writes rec as the record after h, fsynced if durable. It returns
// errLost if another process published after h or sealed the slot first,
// and errGone if the slot was deleted. On success it returns the new head.
//
// before, if not nil, runs while the record is written and synced, and
// must succeed before it is linked: Close makes its segment durable there,
// so that the two fsyncs wait for the disk together, not one after the
// other.
func (s *slot) publish(h head, rec *record, durable bool, before func() error) (head, error) {
	done := make(chan error, 1)
	if before == nil {
		done <- nil
	} else {
		go func() { done <- before() }()
	}
	rec.Nonce = randomID()
	data, err := json.Marshal(rec)
	if err != nil {
		<-done
		return head{}, err
	}
	tmp := "t." + randomID()
	f, err := s.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if berr := <-done; berr != nil {
			return head{}, berr
		}
		if errors.Is(err, fs.ErrNotExist) {
			return head{}, errGone
		}
		return head{}, err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if berr := <-done; berr != nil {
		s.dir.Remove(tmp)
		return head{}, berr
	}
	next := versionName(h.n + 1)
	if err == nil {
		err = s.link(tmp, next)
	}
	s.dir.Remove(tmp)
	switch {
	case errors.Is(err, fs.ErrExist):
		return head{}, errLost
	case errors.Is(err, fs.ErrNotExist):
		return head{}, errGone
	case err != nil:
		return head{}, err
	}
	// Record h.n must still be the one we read (the chain may have been
	// torn down and begun anew in this directory), and no one may have
	// sealed the slot meanwhile.
	lost := false
	if h.n > 0 {
		cur, err := s.dir.ReadFile(versionName(h.n))
		lost = err != nil || !bytes.Equal(cur, h.raw)
	}
	if _, err := s.dir.Lstat(sealName(h.n)); err == nil {
		lost = true
	}
	if lost {
		s.dir.Remove(next)
		return head{}, errLost
	}
	if durable {
		if err := s.syncDir(); err != nil {
			return head{}, err
		}
	}
	if err := s.check(); err != nil {
		return head{}, err
	}
	s.dropParent() // a session may stay open long: hold no more than the slot
	return head{n: h.n + 1, raw: data, rec: rec}, nil
}

// seal ends the upload whose head is h: it links an existing file of the
// slot (src, or a new empty file when src is "") to the seal name, then
// checks that h is still the head. On errLost the seal is withdrawn.
func (s *slot) seal(h head, src string) error {
	name := sealName(h.n)
	var err error
	if src != "" {
		err = s.link(src, name)
	} else {
		var f *os.File
		if f, err = s.dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
			f.Close()
		}
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return errLost
	case errors.Is(err, fs.ErrNotExist):
		return errGone
	case err != nil:
		return err
	}
	cur, err := s.latest()
	switch {
	case err != nil:
		err = errGone // the slot was moved and emptied under us
	case !cur.same(h):
		err = errLost
	default:
		err = s.check()
	}
	if err != nil {
		s.dir.Remove(name) // withdraw: the upload is not ours to end
	}
	return err
}

// link links the slot's file src to name. A link that acted but reported
// EEXIST, as an NFS client does when it retransmits a call whose reply was
// lost, is recognised by name being src's inode: it succeeded.
func (s *slot) link(src, name string) error {
	err := s.dir.Link(src, name)
	if errors.Is(err, fs.ErrExist) && s.sameFile(src, name) {
		return nil
	}
	return err
}

// sameFile reports whether the slot's names a and b are one inode.
func (s *slot) sameFile(a, b string) bool {
	fa, err := s.dir.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := s.dir.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// unseal withdraws the seal this session made on h with the file src,
// if the seal is still that file: the upload goes on as before.
func (s *slot) unseal(h head, src string) {
	if name := sealName(h.n); s.sameFile(src, name) {
		s.dir.Remove(name)
	}
}

// handle returns a handle on the slot directory; its close leaves the
// slot's root open.
func (s *slot) handle() *dirHandle {
	return &dirHandle{rel: s.name, r: s.dir, borrowed: true}
}

func (s *slot) syncDir() error {
	d, err := s.dir.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// check fails with errGone if the slot's path no longer leads to the
// directory we hold (Delete moved it to the trash). On success it keeps the
// slot's parent directory open for teardown.
func (s *slot) check() error {
	held, err := s.dir.Stat(".")
	if err != nil {
		return errGone
	}
	parent, err := s.b.openDir(path.Dir(s.name))
	if err != nil {
		return errGone
	}
	now, err := parent.r.Lstat(path.Base(s.name))
	if err != nil || !os.SameFile(held, now) {
		parent.close()
		return errGone
	}
	s.dropParent()
	s.parent = parent
	return nil
}

func (s *slot) dropParent() {
	if s.parent != nil {
		s.parent.close()
		s.parent = nil
	}
}

// teardown moves a sealed slot to the trash in one rename, so no one ever
// sees it half removed, and empties the trash entry. A slot that another
// process already moved (a helping writer, Delete) is left alone.
//
// It looks the slot up in the parent directory that the last check opened,
// or opens it anew. A parent that Delete has since moved to the trash is
// harmless: the slot found there is ours and already in the trash.
func (s *slot) teardown() {
	held, err := s.dir.Stat(".")
	if err != nil {
		return
	}
	if s.parent == nil {
		if s.parent, err = s.b.openDir(path.Dir(s.name)); err != nil {
			return
		}
	}
	defer s.dropParent()
	base := path.Base(s.name)
	if now, err := s.parent.r.Lstat(base); err != nil || !os.SameFile(held, now) {
		return
	}
	id := randomID()
	var trash *dirHandle
	for try := 0; ; try++ {
		if trash, err = s.b.trash(); err != nil {
			return // Sweep takes what a failure leaves
		}
		err = s.b.renameAt(s.parent, base, trash, id)
		if err == nil {
			break
		}
		if _, serr := s.parent.r.Lstat(base); serr != nil || try > 0 {
			return // gone meanwhile (moved by another process), or Sweep's
		}
		s.b.dropTrash(trash) // the slot is there: the trash was removed
	}
	// A fenced writer may still link a file into the moved directory before
	// it notices; it removes it again, and so do we.
	for range 3 {
		if trash.r.RemoveAll(id) == nil {
			return
		}
	}
}

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) || errors.Is(err, errGone) || errors.Is(err, errSealed) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}
