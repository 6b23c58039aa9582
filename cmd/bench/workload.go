package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// benchRoot is where the bench writes, laid out as distribution lays out a
// registry: uploads under _uploads, blobs by digest, layer links.
const benchRoot = "/bench"

type workload struct {
	cfg   config
	procs []*replica.Process
	locks []sync.Mutex // a replica serves one command at a time
	rep   *report
}

func newWorkload(cfg config, procs []*replica.Process) *workload {
	return &workload{cfg: cfg, procs: procs, locks: make([]sync.Mutex, len(procs)), rep: newReport()}
}

func (w *workload) run(ctx context.Context) *report {
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range w.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				w.push(ctx, i)
			}
		}()
	}
feed:
	for i := range w.cfg.pushes {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	w.rep.elapsed = time.Since(start)
	return w.rep
}

// do sends commands, the driver calls of one registry request, to replica
// r in turn and records the request's latency under op. A command whose
// Handle is -1 gets the handle the last writer-open returned.
func (w *workload) do(ctx context.Context, op string, r int, reqs ...replica.Request) (replica.Reply, error) {
	r %= len(w.procs)
	w.locks[r].Lock()
	defer w.locks[r].Unlock()
	start := time.Now()
	var rep replica.Reply
	handle := 0
	for _, req := range reqs {
		if req.Handle < 0 {
			req.Handle = handle
		}
		var err error
		if rep, err = w.procs[r].Do(ctx, req); err == nil {
			err = rep.Error(req.Op)
		}
		if err != nil {
			return rep, err
		}
		if req.Op == "writer-open" {
			handle = rep.Handle
		}
	}
	w.rep.observe(op, time.Since(start))
	return rep, nil
}

// layer is one layer's size and content, as PATCH chunks of seeded bytes.
type layer struct {
	size   int64
	chunks []replica.Content
	digest string
}

func (w *workload) layer(i int) layer {
	rng := rand.New(rand.NewPCG(w.cfg.seed, uint64(i)))
	lo, hi := math.Log(float64(w.cfg.minSize)), math.Log(float64(w.cfg.maxSize))
	size := int64(math.Exp(lo + rng.Float64()*(hi-lo)))
	l := layer{size: size}
	h := sha256.New()
	left := size
	for c := range w.cfg.chunks {
		n := left / int64(w.cfg.chunks-c)
		ct := replica.Content{Seed: rng.Uint64(), N: n}
		if n == 0 {
			ct = replica.Content{Data: []byte{}}
		}
		h.Write(ct.Bytes())
		l.chunks = append(l.chunks, ct)
		left -= n
	}
	l.digest = hex.EncodeToString(h.Sum(nil))
	return l
}

// push does what a registry does for one blob upload, each request on the
// next replica: POST (new upload, startedat), PATCH chunks (resume, write,
// Close), PUT (resume, Commit, Move into the blob store, link), then pulls
// the blob through yet another replica and checks its digest.
func (w *workload) push(ctx context.Context, i int) {
	l := w.layer(i)
	uploadDir := fmt.Sprintf("%s/repositories/r%d/_uploads/%08d", benchRoot, i%4, i)
	data := uploadDir + "/data"
	blob := fmt.Sprintf("%s/blobs/sha256/%s/%s/data", benchRoot, l.digest[:2], l.digest)
	link := fmt.Sprintf("%s/repositories/r%d/_layers/sha256/%s/link", benchRoot, i%4, l.digest)
	r := i

	step := func(op string, reqs ...replica.Request) bool {
		if _, err := w.do(ctx, op, r, reqs...); err != nil {
			w.rep.failed(op, err)
			return false
		}
		r++
		return true
	}
	ok := step("POST",
		replica.Request{Op: "writer-open", Path: data},
		replica.Request{Op: "close", Handle: -1},
		replica.Request{Op: "put", Path: uploadDir + "/startedat", Content: replica.Content{Data: []byte(time.Now().UTC().Format(time.RFC3339))}})
	for _, c := range l.chunks {
		ok = ok && step("PATCH",
			replica.Request{Op: "writer-open", Path: data, Append: true},
			replica.Request{Op: "write", Handle: -1, Content: c},
			replica.Request{Op: "close", Handle: -1})
	}
	ok = ok && step("PUT",
		replica.Request{Op: "writer-open", Path: data, Append: true},
		replica.Request{Op: "commit", Handle: -1},
		replica.Request{Op: "move", Path: data, Dest: blob},
		replica.Request{Op: "put", Path: link, Content: replica.Content{Data: []byte("sha256:" + l.digest)}},
		replica.Request{Op: "delete", Path: uploadDir})
	if !ok {
		return
	}
	w.rep.pushed(l.size)

	rep, err := w.do(ctx, "pull", r, replica.Request{Op: "digest", Path: blob})
	switch {
	case errors.Is(err, driver.ErrNotFound):
		w.rep.lose(blob)
	case err != nil:
		w.rep.failed("pull", err)
	case rep.Size != l.size || rep.Digest != l.digest:
		w.rep.corrupted(blob, rep.Size, l.size)
	default:
		w.rep.pulled(rep.Size)
	}
}
