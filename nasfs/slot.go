package nasfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
func (b *backend) openSlot(p string, create bool) (*slot, error) {
	name := slotRel(p)
	for range retries {
		if create {
			if err := b.mkdirAll(name); err != nil {
				return nil, err
			}
		}
		dir, err := b.root.OpenRoot(name)
		if errors.Is(err, fs.ErrNotExist) && create {
			continue // pruned between mkdir and open
		}
		if err != nil {
			return nil, err
		}
		return &slot{b: b, name: name, dir: dir}, nil
	}
	return nil, errors.New("upload slot kept disappearing")
}

func (s *slot) close() {
	if s.dir != nil {
		s.dir.Close()
		s.dir = nil
	}
}

func (s *slot) closed() bool { return s.dir == nil }

// latest returns the newest record and its number; n == 0 means none.
func (s *slot) latest() (uint64, *record, error) {
	for range retries {
		d, err := s.dir.Open(".")
		if err != nil {
			return 0, nil, err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return 0, nil, err
		}
		var max uint64
		for _, name := range names {
			if hex, ok := strings.CutPrefix(name, "v."); ok {
				if n, err := strconv.ParseUint(hex, 16, 64); err == nil && n > max {
					max = n
				}
			}
		}
		if max == 0 {
			return 0, nil, nil
		}
		rec, err := s.read(max)
		if errors.Is(err, fs.ErrNotExist) {
			continue // slot being torn down; look again
		}
		return max, rec, err
	}
	return 0, nil, errGone
}

func (s *slot) read(n uint64) (*record, error) {
	data, err := s.dir.ReadFile(versionName(n))
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("upload record %s/%s: %w", s.name, versionName(n), err)
	}
	return &rec, nil
}

// publish writes rec as record n+1, on top of prev (record n, nil if n is
// 0). It returns errLost if another process got there first and errGone if
// the slot was deleted or replaced.
func (s *slot) publish(n uint64, prev, rec *record) error {
	rec.Nonce = randomID()
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := "t." + randomID()
	f, err := s.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		return errGone
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.dir.Link(tmp, versionName(n+1))
	}
	s.dir.Remove(tmp)
	switch {
	case errors.Is(err, fs.ErrExist):
		return errLost
	case errors.Is(err, fs.ErrNotExist):
		return errGone
	case err != nil:
		return err
	}
	// The chain may have been torn down and begun anew in this directory
	// since we read record n: then record n is gone or another one.
	if n > 0 {
		cur, err := s.read(n)
		if err != nil || cur.Nonce != prev.Nonce {
			s.dir.Remove(versionName(n + 1))
			return errLost
		}
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	return s.check()
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
// last: the segments and records of the chain up to it, staging files, and
// the directory if nothing new arrived meanwhile. A writer that began a new
// upload in the slot after the terminal record keeps its own segment and
// records.
func (s *slot) teardown(last uint64) {
	for n := uint64(1); n <= last; n++ {
		rec, err := s.read(n)
		if err != nil {
			continue
		}
		s.dir.Remove("seg." + rec.Writer)
		for _, seg := range rec.Segments {
			s.dir.Remove(seg.Name)
		}
	}
	if d, err := s.dir.Open("."); err == nil {
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			if strings.HasPrefix(name, "t.") {
				s.dir.Remove(name)
			}
		}
	}
	for n := uint64(1); n <= last; n++ {
		s.dir.Remove(versionName(n))
	}
	if s.check() == nil {
		s.b.pruneEmpty(s.name, uploadsDir)
	}
}

// conflict turns a lost race into the error callers see.
func conflict(err error) error {
	if errors.Is(err, errLost) || errors.Is(err, errGone) {
		return driver.Errorf(driver.ErrConflict, "upload was taken over, committed, cancelled or deleted by another writer")
	}
	return err
}
