package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berthio/berth/driver"
)

func (s *suite) testRedirect(t *testing.T) {
	req := func() *http.Request {
		return httptest.NewRequest("GET", "http://registry.test/v2/x/blobs/sha256:0", nil)
	}
	t.Run("Declined", func(t *testing.T) {
		e := s.env(t)
		if e.caps.Redirect {
			t.Skip("the backend declares Redirect: see GetAndHead")
		}
		e.put(e.d, e.p("f"), []byte("x"))
		for _, p := range []string{e.p("f"), e.p("missing")} {
			if u, err := e.d.RedirectURL(req(), p); u != "" || err != nil {
				t.Errorf("RedirectURL(%s) = %q, %v; a backend without Redirect must return \"\", nil", p, u, err)
			}
		}
	})
	t.Run("GetAndHead", func(t *testing.T) {
		e := s.env(t)
		if !e.caps.Redirect {
			t.Skip("the backend declares no Redirect: RedirectURL returns \"\"")
		}
		data := e.payload(0, 100*kib+1)
		e.put(e.d, e.p("f"), data)
		// A registry asks for the URL with the client's own request, GET or
		// HEAD, and sends the client there with the same method.
		for _, method := range []string{"GET", "HEAD"} {
			in := req()
			in.Method = method
			u, err := e.fresh().RedirectURL(in, e.p("f"))
			must(t, err, "RedirectURL for %s", method)
			if u == "" {
				t.Fatalf("RedirectURL for %s returned \"\" although the backend declares Redirect", method)
			}
			r, err := http.NewRequestWithContext(e.ctx, method, u, nil)
			must(t, err, "request")
			resp, err := http.DefaultClient.Do(r)
			must(t, err, "%s of the redirect URL", method)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			must(t, err, "%s body", method)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s of the redirect URL: %s", method, resp.Status)
			}
			if method == "GET" {
				sameBytes(t, body, data, "GET of the redirect URL")
			} else if resp.ContentLength != int64(len(data)) {
				t.Errorf("HEAD of the redirect URL: Content-Length %d, want %d", resp.ContentLength, len(data))
			}
		}
	})
}

func (s *suite) testErrors(t *testing.T) {
	t.Run("CarryDriverOpPath", func(t *testing.T) {
		e := s.env(t)
		d, p := e.fresh(), e.p("missing")
		calls := map[string]func() error{
			"GetContent": func() error { _, err := d.GetContent(e.ctx, p); return err },
			"Reader":     func() error { _, err := d.Reader(e.ctx, p, 0); return err },
			"ReadRange":  func() error { _, err := d.ReadRange(e.ctx, p, 0, 1); return err },
			"Stat":       func() error { _, err := d.Stat(e.ctx, p); return err },
			"List":       func() error { _, err := d.List(e.ctx, p); return err },
			"Walk":       func() error { _, err := walkPaths(e.ctx, d, p); return err },
			"Move":       func() error { return d.Move(e.ctx, p, e.p("dst")) },
			"Delete":     func() error { return d.Delete(e.ctx, p) },
			"Writer":     func() error { _, err := d.Writer(e.ctx, p, true); return err },
		}
		for _, op := range slices.Sorted(maps.Keys(calls)) {
			err := calls[op]()
			var de *driver.Error
			if !errors.As(err, &de) {
				t.Errorf("%s of a missing path: %T %v is not a *driver.Error", op, err, err)
				continue
			}
			if de.Driver != d.Name() || de.Op == "" || de.Path != p || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error {Driver %q, Op %q, Path %q} %q, want driver %q, an op and path %q", op, de.Driver, de.Op, de.Path, err, d.Name(), p)
			}
		}
	})
	t.Run("InvalidOffsetIsDriverError", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		_, err := e.d.Reader(e.ctx, e.p("f"), 5)
		var de *driver.Error
		if !errors.As(err, &de) || !errors.Is(err, driver.ErrInvalidOffset) || de.Path != e.p("f") {
			t.Errorf("Reader past the end = %v, want a *driver.Error of kind ErrInvalidOffset naming the path", err)
		}
	})
	t.Run("NoCredentialsInOpenErrors", func(t *testing.T) {
		e := s.env(t)
		if s.h.Registry == nil {
			t.Skip("Harness.Registry is nil")
		}
		const secret = "s3cr3tPW"
		urls := []string{
			"nosuchdriver://user:" + secret + "@host/bucket?secret_key=" + secret,
			"%zz://user:" + secret + "@host/",
			"::user:" + secret + "@host",
		}
		if u, err := url.Parse(s.h.URL); err == nil && u.Scheme != "" {
			urls = append(urls, u.Scheme+"://user:"+secret+"@127.0.0.1:1/x?nosuchparameter="+secret)
		}
		for _, u := range urls {
			_, err := s.h.Registry.Open(e.ctx, u)
			if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
				t.Errorf("Registry.Open of a URL with a password: the error shows it: %v", err)
			}
		}
	})
	t.Run("NoCredentialsFromURL", func(t *testing.T) {
		e := s.env(t)
		u, err := url.Parse(s.h.URL)
		if s.h.Registry == nil || err != nil {
			t.Skip("no Harness.URL to open")
		}
		// A password in the user part, or a query parameter that names a
		// secret (secret_key, token, password).
		var secrets []string
		if pw, ok := u.User.Password(); ok && len(pw) >= 4 {
			secrets = append(secrets, pw)
		}
		for k, vs := range u.Query() {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "password") {
				for _, v := range vs {
					if len(v) >= 4 {
						secrets = append(secrets, v)
					}
				}
			}
		}
		if len(secrets) == 0 {
			t.Skip("Harness.URL holds no credentials")
		}
		d, err := s.h.Registry.Open(e.ctx, s.h.URL)
		must(t, err, "Registry.Open(Harness.URL)")
		_, err1 := d.Stat(e.ctx, e.p("missing"))
		_, err2 := d.GetContent(e.ctx, "bad path")
		err3 := d.Move(e.ctx, e.p("missing"), e.p("x"))
		for _, err := range []error{err1, err2, err3} {
			for _, secret := range secrets {
				if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), secret) {
					t.Errorf("an error shows a credential of the URL: %v", err)
				}
			}
		}
	})
}

func (s *suite) testContext(t *testing.T) {
	cancelled := func(e *env) context.Context {
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		return ctx
	}
	t.Run("Cancelled", func(t *testing.T) {
		e := s.env(t)
		src, dst, victim := e.p("src"), e.p("dst"), e.p("victim")
		e.put(e.d, src, []byte("src"))
		e.put(e.d, victim, []byte("victim"))
		before := e.visible()
		ops := []struct {
			name string
			call func(ctx context.Context, d driver.Driver) error
		}{
			{"PutContent", func(ctx context.Context, d driver.Driver) error { return d.PutContent(ctx, e.p("new"), []byte("x")) }},
			{"Overwrite", func(ctx context.Context, d driver.Driver) error { return d.PutContent(ctx, victim, []byte("x")) }},
			{"GetContent", func(ctx context.Context, d driver.Driver) error { _, err := d.GetContent(ctx, src); return err }},
			{"Reader", func(ctx context.Context, d driver.Driver) error { _, err := readAll(d.Reader(ctx, src, 0)); return err }},
			{"ReadRange", func(ctx context.Context, d driver.Driver) error {
				_, err := readAll(d.ReadRange(ctx, src, 0, 2))
				return err
			}},
			{"Stat", func(ctx context.Context, d driver.Driver) error { _, err := d.Stat(ctx, src); return err }},
			{"List", func(ctx context.Context, d driver.Driver) error { _, err := d.List(ctx, e.dir); return err }},
			{"Walk", func(ctx context.Context, d driver.Driver) error { _, err := walkPaths(ctx, d, e.dir); return err }},
			{"Move", func(ctx context.Context, d driver.Driver) error { return d.Move(ctx, src, dst) }},
			{"Delete", func(ctx context.Context, d driver.Driver) error { return d.Delete(ctx, victim) }},
			{"Writer", func(ctx context.Context, d driver.Driver) error {
				w, err := d.Writer(ctx, e.p("up"), false)
				if err == nil {
					_ = w.Cancel(e.ctx)
				}
				return err
			}},
		}
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				e := e.with(t)
				err := op.call(cancelled(e), e.fresh())
				wantKind(t, err, context.Canceled, "%s with a cancelled context", op.name)
				if after := e.visible(); !slices.Equal(before, after) {
					t.Errorf("%s with a cancelled context changed the store: before %q, after %q", op.name, before, after)
				}
				e.wantContent(e.fresh(), victim, []byte("victim"))
				_, err = e.fresh().Writer(e.ctx, e.p("up"), true)
				wantKind(t, err, driver.ErrNotFound, "resume after Writer with a cancelled context")
			})
		}
	})
	t.Run("CommitCancelled", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		e.write(w, e.payload(0, mib))
		wantKind(t, w.Commit(cancelled(e)), context.Canceled, "Commit with a cancelled context")
		e.wantAbsent(e.fresh(), e.p("f"))
		must(t, w.Cancel(e.ctx), "Cancel after a cancelled Commit")
		e.wantAbsent(e.fresh(), e.p("f"))
		e.noNewLeftovers("Cancel after a cancelled Commit")
	})
	t.Run("CancelMidWrite", func(t *testing.T) {
		e := s.env(t)
		ctx, cancel := context.WithCancel(e.ctx)
		w, err := e.d.Writer(ctx, e.p("f"), false)
		must(t, err, "Writer")
		e.write(w, e.payload(0, mib))
		cancel()
		_, _ = w.Write(e.payload(1, mib)) // may fail: its context is gone
		wantKind(t, w.Commit(ctx), context.Canceled, "Commit after the writer's context was cancelled")
		e.wantAbsent(e.fresh(), e.p("f"))
		must(t, w.Cancel(e.ctx), "Cancel with a live context after the writer's context was cancelled")
		e.wantAbsent(e.fresh(), e.p("f"))
		e.noNewLeftovers("Cancel after a cancelled write")
	})
}

func (s *suite) testConcurrency(t *testing.T) {
	t.Run("ReadsAcrossInstances", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 2*mib+3)
		e.put(e.d, e.p("f"), data)
		var wg sync.WaitGroup
		for i := range 4 {
			d := e.fresh()
			for j := range 3 {
				wg.Go(func() { e.readRandomly(d, e.p("f"), data, uint64(i*10+j)) })
			}
		}
		wg.Wait()
	})
	t.Run("WritersDistinctPaths", func(t *testing.T) {
		e := s.env(t)
		insts := []driver.Driver{e.fresh(), e.fresh(), e.fresh(), e.fresh()}
		const n = 16
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				d, p, data := insts[i%len(insts)], e.p(fmt.Sprintf("f%02d", i)), e.payload(i, 10*kib+i)
				if i%2 == 0 {
					if err := d.PutContent(e.ctx, p, data); err != nil {
						t.Errorf("PutContent(%s): %v", p, err)
					}
					return
				}
				if err := writeResumeCommit(e.ctx, d, insts[(i+1)%len(insts)], p, data); err != nil {
					t.Errorf("upload of %s: %v", p, err)
				}
			})
		}
		wg.Wait()
		d := e.fresh()
		got, err := d.List(e.ctx, e.dir)
		must(t, err, "List")
		if len(got) != n {
			t.Errorf("List after %d concurrent writers = %d entries %q", n, len(got), got)
		}
		for i := range n {
			e.wantContent(d, e.p(fmt.Sprintf("f%02d", i)), e.payload(i, 10*kib+i))
		}
	})
}

// writeResumeCommit writes half of data on a, closes, resumes on b and
// commits the rest there.
func writeResumeCommit(ctx context.Context, a, b driver.Driver, p string, data []byte) error {
	w, err := a.Writer(ctx, p, false)
	if err != nil {
		return err
	}
	if _, err := w.Write(data[:len(data)/2]); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if w, err = b.Writer(ctx, p, true); err != nil {
		return err
	}
	if w.Size() != int64(len(data)/2) {
		return fmt.Errorf("resumed Size %d, want %d", w.Size(), len(data)/2)
	}
	if _, err := w.Write(data[len(data)/2:]); err != nil {
		return err
	}
	return w.Commit(ctx)
}

// readRandomly reads path on d in several ways, checking against data. It
// runs in its own goroutine, so it reports with Errorf only.
func (e *env) readRandomly(d driver.Driver, path string, data []byte, seed uint64) {
	t, ctx := e.t, e.ctx
	rng := rand.New(rand.NewPCG(seed, 7))
	got, err := d.GetContent(ctx, path)
	if err != nil || len(got) != len(data) {
		t.Errorf("GetContent: %d bytes, %v", len(got), err)
	} else {
		sameBytes(t, got, data, "concurrent GetContent")
	}
	off := rng.Int64N(int64(len(data)))
	rc, err := d.Reader(ctx, path, off)
	if err != nil {
		t.Errorf("Reader(%d): %v", off, err)
		return
	}
	var buf []byte
	chunk := make([]byte, 64*kib)
	for {
		n, err := rc.Read(chunk[:1+rng.IntN(len(chunk))])
		buf = append(buf, chunk[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("Reader(%d).Read: %v", off, err)
			break
		}
	}
	rc.Close()
	sameBytes(t, buf, data[off:], "concurrent Reader(%d)", off)
	for range 4 {
		off, n := rng.Int64N(int64(len(data))), rng.Int64N(256*kib)
		got, err := readAll(d.ReadRange(ctx, path, off, n))
		if err != nil {
			t.Errorf("ReadRange(%d, %d): %v", off, n, err)
			continue
		}
		sameBytes(t, got, data[off:min(off+n, int64(len(data)))], "concurrent ReadRange(%d, %d)", off, n)
	}
}
