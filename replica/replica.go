// Package replica lets one process drive a Berth driver in another OS
// process: a small line-based JSON protocol (Request, Reply) that a replica
// serves on stdin and stdout (Main, Serve), and Process, the parent's
// handle on a replica. The conformance suite uses it to prove semantics
// across processes, and the bench CLI to run registry replicas.
//
// # Configuration
//
// A replica is any binary that calls Main first thing (a test binary from
// TestMain, or a command): when EnvURL is set, Main opens that driver URL
// and serves. Process starts one, by default the running executable with
// -test.run=^$.
//
// # Errors
//
// A failed command comes back as *RemoteError whose kind (driver.ErrNotFound,
// driver.ErrConflict, ...) errors.Is matches on the parent's side.
//
// # Consistency
//
// A replica serves one command at a time, in order. Large payloads travel
// as a seed and a length (Content), and both sides compute the bytes with
// Payload.
package replica

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
)

// EnvURL names the environment variable that turns a test binary into
// a replica: Main opens the driver URL it holds and serves commands.
const EnvURL = "BERTH_REPLICA_URL"

// maxLine bounds one protocol line (a request or reply with inline data).
const maxLine = 256 << 20

// Content is a byte string given inline (Data) or as N seeded random bytes
// (Seed, N; see Payload), so that large payloads cost a few bytes on the wire
// and both sides can compute them.
type Content struct {
	Data []byte `json:"data,omitempty"`
	Seed uint64 `json:"seed,omitempty"`
	N    int64  `json:"n,omitempty"`
}

// Bytes returns the content's bytes.
func (c Content) Bytes() []byte {
	if c.N > 0 {
		return Payload(c.Seed, c.N)
	}
	return c.Data
}

// Request is one command to a replica, one JSON object per line on its stdin.
//
// Ops: put {path, content}, get {path}, digest {path, offset, length}
// (streams the file, or the range when length > 0, and replies its size,
// sha256 and time to first byte only), stat {path}, list {path},
// move {path, dest}, delete {path}, writer-open {path, append} -> handle,
// write {handle, content} -> size, size {handle}, close {handle},
// commit {handle}, cancel {handle}, put-loop {path, loop, after}, exit,
// sync (replies once every command before it has finished: a parent that
// gave up waiting on some, e.g. on an interrupt, knows they are done).
//
// put-loop PutContents the loop payloads in turn, forever; it replies once
// After puts have completed (at once when After is 0) and then serves no
// further command: it is meant to be killed.
//
// script {script} runs the requests of Script in order, replying after
// each with Step set to its 1-based index (its outcome, Size and Handle as
// the op alone would reply), then once more with Step 0 and Count the steps
// run; a failed step does not stop the script. In a script, a writer op
// with Handle 0 means the writer opened last. It lets a parent kill the
// replica in the middle of a long sequence and know which steps completed
// (Process.StartScript, Process.Progress).
type Request struct {
	ID     int64  `json:"id"`
	Op     string `json:"op"`
	Path   string `json:"path,omitempty"`
	Dest   string `json:"dest,omitempty"`
	Append bool   `json:"append,omitempty"`
	Handle int    `json:"handle,omitempty"`
	Offset int64  `json:"offset,omitempty"` // digest: where to start
	// Hash makes write hash what it writes into a sha256 state, resumed
	// from HashState when set, as a registry hashes an upload across PATCH
	// requests; the reply carries the new state and the digest so far.
	Hash      bool   `json:"hash,omitempty"`
	HashState []byte `json:"hashState,omitempty"`
	Length    int64  `json:"length,omitempty"` // digest: bytes to read; 0: to the end
	Content
	Loop   []Content `json:"loop,omitempty"`
	After  int       `json:"after,omitempty"`
	Script []Request `json:"script,omitempty"`
}

// Reply answers the Request of the same ID. A replica also sends one reply
// with ID 0 when it starts: OK with its driver name and PID, or the error of
// opening the driver URL.
type Reply struct {
	ID     int64    `json:"id"`
	OK     bool     `json:"ok"`
	Kind   string   `json:"kind,omitempty"` // error kind, see kindNames
	Err    string   `json:"err,omitempty"`
	Handle int      `json:"handle,omitempty"`
	Size   int64    `json:"size,omitempty"`
	IsDir  bool     `json:"isDir,omitempty"`
	Data   []byte   `json:"data,omitempty"`
	Digest string   `json:"digest,omitempty"` // sha256 hex of Data (get)
	Paths  []string `json:"paths,omitempty"`
	Count  int64    `json:"count,omitempty"` // put-loop: puts completed; script: steps run
	Step   int      `json:"step,omitempty"`  // script: the step this reply reports, 1-based
	Driver string   `json:"driver,omitempty"`
	PID    int      `json:"pid,omitempty"`
	TTFB   int64    `json:"ttfb,omitempty"` // digest: nanoseconds to the first byte
	// HashState is write's sha256 state with Hash set; Digest is its sum.
	HashState []byte `json:"hashState,omitempty"`
}

// kindNames are the wire names of error kinds, so errors.Is works on the
// parent's side.
var kindNames = map[string]error{
	"not_found":      driver.ErrNotFound,
	"invalid_path":   driver.ErrInvalidPath,
	"invalid_offset": driver.ErrInvalidOffset,
	"conflict":       driver.ErrConflict,
	"too_large":      driver.ErrTooLarge,
	"unsupported":    driver.ErrUnsupported,
	"permission":     driver.ErrPermission,
	"invalid_config": driver.ErrInvalidConfig,
	"closed":         driver.ErrClosed,
	"canceled":       context.Canceled,
	"deadline":       context.DeadlineExceeded,
}

func kindName(err error) string {
	k := driver.KindOf(err)
	switch {
	case k == nil && errors.Is(err, context.Canceled):
		k = context.Canceled
	case k == nil && errors.Is(err, context.DeadlineExceeded):
		k = context.DeadlineExceeded
	}
	for name, v := range kindNames {
		if k != nil && v == k {
			return name
		}
	}
	return ""
}

// RemoteError is a replica's failed command. errors.Is matches its kind
// (driver.ErrNotFound, driver.ErrConflict, ...).
type RemoteError struct {
	Op   string
	Kind error // nil when unclassified
	Msg  string
}

func (e *RemoteError) Error() string { return "replica " + e.Op + ": " + e.Msg }
func (e *RemoteError) Unwrap() error { return e.Kind }

// Error returns the reply's error for op, or nil when OK.
func (r Reply) Error(op string) error {
	if r.OK {
		return nil
	}
	return &RemoteError{Op: op, Kind: kindNames[r.Kind], Msg: r.Err}
}

func errReply(id int64, err error) Reply {
	return Reply{ID: id, Kind: kindName(err), Err: err.Error()}
}

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

// Process is another OS process serving the replica protocol on the same
// backend: by default this test binary re-executed with -test.run=^$ and
// EnvURL set, so its TestMain must call Main (or conformance.ReplicaMain). Do is safe for
// one goroutine at a time.
type Process struct {
	// URL is the driver URL the replica opens.
	URL string
	// Command is the program and its arguments; empty: os.Executable() with
	// -test.run=^$.
	Command []string
	// Env is added to the inherited environment.
	Env []string
	// Stderr, if set, receives the replica's stderr as well.
	Stderr io.Writer

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan Reply
	done    chan struct{}
	waitErr error
	stderr  tail
	mu      sync.Mutex
	nextID  int64
	pid     int

	progressMu sync.Mutex
	scriptID   int64   // the running script's request ID; 0 if none
	progress   []Reply // its replies so far

	pendingMu sync.Mutex
	pending   map[int64]chan Reply // Do calls waiting, by request ID
	exited    bool
}

// Start starts the process and waits for its hello. ctx bounds the process's
// whole life: when ctx is done the process is killed.
func (r *Process) Start(ctx context.Context) error {
	args := r.Command
	if len(args) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("replica: %w", err)
		}
		args = []string{exe, "-test.run=^$"}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	env := make([]string, 0, len(os.Environ())+len(r.Env)+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvURL+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, r.Env...), EnvURL+"="+r.URL)
	cmd.Stderr = &r.stderr
	if r.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&r.stderr, r.Stderr)
	}
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("replica: start %s: %w", args[0], err)
	}
	r.cmd, r.stdin = cmd, stdin
	r.replies = make(chan Reply, 64)
	r.done = make(chan struct{})
	go r.readReplies(stdout)

	hello, err := r.await(ctx, 0)
	if err != nil {
		return fmt.Errorf("replica did not start (does the binary call replica.Main first thing, e.g. from TestMain?): %w", err)
	}
	if err := hello.Error("open " + redactURL(r.URL)); err != nil {
		<-r.done
		return err
	}
	r.pid = hello.PID
	return nil
}

func (r *Process) readReplies(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		var rep Reply
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &rep) != nil {
			fmt.Fprintf(&r.stderr, "[stdout] %s\n", line) // not ours: keep it for error messages
			continue
		}
		r.progressMu.Lock()
		if r.scriptID != 0 && rep.ID == r.scriptID {
			r.progress = append(r.progress, rep)
			r.progressMu.Unlock()
			continue
		}
		r.progressMu.Unlock()
		r.pendingMu.Lock()
		ch := r.pending[rep.ID]
		delete(r.pending, rep.ID)
		r.pendingMu.Unlock()
		if ch != nil {
			ch <- rep // buffered: never blocks
			continue
		}
		select {
		case r.replies <- rep: // the hello, which Start awaits
		default: // a reply nobody waits for any more
		}
	}
	r.waitErr = r.cmd.Wait()
	r.pendingMu.Lock()
	r.exited = true
	for id, ch := range r.pending {
		close(ch)
		delete(r.pending, id)
	}
	r.pendingMu.Unlock()
	close(r.replies)
	close(r.done)
}

// await returns the reply with the given ID, skipping stale ones.
func (r *Process) await(ctx context.Context, id int64) (Reply, error) {
	for {
		select {
		case rep, ok := <-r.replies:
			if !ok {
				return Reply{}, fmt.Errorf("replica exited (%v); stderr: %s", r.waitErr, r.stderr.String())
			}
			if rep.ID == id {
				return rep, nil
			}
		case <-ctx.Done():
			return Reply{}, fmt.Errorf("replica: waiting for reply %d: %w", id, ctx.Err())
		}
	}
}

// Do sends req and waits for its reply. The error is the transport's, or the
// command's as a *RemoteError whose kind errors.Is matches. Several
// goroutines may call Do at once: the replica runs their commands
// concurrently.
func (r *Process) Do(ctx context.Context, req Request) (Reply, error) {
	ch := make(chan Reply, 1)
	r.mu.Lock()
	r.nextID++
	req.ID = r.nextID
	r.pendingMu.Lock()
	if r.exited {
		r.pendingMu.Unlock()
		r.mu.Unlock()
		return Reply{}, fmt.Errorf("replica exited (%v); stderr: %s", r.waitErr, r.stderr.String())
	}
	if r.pending == nil {
		r.pending = map[int64]chan Reply{}
	}
	r.pending[req.ID] = ch
	r.pendingMu.Unlock()
	line, err := json.Marshal(req)
	if err == nil {
		_, err = r.stdin.Write(append(line, '\n'))
		if err != nil {
			err = fmt.Errorf("send %s: %w; stderr: %s", req.Op, err, r.stderr.String())
		}
	}
	r.mu.Unlock()
	if err != nil {
		r.forget(req.ID)
		return Reply{}, fmt.Errorf("replica: %w", err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return Reply{}, fmt.Errorf("replica exited (%v); stderr: %s", r.waitErr, r.stderr.String())
		}
		return rep, rep.Error(req.Op + " " + req.Path)
	case <-ctx.Done():
		r.forget(req.ID)
		return Reply{}, fmt.Errorf("replica: waiting for reply %d: %w", req.ID, ctx.Err())
	}
}

func (r *Process) forget(id int64) {
	r.pendingMu.Lock()
	delete(r.pending, id)
	r.pendingMu.Unlock()
}

// StartScript sends a script request (Op "script") and returns without
// waiting: its replies collect in Progress. The replica serves nothing else
// until the script ends; it is meant to be killed in the middle.
func (r *Process) StartScript(req Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	req.ID, req.Op = r.nextID, "script"
	r.progressMu.Lock()
	r.scriptID, r.progress = req.ID, nil
	r.progressMu.Unlock()
	line, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	if _, err := r.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("replica: send script: %w; stderr: %s", err, r.stderr.String())
	}
	return nil
}

// Progress returns the replies of the script StartScript sent, so far: one
// per step done (Step set), and a last with Step 0 if the script finished.
// After Kill it holds everything the replica reported before it died.
func (r *Process) Progress() []Reply {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	return append([]Reply(nil), r.progress...)
}

// PID is the replica's process id.
func (r *Process) PID() int { return r.pid }

// Kill kills the process with SIGKILL (no cleanup runs) and waits for it.
func (r *Process) Kill() error {
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("replica: kill: %w", err)
	}
	<-r.done
	return nil
}

// Wait closes the replica's stdin, which ends its command loop, and waits for
// it to exit.
func (r *Process) Wait() error {
	_ = r.stdin.Close()
	<-r.done
	if r.waitErr != nil {
		return fmt.Errorf("replica: %w; stderr: %s", r.waitErr, r.stderr.String())
	}
	return nil
}

// StderrTail returns the last 64 KiB the replica wrote to stderr.
func (r *Process) StderrTail() string { return r.stderr.String() }

// tail keeps the last 64 KiB written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - 64<<10; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}

// redactURL drops userinfo and query, where credentials live.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "(driver URL)"
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + "://" + rest
}

// Digest returns the sha256 of b in hex, as replies carry it.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Payload returns n pseudo-random bytes determined by seed: what a replica
// writes for Content{Seed, N}, so either side can check the other's digest.
func Payload(seed uint64, n int64) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(PayloadReader(seed, n), b)
	return b
}

// PayloadReader streams the bytes of Payload(seed, n).
func PayloadReader(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(n))
	return io.LimitReader(rand.NewChaCha8(key), n)
}
