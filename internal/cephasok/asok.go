// Package cephasok speaks to a Ceph admin socket: the Unix socket that a
// daemon, or a librados client whose admin_socket option is set, serves
// commands on. Tests use it to read a client's perf counters and to flush
// its log. It needs no cgo.
package cephasok

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// maxReply bounds a reply; a perf dump of one client is tens of KiB.
const maxReply = 64 << 20

// Command sends cmd, a JSON command such as {"prefix":"perf dump"}, to the
// admin socket at path and returns the reply. The socket answers with a
// 4-byte big-endian length and that many bytes. Without a deadline in ctx
// the exchange is bounded by 10 seconds.
func Command(ctx context.Context, path, cmd string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(append([]byte(cmd), 0)); err != nil {
		return nil, fmt.Errorf("admin socket %s: sending %s: %w", path, cmd, err)
	}
	var n uint32
	if err := binary.Read(c, binary.BigEndian, &n); err != nil {
		return nil, fmt.Errorf("admin socket %s: reply to %s: %w", path, cmd, err)
	}
	if n > maxReply {
		return nil, fmt.Errorf("admin socket %s: reply to %s claims %d bytes", path, cmd, n)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(c, out); err != nil {
		return nil, fmt.Errorf("admin socket %s: reply to %s: %w", path, cmd, err)
	}
	return out, nil
}

// PerfSum adds up counter name over the sections of a perf dump (the reply
// to {"prefix":"perf dump"}) whose names start with prefix: "objecter"
// for the Objecter's op counters, "AsyncMessenger::Worker" for the
// messenger's, which one section per worker thread holds. A counter found
// in no section is an error.
func PerfSum(dump []byte, prefix, name string) (int64, error) {
	var sections map[string]map[string]json.RawMessage
	if err := json.Unmarshal(dump, &sections); err != nil {
		return 0, fmt.Errorf("perf dump: %w", err)
	}
	var sum int64
	found := false
	for sec, counters := range sections {
		raw, ok := counters[name]
		if !ok || !strings.HasPrefix(sec, prefix) {
			continue
		}
		var v int64
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, fmt.Errorf("perf dump: %s.%s is not a plain counter: %s", sec, name, raw)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("perf dump: no counter %s in a section %s*", name, prefix)
	}
	return sum, nil
}
