package driver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

func TestValidPath(t *testing.T) {
	valid := []string{"/a", "/a/b", "/A-z_0.9", "/docker/registry/v2/blobs/sha256/ab/abcd/data", "/a/.b", "/..a", "/a/...", "/" + strings.Repeat("x", 255)}
	invalid := []string{"", "/", "a", "a/b", "/a/", "//a", "/a//b", "/a/../b", "/a/./b", "/..", "/.", "/a b", "/a\x00b", "/a\nb", "/é", "/a:b", "/a~u", "/.berth", "/.berth/x", "/" + strings.Repeat("x", 256)}
	for _, p := range valid {
		assert.True(t, driver.ValidPath(p), "%q should be valid", p)
	}
	for _, p := range invalid {
		assert.False(t, driver.ValidPath(p), "%q should be invalid", p)
	}
	assert.True(t, driver.ValidDirPath("/"))
	assert.True(t, driver.ValidPath("/x/.berth"), "only the top-level .berth is reserved")
}

func TestIsUnder(t *testing.T) {
	assert.True(t, driver.IsUnder("/a/b", "/a"))
	assert.True(t, driver.IsUnder("/a", "/a"))
	assert.False(t, driver.IsUnder("/ab", "/a"))
	assert.True(t, driver.IsUnder("/ab", "/"))
}

// sdkError stands for an SDK's own error type.
type sdkError struct{ code int }

func (e *sdkError) Error() string { return fmt.Sprintf("sdk status %d", e.code) }

// classifying is a memory backend whose Stat fails with an SDK error that
// only its Classifier understands.
type classifying struct {
	driver.Backend
}

func (c classifying) Stat(context.Context, string) (driver.FileInfo, error) {
	return nil, &sdkError{code: 404}
}

func (c classifying) ClassifyError(err error) error {
	var se *sdkError
	if errors.As(err, &se) && se.code == 404 {
		return driver.ErrNotFound
	}
	return nil
}

func TestErrorsAreWrappedOnceWithKindAndCause(t *testing.T) {
	ctx := context.Background()
	var inner driver.Backend
	require.True(t, memory.New(memory.NewShared()).As(&inner))
	s := driver.NewStore(classifying{inner})

	_, err := s.Stat(ctx, "/missing")
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrNotFound)
	var se *sdkError
	require.ErrorAs(t, err, &se, "the SDK's error stays reachable")
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "memory", de.Driver)
	assert.Equal(t, "Stat", de.Op)
	assert.Equal(t, "/missing", de.Path)
	assert.Equal(t, "memory: Stat /missing: not found: sdk status 404", err.Error())

	_, err = s.GetContent(ctx, "/missing")
	assert.Equal(t, "memory: GetContent /missing: not found", err.Error(), "a bare kind is not repeated")
}

func TestInvalidInputNeverReachesTheBackend(t *testing.T) {
	ctx := context.Background()
	sh := memory.NewShared()
	s := memory.New(sh)
	for _, p := range []string{"", "relative", "/a/../b", "/.berth/x", "/a b"} {
		assert.ErrorIs(t, s.PutContent(ctx, p, []byte("x")), driver.ErrInvalidPath, p)
		_, err := s.Writer(ctx, p, false)
		assert.ErrorIs(t, err, driver.ErrInvalidPath, p)
		assert.ErrorIs(t, s.Move(ctx, "/ok", p), driver.ErrInvalidPath, p)
		assert.ErrorIs(t, s.Delete(ctx, p), driver.ErrInvalidPath, p)
	}
	assert.ErrorIs(t, s.Delete(ctx, "/"), driver.ErrInvalidPath, "Delete of the root")
	assert.ErrorIs(t, s.Move(ctx, "/a", "/a/b"), driver.ErrInvalidPath, "Move into itself")
	_, err := s.Reader(ctx, "/a", -1)
	assert.ErrorIs(t, err, driver.ErrInvalidOffset)
	assert.Empty(t, sh.Uploads())
	got, err := s.List(ctx, "/")
	require.NoError(t, err)
	assert.Empty(t, got, "nothing was written")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = s.PutContent(cctx, "/a", []byte("x"))
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Stat(ctx, "/a")
	assert.ErrorIs(t, err, driver.ErrNotFound, "a cancelled PutContent wrote nothing")
}

func TestWriterStateMachine(t *testing.T) {
	ctx := context.Background()
	s := memory.New(memory.NewShared())
	w, err := s.Writer(ctx, "/up", false)
	require.NoError(t, err)
	_, err = w.Write([]byte("abc"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.ErrorIs(t, w.Close(), driver.ErrClosed, "second Close")
	_, err = w.Write([]byte("x"))
	assert.ErrorIs(t, err, driver.ErrClosed)
	assert.ErrorIs(t, w.Commit(ctx), driver.ErrClosed, "Commit after Close")

	w, err = s.Writer(ctx, "/up", true)
	require.NoError(t, err)
	assert.EqualValues(t, 3, w.Size())
	require.NoError(t, w.Commit(ctx))
	assert.NoError(t, w.Close(), "Close after Commit is a no-op, as the registry calls it")
	assert.ErrorIs(t, w.Commit(ctx), driver.ErrClosed)
	assert.ErrorIs(t, w.Cancel(ctx), driver.ErrClosed)
}

func TestWalkSkipsInternalPrefixAndHonoursSkipDir(t *testing.T) {
	ctx := context.Background()
	s := memory.New(memory.NewShared())
	for _, p := range []string{"/a/1", "/a/2", "/b/x/1", "/c"} {
		require.NoError(t, s.PutContent(ctx, p, []byte(p)))
	}
	var seen []string
	err := s.Walk(ctx, "/", func(fi driver.FileInfo) error {
		seen = append(seen, fi.Path())
		if fi.Path() == "/b" {
			return driver.ErrSkipDir
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"/a", "/a/1", "/a/2", "/b", "/c"}, seen)

	stop := errors.New("stop")
	err = s.Walk(ctx, "/", func(fi driver.FileInfo) error { return stop })
	assert.Same(t, stop, err, "the walk function's own error comes back untouched")
}

func TestParams(t *testing.T) {
	var (
		root   string
		n      int
		on     bool
		secret driver.Secret
	)
	p := driver.NewParams("x", map[string]any{"RootDirectory": "/r", "n": "12", "on": true, "key": "hunter2"})
	p.String("rootdirectory", &root)
	p.Int("n", &n)
	p.Bool("on", &on)
	p.Secret("key", &secret)
	require.NoError(t, p.Err())
	assert.Equal(t, "/r", root)
	assert.Equal(t, 12, n)
	assert.True(t, on)
	assert.Equal(t, "hunter2", secret.Reveal())

	p = driver.NewParams("x", map[string]any{"n": 1.5, "typo": 1, "on": "maybe"})
	p.Int("n", &n)
	p.Bool("on", &on)
	err := p.Err()
	assert.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `unknown parameter(s): typo`)
	assert.Contains(t, err.Error(), `"n": want an integer`)
	assert.Contains(t, err.Error(), `"on": want true or false`)
}

func TestSecretNeverPrints(t *testing.T) {
	type cfg struct {
		User string
		Key  driver.Secret
	}
	c := cfg{User: "u", Key: "hunter2"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c.Key)} {
		assert.NotContains(t, s, "hunter2")
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	reg := driver.NewRegistry(memory.Factory)
	assert.Equal(t, []string{"memory"}, reg.Names())
	assert.ErrorIs(t, reg.Register(memory.Factory), driver.ErrInvalidConfig, "duplicate")

	a, err := reg.Open(ctx, "memory://shared-test")
	require.NoError(t, err)
	b, err := reg.FromParameters(ctx, "memory", map[string]any{"name": "shared-test"})
	require.NoError(t, err)
	require.NoError(t, a.PutContent(ctx, "/x", []byte("1")))
	_, err = b.Stat(ctx, "/x")
	assert.NoError(t, err, "one name, one backend")

	_, err = reg.Open(ctx, "s3://bucket")
	assert.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `unknown driver "s3" (known: memory)`)
	_, err = reg.Open(ctx, "http://user:hunter2@[::1")
	assert.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.NotContains(t, err.Error(), "hunter2")
	_, err = reg.FromParameters(ctx, "memory", map[string]any{"nmae": "x"})
	assert.ErrorIs(t, err, driver.ErrInvalidConfig)
}

func TestKindOf(t *testing.T) {
	assert.Equal(t, driver.ErrNotFound, driver.KindOf(fmt.Errorf("x: %w", driver.ErrNotFound)))
	assert.Nil(t, driver.KindOf(fs.ErrNotExist), "OS errors are classified by drivers, not here")
}

// TestWalkFlat walks a flat listing as object stores give it (byte order,
// where "a-b" sorts before "a/"): directories come first, depth first,
// siblings in byte order; ErrSkipDir and the start-after hint apply.
func TestWalkFlat(t *testing.T) {
	files := func() []driver.FileInfo {
		var out []driver.FileInfo
		for _, p := range []string{"/r/a-b", "/r/a/x", "/r/a/y/z", "/r/a.c", "/r/b"} {
			out = append(out, driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, Size: 1}})
		}
		return out
	}
	walk := func(opts driver.WalkOptions, skip string) []string {
		var got []string
		err := driver.WalkFlat(context.Background(), "/r", files(), func(fi driver.FileInfo) error {
			got = append(got, fi.Path())
			if fi.Path() == skip {
				return driver.ErrSkipDir
			}
			return nil
		}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := []string{"/r/a", "/r/a/x", "/r/a/y", "/r/a/y/z", "/r/a-b", "/r/a.c", "/r/b"}
	if got := walk(driver.WalkOptions{}, ""); !slices.Equal(got, want) {
		t.Errorf("walk: %q, want %q", got, want)
	}
	if got := walk(driver.WalkOptions{}, "/r/a"); !slices.Equal(got, []string{"/r/a", "/r/a-b", "/r/a.c", "/r/b"}) {
		t.Errorf("skip /r/a: %q", got)
	}
	if got := walk(driver.WalkOptions{StartAfterHint: "/r/a/y"}, ""); !slices.Equal(got, []string{"/r/a/y/z", "/r/a-b", "/r/a.c", "/r/b"}) {
		t.Errorf("start after /r/a/y: %q", got)
	}
}

// TestParamsKeepSecretValues reads a driver.Secret put in a parameter map
// by code: its value, not the REDACTED its String prints.
func TestParamsKeepSecretValues(t *testing.T) {
	p := driver.NewParams("x", map[string]any{"secretkey": driver.Secret("s3cr3t"), "user": driver.Secret("u")})
	var s driver.Secret
	var u string
	p.Secret("secretkey", &s)
	p.String("user", &u)
	if s.Reveal() != "s3cr3t" || u != "u" {
		t.Errorf("got %q and %q, want the secrets' values", s.Reveal(), u)
	}
}
