package cephasok

import (
	"bufio"
	"encoding/binary"
	"net"
	"path/filepath"
	"testing"
)

// TestCommand checks the framing against a fake admin socket: the command
// ends with a NUL, the reply comes with its big-endian length.
func TestCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.asok")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reply := []byte(`{"objecter":{"op_resend":3,"op":10},"AsyncMessenger::Worker-0":{"msgr_created_connections":2},` +
		`"AsyncMessenger::Worker-1":{"msgr_created_connections":5},"x":{"lat":{"avgcount":1}}}`)
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cmd, _ := bufio.NewReader(c).ReadString(0)
		got <- cmd
		binary.Write(c, binary.BigEndian, uint32(len(reply)))
		c.Write(reply)
	}()
	out, err := Command(t.Context(), path, `{"prefix":"perf dump"}`)
	if err != nil {
		t.Fatal(err)
	}
	if cmd := <-got; cmd != "{\"prefix\":\"perf dump\"}\x00" {
		t.Errorf("the socket got %q", cmd)
	}
	if string(out) != string(reply) {
		t.Errorf("reply %q", out)
	}
	for _, c := range []struct {
		prefix, name string
		want         int64
	}{{"objecter", "op_resend", 3}, {"AsyncMessenger::Worker", "msgr_created_connections", 7}} {
		if n, err := PerfSum(out, c.prefix, c.name); err != nil || n != c.want {
			t.Errorf("PerfSum(%s, %s) = %d, %v; want %d", c.prefix, c.name, n, err, c.want)
		}
	}
	if _, err := PerfSum(out, "objecter", "nosuch"); err == nil {
		t.Error("PerfSum of a missing counter: no error")
	}
	if _, err := PerfSum(out, "x", "lat"); err == nil {
		t.Error("PerfSum of a latency pair: no error")
	}
	if _, err := Command(t.Context(), filepath.Join(t.TempDir(), "none.asok"), `{}`); err == nil {
		t.Error("Command on a missing socket: no error")
	}
}
