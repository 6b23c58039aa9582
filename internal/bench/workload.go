package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// layerSpec is a layer's content: PATCH chunks of seeded bytes (one chunk
// for a monolithic upload). Two pushes of one spec push the same digest.
type layerSpec struct {
	chunks     []replica.Content
	size       int64
	monolithic bool
}

// acked is a layer whose push the backend acknowledged.
type acked struct {
	digest string
	size   int64
	first  replica.Content // the first chunk, for ranged pulls
}

// workload runs the image pushes and pulls of one run.
type workload struct {
	cfg   Config
	procs []*replica.Process
	rec   *Recorder
	root  string // this run on this host: /bench/<run>/<host>
	blobs string // the blob store, shared by the run's hosts

	mu       sync.Mutex
	acked    map[string]acked     // blob path -> what it must hold
	movedAt  map[string]time.Time // blob directory -> when a push began writing it
	recent   []layerSpec          // layers pushed lately, for same-digest pushes
	uploads  int64                // upload ids handed out
	pushed   int64                // layer bytes pushed, warm-up included
	inflight sync.WaitGroup
}

func (w *workload) replica(i int) *replica.Process { return w.procs[i%len(w.procs)] }

// call sends the driver calls of one registry request to replica r. A
// request whose Handle is -1 gets the handle of the last writer-open. The
// reply is the last call's, with the writer's handle and the last digest
// and hash state of the sequence.
func (w *workload) call(ctx context.Context, r int, reqs ...replica.Request) (replica.Reply, error) {
	var acc replica.Reply
	for _, req := range reqs {
		if req.Handle < 0 {
			req.Handle = acc.Handle
		}
		rep, err := w.replica(r).Do(ctx, req)
		if err != nil {
			return rep, err
		}
		if req.Op != "writer-open" {
			rep.Handle = acc.Handle
		}
		if rep.Digest == "" {
			rep.Digest, rep.HashState = acc.Digest, acc.HashState
		}
		acc = rep
	}
	return acc, nil
}

// observe records a request of op that began at began.
func (w *workload) observe(ctx context.Context, op string, began time.Time, bytes int64, rep replica.Reply, err error) {
	if ctx.Err() != nil {
		return // an interrupted call is neither a result nor a failure
	}
	w.rec.Observe(op, began, time.Since(began), bytes, time.Duration(rep.TTFB), err)
}

// do is call and observe in one.
func (w *workload) do(ctx context.Context, op string, r int, bytes int64, reqs ...replica.Request) (replica.Reply, error) {
	began := time.Now()
	rep, err := w.call(ctx, r, reqs...)
	w.observe(ctx, op, began, bytes, rep, err)
	return rep, err
}

func (w *workload) newLayer(rng *rand.Rand) layerSpec {
	w.mu.Lock()
	if len(w.recent) > 0 && rng.Float64() < w.cfg.SameDigest {
		l := w.recent[rng.IntN(len(w.recent))]
		w.mu.Unlock()
		return l
	}
	w.mu.Unlock()
	size := w.cfg.Sizes.Sample(rng)
	n := w.cfg.Chunks[0] + rng.IntN(w.cfg.Chunks[1]-w.cfg.Chunks[0]+1)
	l := layerSpec{size: size, monolithic: n == 0}
	n = max(n, 1)
	left := size
	for c := range n {
		k := left / int64(n-c)
		l.chunks = append(l.chunks, replica.Content{Seed: rng.Uint64() | 1, N: k})
		left -= k
	}
	w.mu.Lock()
	w.recent = append(w.recent, l)
	if len(w.recent) > 64 {
		w.recent = w.recent[1:]
	}
	w.mu.Unlock()
	return l
}

// pushImage pushes one image: its layers, then its manifest and tag, then
// lists the repository's tags and pulls the image Pulls times.
func (w *workload) pushImage(ctx context.Context, rng *rand.Rand, image int64) {
	repo := fmt.Sprintf("%s/repositories/r%d", w.root, rng.IntN(8))
	nLayers := w.cfg.Layers[0] + rng.IntN(w.cfg.Layers[1]-w.cfg.Layers[0]+1)
	var layers []acked
	for range nLayers {
		a, ok := w.pushLayer(ctx, rng, repo)
		if !ok {
			return
		}
		layers = append(layers, a)
	}
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"image":%d,"layers":%q}`, image, digests(layers)))
	sum := sha256.Sum256(manifest)
	md := hex.EncodeToString(sum[:])
	tag := fmt.Sprintf("t%d", image)
	r := rng.IntN(len(w.procs))
	w.mu.Lock()
	w.movedAt[path.Dir(w.blobPath(md))] = time.Now()
	w.mu.Unlock()
	if _, err := w.do(ctx, "manifest", r, int64(len(manifest)),
		replica.Request{Op: "put", Path: w.blobPath(md), Content: replica.Content{Data: manifest}},
		replica.Request{Op: "put", Path: repo + "/_manifests/revisions/sha256/" + md + "/link", Content: replica.Content{Data: []byte("sha256:" + md)}},
		replica.Request{Op: "put", Path: repo + "/_manifests/tags/" + tag + "/current/link", Content: replica.Content{Data: []byte("sha256:" + md)}},
	); err != nil {
		return
	}
	w.mu.Lock()
	w.acked[w.blobPath(md)] = acked{digest: md, size: int64(len(manifest))}
	w.mu.Unlock()
	w.do(ctx, "tags", r+1, 0, replica.Request{Op: "list", Path: repo + "/_manifests/tags"})

	for range w.cfg.Pulls {
		r := rng.IntN(len(w.procs))
		rep, err := w.do(ctx, "manifest-get", r, int64(len(manifest)), replica.Request{Op: "get", Path: w.blobPath(md)})
		w.check(w.blobPath(md), md, int64(len(manifest)), rep, err)
		for i, l := range layers {
			if rng.Float64() < w.cfg.RangedPulls && l.first.N > 1 {
				// A resumed pull: a range from the start of the layer, whose
				// digest the coordinator computes from the seed.
				n := 1 + rng.Int64N(min(l.first.N, 4<<20))
				want := replica.Digest(replica.Payload(l.first.Seed, l.first.N)[:n])
				rep, err := w.do(ctx, "pull-range", r+i, n, replica.Request{Op: "digest", Path: w.blobPath(l.digest), Length: n})
				w.check(w.blobPath(l.digest), want, n, rep, err)
				continue
			}
			rep, err := w.do(ctx, "pull", r+i, l.size, replica.Request{Op: "digest", Path: w.blobPath(l.digest)})
			w.check(w.blobPath(l.digest), l.digest, l.size, rep, err)
		}
	}
}

func digests(ls []acked) []string {
	var out []string
	for _, l := range ls {
		out = append(out, "sha256:"+l.digest)
	}
	return out
}

func (w *workload) blobPath(d string) string {
	return fmt.Sprintf("%s/sha256/%s/%s/data", w.blobs, d[:2], d)
}

// pushLayer uploads one layer as a registry does, each request on the next
// replica: POST (new upload, startedat), PATCH per chunk (resume, write and
// hash, Close, hash state), PUT (resume, Commit, Move into the blob store
// unless the blob exists, layer link, upload removed).
func (w *workload) pushLayer(ctx context.Context, rng *rand.Rand, repo string) (acked, bool) {
	w.mu.Lock()
	w.uploads++
	id := w.uploads
	w.mu.Unlock()
	l := w.newLayer(rng)
	dir := fmt.Sprintf("%s/_uploads/%08d", repo, id)
	data := dir + "/data"
	r := rng.IntN(len(w.procs))
	began := time.Now()

	// POST: a new upload and its start time.
	t := time.Now()
	_, err := w.call(ctx, r,
		replica.Request{Op: "writer-open", Path: data},
		replica.Request{Op: "close", Handle: -1},
		replica.Request{Op: "put", Path: dir + "/startedat", Content: replica.Content{Data: []byte(t.UTC().Format(time.RFC3339))}})
	w.observe(ctx, "POST", t, 0, replica.Reply{}, err)
	r++

	// PATCH: a chunk onto the upload, hashed on, and the hash state saved.
	var state []byte
	var digest string
	var off int64
	for _, c := range l.chunks {
		if l.monolithic || err != nil {
			break
		}
		t := time.Now()
		var rep replica.Reply
		rep, err = w.call(ctx, r,
			replica.Request{Op: "writer-open", Path: data, Append: true},
			replica.Request{Op: "write", Handle: -1, Content: c, Hash: true, HashState: state},
			replica.Request{Op: "close", Handle: -1})
		if err == nil {
			state, digest, off = rep.HashState, rep.Digest, off+c.N
			_, err = w.call(ctx, r, replica.Request{Op: "put",
				Path: fmt.Sprintf("%s/hashstates/sha256/%d", dir, off), Content: replica.Content{Data: state}})
		}
		w.observe(ctx, "PATCH", t, c.N, replica.Reply{}, err)
		r++
	}

	// PUT: the last bytes (a monolithic upload's only ones), Commit, Move
	// into the blob store unless another push got there first, the layer
	// link, and the upload removed.
	if err == nil {
		t := time.Now()
		put := []replica.Request{{Op: "writer-open", Path: data, Append: true}}
		var n int64
		if l.monolithic {
			put = append(put, replica.Request{Op: "write", Handle: -1, Content: l.chunks[0], Hash: true})
			n = l.size
		}
		var rep replica.Reply
		if rep, err = w.call(ctx, r, put...); err == nil {
			if l.monolithic {
				digest = rep.Digest
			}
			_, err = w.call(ctx, r, replica.Request{Op: "commit", Handle: rep.Handle})
		}
		blob := ""
		if err == nil {
			blob = w.blobPath(digest)
			if _, err = w.call(ctx, r, replica.Request{Op: "stat", Path: blob}); errors.Is(err, driver.ErrNotFound) {
				w.mu.Lock()
				w.movedAt[path.Dir(blob)] = time.Now()
				w.mu.Unlock()
				_, err = w.call(ctx, r, replica.Request{Op: "move", Path: data, Dest: blob})
			}
		}
		if err == nil {
			_, err = w.call(ctx, r,
				replica.Request{Op: "put", Path: repo + "/_layers/sha256/" + digest + "/link", Content: replica.Content{Data: []byte("sha256:" + digest)}},
				replica.Request{Op: "delete", Path: dir})
		}
		w.observe(ctx, "PUT", t, n, replica.Reply{}, err)
	}
	ok := err == nil
	if !ok {
		// Abandon the upload as a registry's cancel does; an upload already
		// gone (purged, or never made) is no failure. Leftovers show up as
		// leaks at the end.
		ctx := context.WithoutCancel(ctx)
		t := time.Now()
		_, err := w.call(ctx, r,
			replica.Request{Op: "writer-open", Path: data, Append: true},
			replica.Request{Op: "cancel", Handle: -1})
		if err == nil || errors.Is(err, driver.ErrNotFound) {
			_, err = w.call(ctx, r, replica.Request{Op: "delete", Path: dir})
		}
		if errors.Is(err, driver.ErrNotFound) {
			err = nil
		}
		w.observe(ctx, "cancel", t, 0, replica.Reply{}, err)
		return acked{}, false
	}
	w.rec.Observe("push", began, time.Since(began), l.size, 0, nil)
	w.mu.Lock()
	w.pushed += l.size
	a := acked{digest: digest, size: l.size, first: l.chunks[0]}
	w.acked[w.blobPath(digest)] = a
	w.mu.Unlock()
	w.rec.Integrity(func(in *Integrity) { in.Pushed++ })
	return a, true
}

// check counts a pull's outcome against what the path must hold.
func (w *workload) check(path, digest string, size int64, rep replica.Reply, err error) {
	w.rec.Integrity(func(in *Integrity) {
		switch {
		case errors.Is(err, driver.ErrNotFound):
			in.Lost++
			note(in, "LOST: %s was acknowledged but is not found", path)
		case err != nil:
			// A failed read is an error, counted by its op; not a verdict.
		case rep.Size != size || rep.Digest != digest:
			in.Corrupt++
			note(in, "CORRUPT: %s: %d bytes, digest %.12s; want %d bytes, %.12s", path, rep.Size, rep.Digest, size, digest)
		default:
			in.Verified++
		}
	})
}

func note(in *Integrity, format string, args ...any) {
	if len(in.Notes) < 20 {
		in.Notes = append(in.Notes, fmt.Sprintf(format, args...))
	}
}
