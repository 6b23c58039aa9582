package distribution_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/testsuites"

	"github.com/berthio/berth/distribution"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/drivers"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
)

// TestDistributionSuiteOnNasfs runs distribution's own storage driver test
// suite against the adapter over nasfs: the registry's expectations of a
// driver, as distribution states them.
//
// Its 5 GiB stream test runs only with BERTH_DIST_LONG=1: the suite skips
// it in short mode, which this test sets for its own duration.
func TestDistributionSuiteOnNasfs(t *testing.T) {
	if os.Getenv("BERTH_DIST_LONG") != "1" && !testing.Short() {
		if err := flag.Set("test.short", "true"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set("test.short", "false") })
	}
	root := t.TempDir()
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) {
		d, err := nasfs.New(nasfs.Config{Root: root})
		if err != nil {
			return nil, err
		}
		return distribution.New(d), nil
	}, false)
}

// TestErrorsByValue checks that the errors the registry tells apart by type
// switch come as distribution's value types, with the path, the offset and
// the driver's name, and that the other kinds stay Berth's.
func TestErrorsByValue(t *testing.T) {
	ctx := t.Context()
	sd := distribution.New(memory.New(memory.NewShared()))
	if err := sd.PutContent(ctx, "/a/f", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	notFound := func(op string, err error, path string) {
		t.Helper()
		want := storagedriver.PathNotFoundError{Path: path, DriverName: "memory"}
		if err != want {
			t.Errorf("%s: %#v, want %#v", op, err, want)
		}
	}
	_, err := sd.GetContent(ctx, "/missing")
	notFound("GetContent", err, "/missing")
	_, err = sd.Reader(ctx, "/missing", 0)
	notFound("Reader", err, "/missing")
	_, err = sd.Stat(ctx, "/missing")
	notFound("Stat", err, "/missing")
	_, err = sd.List(ctx, "/missing")
	notFound("List", err, "/missing")
	notFound("Move", sd.Move(ctx, "/missing", "/b"), "/missing")
	notFound("Delete", sd.Delete(ctx, "/missing"), "/missing")
	notFound("Walk", sd.Walk(ctx, "/missing", func(storagedriver.FileInfo) error { return nil }), "/missing")

	for _, p := range []string{"", "a", "/a//b", "/a/b/", "/a b", "/%"} {
		_, err := sd.GetContent(ctx, p)
		if want := (storagedriver.InvalidPathError{Path: p, DriverName: "memory"}); err != want {
			t.Errorf("GetContent(%q): %#v, want %#v", p, err, want)
		}
	}
	if err, want := sd.Move(ctx, "/a/f", "bad"), (storagedriver.InvalidPathError{Path: "bad", DriverName: "memory"}); err != want {
		t.Errorf("Move to an invalid path: %#v, want %#v", err, want)
	}
	for _, off := range []int64{-1, 11} {
		_, err := sd.Reader(ctx, "/a/f", off)
		if want := (storagedriver.InvalidOffsetError{Path: "/a/f", Offset: off, DriverName: "memory"}); err != want {
			t.Errorf("Reader(offset %d): %#v, want %#v", off, err, want)
		}
	}
	rc, err := sd.Reader(ctx, "/a/f", 10)
	if err != nil {
		t.Fatalf("Reader at the end: %v", err)
	}
	if b, _ := io.ReadAll(rc); len(b) != 0 {
		t.Errorf("Reader at the end read %q", b)
	}
	rc.Close()

	// A fenced writer's error is Berth's, kind and all.
	w1, err := sd.Writer(ctx, "/up", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := sd.Writer(ctx, "/up", true)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Size() != 3 {
		t.Errorf("resumed Size %d, want 3", w2.Size())
	}
	w3, err := sd.Writer(ctx, "/up", true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w2.Write([]byte("d"))
	if err == nil {
		err = w2.Commit(ctx)
	}
	if !errors.Is(err, driver.ErrConflict) {
		t.Errorf("stale writer: %v, want driver.ErrConflict", err)
	}
	var de *driver.Error
	if !errors.As(err, &de) || de.Driver != "memory" {
		t.Errorf("stale writer's error %v is not a *driver.Error of memory", err)
	}
	if err := w3.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWalk checks that distribution's ErrSkipDir and ErrFilledBuffer keep
// their meaning through the adapter and that a callback's own error comes
// back untouched.
func TestWalk(t *testing.T) {
	ctx := t.Context()
	sd := distribution.New(memory.New(memory.NewShared()))
	for _, p := range []string{"/a/1", "/a/2", "/b/1", "/c"} {
		if err := sd.PutContent(ctx, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	err := sd.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		seen = append(seen, fi.Path())
		if fi.Path() == "/a" {
			return storagedriver.ErrSkipDir
		}
		return nil
	})
	if err != nil || fmt.Sprint(seen) != "[/a /b /b/1 /c]" {
		t.Errorf("Walk with ErrSkipDir on /a: %v, %v", seen, err)
	}
	seen = nil
	err = sd.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		seen = append(seen, fi.Path())
		if len(seen) == 2 {
			return storagedriver.ErrFilledBuffer
		}
		return nil
	})
	if err != nil || len(seen) != 2 {
		t.Errorf("Walk with ErrFilledBuffer: %v, %v", seen, err)
	}
	mine := storagedriver.PathNotFoundError{Path: "/mine"}
	err = sd.Walk(ctx, "/", func(storagedriver.FileInfo) error { return mine })
	if err != mine {
		t.Errorf("Walk: callback's error came back as %#v", err)
	}
	seen = nil
	err = sd.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		seen = append(seen, fi.Path())
		return nil
	}, storagedriver.WithStartAfterHint("/b/1"))
	if err != nil || len(seen) == 0 || seen[len(seen)-1] != "/c" {
		t.Errorf("Walk after /b/1: %v, %v", seen, err)
	}
	for _, p := range seen {
		if p <= "/a/2" {
			t.Errorf("Walk after /b/1 visited %s", p)
		}
	}
}

// TestNoCopy checks that the adapter hands the Berth driver's reader
// through as it is.
func TestNoCopy(t *testing.T) {
	ctx := t.Context()
	d, err := nasfs.New(nasfs.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutContent(ctx, "/f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	direct, err := d.Reader(ctx, "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	via, err := distribution.New(d).Reader(ctx, "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer via.Close()
	if fmt.Sprintf("%T", via) != fmt.Sprintf("%T", direct) {
		t.Errorf("adapter's reader is a %T, the driver's a %T", via, direct)
	}
}

// The factories of every Berth driver are registered once for the test
// binary, as a registry command does.
var registerErr = distribution.Register(drivers.Registry())

// TestRegister checks the names Register uses and that a registry's
// parameter map reaches the Berth driver.
func TestRegister(t *testing.T) {
	if registerErr != nil {
		t.Fatal(registerErr)
	}
	ctx := context.Background()
	root := t.TempDir()
	for _, name := range []string{"nasfs", "berth-nasfs"} {
		sd, err := factory.Create(ctx, name, map[string]any{"rootdirectory": root})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sd.Name() != "nasfs" {
			t.Errorf("%s: Name %q", name, sd.Name())
		}
		if err := sd.PutContent(ctx, "/via-"+name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := nasfs.New(nasfs.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := d.GetContent(ctx, "/via-nasfs"); err != nil || !bytes.Equal(b, []byte("nasfs")) {
		t.Errorf("content written through the registered factory: %q, %v", b, err)
	}
	if _, err := factory.Create(ctx, "nasfs", map[string]any{"rootdirectory": root, "rootdirectroy": "typo"}); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("misspelt parameter: %v, want ErrInvalidConfig", err)
	}
	// "s3" is distribution's name: Berth's s3 is only berth-s3.
	if got := distribution.Names("s3"); fmt.Sprint(got) != "[berth-s3]" {
		t.Errorf("Names(s3) = %v", got)
	}
	// This test binary links distribution's s3-aws driver (main_test.go):
	// "s3" must still open it, not Berth's.
	var de *driver.Error
	if _, err := factory.Create(ctx, "s3", map[string]any{}); err == nil || errors.As(err, &de) {
		t.Errorf("\"s3\" is not distribution's s3-aws driver: %v", err)
	}
	if _, err := factory.Create(ctx, "berth-s3", map[string]any{}); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("berth-s3 without a bucket: %v, want ErrInvalidConfig", err)
	}
	if err := distribution.Register(drivers.Registry()); err == nil {
		t.Errorf("a second Register succeeded")
	}
}
