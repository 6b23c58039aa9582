package multipart

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// fake is an in-memory Store: objects with MD5 ETags, a create-if-absent
// that exactly one racer wins, multipart uploads whose completion
// concatenates the listed parts. fail, when set, can fail or "lose the
// answer of" a call by name and key.
type fake struct {
	mu      sync.Mutex
	objects map[string]fakeObject
	uploads map[string]*fakeUpload // by id
	fail    func(op, key string) (err error, afterAct bool)
}

type fakeObject struct {
	data []byte
	mod  time.Time
}

type fakeUpload struct {
	key   string
	parts map[int32][]byte
}

var (
	errFakeNotFound = errors.New("fake: not found")
	errFakeExists   = errors.New("fake: exists")
	errFakeFailed   = errors.New("fake: precondition failed")
	errFakeServer   = errors.New("fake: server error")
)

func newFake() *fake {
	return &fake{objects: map[string]fakeObject{}, uploads: map[string]*fakeUpload{}}
}

func etagOf(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// inject runs f's failure hook: err before the call acts, or after it
// acted (a lost answer).
func (f *fake) inject(op, key string, act func()) error {
	if f.fail != nil {
		if err, after := f.fail(op, key); err != nil {
			if after {
				act()
			}
			return err
		}
	}
	act()
	return nil
}

func (f *fake) Put(_ context.Context, key string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inject("Put", key, func() { f.objects[key] = fakeObject{bytes.Clone(body), time.Now()} })
}

func (f *fake) Create(_ context.Context, key string, body []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[key]; ok {
		return "", errFakeExists
	}
	err := f.inject("Create", key, func() { f.objects[key] = fakeObject{bytes.Clone(body), time.Now()} })
	return etagOf(body), err
}

func (f *fake) CreateFailed(_ context.Context, err error) (bool, bool) {
	return errors.Is(err, errFakeExists) || errors.Is(err, errFakeServer), errors.Is(err, errFakeServer)
}

func (f *fake) Get(_ context.Context, key string) (io.ReadCloser, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	if !ok {
		return nil, "", errFakeNotFound
	}
	return io.NopCloser(bytes.NewReader(o.data)), etagOf(o.data), nil
}

func (f *fake) Stat(_ context.Context, key string) (Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	if !ok {
		return Object{}, errFakeNotFound
	}
	return Object{Key: key, ETag: etagOf(o.data), Size: int64(len(o.data)), Modified: o.mod}, nil
}

func (f *fake) List(_ context.Context, prefix string, fn func(Object) error) error {
	f.mu.Lock()
	var objs []Object
	for k, o := range f.objects {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, Object{Key: k, ETag: etagOf(o.data), Size: int64(len(o.data)), Modified: o.mod})
		}
	}
	f.mu.Unlock()
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (f *fake) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	return nil
}

func (f *fake) DeleteKeys(ctx context.Context, keys []string) error {
	for _, k := range keys {
		f.Delete(ctx, k)
	}
	return nil
}

func (f *fake) IsNotFound(err error) bool           { return errors.Is(err, errFakeNotFound) }
func (f *fake) IsPreconditionFailed(err error) bool { return errors.Is(err, errFakeFailed) }

func (f *fake) CreateMultipart(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := RandomID()
	f.uploads[id] = &fakeUpload{key: key, parts: map[int32][]byte{}}
	return id, nil
}

func (f *fake) UploadPart(_ context.Context, key, id string, n int32, data []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	if !ok || u.key != key {
		return "", errFakeNotFound
	}
	u.parts[n] = bytes.Clone(data)
	return etagOf(data), nil
}

func (f *fake) Complete(_ context.Context, key, id string, parts []Part) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	if !ok || u.key != key {
		return errFakeNotFound
	}
	var all []byte
	for _, p := range parts {
		data, ok := u.parts[p.N]
		if !ok || etagOf(data) != p.ETag {
			return fmt.Errorf("fake: invalid part %d", p.N)
		}
		all = append(all, data...)
	}
	delete(f.uploads, id)
	f.objects[key] = fakeObject{all, time.Now()}
	return nil
}

func (f *fake) Abort(_ context.Context, _, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uploads, id)
}

func (f *fake) ListMultipart(_ context.Context, prefix string, fn func(Upload) error) error {
	f.mu.Lock()
	var ups []Upload
	for id, u := range f.uploads {
		if strings.HasPrefix(u.key, prefix) {
			ups = append(ups, Upload{Key: u.key, ID: id})
		}
	}
	f.mu.Unlock()
	for _, u := range ups {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// keys returns the object keys under prefix, sorted.
func (f *fake) keys(prefix string) []string {
	var out []string
	f.List(context.Background(), prefix, func(o Object) error { out = append(out, o.Key); return nil })
	return out
}

// instance is one driver instance on f, with a tiny part size.
func instance(f *fake) *Bucket {
	return &Bucket{
		Store: f, Keys: "root", MaxParts: 10000, Concurrency: 2,
		PartSize: func(context.Context) (int64, error) { return 8, nil },
	}
}
