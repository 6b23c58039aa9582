package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// payload returns the test's i-th payload of n bytes.
func (e *env) payload(i int, n int) []byte { return replica.Payload(e.seed+uint64(i), int64(n)) }

// content returns the test's i-th payload as replica Content.
func (e *env) content(i int, n int) replica.Content {
	return replica.Content{Seed: e.seed + uint64(i), N: int64(n)}
}

// p returns a path under the test's directory.
func (e *env) p(elem ...string) string { return e.dir + "/" + strings.Join(elem, "/") }

// fresh opens a new instance on the backend.
func (e *env) fresh() driver.Driver { return e.s.h.New(e.t) }

var kindList = []struct {
	err  error
	name string
}{
	{driver.ErrNotFound, "driver.ErrNotFound"},
	{driver.ErrInvalidPath, "driver.ErrInvalidPath"},
	{driver.ErrInvalidOffset, "driver.ErrInvalidOffset"},
	{driver.ErrConflict, "driver.ErrConflict"},
	{driver.ErrTooLarge, "driver.ErrTooLarge"},
	{driver.ErrUnsupported, "driver.ErrUnsupported"},
	{driver.ErrPermission, "driver.ErrPermission"},
	{driver.ErrInvalidConfig, "driver.ErrInvalidConfig"},
	{driver.ErrClosed, "driver.ErrClosed"},
	{context.Canceled, "context.Canceled"},
}

func errName(kind error) string {
	for _, k := range kindList {
		if k.err == kind {
			return k.name
		}
	}
	return fmt.Sprint(kind)
}

// wantKind reports an error unless errors.Is(err, kind).
func wantKind(t testing.TB, err, kind error, format string, args ...any) bool {
	t.Helper()
	if errors.Is(err, kind) {
		return true
	}
	if err == nil {
		t.Errorf("%s: got no error, want %s", fmt.Sprintf(format, args...), errName(kind))
	} else {
		t.Errorf("%s: got error %q, want one matching %s", fmt.Sprintf(format, args...), err, errName(kind))
	}
	return false
}

// must fails the test now if err is not nil.
func must(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// sameBytes reports got != want without dumping them.
func sameBytes(t testing.TB, got, want []byte, format string, args ...any) bool {
	t.Helper()
	if bytes.Equal(got, want) {
		return true
	}
	t.Errorf("%s: %s", fmt.Sprintf(format, args...), diff(got, want))
	return false
}

func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("got %d bytes (sha256 %.12s), want %d bytes (sha256 %.12s), first difference at byte %d",
		len(got), replica.Digest(got), len(want), replica.Digest(want), i)
}

// which returns the index of the payload got equals, or -1.
func which(got []byte, payloads ...[]byte) int {
	for i, p := range payloads {
		if bytes.Equal(got, p) {
			return i
		}
	}
	return -1
}

// describe names got among payloads for an error message.
func describe(got []byte, payloads ...[]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes (sha256 %.12s), none of the payloads:", len(got), replica.Digest(got))
	for i, p := range payloads {
		fmt.Fprintf(&b, " [%d] %s;", i, diff(got, p))
	}
	return b.String()
}

func readAll(rc io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}

func (e *env) put(d driver.Driver, path string, b []byte) {
	e.t.Helper()
	must(e.t, d.PutContent(e.ctx, path, b), "PutContent(%s, %d bytes)", path, len(b))
}

func (e *env) get(d driver.Driver, path string) []byte {
	e.t.Helper()
	b, err := d.GetContent(e.ctx, path)
	must(e.t, err, "GetContent(%s)", path)
	return b
}

// wantContent checks GetContent, Stat and a streamed Reader of path on d.
func (e *env) wantContent(d driver.Driver, path string, want []byte) {
	e.t.Helper()
	got, err := d.GetContent(e.ctx, path)
	if err != nil {
		e.t.Errorf("GetContent(%s): %v", path, err)
	} else {
		sameBytes(e.t, got, want, "GetContent(%s)", path)
	}
	fi, err := d.Stat(e.ctx, path)
	if err != nil {
		e.t.Errorf("Stat(%s): %v", path, err)
	} else if fi.IsDir() || fi.Size() != int64(len(want)) || fi.Path() != path {
		e.t.Errorf("Stat(%s) = {Path %q, Size %d, IsDir %v}, want {Path %q, Size %d, IsDir false}",
			path, fi.Path(), fi.Size(), fi.IsDir(), path, len(want))
	}
	got, err = readAll(d.Reader(e.ctx, path, 0))
	if err != nil {
		e.t.Errorf("Reader(%s, 0): %v", path, err)
	} else {
		sameBytes(e.t, got, want, "Reader(%s, 0)", path)
	}
}

// wantAbsent checks that path is not found by Stat, GetContent and Reader.
func (e *env) wantAbsent(d driver.Driver, path string) {
	e.t.Helper()
	_, err := d.Stat(e.ctx, path)
	wantKind(e.t, err, driver.ErrNotFound, "Stat(%s)", path)
	_, err = d.GetContent(e.ctx, path)
	wantKind(e.t, err, driver.ErrNotFound, "GetContent(%s)", path)
	rc, err := d.Reader(e.ctx, path, 0)
	if err == nil {
		rc.Close()
	}
	wantKind(e.t, err, driver.ErrNotFound, "Reader(%s, 0)", path)
}

func (e *env) writer(d driver.Driver, path string, append bool) driver.FileWriter {
	e.t.Helper()
	w, err := d.Writer(e.ctx, path, append)
	must(e.t, err, "Writer(%s, append=%v)", path, append)
	return w
}

func (e *env) write(w driver.FileWriter, b []byte) {
	e.t.Helper()
	n, err := w.Write(b)
	must(e.t, err, "Write(%d bytes)", len(b))
	if n != len(b) {
		e.t.Fatalf("Write(%d bytes) = %d", len(b), n)
	}
}

// upload writes chunks through a new writer on d and commits.
func (e *env) upload(d driver.Driver, path string, chunks ...[]byte) {
	e.t.Helper()
	w := e.writer(d, path, false)
	for _, c := range chunks {
		e.write(w, c)
	}
	must(e.t, w.Commit(e.ctx), "Commit(%s)", path)
}

// wantSize checks a writer's Size.
func wantSize(t testing.TB, w driver.FileWriter, want int64, what string) {
	t.Helper()
	if got := w.Size(); got != want {
		t.Errorf("%s: Size() = %d, want %d", what, got, want)
	}
}

// walkPaths returns every path Walk visits below root, in visiting order.
func walkPaths(ctx context.Context, d driver.Driver, root string, opts ...func(*driver.WalkOptions)) ([]string, error) {
	var out []string
	err := d.Walk(ctx, root, func(fi driver.FileInfo) error {
		out = append(out, fi.Path())
		return nil
	}, opts...)
	return out, err
}

func (e *env) walk(d driver.Driver, root string) []string {
	e.t.Helper()
	paths, err := walkPaths(e.ctx, d, root)
	must(e.t, err, "Walk(%s)", root)
	return paths
}

// visible returns what Walk shows of the test's world: the whole store when
// it was empty at the start, else the test's directory.
func (e *env) visible() []string {
	e.t.Helper()
	scope := e.dir
	if e.s.emptyStart {
		scope = "/"
	}
	paths, err := walkPaths(e.ctx, e.fresh(), scope)
	if errors.Is(err, driver.ErrNotFound) && scope != "/" {
		return nil
	}
	must(e.t, err, "Walk(%s)", scope)
	return paths
}

// noNewLeftovers fails the test if Leftovers reports new resources now.
func (e *env) noNewLeftovers(what string) {
	e.t.Helper()
	if left := e.s.newLeftovers(e.ctx, e.t, true); len(left) > 0 {
		e.t.Errorf("%s: backend resources left: %s", what, short(left))
	}
}

// needLeftovers skips a test whose point is the Leftovers check.
func (e *env) needLeftovers() {
	e.t.Helper()
	if e.s.h.Leftovers == nil {
		e.t.Skip("Harness.Leftovers is nil: resources outside the visible namespace cannot be checked")
	}
}

// conflict checks that a stale writer got ErrConflict; where fencing
// is best-effort a missing conflict is logged as a measurement.
func (e *env) conflict(err error, what string) {
	e.t.Helper()
	e.s.staleWriters.Add(1)
	if errors.Is(err, driver.ErrConflict) {
		return
	}
	if e.caps.Fencing == driver.FencingBestEffort && err == nil {
		e.s.staleUndetected.Add(1)
		e.t.Logf("%s: stale writer went undetected (fencing declared best-effort)", what)
		return
	}
	wantKind(e.t, err, driver.ErrConflict, "%s", what)
}

// barrier runs fns concurrently, released together, and waits for all.
func barrier(fns ...func()) {
	start := make(chan struct{})
	done := make(chan struct{}, len(fns))
	for _, fn := range fns {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			fn()
		}()
	}
	close(start)
	for range fns {
		<-done
	}
}
