package ossserver

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The store keeps everything under one directory:
//
//	tmp/                            bodies being received, then renamed
//	buckets/<bucket>/bucket.json    the bucket's creation time
//	buckets/<bucket>/data/<id>      immutable data files (segments, parts)
//	buckets/<bucket>/objects/<h>.json   one per object: its key and segments
//	buckets/<bucket>/uploads/<id>/upload.json   one per multipart upload
//	buckets/<bucket>/uploads/<id>/part-<n>.json one per part uploaded
//
// Every metadata file is written to tmp/ and renamed into place, so a
// crash leaves the old or the new file, never a torn one. Data files are
// written once and never changed: an object names the files that make it
// up (one for a PUT, one per part for a completed multipart upload, one per
// append), a copy hard-links them. A bucket's metadata is also held in
// memory, under the bucket's mutex, which every check-and-change takes:
// that is what makes forbid-overwrite and append positions atomic here.
type store struct {
	dir string
	mu  sync.Mutex
	bkt map[string]*bucket
}

type bucket struct {
	name    string
	dir     string
	created time.Time
	mu      sync.Mutex
	objects map[string]*object
	uploads map[string]*upload
}

// object is one object's metadata, as stored in objects/<h>.json.
type object struct {
	Key         string    `json:"key"`
	Type        string    `json:"type"` // Normal, Multipart, Appendable
	Size        int64     `json:"size"`
	ETag        string    `json:"etag"` // without quotes
	CRC         uint64    `json:"crc64"`
	Modified    time.Time `json:"modified"`
	ContentType string    `json:"contentType,omitempty"`
	SSE         string    `json:"sse,omitempty"`
	Meta        []string  `json:"meta,omitempty"` // x-oss-meta-* as "name:value"
	Segments    []segment `json:"segments"`
}

type segment struct {
	File string `json:"file"` // name under data/
	Size int64  `json:"size"`
	MD5  string `json:"md5,omitempty"` // hex, for appendable ETags
	CRC  uint64 `json:"crc64"`
}

// upload is one multipart upload, as stored in uploads/<id>.json.
type upload struct {
	ID          string        `json:"id"`
	Key         string        `json:"key"`
	Initiated   time.Time     `json:"initiated"`
	ContentType string        `json:"contentType,omitempty"`
	SSE         string        `json:"sse,omitempty"`
	Parts       map[int]*part `json:"-"` // each in its own file
}

type part struct {
	N        int       `json:"n"`
	ETag     string    `json:"etag"` // upper-case hex MD5, no quotes
	Size     int64     `json:"size"`
	CRC      uint64    `json:"crc64"`
	File     string    `json:"file"`
	Modified time.Time `json:"modified"`
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// copyBuffers are the buffers request and response bodies are copied
// through: reused, so that streaming a large object allocates nothing per
// request.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func openStore(dir string) (*store, error) {
	for _, d := range []string{"tmp", "buckets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// Bodies that were being received when the process stopped.
	if tmp, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range tmp {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	s := &store{dir: dir, bkt: map[string]*bucket{}}
	entries, err := os.ReadDir(filepath.Join(dir, "buckets"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := s.loadBucket(e.Name())
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", e.Name(), err)
		}
		s.bkt[b.name] = b
	}
	return s, nil
}

func (s *store) loadBucket(name string) (*bucket, error) {
	b := &bucket{name: name, dir: filepath.Join(s.dir, "buckets", name), objects: map[string]*object{}, uploads: map[string]*upload{}}
	var info struct {
		Created time.Time `json:"created"`
	}
	if err := readJSON(filepath.Join(b.dir, "bucket.json"), &info); err != nil {
		return nil, err
	}
	b.created = info.Created
	objs, _ := os.ReadDir(filepath.Join(b.dir, "objects"))
	for _, e := range objs {
		o := &object{}
		if err := readJSON(filepath.Join(b.dir, "objects", e.Name()), o); err != nil {
			return nil, err
		}
		b.objects[o.Key] = o
	}
	ups, _ := os.ReadDir(filepath.Join(b.dir, "uploads"))
	for _, e := range ups {
		dir := filepath.Join(b.dir, "uploads", e.Name())
		u := &upload{Parts: map[int]*part{}}
		if err := readJSON(filepath.Join(dir, "upload.json"), u); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(dir) // an initiation cut short: never answered
			continue
		} else if err != nil {
			return nil, err
		}
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			if !strings.HasPrefix(f.Name(), "part-") {
				continue
			}
			p := &part{}
			if err := readJSON(filepath.Join(dir, f.Name()), p); err != nil {
				return nil, err
			}
			u.Parts[p.N] = p
		}
		b.uploads[u.ID] = u
	}
	return b, nil
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// writeJSON writes v to path atomically: a temp file renamed over it.
func (s *store) writeJSON(path string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "meta-")
	if err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func (s *store) bucket(name string) (*bucket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bkt[name]
	return b, ok
}

func (s *store) createBucket(name string, now time.Time) (*bucket, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bkt[name]; ok {
		return b, false, nil
	}
	b := &bucket{name: name, dir: filepath.Join(s.dir, "buckets", name), created: now,
		objects: map[string]*object{}, uploads: map[string]*upload{}}
	for _, d := range []string{"data", "objects", "uploads"} {
		if err := os.MkdirAll(filepath.Join(b.dir, d), 0o755); err != nil {
			return nil, false, err
		}
	}
	if err := s.writeJSON(filepath.Join(b.dir, "bucket.json"), map[string]time.Time{"created": now}); err != nil {
		return nil, false, err
	}
	s.bkt[name] = b
	return b, true, nil
}

var errBucketNotEmpty = errors.New("bucket not empty")

func (s *store) deleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bkt[name]
	if !ok {
		return os.ErrNotExist
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.objects) > 0 || len(b.uploads) > 0 {
		return errBucketNotEmpty
	}
	delete(s.bkt, name)
	return os.RemoveAll(b.dir)
}

func (s *store) buckets() []*bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*bucket, 0, len(s.bkt))
	for _, b := range s.bkt {
		out = append(out, b)
	}
	return out
}

// body is a received request body in a temp file, with its digests.
type body struct {
	path string
	size int64
	md5  []byte
	crc  uint64
}

// receive copies r to a temp file, computing MD5 and CRC-64/ECMA on the
// way. The caller moves it into place with install or removes it.
func (s *store) receive(r io.Reader) (*body, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "body-")
	if err != nil {
		return nil, err
	}
	m := md5.New()
	c := crc64.New(crcTable)
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(f, m, c), r, *buf)
	copyBuffers.Put(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &body{path: f.Name(), size: n, md5: m.Sum(nil), crc: c.Sum64()}, nil
}

func (b *body) discard() {
	if b != nil && b.path != "" {
		os.Remove(b.path)
	}
}

// install moves a received body into the bucket's data files and returns
// its name there.
func (bk *bucket) install(bd *body) (string, error) {
	name := randomHex(16)
	if err := os.Rename(bd.path, filepath.Join(bk.dir, "data", name)); err != nil {
		return "", err
	}
	bd.path = ""
	return name, nil
}

func (bk *bucket) dataPath(name string) string { return filepath.Join(bk.dir, "data", name) }

func objectFile(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:]) + ".json"
}

// putObject records o (bk.mu held), replacing and removing the data of
// the object it replaces, if any.
func (s *store) putObject(bk *bucket, o *object) error {
	if err := s.writeJSON(filepath.Join(bk.dir, "objects", objectFile(o.Key)), o); err != nil {
		return err
	}
	old := bk.objects[o.Key]
	bk.objects[o.Key] = o
	if old != nil {
		bk.removeData(old.Segments, o.Segments)
	}
	return nil
}

// deleteObject removes key (bk.mu held); false if there was none.
func (s *store) deleteObject(bk *bucket, key string) (bool, error) {
	o, ok := bk.objects[key]
	if !ok {
		return false, nil
	}
	if err := os.Remove(filepath.Join(bk.dir, "objects", objectFile(key))); err != nil && !os.IsNotExist(err) {
		return false, err
	}
	delete(bk.objects, key)
	bk.removeData(o.Segments, nil)
	return true, nil
}

// removeData removes the data files of segs that keep does not use.
// Readers that opened them keep reading: a removed file lives on while
// open.
func (bk *bucket) removeData(segs []segment, keep []segment) {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k.File] = true
	}
	for _, sg := range segs {
		if !kept[sg.File] {
			os.Remove(bk.dataPath(sg.File))
		}
	}
}

func (bk *bucket) uploadDir(id string) string { return filepath.Join(bk.dir, "uploads", id) }

// putUpload records a new upload (bk.mu held).
func (s *store) putUpload(bk *bucket, u *upload) error {
	if err := os.MkdirAll(bk.uploadDir(u.ID), 0o755); err != nil {
		return err
	}
	if err := s.writeJSON(filepath.Join(bk.uploadDir(u.ID), "upload.json"), u); err != nil {
		return err
	}
	bk.uploads[u.ID] = u
	return nil
}

// putPart records p as part p.N of u (bk.mu held), replacing and removing
// the data of the part it replaces, if any. Each part has its own file,
// so an upload of many parts costs one small write per part.
func (s *store) putPart(bk *bucket, u *upload, p *part) error {
	if err := s.writeJSON(filepath.Join(bk.uploadDir(u.ID), fmt.Sprintf("part-%05d.json", p.N)), p); err != nil {
		return err
	}
	old := u.Parts[p.N]
	u.Parts[p.N] = p
	if old != nil {
		bk.removeData([]segment{{File: old.File}}, nil)
	}
	return nil
}

// dropUpload forgets u (bk.mu held) and removes the data of its parts
// but those in keep.
func (s *store) dropUpload(bk *bucket, u *upload, keep []segment) error {
	if err := os.RemoveAll(bk.uploadDir(u.ID)); err != nil {
		return err
	}
	delete(bk.uploads, u.ID)
	var segs []segment
	for _, p := range u.Parts {
		segs = append(segs, segment{File: p.File})
	}
	bk.removeData(segs, keep)
	return nil
}

// openRange opens the data of o from off for n bytes (bk.mu held): the
// files are opened at once, so that a concurrent replace or delete does
// not cut the read short.
func (bk *bucket) openRange(o *object, off, n int64) (io.ReadCloser, error) {
	var readers []io.Reader
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pos := int64(0)
	for _, sg := range o.Segments {
		lo, hi := pos, pos+sg.Size
		pos = hi
		if hi <= off || lo >= off+n || sg.Size == 0 {
			continue
		}
		f, err := os.Open(bk.dataPath(sg.File))
		if err != nil {
			closeAll()
			return nil, err
		}
		files = append(files, f)
		start := max(off, lo) - lo
		end := min(off+n, hi) - lo
		readers = append(readers, io.NewSectionReader(f, start, end-start))
	}
	return &multiFile{Reader: io.MultiReader(readers...), close: closeAll}, nil
}

type multiFile struct {
	io.Reader
	close func()
}

func (m *multiFile) Close() error { m.close(); return nil }

// etagOf formats an MD5 as OSS's ETag: upper-case hex.
func etagOf(sum []byte) string { return strings.ToUpper(hex.EncodeToString(sum)) }

// multipartETag is the ETag of a completed multipart upload: the MD5 of
// the parts' binary MD5s, a dash, the part count.
func multipartETag(parts []*part) string {
	h := md5.New()
	for _, p := range parts {
		raw, _ := hex.DecodeString(p.ETag)
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", etagOf(h.Sum(nil)), len(parts))
}

// appendETag is the ETag of an appendable object: a digest of its
// segments' MD5s (OSS documents that an appendable object's ETag is not
// the MD5 of its content).
func appendETag(segs []segment) string {
	var h hash.Hash = md5.New()
	for _, sg := range segs {
		raw, _ := hex.DecodeString(sg.MD5)
		h.Write(raw)
	}
	return etagOf(h.Sum(nil))
}
