package swift

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{swift.ObjectNotFound, driver.ErrNotFound},
		{swift.ContainerNotFound, driver.ErrInvalidConfig},
		{swift.AuthorizationFailed, driver.ErrPermission},
		{swift.Forbidden, driver.ErrPermission},
		{&swift.Error{StatusCode: 412}, driver.ErrConflict},
		{&swift.Error{StatusCode: 416}, driver.ErrInvalidOffset},
		{swift.TooLargeObject, driver.ErrTooLarge},
		{&swift.Error{StatusCode: 501}, driver.ErrUnsupported},
		{&swift.Error{StatusCode: 503}, nil},
		{fmt.Errorf("wrapped: %w", swift.ObjectNotFound), driver.ErrNotFound},
		{errors.New("connection reset"), nil},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// noSecret fails the test when err's text, in every verb, holds secret.
func noSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := fmt.Sprintf("%v %+v %#v %s", err, err, err, err.Error()); strings.Contains(msg, secret) {
		t.Errorf("error shows the secret: %v", err)
	}
}

// TestBadInputLive checks, on each real server, that the ways a deployment
// gets Swift wrong fail at New with a typed error that says what is wrong,
// and never shows the key.
func TestBadInputLive(t *testing.T) {
	for _, srv := range testenv.SwiftServers {
		t.Run(srv.ID, func(t *testing.T) {
			cfg := liveConfig(t, srv)
			ctx := context.Background()

			t.Run("WrongKey", func(t *testing.T) {
				// Nothing goes to the standard logger either (the driver
				// logs nothing; this catches a dependency that would).
				var logged bytes.Buffer
				log.SetOutput(&logged)
				defer log.SetOutput(os.Stderr)
				defer func() { noSecret(t, errors.New(logged.String()), cfg.Key.Reveal()) }()
				c := cfg
				c.Key = driver.Secret("wrong-" + cfg.Key.Reveal())
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrPermission) || !strings.Contains(err.Error(), "refused the credentials") {
					t.Errorf("New with a wrong key: %v, want ErrPermission naming the credentials", err)
				}
				noSecret(t, err, c.Key.Reveal())
				noSecret(t, err, cfg.Key.Reveal())
			})
			t.Run("WrongUser", func(t *testing.T) {
				c := cfg
				c.Username = "nobody:nobody"
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrPermission) {
					t.Errorf("New with an unknown user: %v, want ErrPermission", err)
				}
				noSecret(t, err, cfg.Key.Reveal())
			})
			t.Run("MissingContainer", func(t *testing.T) {
				c := cfg
				c.Container = cfg.Container + "-missing"
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "does not exist") {
					t.Errorf("New on a missing container: %v, want ErrInvalidConfig saying it does not exist", err)
				}
				noSecret(t, err, cfg.Key.Reveal())
			})
			t.Run("MissingSegmentContainer", func(t *testing.T) {
				c := cfg
				c.SegmentContainer = cfg.Container + "-segments"
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), c.SegmentContainer) {
					t.Errorf("New with a missing segment container: %v, want ErrInvalidConfig naming it", err)
				}
			})
			t.Run("RefusedContainerName", func(t *testing.T) {
				// RGW refuses names shorter than 3 bytes with 400; Swift has
				// no such rule and answers that the container is missing.
				c := cfg
				c.Container = "ab"
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), `"ab"`) {
					t.Errorf("New on container %q: %v, want ErrInvalidConfig naming it", c.Container, err)
				}
				if srv.ID == "swift-rgw" && !strings.Contains(err.Error(), "refused") {
					t.Errorf("New on container %q at RGW: %v, want it called refused", c.Container, err)
				}
				noSecret(t, err, cfg.Key.Reveal())
			})
			t.Run("UnreachableAuthURL", func(t *testing.T) {
				c := cfg
				c.AuthURL = "http://127.0.0.1:1/auth/v1.0"
				_, err := New(ctx, c)
				if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "cannot reach") {
					t.Errorf("New with an unreachable auth URL: %v, want ErrInvalidConfig saying it cannot reach it", err)
				}
				noSecret(t, err, cfg.Key.Reveal())
			})
			t.Run("ErrorsOfCalls", func(t *testing.T) {
				d, err := New(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.GetContent(ctx, "/missing")
				var se *swift.Error
				if !errors.Is(err, driver.ErrNotFound) || !errors.As(err, &se) {
					t.Errorf("GetContent of a missing path: %v, want ErrNotFound with the *swift.Error reachable", err)
				}
				noSecret(t, err, cfg.Key.Reveal())
			})
		})
	}
}
