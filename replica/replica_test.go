package replica_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/replica"
)

// serve runs reqs through Serve on a memory driver and returns the replies.
func serve(t *testing.T, reqs ...replica.Request) []replica.Reply {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for i, r := range reqs {
		r.ID = int64(i + 1)
		require.NoError(t, enc.Encode(r))
	}
	var out bytes.Buffer
	err := replica.Serve(context.Background(), memory.New(memory.Named(t.Name())), &in, &out)
	require.True(t, err == nil || err == io.EOF, "Serve: %v", err)
	var reps []replica.Reply
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rep replica.Reply
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rep))
		reps = append(reps, rep)
	}
	require.Len(t, reps, len(reqs))
	for i, rep := range reps {
		require.True(t, rep.OK, "%s: %s", reqs[i].Op, rep.Err)
	}
	return reps
}

// TestSeededWritesStreamAndRangesDigest writes seeded content larger than
// the replica's buffer and checks full and ranged digests, and the time to
// first byte, against Payload.
func TestSeededWritesStreamAndRangesDigest(t *testing.T) {
	const n = 3<<20 + 17
	content := replica.Content{Seed: 7, N: n}
	want := replica.Payload(7, n)
	reps := serve(t,
		replica.Request{Op: "writer-open", Path: "/f"},
		replica.Request{Op: "write", Handle: 1, Content: content},
		replica.Request{Op: "commit", Handle: 1},
		replica.Request{Op: "digest", Path: "/f"},
		replica.Request{Op: "digest", Path: "/f", Offset: 1 << 20, Length: 1<<20 + 5},
		replica.Request{Op: "digest", Path: "/f", Offset: n - 3},
	)
	assert.EqualValues(t, n, reps[1].Size)
	for i, c := range []struct{ off, end int64 }{{0, n}, {1 << 20, 2<<20 + 5}, {n - 3, n}} {
		rep := reps[3+i]
		assert.EqualValues(t, c.end-c.off, rep.Size, "digest %d", i)
		assert.Equal(t, replica.Digest(want[c.off:c.end]), rep.Digest, "digest %d", i)
		assert.Positive(t, rep.TTFB, "digest %d", i)
	}
	var streamed bytes.Buffer
	_, err := io.Copy(&streamed, replica.PayloadReader(7, n))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, streamed.Bytes()), "PayloadReader differs from Payload")
}
