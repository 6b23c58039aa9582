package memory

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
)

// Name is the registered driver name.
const Name = "memory"

// Shared is one in-memory backend. Every instance opened on it (New) sees the
// same files and uploads, as replicas sharing one bucket do; each instance
// keeps its writers' unflushed bytes to itself until Close, as a real replica
// would.
type Shared struct {
	mu      sync.Mutex
	files   map[string]file
	uploads map[string]*upload
	nextGen uint64
}

type file struct {
	data    []byte // never mutated after it is stored
	modTime time.Time
}

// upload is the durable record of an upload: its identity, the generation
// of the writer that owns it, and the bytes made durable by Close.
type upload struct {
	id   uint64
	gen  uint64
	data []byte
}

// NewShared returns an empty backend.
func NewShared() *Shared {
	return &Shared{files: map[string]file{}, uploads: map[string]*upload{}}
}

// New opens an instance on sh.
func New(sh *Shared) *driver.Store {
	return driver.NewStore(&backend{sh: sh})
}

type backend struct{ sh *Shared }

var _ driver.Backend = (*backend)(nil)

func (b *backend) Name() string { return Name }

func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{Listing: driver.Strong, Fencing: driver.FencingStrict}
}

func (b *backend) GetContent(_ context.Context, path string) ([]byte, error) {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	f, ok := b.sh.files[path]
	if !ok {
		return nil, driver.ErrNotFound
	}
	return slices.Clone(f.data), nil
}

func (b *backend) PutContent(_ context.Context, path string, content []byte) error {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	b.sh.files[path] = file{data: slices.Clone(content), modTime: time.Now()}
	return nil
}

func (b *backend) NewRangeReader(_ context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	f, ok := b.sh.files[path]
	if !ok {
		return nil, driver.ErrNotFound
	}
	size := int64(len(f.data))
	if offset > size {
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, size)
	}
	end := size
	if length >= 0 && offset+length < size {
		end = offset + length
	}
	return io.NopCloser(bytes.NewReader(f.data[offset:end])), nil
}

func (b *backend) Stat(_ context.Context, path string) (driver.FileInfo, error) {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	if f, ok := b.sh.files[path]; ok {
		return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
			Path: path, Size: int64(len(f.data)), ModTime: f.modTime}}, nil
	}
	if path == "/" {
		return dirInfo(path), nil
	}
	for p := range b.sh.files {
		if driver.IsUnder(p, path) {
			return dirInfo(path), nil
		}
	}
	return nil, driver.ErrNotFound
}

func dirInfo(path string) driver.FileInfo {
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: path, IsDir: true}}
}

func (b *backend) List(_ context.Context, path string) ([]string, error) {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	prefix := path
	if prefix != "/" {
		prefix += "/"
	}
	seen := map[string]bool{}
	for p := range b.sh.files {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		child, _, _ := strings.Cut(p[len(prefix):], "/")
		seen[prefix+child] = true
	}
	if len(seen) == 0 && path != "/" {
		return nil, driver.ErrNotFound
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	return out, nil
}

func (b *backend) Move(_ context.Context, src, dst string) error {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	f, ok := b.sh.files[src]
	if !ok {
		return driver.ErrNotFound
	}
	delete(b.sh.files, src)
	b.sh.files[dst] = f
	return nil
}

func (b *backend) Delete(_ context.Context, path string) error {
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	found := false
	for p := range b.sh.files {
		if driver.IsUnder(p, path) {
			delete(b.sh.files, p)
			found = true
		}
	}
	for p := range b.sh.uploads {
		if driver.IsUnder(p, path) {
			delete(b.sh.uploads, p)
			found = true
		}
	}
	if !found {
		return driver.ErrNotFound
	}
	return nil
}

func (b *backend) RedirectURL(*http.Request, string) (string, error) { return "", nil }

func (b *backend) Walk(ctx context.Context, path string, fn driver.WalkFn, opts driver.WalkOptions) error {
	if _, err := b.Stat(ctx, path); err != nil {
		return err
	}
	return driver.WalkFallback(ctx, b, path, fn, opts)
}

// Uploads returns the paths of the uploads in progress: the conformance
// suite's check that nothing is left behind.
func (sh *Shared) Uploads() []string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]string, 0, len(sh.uploads))
	for p := range sh.uploads {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
