package distribution_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthio/berth/internal/testenv"
	"github.com/distribution/distribution/v3/registry"
)

// envRegistryConfig turns the test binary into a registry process serving
// the config file it names, on the listener passed as fd 3 (systemd socket
// activation, which distribution's registry supports), so the parent knows
// the port before the child starts and never polls for it.
const envRegistryConfig = "BERTH_E2E_REGISTRY_CONFIG"

// registryMain is what cmd/registry does, run from TestMain: the Berth
// drivers are registered (registerErr, at package init) and distribution's
// serve command runs.
func registryMain() {
	cfg := os.Getenv(envRegistryConfig)
	if cfg == "" {
		return
	}
	if registerErr != nil {
		fmt.Fprintln(os.Stderr, "registry:", registerErr)
		os.Exit(2)
	}
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	registry.RootCmd.SetArgs([]string{"serve", cfg})
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// registryProc is one registry process on 127.0.0.1.
type registryProc struct {
	addr string
	cmd  *exec.Cmd
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset() // keep the tail only
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

// registryConfig is a registry config file: storage is the storage
// section's driver entry, indented under "storage:".
func registryConfig(storage, secret string) string {
	return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
` + storage + `
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:0
  secret: ` + secret + `
`
}

// startRegistry starts a registry process serving config: this test binary
// when exe is "", else the registry program exe (cmd/registry), as
// `exe serve <config>`.
func startRegistry(t *testing.T, exe, config string) *registryProc {
	t.Helper()
	addr, f := testenv.ListenerFile(t)
	defer f.Close()
	cfgPath := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &registryProc{addr: addr, out: &lockedBuffer{}}
	if exe == "" {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(self, "-test.run=^$")
		p.cmd.Env = append(os.Environ(), envRegistryConfig+"="+cfgPath, "LISTEN_FDS=1")
	} else {
		// Socket activation takes the listener only when LISTEN_PID is the
		// registry's own pid: the shell sets its pid, then execs the
		// registry, which keeps it.
		p.cmd = exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" serve "$1"`, exe, cfgPath)
		p.cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	}
	p.cmd.ExtraFiles = []*os.File{f}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("registry %s output:\n%s", p.addr, p.out)
		}
	})
	// The socket listens already: this waits for the registry to serve.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/v2/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("registry at %s did not start: %v\n%s", p.addr, err, p.out)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry at %s: GET /v2/ = %s\n%s", p.addr, resp.Status, p.out)
	}
	return p
}

// replicaHeader lets the test's client pick the replica of one request; the
// proxy round-robins every request without it.
const (
	replicaHeader = "X-Berth-Test-Replica"
	servedHeader  = "X-Berth-Test-Served-By"
)

// rrProxy is a round-robin reverse proxy over registry replicas.
type rrProxy struct {
	srv     *httptest.Server
	targets []*url.URL
	next    atomic.Uint64
	hits    []atomic.Int64 // requests served per replica
	patches []atomic.Int64 // PATCH requests served per replica
}

func newRRProxy(t *testing.T, regs ...*registryProc) *rrProxy {
	p := &rrProxy{hits: make([]atomic.Int64, len(regs)), patches: make([]atomic.Int64, len(regs))}
	for _, r := range regs {
		p.targets = append(p.targets, &url.URL{Scheme: "http", Host: r.addr})
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int(p.next.Add(1) % uint64(len(p.targets)))
			if h := pr.In.Header.Get(replicaHeader); h != "" {
				if n, err := strconv.Atoi(h); err == nil {
					i = n % len(p.targets)
				}
			}
			pr.Out.Header.Del(replicaHeader)
			pr.SetURL(p.targets[i])
			pr.Out.Host = pr.In.Host // the registry builds Locations on the proxy's address
			pr.Out.Header.Set(servedHeader, strconv.Itoa(i))
			p.hits[i].Add(1)
			if pr.In.Method == http.MethodPatch {
				p.patches[i].Add(1)
			}
		},
		// A client that gives up on a request is no proxy failure.
		ErrorLog: log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(servedHeader, resp.Request.Header.Get(servedHeader))
			return nil
		},
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *rrProxy) host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// chunker is the client's transport. go-containerregistry sends a blob in
// one PATCH; chunker cuts that PATCH into PATCHes of size bytes with
// Content-Range, as a chunked client does, and sends every request of an
// upload after the POST to the replica after the one that served the
// previous request: POST on A, PATCHes on B, C, A, ..., PUT on the next.
type chunker struct {
	base     http.RoundTripper
	size     int
	replicas int

	mu   sync.Mutex
	last map[string]int   // upload id -> replica of its last request
	seen map[string][]int // upload id -> replicas of its requests
}

func newChunker(size, replicas int) *chunker {
	return &chunker{base: http.DefaultTransport, size: size, replicas: replicas,
		last: map[string]int{}, seen: map[string][]int{}}
}

// uploadID is the upload's id in an upload URL, "" elsewhere.
func uploadID(u *url.URL) string {
	dir, id := path.Split(u.Path)
	if strings.HasSuffix(dir, "/blobs/uploads/") && id != "" {
		return id
	}
	return ""
}

// note records the replica that served resp for its upload.
func (c *chunker) note(resp *http.Response) {
	i, err := strconv.Atoi(resp.Header.Get(servedHeader))
	if err != nil {
		return
	}
	id := uploadID(resp.Request.URL)
	if id == "" {
		if loc, err := resp.Location(); err == nil {
			id = uploadID(loc)
		}
	}
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last[id] = i
	c.seen[id] = append(c.seen[id], i)
}

// route sends req to the replica after the upload's last one.
func (c *chunker) route(req *http.Request) {
	id := uploadID(req.URL)
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.last[id]; ok && id != "" {
		req.Header.Set(replicaHeader, strconv.Itoa((last+1)%c.replicas))
	}
}

func (c *chunker) do(req *http.Request) (*http.Response, error) {
	c.route(req)
	resp, err := c.base.RoundTrip(req)
	if err == nil {
		c.note(resp)
	}
	return resp, err
}

func (c *chunker) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPatch || req.Body == nil {
		return c.do(req.Clone(req.Context()))
	}
	defer req.Body.Close()
	body := bufio.NewReader(req.Body)
	loc := req.URL
	buf := make([]byte, c.size)
	var off int64
	for {
		n, err := io.ReadFull(body, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, err
		}
		_, perr := body.Peek(1)
		last := perr != nil
		r, err := http.NewRequestWithContext(req.Context(), http.MethodPatch, loc.String(), bytes.NewReader(buf[:n]))
		if err != nil {
			return nil, err
		}
		r.Header = req.Header.Clone()
		r.Header.Set("Content-Type", "application/octet-stream")
		if n > 0 {
			r.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+int64(n)-1))
		}
		r.ContentLength = int64(n)
		resp, err := c.do(r)
		if err != nil {
			return nil, err
		}
		off += int64(n)
		if resp.StatusCode != http.StatusAccepted || last {
			return resp, nil
		}
		next, err := resp.Location()
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("chunker: PATCH response without Location: %w", err)
		}
		loc = next
	}
}

// uploadSpread returns the number of uploads and how many of them were
// served by more than one replica.
func (c *chunker) uploadSpread() (uploads, spread int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range c.seen {
		uploads++
		for _, r := range rs[1:] {
			if r != rs[0] {
				spread++
				break
			}
		}
	}
	return
}
