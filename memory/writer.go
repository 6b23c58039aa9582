package memory

import (
	"context"
	"slices"
	"time"

	"github.com/berthio/berth/driver"
)

func (b *backend) Writer(_ context.Context, path string, append bool) (driver.FileWriter, error) {
	sh := b.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.nextGen++
	up := sh.uploads[path]
	if append {
		if up == nil {
			return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress")
		}
		up.gen = sh.nextGen // fences the previous writer
	} else {
		up = &upload{id: sh.nextGen, gen: sh.nextGen}
		sh.uploads[path] = up
	}
	return &writer{sh: sh, path: path, id: up.id, gen: up.gen, base: int64(len(up.data))}, nil
}

// writer keeps unflushed bytes in this instance until Close or Commit.
type writer struct {
	sh      *Shared
	path    string
	id, gen uint64
	base    int64
	pending []byte
}

func (w *writer) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	return len(p), nil
}

func (w *writer) Size() int64 { return w.base + int64(len(w.pending)) }

// owned returns the upload if this writer still owns it. Callers hold sh.mu.
func (w *writer) owned() (*upload, error) {
	up := w.sh.uploads[w.path]
	if up == nil || up.id != w.id || up.gen != w.gen {
		return nil, driver.Errorf(driver.ErrConflict, "upload was taken over, committed or deleted by another writer")
	}
	return up, nil
}

func (w *writer) Close() error {
	w.sh.mu.Lock()
	defer w.sh.mu.Unlock()
	up, err := w.owned()
	if err != nil {
		return err
	}
	up.data = slices.Concat(up.data, w.pending)
	w.pending = nil
	return nil
}

func (w *writer) Commit(context.Context) error {
	w.sh.mu.Lock()
	defer w.sh.mu.Unlock()
	up, err := w.owned()
	if err != nil {
		return err
	}
	w.sh.files[w.path] = file{data: slices.Concat(up.data, w.pending), modTime: time.Now()}
	delete(w.sh.uploads, w.path)
	return nil
}

func (w *writer) Cancel(context.Context) error {
	w.sh.mu.Lock()
	defer w.sh.mu.Unlock()
	if up := w.sh.uploads[w.path]; up == nil || up.id != w.id {
		return nil // already gone
	}
	if _, err := w.owned(); err != nil {
		return err
	}
	delete(w.sh.uploads, w.path)
	return nil
}
