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
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"

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
