// Package faultnet is a TCP proxy for tests that injects faults into the
// HTTP/1.1 traffic between a client and one server: connection resets in
// the middle of a request, added latency, stalls, and responses lost after
// the server acted on the request.
//
// The proxy reads each request's framing (http.ReadRequest) so that a fault
// can pick a request by its method, target, size or ordinal, and so that it
// knows where a request and its response end on a kept-alive connection.
// Bytes it passes on are not changed, so signed requests stay valid: the
// client signs for the proxy's address, which is the Host it sends.
//
// Responses are read whole before they are relayed; the proxy is meant for
// tests, with bodies of a few MiB.
package faultnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Action is what the proxy does to a request a Rule matches.
type Action int

const (
	// Pass forwards the request and relays the response.
	Pass Action = iota
	// Delay waits Rule.Delay, then forwards as Pass does.
	Delay
	// ResetRequest forwards the request head and half of its body, then
	// resets both connections: the server never sees the whole request.
	ResetRequest
	// DropResponse forwards the whole request and reads the server's whole
	// response, then resets the client's connection without relaying it:
	// the server acted, the client never hears of it.
	DropResponse
	// CutResponse forwards the request, relays the response head and half
	// of its body, then resets the client's connection.
	CutResponse
	// Stall holds the request without forwarding it until the client gives
	// up and closes the connection (or the proxy closes).
	Stall
)

var actionNames = [...]string{"pass", "delay", "reset-request", "drop-response", "cut-response", "stall"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Request is what a Rule sees of a request.
type Request struct {
	Seq           int64 // 1 for the first request through the proxy, counting every request
	Method        string
	Path          string // URL path
	RawQuery      string
	ContentLength int64 // -1 when unknown (chunked)
}

func (r Request) String() string {
	q := ""
	if r.RawQuery != "" {
		q = "?" + r.RawQuery
	}
	return fmt.Sprintf("#%d %s %s%s (%d bytes)", r.Seq, r.Method, r.Path, q, r.ContentLength)
}

// Mutating reports whether the request may change the server's state: any
// method but GET, HEAD and OPTIONS.
func (r Request) Mutating() bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// Rule applies Action to the requests Match accepts, at most Times of them
// (0: every one). The proxy tries rules in the order they were added; the
// first that matches and has applications left decides.
type Rule struct {
	Match  func(Request) bool // nil matches every request
	Action Action
	Delay  time.Duration // for Delay
	Times  int
}

// Fired is one application of a rule, for a test's log.
type Fired struct {
	Action  Action
	Request Request
}

// Proxy listens on a loopback port and forwards to one target address.
type Proxy struct {
	target string
	ln     net.Listener

	seq atomic.Int64

	mu     sync.Mutex
	rules  []*rule
	fired  []Fired
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type rule struct {
	Rule
	used int
}

// New starts a proxy on 127.0.0.1 that forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Add adds a rule.
func (p *Proxy) Add(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{Rule: r})
}

// Clear removes every rule; requests pass from now on.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Requests is the number of requests the proxy has read so far.
func (p *Proxy) Requests() int64 { return p.seq.Load() }

// Fired returns the faults applied so far (Pass excluded), in order.
func (p *Proxy) Fired() []Fired {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Fired(nil), p.fired...)
}

// Close stops the proxy and closes every connection it holds.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

// pick returns the rule for r and records it when it is a fault.
func (p *Proxy) pick(r Request) Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ru := range p.rules {
		if ru.Times > 0 && ru.used >= ru.Times {
			continue
		}
		if ru.Match != nil && !ru.Match(r) {
			continue
		}
		ru.used++
		if ru.Action != Pass {
			p.fired = append(p.fired, Fired{Action: ru.Action, Request: r})
		}
		return ru.Rule
	}
	return Rule{Action: Pass}
}

// errCut ends a forwarded body early (ResetRequest).
var errCut = errors.New("faultnet: request cut")

// serve handles one client connection: requests in turn, each forwarded on
// one upstream connection kept for the client connection's life.
func (p *Proxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	var up net.Conn
	var ubr *bufio.Reader
	defer func() {
		if up != nil {
			p.untrack(up)
		}
	}()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		info := Request{Seq: p.seq.Add(1), Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, ContentLength: req.ContentLength}
		if req.TransferEncoding != nil {
			info.ContentLength = -1
		}
		ru := p.pick(info)
		if req.Header.Get("Expect") == "100-continue" && ru.Action != Stall {
			// Answer for the server, so the client sends its body now; the
			// server gets the request without the header.
			req.Header.Del("Expect")
			if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return
			}
		}
		switch ru.Action {
		case Stall:
			io.Copy(io.Discard, c) // until the client closes, or Close
			return
		case Delay:
			time.Sleep(ru.Delay) // the fault itself
		}
		if up == nil {
			if up, err = net.Dial("tcp", p.target); err != nil {
				reset(c)
				return
			}
			if !p.track(up) {
				return
			}
			ubr = bufio.NewReader(up)
		}
		if ru.Action == ResetRequest {
			half := max(req.ContentLength/2, 0)
			head, _ := io.ReadAll(io.LimitReader(req.Body, half))
			req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(head), errReader{}))
			_ = req.Write(up)
			reset(up)
			reset(c)
			return
		}
		if err := req.Write(up); err != nil {
			reset(c)
			return
		}
		resp, err := http.ReadResponse(ubr, req)
		if err != nil {
			reset(c)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			reset(c)
			return
		}
		switch ru.Action {
		case DropResponse:
			reset(c)
			return
		case CutResponse:
			_ = writeResponse(c, req, resp, body, len(body)/2)
			reset(c)
			return
		}
		if err := writeResponse(c, req, resp, body, len(body)); err != nil {
			return
		}
		if resp.Close || req.Close {
			return
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errCut }

// writeResponse writes resp with body framed by Content-Length, cut after
// n bytes of the body.
func writeResponse(w io.Writer, req *http.Request, resp *http.Response, body []byte, n int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "HTTP/1.1 %s\r\n", resp.Status)
	h := resp.Header.Clone()
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	bodyless := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200
	if !bodyless {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	} else if resp.ContentLength >= 0 && h.Get("Content-Length") == "" && req.Method == http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	if err := h.Write(bw); err != nil {
		return err
	}
	bw.WriteString("\r\n")
	if !bodyless {
		bw.Write(body[:n])
	}
	return bw.Flush()
}

// reset closes c with an RST instead of a FIN where it can.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
