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
// data segments seg.<writer> (one per writer session) and staging files.
//
// A record is published by link(2)ing a fully written, fsynced file to the
// next name in the chain. link fails with EEXIST if that name exists, on
// local filesystems and on NFS alike, so publishing is a compare-and-swap:
// of two processes that read record n, exactly one publishes n+1. No lock
// and no flock is involved.
//
// Every writer session writes only its own segment, so bytes of two
// writers can never interleave; a segment becomes part of the upload only
// when its writer publishes a record naming it (Close), and is never
// written again after that.
//
// Records are only removed with the whole slot (Commit, Cancel, Delete). A
// writer that finds its slot directory moved or its predecessor record
// replaced has been fenced and gets ErrConflict.

const (
	statusOpen      = "open"
	statusCommitted = "committed"
	statusCancelled = "cancelled"
)

type segment struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// record is one state of an upload.
type record struct {
	Upload   string    `json:"upload"` // identity of the upload
	Writer   string    `json:"writer"` // the writer session that owns it
	Nonce    string    `json:"nonce"`  // tells two records of one number apart
	Status   string    `json:"status"`
	Segments []segment `json:"segments"`
}

func (r *record) size() int64 {
	var n int64
	for _, s := range r.Segments {
		n += s.Size
	}
	return n
}

var (
	// errLost: another process published the next record first.
	errLost = errors.New("lost the race for the next upload record")
	// errGone: the slot was deleted or replaced while we held it.
	errGone = errors.New("upload slot was deleted or replaced")
)

func versionName(n uint64) string { return fmt.Sprintf("v.%016x", n) }

// slot is one process's handle on an upload slot directory.
type slot struct {
	b    *backend
	name string   // path of the slot relative to the root
	dir  *os.Root // the slot directory itself, held open
}

// openSlot opens the slot of an upload path, creating it if create is set.
// fresh reports that this call created the directory: the slot then holds
// a new, empty upload owned by the caller, with no record yet (the
// directory itself is the first record, which saves an inode on every
// upload).
func (b *backend) openSlot(p string, create bool) (s *slot, fresh bool, err error) {
	name := slotRel(p)
	for range retries {
		fresh = false
		if create {
			err := b.root.Mkdir(name, 0o755)
			if errors.Is(err, fs.ErrNotExist) {
				if err := b.mkdirAll(path.Dir(name)); err != nil {
					return nil, false, err
				}
				err = b.root.Mkdir(name, 0o755)
			}
			switch {
			case err == nil:
				fresh = true
			case errors.Is(err, fs.ErrExist):
			case errors.Is(err, fs.ErrNotExist):
				continue // a parent was pruned meanwhile
			default:
				return nil, false, err
			}
		}
		dir, err := b.root.OpenRoot(name)
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
	if s.dir != nil {
		s.dir.Close()
		s.dir = nil
	}
}

func (s *slot) closed() bool { return s.dir == nil }

// head is the newest record file of a slot as one process read it.
type head struct {
	n   uint64  // number of the newest record file; 0: none
	raw []byte  // its bytes, to tell whether it is still there
	rec *record // the newest record that parses; nil: none
}

// latest reads the head of the chain. A record published without fsync
// (open and commit records: only Close promises durability) may be empty
// after a crash; the state is then the newest record that parses.
func (s *slot) latest() (head, error) {
	for range retries {
		d, err := s.dir.Open(".")
		if err != nil {
			return head{}, err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return head{}, err
		}
		var nums []uint64
		for _, name := range names {
			if hex, ok := strings.CutPrefix(name, "v."); ok {
				if n, err := strconv.ParseUint(hex, 16, 64); err == nil {
					nums = append(nums, n)
				}
			}
		}
		if len(nums) == 0 {
			return head{rec: freshRecord()}, nil
		}
		slices.Sort(nums)
		h := head{n: nums[len(nums)-1]}
		h.raw, err = s.dir.ReadFile(versionName(h.n))
		if errors.Is(err, fs.ErrNotExist) {
			continue // slot being torn down; look again
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
func freshRecord() *record { return &record{Status: statusOpen} }

func parseRecord(raw []byte) *record {
	var rec record
	if json.Unmarshal(raw, &rec) != nil || rec.Upload == "" {
		return nil
	}
	return &rec
}

// publish writes rec as the record after h, fsynced if durable. It returns
// errLost if another process published after h first and errGone if the
// slot was deleted or replaced. On success it returns the new head.
func (s *slot) publish(h head, rec *record, durable bool) (head, error) {
	rec.Nonce = randomID()
	data, err := json.Marshal(rec)
	if err != nil {
		return head{}, err
	}
	tmp := "t." + randomID()
	f, err := s.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		return head{}, errGone
	}
	if err != nil {
		return head{}, err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	next := versionName(h.n + 1)
	if err == nil {
		err = s.dir.Link(tmp, next)
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
	// The chain may have been torn down and begun anew in this directory
	// since we read h: then record h.n is gone or another one.
	if h.n > 0 {
		if cur, err := s.dir.ReadFile(versionName(h.n)); err != nil || !bytes.Equal(cur, h.raw) {
			s.dir.Remove(next)
			return head{}, errLost
		}
	}
	if durable {
		if err := s.syncDir(); err != nil {
			return head{}, err
		}
	}
	if err := s.check(); err != nil {
		return head{}, err
	}
	return head{n: h.n + 1, raw: data, rec: rec}, nil
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
// directory we hold (Delete moved it to the trash).
func (s *slot) check() error {
	held, err := s.dir.Stat(".")
	if err != nil {
		return errGone
	}
	now, err := s.b.root.Stat(s.name)
	if err != nil || !os.SameFile(held, now) {
		return errGone
	}
	return nil
}

// teardown removes a finished upload whose terminal record is number
// last. Normally the whole slot goes to the trash in one rename, so no one
// ever sees it half removed. If a new upload began in the slot after the
// terminal record, only the finished chain's files are removed.
func (s *slot) teardown(last uint64) {
	if h, err := s.latest(); err == nil && h.n == last && s.check() == nil {
		s.b.toTrash(s.name)
		return
	}
	for n := uint64(1); n <= last; n++ {
		raw, err := s.dir.ReadFile(versionName(n))
		rec := parseRecord(raw)
		if err != nil || rec == nil {
			continue
		}
		s.dir.Remove("seg." + rec.Writer)
		for _, seg := range rec.Segments {
			s.dir.Remove(seg.Name)
		}
	}
	for n := uint64(1); n <= last; n++ {
		s.dir.Remove(versionName(n))
	}
}

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) || errors.Is(err, errGone) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}
