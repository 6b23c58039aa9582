package nasfs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/nasfs"
)

// assertEmptyDir fails if dir holds anything: bad input must write nothing.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a rejected configuration wrote into %s", dir)
}

func TestNewRejectsBadRoots(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))

	for _, tc := range []struct {
		name, root, msg string
	}{
		{"empty", "", "root directory is not set"},
		{"relative", "var/lib/registry", "is not an absolute path"},
		{"missing", filepath.Join(parent, "missing"), "does not exist"},
		{"file", file, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nasfs.New(nasfs.Config{Root: tc.root})
			require.Error(t, err)
			assert.ErrorIs(t, err, driver.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	_, err := os.Stat(filepath.Join(parent, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist, "New created the missing root")

	_, err = nasfs.New(nasfs.Config{Root: parent, WriteBufferSize: 10})
	assert.ErrorIs(t, err, driver.ErrInvalidConfig)
}

func TestNewRejectsReadOnlyRoot(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Skipf("cannot mount a read-only tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	_, err := nasfs.New(nasfs.Config{Root: dir})
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrPermission)
	assert.Contains(t, err.Error(), "not writable")
	assertEmptyDir(t, dir)
}

func TestOpenURLAndParameters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg := driver.NewRegistry(nasfs.Factory)

	s, err := reg.Open(ctx, "nasfs://"+dir)
	require.NoError(t, err)
	require.NoError(t, s.PutContent(ctx, "/a", []byte("1")))

	s, err = reg.FromParameters(ctx, "nasfs", map[string]any{"rootdirectory": dir, "maxthreads": 100})
	require.NoError(t, err)
	got, err := s.GetContent(ctx, "/a")
	require.NoError(t, err)
	assert.Equal(t, "1", string(got))

	other := t.TempDir()
	for _, bad := range []string{
		"nasfs://somehost" + other,
		"nasfs://" + other + "?sync=false",
		"nasfs://user:secret@" + other,
		"nasfs:relative/path",
		"::not a url",
		"nosuch:///x",
	} {
		_, err := reg.Open(ctx, bad)
		assert.ErrorIs(t, err, driver.ErrInvalidConfig, bad)
		if err != nil {
			assert.NotContains(t, err.Error(), "secret", "credential echoed in %q", err)
		}
	}
	for _, params := range []map[string]any{
		{"rootdirectory": other, "rootdirectroy": other},
		{"rootdirectory": 42},
		{"rootdirectory": other, "writebuffersize": "big"},
		{},
	} {
		_, err := reg.FromParameters(ctx, "nasfs", params)
		assert.ErrorIs(t, err, driver.ErrInvalidConfig, "%v", params)
	}
	assertEmptyDir(t, other)
}

func TestSymlinkOutOfRootIsRefused(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644))
	root := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "escape")))
	s, err := nasfs.New(nasfs.Config{Root: root})
	require.NoError(t, err)

	_, err = s.GetContent(ctx, "/escape/secret")
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrPermission)
	_, err = s.Stat(ctx, "/escape/secret")
	assert.ErrorIs(t, err, driver.ErrPermission, "Stat through a symlink out of the root")
	_, err = s.Reader(ctx, "/escape/secret", 0)
	assert.ErrorIs(t, err, driver.ErrPermission, "Reader through a symlink out of the root")
	err = s.PutContent(ctx, "/escape/planted", []byte("x"))
	require.Error(t, err)
	_, err = os.Stat(filepath.Join(outside, "planted"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "PutContent wrote outside the root")
}
