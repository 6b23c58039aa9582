package nasfs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/nasfs"
)

// TestUploadsWhileOthersPruneParents opens uploads under one directory on
// several instances while others delete finished uploads there, which
// prunes the emptied parent directories: a new upload whose parents vanish
// while it creates them must retry, not fail. (Found by the bench CLI: a
// POST failed with "mkdirat .berth/uploads/...: no such file or directory".)
func TestUploadsWhileOthersPruneParents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		st, err := nasfs.New(nasfs.Config{Root: dir})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				up := fmt.Sprintf("/r/a/b/_uploads/%d-%d", g, i)
				w, err := st.Writer(ctx, up+"/data", false)
				if err == nil {
					_, err = w.Write([]byte("x"))
				}
				if err == nil {
					err = w.Close()
				}
				if err == nil {
					err = st.Delete(ctx, up)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", up, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
