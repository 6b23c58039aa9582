package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ncw/swift/v2"
)

// SwiftServer names the settings of one Swift server in backends.env.
type SwiftServer struct {
	ID                 string // "swift-saio", "swift-rgw"
	AuthURL, User, Key string // keys of the settings
	TempURLKey         string // key of the TempURL key setting; "" when the server has none in backends.env
}

// SwiftServers are the Swift servers up.sh starts.
var SwiftServers = []SwiftServer{
	{"swift-saio", SwiftSAIOAuthURL, SwiftSAIOUser, SwiftSAIOKey, SwiftSAIOTempURLKey},
	{"swift-rgw", SwiftRGWAuthURL, SwiftRGWUser, SwiftRGWKey, ""},
}

// SwiftConn returns an authenticated connection to srv, skipping the test
// when srv is not configured (failing it under CI=true).
func SwiftConn(tb testing.TB, srv SwiftServer) (*swift.Connection, map[string]string) {
	tb.Helper()
	env := Require(tb, srv.AuthURL, srv.User, srv.Key)
	c := &swift.Connection{AuthUrl: env[srv.AuthURL], UserName: env[srv.User], ApiKey: env[srv.Key]}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Authenticate(ctx); err != nil {
		tb.Fatalf("authenticate at %s: %v", env[srv.AuthURL], err)
	}
	return c, env
}

// SwiftTempURLKey returns the account's TempURL key, setting a new random
// one when the account has none.
func SwiftTempURLKey(tb testing.TB, c *swift.Connection) string {
	tb.Helper()
	ctx := context.Background()
	_, h, err := c.Account(ctx)
	if err != nil {
		tb.Fatalf("read the account's metadata: %v", err)
	}
	if k := h["X-Account-Meta-Temp-Url-Key"]; k != "" {
		return k
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	k := hex.EncodeToString(rnd[:])
	if err := c.AccountUpdate(ctx, swift.Headers{"X-Account-Meta-Temp-Url-Key": k}); err != nil {
		tb.Fatalf("set the account's TempURL key: %v", err)
	}
	return k
}

// NewSwiftContainer creates an empty container named prefix plus random
// hex (lower case, within RGW's 63 bytes), and removes it with everything
// in it when the test ends.
func NewSwiftContainer(tb testing.TB, c *swift.Connection, prefix string) string {
	tb.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	name := prefix + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ContainerCreate(ctx, name, nil); err != nil {
		tb.Fatalf("create container %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := RemoveSwiftContainer(c, name); err != nil {
			tb.Errorf("remove container %s: %v", name, err)
		}
	})
	return name
}

// RemoveSwiftContainer deletes every object of the container, then the
// container.
func RemoveSwiftContainer(c *swift.Connection, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	names, err := c.ObjectNamesAll(ctx, name, nil)
	if err != nil {
		return err
	}
	for len(names) > 0 {
		n := min(len(names), 1000)
		if _, err := c.BulkDelete(ctx, name, names[:n]); err != nil {
			for _, o := range names[:n] {
				c.ObjectDelete(ctx, name, o)
			}
		}
		names = names[n:]
	}
	return c.ContainerDelete(ctx, name)
}
