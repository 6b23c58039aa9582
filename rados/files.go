//go:build cgo

package rados

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berthio/berth/driver"
)

// maxRetries bounds the compare-and-swap loops: each lost round means
// another call made progress on the same entry.
const maxRetries = 1000

func errBusy(what string) error {
	return driver.Errorf(driver.ErrConflict, "%s: gave up after %d lost races with concurrent writers", what, maxRetries)
}

// file reads the record of the file at p, or nil.
func (b *backend) file(p string) (*fileRec, []byte, error) {
	dir, name := split(p)
	raw, err := b.getEntry(dirObj(treeFiles, dir), keyFile+name)
	if err != nil || raw == nil {
		return nil, nil, err
	}
	rec, err := decodeFile(raw)
	return rec, raw, err
}

func (b *backend) mustFile(p string) (*fileRec, error) {
	rec, _, err := b.file(p)
	if err == nil && rec == nil {
		err = driver.ErrNotFound
	}
	return rec, err
}

// replaceFile makes val the record of the file at p, whatever was there,
// in one compare-and-swap on its directory's entry: the moment the new
// content becomes visible. It returns the record it replaced, or nil.
func (b *backend) replaceFile(ctx context.Context, p string, val []byte) (*fileRec, error) {
	dir, name := split(p)
	oid, key := dirObj(treeFiles, dir), keyFile+name
	for range maxRetries {
		old, err := b.getEntry(oid, key)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err = b.casEntry(oid, key, old, val)
		if err == errLost {
			continue
		}
		if err != nil || old == nil {
			return nil, err
		}
		rec, err := decodeFile(old)
		if err != nil {
			return nil, nil // a corrupt record is gone now; its chunks are Sweep's
		}
		return rec, nil
	}
	return nil, errBusy("replacing " + p)
}

// removeFile removes the file entry at p, returning what it held (nil:
// there was none).
func (b *backend) removeFile(p string) (*fileRec, error) {
	dir, name := split(p)
	oid, key := dirObj(treeFiles, dir), keyFile+name
	for range maxRetries {
		old, err := b.getEntry(oid, key)
		if err != nil || old == nil {
			return nil, err
		}
		err = b.casEntry(oid, key, old, nil)
		if err == errLost {
			continue
		}
		if goneAfter(err) {
			// Removed, by this call or by another; if by a Move, the
			// chunks are its destination's: leave them to Sweep.
			return &fileRec{}, nil
		}
		if err != nil {
			return nil, err
		}
		rec, err := decodeFile(old)
		if err != nil {
			return &fileRec{}, nil
		}
		return rec, nil
	}
	return nil, errBusy("removing " + p)
}

// dropFile removes the chunks of a record that was replaced or removed,
// unless a Move had claimed it: then they belong to the Move's
// destination. The call that replaced or removed it has taken effect:
// chunks left by a failure here are named by no record, and Sweep's.
func (b *backend) dropFile(rec *fileRec, keep []run) {
	if rec == nil || rec.Move != nil || len(rec.Runs) == 0 || sameRuns(rec.Runs, keep) {
		return
	}
	b.deleteChunks(chunks(rec.Runs))
}

func sameRuns(a, b []run) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// GetContent reads the record, then its chunks in parallel. A chunk that
// is gone means the file was replaced or removed after the record was
// read: the record is read again and the read starts over.
func (b *backend) GetContent(ctx context.Context, p string) ([]byte, error) {
	for range maxRetries {
		rec, err := b.mustFile(p)
		if err != nil {
			return nil, err
		}
		if rec.Runs == nil {
			return append([]byte{}, rec.Inline...), nil
		}
		out := make([]byte, rec.Size)
		n := (rec.Size + rec.ChunkSize - 1) / rec.ChunkSize
		err = b.parallel(ctx, int(n), func(i int) error {
			lo := int64(i) * rec.ChunkSize
			hi := min(lo+rec.ChunkSize, rec.Size)
			oid, ok := chunkAt(rec.Runs, int64(i))
			if !ok {
				return fmt.Errorf("file record of %s names no chunk %d", p, i)
			}
			got, err := b.io.Read(oid, out[lo:hi], 0)
			if err == nil && int64(got) != hi-lo {
				err = errShortChunk(oid, got, hi-lo)
			}
			return err
		})
		if err == nil {
			return out, nil
		}
		if changed, cerr := b.changed(p, rec, err); cerr != nil || !changed {
			return nil, cmp.Or(cerr, err)
		}
	}
	return nil, errBusy("reading " + p)
}

// changed reports whether a chunk read failed because the file's record
// is no longer rec.
func (b *backend) changed(p string, rec *fileRec, err error) (bool, error) {
	var short *shortChunkError
	if !isNotFound(err) && !errors.As(err, &short) {
		return false, nil
	}
	now, _, err := b.file(p)
	if err != nil {
		return false, err
	}
	return now == nil || now.Nonce != rec.Nonce, nil
}

type shortChunkError struct {
	oid       string
	got, want int64
}

func (e *shortChunkError) Error() string {
	return fmt.Sprintf("chunk %s holds %d bytes, its record says %d (replaced or deleted while read)", e.oid, e.got, e.want)
}

func errShortChunk(oid string, got int, want int64) error {
	return &shortChunkError{oid: oid, got: int64(got), want: want}
}

func (b *backend) PutContent(ctx context.Context, p string, content []byte) error {
	rec := &fileRec{Size: int64(len(content)), MTime: time.Now().UnixNano(), Nonce: newID()}
	if len(content) <= inlineMax {
		rec.Inline = content
	} else {
		gen, cs := newID(), b.cfg.ChunkSize
		rec.ChunkSize = cs
		rec.Runs = []run{{Gen: gen, First: 0, N: (rec.Size + cs - 1) / cs}}
		if err := b.writeChunks(ctx, gen, cs, content); err != nil {
			b.deleteChunks(chunks(rec.Runs))
			return err
		}
	}
	old, err := b.replaceFile(ctx, p, encode(rec))
	if err != nil {
		if !isUncertain(err) { // else the record may be live and name them: Sweep's
			b.deleteChunks(chunks(rec.Runs))
		}
		return err
	}
	dir, _ := split(p)
	if err := b.link(treeFiles, dir); err != nil {
		return err
	}
	b.dropFile(old, nil)
	return nil
}

func fileInfo(p string, rec *fileRec) driver.FileInfo {
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
		Path: p, Size: rec.Size, ModTime: time.Unix(0, rec.MTime)}}
}

func dirInfo(p string) driver.FileInfo {
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, IsDir: true}}
}

// Stat reads the file record, or else whether p's directory object holds
// an entry.
func (b *backend) Stat(ctx context.Context, p string) (driver.FileInfo, error) {
	if p != "/" {
		rec, _, err := b.file(p)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return fileInfo(p, rec), nil
		}
		m, err := b.io.GetOmapValues(dirObj(treeFiles, p), "", "", 1)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		if len(m) == 0 {
			return nil, driver.ErrNotFound
		}
	}
	return dirInfo(p), nil
}

// dirEntry is one name in a directory: a file, a subdirectory, or both.
type dirEntry struct {
	name string
	file *fileRec
	dir  bool
}

// readDir returns the entries of dir in byte order of their names.
func (b *backend) readDir(ctx context.Context, dir string) ([]dirEntry, error) {
	var out []dirEntry
	err := b.entries(ctx, b.io, dirObj(treeFiles, dir), func(key string, val []byte) error {
		var e dirEntry
		switch {
		case len(key) > 2 && key[:2] == keyFile:
			rec, err := decodeFile(val)
			if err != nil {
				return fmt.Errorf("%s: %w", child(dir, key[2:]), err)
			}
			e = dirEntry{name: key[2:], file: rec}
		case len(key) > 2 && key[:2] == keyDir:
			e = dirEntry{name: key[2:], dir: true}
		default:
			return nil
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortEntries(out)
	return out, nil
}

func (b *backend) List(ctx context.Context, p string) ([]string, error) {
	ents, err := b.readDir(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(ents) == 0 && p != "/" {
		return nil, driver.ErrNotFound
	}
	out := make([]string, 0, len(ents))
	for i, e := range ents {
		if i > 0 && ents[i-1].name == e.name {
			continue // a file and a directory of one name
		}
		out = append(out, child(p, e.name))
	}
	return out, nil
}

// Walk reads each directory object once: file sizes come from the
// records, so no Stat per file.
func (b *backend) Walk(ctx context.Context, p string, fn driver.WalkFn, opts driver.WalkOptions) error {
	ents, err := b.readDir(ctx, p)
	if err != nil {
		return err
	}
	if len(ents) == 0 && p != "/" {
		return driver.ErrNotFound
	}
	return b.walk(ctx, p, ents, fn, opts)
}

func (b *backend) walk(ctx context.Context, dir string, ents []dirEntry, fn driver.WalkFn, opts driver.WalkOptions) error {
	hint := opts.StartAfterHint
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := child(dir, e.name)
		if hint != "" && full <= hint && !driver.IsUnder(hint, full) {
			continue
		}
		visit := hint == "" || full > hint
		if e.file != nil {
			if visit {
				if err := fn(fileInfo(full, e.file)); err != nil {
					return err
				}
			}
			continue
		}
		sub, err := b.readDir(ctx, full)
		if err != nil {
			return err
		}
		if len(sub) == 0 {
			continue // emptied while we walked
		}
		if visit {
			err = fn(dirInfo(full))
			if err == driver.ErrSkipDir {
				continue
			}
			if err != nil {
				return err
			}
		}
		if err := b.walk(ctx, full, sub, fn, opts); err != nil {
			return err
		}
	}
	return nil
}

// NewRangeReader reads the record once: the reader delivers the content
// it names, even if the file is replaced meanwhile (unless the old
// chunks are deleted under it, which fails the read).
func (b *backend) NewRangeReader(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	rec, err := b.mustFile(p)
	if err != nil {
		return nil, err
	}
	if offset > rec.Size {
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, rec.Size)
	}
	end := rec.Size
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	if rec.Runs == nil {
		return io.NopCloser(bytesReader(rec.Inline[offset:end])), nil
	}
	wantEnd := int64(-1)
	if length >= 0 {
		wantEnd = offset + length
	}
	return b.newChunkReader(ctx, p, rec, offset, end, wantEnd), nil
}
