package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/nasfs"
)

// envConfig makes the test binary run main as `registry serve <config>`,
// on the listener passed as fd 3 (socket activation).
const envConfig = "BERTH_REGISTRY_TEST_CONFIG"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(envConfig); cfg != "" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
		os.Args = []string{"registry", "serve", cfg}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func config(storage string) string {
	return "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n" + storage +
		"\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:0\n  secret: test-secret\n"
}

// proc is the command running in a child process.
type proc struct {
	addr string
	done chan struct{} // closed when the process has exited
	out  bytes.Buffer  // its output; read after done
	err  error         // its exit; read after done
}

// output returns the exit and output of the exited process.
func (p *proc) output() string { return fmt.Sprintf("exit: %v\n%s", p.err, p.out.String()) }

// serve starts the command on config.
func serve(t *testing.T, config string) *proc {
	t.Helper()
	addr, f := testenv.ListenerFile(t)
	defer f.Close()
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{addr: addr, done: make(chan struct{})}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envConfig+"="+path, "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// TestServeNasfs runs the command on a config naming nasfs and checks that
// a blob pushed over HTTP lands in the nasfs directory.
func TestServeNasfs(t *testing.T) {
	root := t.TempDir()
	p := serve(t, config("  nasfs:\n    rootdirectory: "+root))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	do := func(method, url string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			select {
			case <-p.done:
				t.Fatalf("registry exited: %s", p.output())
			default:
				t.Fatal(err)
			}
		}
		return resp
	}
	// A monolithic upload: POST, then PUT with the blob and its digest.
	blob := bytes.Repeat([]byte("berth"), 10000)
	dg := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))
	resp := do(http.MethodPost, "http://"+p.addr+"/v2/t/blobs/uploads/", nil)
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusAccepted || err != nil {
		t.Fatalf("POST upload: %s, Location %v", resp.Status, err)
	}
	q := loc.Query()
	q.Set("digest", dg)
	loc.RawQuery = q.Encode()
	resp = do(http.MethodPut, loc.String(), blob)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT upload: %s", resp.Status)
	}
	resp = do(http.MethodGet, "http://"+p.addr+"/v2/t/blobs/"+dg, nil)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("GET blob: %s, %d bytes, %v", resp.Status, len(got), err)
	}
	d, err := nasfs.New(nasfs.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.TrimPrefix(dg, "sha256:")
	fi, err := d.Stat(ctx, "/docker/registry/v2/blobs/sha256/"+hex[:2]+"/"+hex+"/data")
	if err != nil || fi.Size() != int64(len(blob)) {
		t.Errorf("blob in the nasfs directory: %v, %v", fi, err)
	}
}

// TestMisspeltParameter checks that a misspelt storage parameter stops
// the registry with the Berth driver's error instead of a silent default.
func TestMisspeltParameter(t *testing.T) {
	p := serve(t, config("  berth-nasfs:\n    rootdirectory: "+t.TempDir()+"\n    rootdirectroy: /typo"))
	select {
	case <-p.done:
		if out := p.output(); !strings.Contains(out, "rootdirectroy") {
			t.Errorf("registry's exit does not name the misspelt parameter:\n%s", out)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("registry with a misspelt storage parameter is still running after 60s")
	}
}
