package s3

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// TestListAndWalkPastOnePage checks pagination: S3 answers 1,000 keys per
// listing, and a repository's tags or a blob shard can hold more.
func TestListAndWalkPastOnePage(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, _ := newBucket(t, s)
		st, err := New(ctx, s.config(bucket))
		require.NoError(t, err)
		const n = 1100
		errs := make(chan error, n)
		sem := make(chan struct{}, 16)
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				errs <- st.PutContent(ctx, fmt.Sprintf("/tags/t%04d/link", i), []byte{byte(i)})
			}()
		}
		for range n {
			require.NoError(t, <-errs)
		}
		require.NoError(t, st.PutContent(ctx, "/tags-other", []byte("sibling sharing the prefix")))

		got, err := st.List(ctx, "/tags")
		require.NoError(t, err)
		assert.Len(t, got, n)
		assert.Equal(t, "/tags/t0000", got[0])
		assert.Equal(t, fmt.Sprintf("/tags/t%04d", n-1), got[n-1])

		var files, dirs int
		prev := ""
		require.NoError(t, st.Walk(ctx, "/tags", func(fi driver.FileInfo) error {
			if fi.IsDir() {
				dirs++
			} else {
				files++
			}
			assert.Less(t, prev, fi.Path(), "walk order")
			prev = fi.Path()
			return nil
		}))
		assert.Equal(t, n, files)
		assert.Equal(t, n, dirs)

		require.NoError(t, st.Delete(ctx, "/tags"))
		_, err = st.Stat(ctx, "/tags")
		assert.ErrorIs(t, err, driver.ErrNotFound)
		_, err = st.Stat(ctx, "/tags-other")
		assert.NoError(t, err, "Delete(/tags) must not touch /tags-other")
	})
}
