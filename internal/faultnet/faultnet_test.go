package faultnet

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server counts the whole requests it served and echoes their bodies.
func server(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // cut request: never acted on
		}
		served.Add(1)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func proxy(t *testing.T, srv *httptest.Server) (*Proxy, *http.Client) {
	p, err := New(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}

func post(ctx context.Context, c *http.Client, p *Proxy, body []byte) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+p.Addr()+"/k?x=1", bytes.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestProxy(t *testing.T) {
	srv, served := server(t)
	p, c := proxy(t, srv)
	body := bytes.Repeat([]byte("abcdefgh"), 64<<10)
	ctx := t.Context()

	for range 3 { // pass, on a kept-alive connection
		got, err := post(ctx, c, p, body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("pass: %d bytes, %v", len(got), err)
		}
	}
	if served.Load() != 3 {
		t.Fatalf("served %d, want 3", served.Load())
	}

	p.Add(Rule{Action: DropResponse, Times: 1, Match: Request.Mutating})
	if _, err := post(ctx, c, p, body); err == nil {
		t.Errorf("drop-response: the client got an answer")
	}
	if served.Load() != 4 {
		t.Errorf("drop-response: served %d, want 4 (the server acted)", served.Load())
	}

	p.Add(Rule{Action: ResetRequest, Times: 1})
	if _, err := post(ctx, c, p, body); err == nil {
		t.Errorf("reset-request: the client got an answer")
	}
	if served.Load() != 4 {
		t.Errorf("reset-request: served %d, want 4 (the server saw half a request)", served.Load())
	}

	p.Add(Rule{Action: CutResponse, Times: 1})
	if got, err := post(ctx, c, p, body); err == nil {
		t.Errorf("cut-response: read %d bytes without an error", len(got))
	}

	p.Add(Rule{Action: Stall, Times: 1})
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := post(sctx, c, p, body); err == nil {
		t.Errorf("stall: the client got an answer")
	}

	p.Add(Rule{Action: Delay, Delay: 50 * time.Millisecond, Times: 1})
	start := time.Now()
	if got, err := post(ctx, c, p, body); err != nil || !bytes.Equal(got, body) {
		t.Errorf("delay: %d bytes, %v", len(got), err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("delay: answered after %v", d)
	}
	if f := p.Fired(); len(f) != 5 {
		t.Errorf("fired %v, want 5 faults", f)
	}
}
