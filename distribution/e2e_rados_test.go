//go:build cgo

package distribution_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/rados"
)

// The rados driver needs librados, hence cgo, and package drivers links it
// only under the rados build tag, so neither this test binary nor a plain
// cmd/registry can serve it: the rados e2e run builds cmd/registry with
// -tags rados and cgo on, and runs that program as the registry replicas.
func init() {
	e2eBackends = append(e2eBackends, e2eBackend{name: "rados", storage: radosStorage, registry: radosRegistry})
}

// radosE2EChunk is the chunk objects' size: 96 KiB, so that the 64 KiB
// PATCHes of the e2e client end at varying offsets inside chunks and each
// PATCH on another replica resumes mid-chunk.
const radosE2EChunk = 96 << 10

// radosStorage is the storage section for Berth's rados driver, with
// distribution's former rados keys (poolname, username, chunksize) and
// Berth's, on a fresh namespace of the test pool. The namespace's tree is
// deleted when the test ends, after checking that the registries stored
// the images there.
func radosStorage(t *testing.T) string {
	env := testenv.Require(t, testenv.Rados...)
	cfg := rados.Config{
		ConfigFile: env[testenv.RadosConf], Keyring: env[testenv.RadosKeyring], User: env[testenv.RadosUser],
		Pool: env[testenv.RadosPool], Namespace: fmt.Sprintf("e2e-%x", randomBytes(t, 6)), ChunkSize: radosE2EChunk,
	}
	t.Cleanup(func() { radosCleanup(t, cfg) })
	return yamlSection("rados", [][2]string{
		{"poolname", cfg.Pool}, {"username", "client." + cfg.User}, {"conffile", cfg.ConfigFile},
		{"keyring", cfg.Keyring}, {"namespace", cfg.Namespace},
		{"chunksize", strconv.FormatInt(cfg.ChunkSize, 10)}, {"concurrency", "4"},
	})
}

// radosCleanup opens cfg's namespace from this process, checks that the
// e2e repositories are there (when the test passed: so the registries
// stored into RADOS, not elsewhere), and deletes the registry's tree.
func radosCleanup(t *testing.T, cfg rados.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := rados.New(ctx, cfg)
	if err != nil {
		t.Errorf("rados clean-up: open namespace %s: %v", cfg.Namespace, err)
		return
	}
	if !t.Failed() && !t.Skipped() {
		repos, err := st.List(ctx, "/docker/registry/v2/repositories/e2e")
		if err != nil || !slices.Contains(repos, "/docker/registry/v2/repositories/e2e/img0") {
			t.Errorf("rados namespace %s after the run: repositories %q (%v), want e2e/img0 among them", cfg.Namespace, repos, err)
		}
	}
	if err := st.Delete(ctx, "/docker"); err != nil && !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("rados clean-up: delete /docker in namespace %s: %v", cfg.Namespace, err)
	}
}

// radosRegistry builds cmd/registry with -tags rados and cgo on into a
// temporary directory and returns the program's path. A build that fails
// fails the test: cgo is on and the backend is configured.
func radosRegistry(t *testing.T) string {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building cmd/registry -tags rados: the go command is not on PATH: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, ok := testenv.RepoRoot(wd)
	if !ok {
		t.Fatalf("building cmd/registry -tags rados: no go.mod above %s", wd)
	}
	exe := filepath.Join(t.TempDir(), "registry")
	cmd := exec.CommandContext(t.Context(), goCmd, "build", "-tags", "rados", "-o", exe, "./cmd/registry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags rados ./cmd/registry (CGO_ENABLED=1): %v\n%s", err, out)
	}
	t.Logf("built cmd/registry -tags rados in %v", time.Since(start).Round(time.Millisecond))
	return exe
}
