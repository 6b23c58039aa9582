package s3

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// TestReadAheadNeverMixesVersions replaces an object while a read-ahead
// reader is in the middle of it: the reader returns the old content whole
// or fails with ErrConflict, never old bytes followed by new (CONTRACT 1).
func TestReadAheadNeverMixesVersions(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.ReadChunkSize, cfg.ReadConcurrency = 1<<20, 2
		st, err := New(ctx, cfg)
		require.NoError(t, err)
		old := bytes.Repeat([]byte("old!"), 12<<20/4)
		require.NoError(t, st.PutContent(ctx, "/f", old))

		r, err := st.Reader(ctx, "/f", 0)
		require.NoError(t, err)
		head := make([]byte, 3<<20)
		_, err = io.ReadFull(r, head)
		require.NoError(t, err)
		require.NoError(t, st.PutContent(ctx, "/f", bytes.Repeat([]byte("NEW!"), 12<<20/4)))
		var rest bytes.Buffer
		_, err = io.Copy(&rest, r) // through WriteTo, as io.Copy reads
		r.Close()
		if err != nil {
			assert.ErrorIs(t, err, driver.ErrConflict)
			return
		}
		assert.True(t, bytes.Equal(append(head, rest.Bytes()...), old), "a read mixed two versions")
	})
}

// TestReadAheadRanges reads large objects from odd offsets and ranges
// through the read-ahead path and compares every byte.
func TestReadAheadRanges(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.ReadChunkSize, cfg.ReadConcurrency = 1<<20, 3
		st, err := New(ctx, cfg)
		require.NoError(t, err)
		data := make([]byte, 7<<20+12345)
		for i := range data {
			data[i] = byte(i * 131 >> 3)
		}
		require.NoError(t, st.PutContent(ctx, "/f", data))
		// Each range is read three ways: Read calls only, WriteTo only (what
		// io.Copy uses), and a Read of 1.5 MiB followed by WriteTo.
		reads := map[string]func(io.Reader) ([]byte, error){
			"Read": io.ReadAll,
			"WriteTo": func(r io.Reader) ([]byte, error) {
				var b bytes.Buffer
				_, err := r.(io.WriterTo).WriteTo(&b)
				return b.Bytes(), err
			},
			"Read+WriteTo": func(r io.Reader) ([]byte, error) {
				head := make([]byte, 3<<19)
				n, err := io.ReadFull(r, head)
				if err != nil && err != io.ErrUnexpectedEOF {
					return nil, err
				}
				b := bytes.NewBuffer(head[:n])
				_, err = r.(io.WriterTo).WriteTo(b)
				return b.Bytes(), err
			},
		}
		for _, c := range []struct{ off, n int64 }{{0, -1}, {1, -1}, {1<<20 - 1, -1}, {3 << 20, 2<<20 + 5}, {5, 4 << 20}} {
			for how, read := range reads {
				r, err := st.ReadRange(ctx, "/f", c.off, c.n)
				require.NoError(t, err)
				got, err := read(r)
				require.NoError(t, err, how)
				require.NoError(t, r.Close())
				want := data[c.off:]
				if c.n >= 0 {
					want = want[:c.n]
				}
				assert.True(t, bytes.Equal(got, want), "%s of range %d+%d: %d bytes", how, c.off, c.n, len(got))
			}
		}
	})
}
