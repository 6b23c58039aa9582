package rados

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// The layout, all in one namespace of one pool (see the package doc):
//
//	D<dir>            directory object of the visible tree: omap
//	                  "f:<name>" -> file record, "d:<name>" -> subdirectory
//	U<dir>            directory object of the upload tree: omap
//	                  "u:<name>" -> upload record, "d:<name>" -> subdirectory
//	C.<gen>.<index>   chunk object: bytes [index*ChunkSize, ...) of the
//	                  file or upload whose record names gen for index
const (
	treeFiles   = 'D'
	treeUploads = 'U'
	chunkPrefix = "C."

	keyFile   = "f:"
	keyDir    = "d:"
	keyUpload = "u:"
)

// dirObj names the directory object of dir ("/" or "/a/b") in a tree.
func dirObj(tree byte, dir string) string { return string(tree) + dir }

func chunkObj(gen string, idx int64) string {
	return chunkPrefix + gen + "." + strconv.FormatInt(idx, 16)
}

// parseChunkObj splits a chunk object name into its generation and index.
func parseChunkObj(oid string) (gen string, idx int64, ok bool) {
	rest, ok := strings.CutPrefix(oid, chunkPrefix)
	if !ok {
		return "", 0, false
	}
	gen, hx, ok := strings.Cut(rest, ".")
	if !ok {
		return "", 0, false
	}
	idx, err := strconv.ParseInt(hx, 16, 64)
	return gen, idx, err == nil
}

// split returns the directory holding p and p's last component.
func split(p string) (dir, name string) {
	dir, name = path.Split(p)
	if dir != "/" {
		dir = strings.TrimSuffix(dir, "/")
	}
	return dir, name
}

// child joins a directory and a name.
func child(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// newID returns 128 random bits in hex: a write generation, a session or
// a record nonce, unique without coordination.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run is a stretch of consecutive chunks written by one generation: chunk
// objects C.<Gen>.<First> ... C.<Gen>.<First+N-1>.
type run struct {
	Gen   string `json:"g"`
	First int64  `json:"f"`
	N     int64  `json:"n"`
}

// chunks lists the chunk objects of runs.
func chunks(runs []run) []string {
	var out []string
	for _, r := range runs {
		for i := r.First; i < r.First+r.N; i++ {
			out = append(out, chunkObj(r.Gen, i))
		}
	}
	return out
}

// chunkAt returns the object holding chunk idx.
func chunkAt(runs []run, idx int64) (string, bool) {
	for _, r := range runs {
		if idx >= r.First && idx < r.First+r.N {
			return chunkObj(r.Gen, idx), true
		}
	}
	return "", false
}

// fileRec is a file's head: what a directory's "f:<name>" entry holds.
// Content of at most inlineMax bytes lives in the record itself; larger
// content in the chunks its runs name, ChunkSize bytes each but the last.
type fileRec struct {
	Size      int64  `json:"s"`
	ChunkSize int64  `json:"cs,omitempty"`
	Runs      []run  `json:"r,omitempty"`
	Inline    []byte `json:"i,omitempty"`
	MTime     int64  `json:"t"` // Unix nanoseconds
	// Nonce makes every record unique, so that a compare-and-swap on an
	// entry never mistakes two writes of the same bytes for one.
	Nonce string `json:"x"`
	// Move is set while a Move carries this file away (the claim).
	Move *claim `json:"m,omitempty"`
}

// claim marks a file that a Move took: the one Move that set it copies
// the record to Dst and then removes this entry; every other Move of the
// same source sees it and reports ErrNotFound.
type claim struct {
	Token string `json:"k"`
	Dst   string `json:"d"`
	At    int64  `json:"t"` // Unix nanoseconds
}

// uploadRec is an upload's state: what an upload directory's "u:<name>"
// entry holds. Size and Runs are the durable bytes (what the last Close
// published); Owner is the session that may publish the next record.
type uploadRec struct {
	ID        string `json:"id"`
	Owner     string `json:"o"`
	Sealed    bool   `json:"z,omitempty"` // Commit is making it a file
	Size      int64  `json:"s"`
	ChunkSize int64  `json:"cs"`
	Runs      []run  `json:"r,omitempty"`
	MTime     int64  `json:"t"`
	Nonce     string `json:"x"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs: cannot fail
	}
	return b
}

func decodeFile(b []byte) (*fileRec, error) {
	r := &fileRec{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("corrupt file record: %w", err)
	}
	return r, nil
}

func decodeUpload(b []byte) (*uploadRec, error) {
	r := &uploadRec{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("corrupt upload record: %w", err)
	}
	return r, nil
}
