package replica

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

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
