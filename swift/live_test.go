package swift

import (
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// liveConfig returns a Config for srv on a fresh container of its own,
// removed when the test ends; the test skips when srv is not configured
// (and fails under CI=true).
func liveConfig(tb testing.TB, srv testenv.SwiftServer) Config {
	tb.Helper()
	raw, env := testenv.SwiftConn(tb, srv)
	return Config{
		AuthURL: env[srv.AuthURL], Username: env[srv.User], Key: driver.Secret(env[srv.Key]),
		Container: testenv.NewSwiftContainer(tb, raw, "berth-unit-"),
	}
}
