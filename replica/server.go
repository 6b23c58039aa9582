package replica

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
)

// Main turns the running binary into a replica when EnvURL is
// set: it opens that URL with reg, serves Requests on stdin until EOF or
// "exit", and exits the process. Otherwise it returns at once. Call it first
// thing in TestMain.
func Main(reg *driver.Registry) {
	u := os.Getenv(EnvURL)
	if u == "" {
		return
	}
	ctx := context.Background()
	enc := json.NewEncoder(os.Stdout)
	d, err := reg.Open(ctx, u)
	if err != nil {
		_ = enc.Encode(errReply(0, err))
		os.Exit(2)
	}
	_ = enc.Encode(Reply{OK: true, Driver: d.Name(), PID: os.Getpid()})
	if err := Serve(ctx, d, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Serve runs the command loop on d until in ends or an exit command;
// a failing put-loop ends it with that error.
//
// Ordinary commands run concurrently, as a registry process serves many
// requests on one driver instance, and reply when done, each with its ID;
// a client that waits for each reply before sending the next sees them in
// order. exit, put-loop and script first wait for the commands in flight
// and run alone.
func Serve(ctx context.Context, d driver.Driver, in io.Reader, out io.Writer) error {
	srv := &replicaServer{d: d, writers: map[int]driver.FileWriter{}}
	enc := json.NewEncoder(out)
	var encMu sync.Mutex
	send := func(rep Reply) error {
		encMu.Lock()
		defer encMu.Unlock()
		return enc.Encode(rep)
	}
	var inflight sync.WaitGroup
	defer inflight.Wait()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			if err := send(Reply{Err: "bad request: " + err.Error()}); err != nil {
				return err
			}
			continue
		}
		switch req.Op {
		case "exit":
			inflight.Wait()
			return enc.Encode(Reply{ID: req.ID, OK: true})
		case "sync":
			inflight.Wait()
			if err := send(Reply{ID: req.ID, OK: true}); err != nil {
				return err
			}
			continue
		case "put-loop":
			inflight.Wait()
			return srv.putLoop(ctx, req, enc)
		case "script":
			inflight.Wait()
			if err := srv.script(ctx, req, enc); err != nil {
				return err
			}
			continue
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			send(srv.do(ctx, req)) // a parent that stopped reading is gone
		}()
	}
	return sc.Err()
}

type replicaServer struct {
	d       driver.Driver
	mu      sync.Mutex // guards writers and next
	writers map[int]driver.FileWriter
	next    int
}

// buffers stream seeded writes and digests, 1 MiB each.
var buffers = sync.Pool{New: func() any { return new([1 << 20]byte) }}

func (s *replicaServer) writer(h int) driver.FileWriter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writers[h]
}

func (s *replicaServer) do(ctx context.Context, req Request) Reply {
	ok := Reply{ID: req.ID, OK: true}
	fail := func(err error) Reply { return errReply(req.ID, err) }
	var w driver.FileWriter
	switch req.Op {
	case "write", "size", "close", "commit", "cancel":
		if w = s.writer(req.Handle); w == nil {
			return Reply{ID: req.ID, Err: fmt.Sprintf("no writer with handle %d", req.Handle)}
		}
	}
	switch req.Op {
	case "put":
		if err := s.d.PutContent(ctx, req.Path, req.Bytes()); err != nil {
			return fail(err)
		}
	case "get":
		b, err := s.d.GetContent(ctx, req.Path)
		if err != nil {
			return fail(err)
		}
		ok.Data, ok.Size, ok.Digest = b, int64(len(b)), Digest(b)
	case "digest":
		began := time.Now()
		var r io.ReadCloser
		var err error
		if req.Length > 0 {
			r, err = s.d.ReadRange(ctx, req.Path, req.Offset, req.Length)
		} else {
			r, err = s.d.Reader(ctx, req.Path, req.Offset)
		}
		if err != nil {
			return fail(err)
		}
		h := sha256.New()
		bufp := buffers.Get().(*[1 << 20]byte)
		defer buffers.Put(bufp)
		buf := bufp[:]
		n, err := io.ReadAtLeast(r, buf, 1)
		if n > 0 {
			ok.TTFB = int64(time.Since(began))
			h.Write(buf[:n])
		}
		var rest int64
		if err == nil {
			rest, err = io.CopyBuffer(h, r, buf)
		} else if err == io.EOF {
			err = nil
		}
		r.Close()
		if err != nil {
			return fail(err)
		}
		ok.Size, ok.Digest = int64(n)+rest, hex.EncodeToString(h.Sum(nil))
	case "stat":
		fi, err := s.d.Stat(ctx, req.Path)
		if err != nil {
			return fail(err)
		}
		ok.Size, ok.IsDir = fi.Size(), fi.IsDir()
	case "list":
		paths, err := s.d.List(ctx, req.Path)
		if err != nil {
			return fail(err)
		}
		ok.Paths = paths
	case "move":
		if err := s.d.Move(ctx, req.Path, req.Dest); err != nil {
			return fail(err)
		}
	case "delete":
		if err := s.d.Delete(ctx, req.Path); err != nil {
			return fail(err)
		}
	case "writer-open":
		w, err := s.d.Writer(ctx, req.Path, req.Append)
		if err != nil {
			return fail(err)
		}
		s.mu.Lock()
		s.next++
		s.writers[s.next] = w
		ok.Handle = s.next
		s.mu.Unlock()
		ok.Size = w.Size()
	case "write":
		dst := io.Writer(w)
		var h hash.Hash
		if req.Hash {
			h = sha256.New()
			if len(req.HashState) > 0 {
				if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(req.HashState); err != nil {
					return fail(fmt.Errorf("bad hash state: %w", err))
				}
			}
			dst = io.MultiWriter(w, h)
		}
		var err error
		if req.N > 0 { // seeded content streams, whatever its size
			buf := buffers.Get().(*[1 << 20]byte)
			_, err = io.CopyBuffer(dst, PayloadReader(req.Seed, req.N), buf[:])
			buffers.Put(buf)
		} else {
			_, err = dst.Write(req.Data)
		}
		if err != nil {
			return fail(err)
		}
		if h != nil {
			if ok.HashState, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
				return fail(err)
			}
			ok.Digest = hex.EncodeToString(h.Sum(nil))
		}
		ok.Size = w.Size()
	case "size":
		ok.Size = w.Size()
	case "close":
		if err := w.Close(); err != nil {
			return fail(err)
		}
	case "commit":
		if err := w.Commit(ctx); err != nil {
			return fail(err)
		}
		s.forget(req.Handle)
	case "cancel":
		if err := w.Cancel(ctx); err != nil {
			return fail(err)
		}
		s.forget(req.Handle)
	default:
		return Reply{ID: req.ID, Err: fmt.Sprintf("unknown op %q", req.Op)}
	}
	return ok
}

// forget drops a committed or cancelled writer, whose every later call
// would return nil or ErrClosed, so that a long run does not pile them up.
func (s *replicaServer) forget(h int) {
	s.mu.Lock()
	delete(s.writers, h)
	s.mu.Unlock()
}

func (s *replicaServer) script(ctx context.Context, req Request, enc *json.Encoder) error {
	for i, step := range req.Script {
		switch step.Op {
		case "write", "size", "close", "commit", "cancel":
			if step.Handle == 0 {
				s.mu.Lock()
				step.Handle = s.next
				s.mu.Unlock()
			}
		case "script", "put-loop", "exit":
			return enc.Encode(Reply{ID: req.ID, Step: i + 1, Err: "op " + step.Op + " cannot be a script step"})
		}
		step.ID = req.ID
		rep := s.do(ctx, step)
		rep.Step = i + 1
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return enc.Encode(Reply{ID: req.ID, OK: true, Count: int64(len(req.Script))})
}

func (s *replicaServer) putLoop(ctx context.Context, req Request, enc *json.Encoder) error {
	if len(req.Loop) == 0 {
		return enc.Encode(Reply{ID: req.ID, Err: "put-loop needs loop payloads"})
	}
	payloads := make([][]byte, len(req.Loop))
	for i, c := range req.Loop {
		payloads[i] = c.Bytes()
	}
	if req.After == 0 {
		if err := enc.Encode(Reply{ID: req.ID, OK: true}); err != nil {
			return err
		}
	}
	for n := int64(1); ; n++ {
		if err := s.d.PutContent(ctx, req.Path, payloads[(n-1)%int64(len(payloads))]); err != nil {
			_ = enc.Encode(errReply(req.ID, err))
			return err
		}
		if n == int64(req.After) {
			if err := enc.Encode(Reply{ID: req.ID, OK: true, Count: n}); err != nil {
				return err
			}
		}
	}
}
