//go:build !cgo

package distribution_test

import "testing"

// Without cgo there is no rados e2e run: the rados driver needs librados,
// and cmd/registry -tags rados cannot be built. The backend is listed all
// the same, so that the run says why it is skipped.
func init() {
	e2eBackends = append(e2eBackends, e2eBackend{name: "rados", storage: func(t *testing.T) string {
		t.Skip("rados: this test binary was built without cgo (CGO_ENABLED=0); the rados driver needs librados, so the e2e run, which builds cmd/registry -tags rados with cgo, needs a cgo build of the test")
		return ""
	}})
}
