package nasfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/nasfs"
)

// TestTrashRemovedUnderAnInstance removes .berth/trash, which an instance
// holds open after its first Commit, as an operator cleaning up might:
// the next Commit and Cancel still publish and leave nothing behind.
func TestTrashRemovedUnderAnInstance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := nasfs.New(nasfs.Config{Root: dir})
	require.NoError(t, err)
	commit := func(p, content string) {
		t.Helper()
		w, err := st.Writer(ctx, p, false)
		require.NoError(t, err)
		_, err = w.Write([]byte(content))
		require.NoError(t, err)
		require.NoError(t, w.Commit(ctx))
	}
	commit("/a/1", "one")
	require.NoError(t, os.RemoveAll(filepath.Join(dir, ".berth", "trash")))
	commit("/a/2", "two")
	w, err := st.Writer(ctx, "/a/3", false)
	require.NoError(t, err)
	_, err = w.Write([]byte("three"))
	require.NoError(t, err)
	require.NoError(t, w.Cancel(ctx))

	for p, want := range map[string]string{"/a/1": "one", "/a/2": "two"} {
		got, err := st.GetContent(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, want, string(got), p)
	}
	left, err := nasfs.Leftovers(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
	assert.DirExists(t, filepath.Join(dir, ".berth", "trash"))
}
