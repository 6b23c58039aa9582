package swift

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
)

func validConfig() Config {
	return Config{AuthURL: "http://127.0.0.1:8080/auth/v1.0", Username: "acct:user", Key: "k3y-s3cr3t", Container: "c"}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string // in the message
	}{
		{"NoAuthURL", func(c *Config) { c.AuthURL = "" }, "AuthURL is not set"},
		{"AuthURLScheme", func(c *Config) { c.AuthURL = "ftp://h/auth/v1.0" }, "http:// or https://"},
		{"AuthURLUser", func(c *Config) { c.AuthURL = "http://u:k3y-s3cr3t@h/auth/v1.0" }, "must not hold credentials"},
		{"AuthURLQuery", func(c *Config) { c.AuthURL = "http://h/auth?x=1" }, "no query"},
		{"AuthVersion", func(c *Config) { c.AuthVersion = 4 }, "AuthVersion 4"},
		{"NoUser", func(c *Config) { c.Username = "" }, "Username is not set"},
		{"NoKey", func(c *Config) { c.Key = "" }, "Key is not set"},
		{"UserIDv1", func(c *Config) { c.UserID = "u" }, "UserID needs AuthVersion 3"},
		{"DomainV2", func(c *Config) { c.AuthVersion = 2; c.Domain = "d" }, "need AuthVersion 3"},
		{"TenantV1", func(c *Config) { c.Tenant = "t" }, "need AuthVersion 2 or 3"},
		{"EndpointType", func(c *Config) { c.AuthVersion = 3; c.EndpointType = "private" }, "EndpointType"},
		{"TLS", func(c *Config) { c.CACertFile = "/ca.pem"; c.InsecureSkipVerify = true }, "exclude each other"},
		{"NoContainer", func(c *Config) { c.Container = "" }, "Container is not set"},
		{"ContainerSlash", func(c *Config) { c.Container = "a/b" }, "no '/'"},
		{"SegmentContainer", func(c *Config) { c.SegmentContainer = strings.Repeat("s", 257) }, "SegmentContainer"},
		{"Root", func(c *Config) { c.RootDirectory = "/a/../b" }, "RootDirectory"},
		{"RootInternal", func(c *Config) { c.RootDirectory = "/.berth" }, "RootDirectory"},
		{"ChunkSmall", func(c *Config) { c.ChunkSize = 1 << 19 }, "ChunkSize"},
		{"ChunkLarge", func(c *Config) { c.ChunkSize = 6 << 30 }, "ChunkSize"},
		{"Concurrency", func(c *Config) { c.Concurrency = 65 }, "Concurrency"},
		{"Expiry", func(c *Config) { c.RedirectExpiry = 8 * 24 * time.Hour }, "RedirectExpiry"},
		{"Methods", func(c *Config) { c.TempURLMethods = []string{"PATCH"} }, "TempURLMethods"},
		{"Timeout", func(c *Config) { c.Timeout = -time.Second }, "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.mod(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate: %v, want ErrInvalidConfig containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "k3y-s3cr3t") {
				t.Errorf("Validate error shows the key: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := validConfig()
	c.RootDirectory = "/registry/"
	c.setDefaults()
	switch {
	case c.SegmentContainer != "c", c.ChunkSize != DefaultChunkSize, c.Concurrency != DefaultConcurrency,
		c.RedirectExpiry != DefaultRedirectExpiry, !slices.Equal(c.TempURLMethods, []string{"GET", "HEAD"}),
		c.AuthVersion != 1, c.EndpointType != "public", c.RootDirectory != "registry":
		t.Errorf("defaults: %+v", c)
	}
	for u, want := range map[string]int{
		"https://keystone:5000/v3": 3, "https://keystone:5000/v3/": 3, "https://keystone:5000/v2.0": 2,
		"http://127.0.0.1:8080/auth/v1.0": 1,
	} {
		if got := guessAuthVersion(u); got != want {
			t.Errorf("guessAuthVersion(%s) = %d, want %d", u, got, want)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	c := validConfig()
	c.TempURLKey = "t3mp-s3cr3t"
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "k3y-s3cr3t") || strings.Contains(s, "t3mp-s3cr3t") {
			t.Errorf("a printed Config shows a secret: %s", s)
		}
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"OS_AUTH_URL": "https://keystone/v3", "OS_USERNAME": "alice", "OS_PASSWORD": "pw",
		"OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_NAME": "proj", "OS_PROJECT_DOMAIN_ID": "default",
		"OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "internal", "OS_IDENTITY_API_VERSION": "3",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c := Config{Username: "bob", Container: "c"}
	if err := c.ApplyEnv(lookup); err != nil {
		t.Fatal(err)
	}
	want := Config{AuthURL: "https://keystone/v3", Username: "bob", Key: "pw", Domain: "Default", Tenant: "proj",
		TenantDomainID: "default", Region: "RegionOne", EndpointType: "internal", AuthVersion: 3, Container: "c"}
	if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", want) || c.Key != want.Key {
		t.Errorf("ApplyEnv:\n got %#v\nwant %#v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("config from the environment: %v", err)
	}
	env = map[string]string{"ST_AUTH": "http://h/auth/v1.0", "ST_USER": "a:b", "ST_KEY": "k", "OS_ENDPOINT_TYPE": "publicURL"}
	c = Config{Container: "c"}
	c.ApplyEnv(lookup)
	if c.AuthURL != "http://h/auth/v1.0" || c.Username != "a:b" || c.Key != "k" || c.EndpointType != "public" {
		t.Errorf("ApplyEnv with the ST_* names: %#v", c)
	}
}

func TestConfigFromURL(t *testing.T) {
	u, _ := url.Parse("swift://regcont/reg/root?auth_url=http://h:8080/auth/v1.0&user=a:b&password=k3y-s3cr3t" +
		"&chunk_size=8388608&concurrency=8&tempurl_key=tk&tempurl_methods=get,head&redirect_expiry=5m&segment_container=segs")
	c, err := configFromURL(u)
	if err != nil {
		t.Fatal(err)
	}
	if c.Container != "regcont" || c.RootDirectory != "/reg/root" || c.AuthURL != "http://h:8080/auth/v1.0" ||
		c.Username != "a:b" || c.Key != "k3y-s3cr3t" || c.ChunkSize != 8<<20 || c.Concurrency != 8 ||
		c.TempURLKey != "tk" || !slices.Equal(c.TempURLMethods, []string{"GET", "HEAD"}) ||
		c.RedirectExpiry != 5*time.Minute || c.SegmentContainer != "segs" {
		t.Errorf("configFromURL: %#v", c)
	}
	for raw, want := range map[string]string{
		"swift://c?auth_url=http://h/auth/v1.0&bogus=1&password=k3y-s3cr3t": "unknown parameter",
		"swift://u:k3y-s3cr3t@c?auth_url=http://h/":                         "no user@",
		"swift:///path": "want swift://container",
	} {
		u, _ := url.Parse(raw)
		_, err := configFromURL(u)
		if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("configFromURL(%s): %v, want ErrInvalidConfig with %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "k3y-s3cr3t") {
			t.Errorf("configFromURL error shows the password: %v", err)
		}
	}
}

// TestConfigFromParameters maps distribution's swift parameters.
func TestConfigFromParameters(t *testing.T) {
	c, err := configFromParameters(map[string]any{
		"authurl": "https://keystone/v3", "username": "u", "password": "k3y-s3cr3t", "container": "reg",
		"prefix": "/docker", "region": "R1", "tenant": "t", "domain": "d", "tenantdomain": "td",
		"chunksize": 20 << 20, "insecureskipverify": true, "secretkey": "tk", "tempurlcontainerkey": true,
		"tempurlmethods": []any{"get", "head"}, "authversion": 3, "endpointtype": "internal", "trustid": "tr",
		"accesskey": "ignored", "concurrency": "6",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{AuthURL: "https://keystone/v3", Username: "u", Key: "k3y-s3cr3t", Container: "reg", RootDirectory: "/docker",
		Region: "R1", Tenant: "t", Domain: "d", TenantDomain: "td", ChunkSize: 20 << 20, InsecureSkipVerify: true,
		TempURLKey: "tk", TempURLContainerKey: true, TempURLMethods: []string{"GET", "HEAD"}, AuthVersion: 3,
		EndpointType: "internal", TrustID: "tr", Concurrency: 6}
	if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", want) || c.Key != want.Key || c.TempURLKey != want.TempURLKey {
		t.Errorf("configFromParameters:\n got %#v\nwant %#v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	_, err = configFromParameters(map[string]any{"authurl": "x", "contianer": "typo", "password": "k3y-s3cr3t"})
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "contianer") || strings.Contains(err.Error(), "k3y-s3cr3t") {
		t.Errorf("unknown parameter: %v", err)
	}
}

func TestChunkSizeFor(t *testing.T) {
	b := &backend{cfg: Config{ChunkSize: DefaultChunkSize}}
	ctx := context.Background()
	if cs, _ := b.chunkSizeFor(ctx); cs != DefaultChunkSize {
		t.Errorf("no hint: %d", cs)
	}
	cs, err := b.chunkSizeFor(driver.WithSizeHint(ctx, 1<<40))
	if err != nil || cs*MaxSegments < 1<<40 || cs%(1<<20) != 0 {
		t.Errorf("1 TiB: chunk %d, %v", cs, err)
	}
	if _, err := b.chunkSizeFor(driver.WithSizeHint(ctx, MaxObjectSize+1)); !errors.Is(err, driver.ErrTooLarge) {
		t.Errorf("past MaxObjectSize: %v, want ErrTooLarge", err)
	}
}
