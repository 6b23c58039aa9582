package oss

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func validConfig() Config {
	return Config{Bucket: "registry", Region: "cn-hangzhou", AccessKeyID: "LTAIid", AccessKeySecret: "topsecret"}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate())
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no bucket":           {func(c *Config) { c.Bucket = "" }, "Bucket is not set"},
		"bad bucket":          {func(c *Config) { c.Bucket = "Registry_1" }, "not an OSS bucket name"},
		"bad root":            {func(c *Config) { c.RootDirectory = "/a/../b" }, "RootDirectory"},
		"internal root":       {func(c *Config) { c.RootDirectory = "/.berth" }, "RootDirectory"},
		"no region":           {func(c *Config) { c.Region = "" }, "Region is not set"},
		"endpoint creds":      {func(c *Config) { c.Endpoint = "https://u:topsecret@host" }, "must not hold credentials"},
		"endpoint scheme":     {func(c *Config) { c.Endpoint = "ftp://host" }, "want an http"},
		"endpoint path":       {func(c *Config) { c.Endpoint = "https://host/x" }, "no path"},
		"internal + endpoint": {func(c *Config) { c.Endpoint, c.Internal = "https://host", true }, "derived endpoint"},
		"no key":              {func(c *Config) { c.AccessKeyID = "" }, "AccessKeyID is not set"},
		"no secret":           {func(c *Config) { c.AccessKeySecret = "" }, "AccessKeySecret is not set"},
		"sig":                 {func(c *Config) { c.SignatureVersion = "v2" }, "SignatureVersion"},
		"sse":                 {func(c *Config) { c.SSE = "aws:kms" }, "SSE"},
		"kms key without kms": {func(c *Config) { c.SSE, c.SSEKMSKeyID = SSEAES256, "k" }, "SSEKMSKeyID"},
		"part too small":      {func(c *Config) { c.PartSize = MinPartSize - 1 }, "PartSize"},
		"part too large":      {func(c *Config) { c.PartSize = MaxPartSize + 1 }, "PartSize"},
		"concurrency":         {func(c *Config) { c.Concurrency = MaxConcurrency + 1 }, "Concurrency"},
		"copy threshold":      {func(c *Config) { c.CopyThreshold = DefaultCopyThreshold + 1 }, "CopyThreshold"},
		"redirect":            {func(c *Config) { c.RedirectExpiry = 8 * 24 * time.Hour }, "RedirectExpiry"},
		"tls":                 {func(c *Config) { c.CACertFile, c.InsecureSkipVerify = "ca.pem", true }, "exclude"},
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			tc.mod(&c)
			err := c.Validate()
			require.ErrorIs(t, err, driver.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "topsecret")
		})
	}
}

func TestConfigEndpointAndDefaults(t *testing.T) {
	c := validConfig()
	c.Region = "oss-cn-beijing" // distribution's form
	c.setDefaults()
	assert.Equal(t, "cn-beijing", c.Region)
	assert.Equal(t, "https://oss-cn-beijing.aliyuncs.com", c.endpoint())
	c.Internal, c.Insecure = true, true
	assert.Equal(t, "http://oss-cn-beijing-internal.aliyuncs.com", c.endpoint())
	assert.Equal(t, SignatureV4, c.SignatureVersion)
	assert.Equal(t, DefaultPartSize, c.PartSize)
	assert.Equal(t, DefaultCopyThreshold, c.CopyThreshold)
}

func TestConfigRedactsSecrets(t *testing.T) {
	c := validConfig()
	c.SecurityToken = "sts-token-value"
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		assert.NotContains(t, s, "topsecret")
		assert.NotContains(t, s, "sts-token-value")
	}
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "topsecret")
}

// TestConfigEnvironment: the OSS_* variables fill what Config leaves
// empty; credentials come as a set, never mixed with the Config's.
func TestConfigEnvironment(t *testing.T) {
	env := map[string]string{
		EnvAccessKeyID: "LTAIenv", EnvAccessKeySecret: "envsecret", EnvSessionToken: "envtoken",
		EnvRegion: "cn-shanghai", EnvEndpoint: "http://127.0.0.1:1",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c := Config{Bucket: "registry"}
	c.applyEnv(lookup)
	assert.Equal(t, "LTAIenv", c.AccessKeyID)
	assert.Equal(t, "envsecret", c.AccessKeySecret.Reveal())
	assert.Equal(t, "envtoken", c.SecurityToken.Reveal())
	assert.Equal(t, "cn-shanghai", c.Region)
	assert.Equal(t, "http://127.0.0.1:1", c.Endpoint)

	c = validConfig()
	c.applyEnv(lookup)
	assert.Equal(t, "LTAIid", c.AccessKeyID)
	assert.Equal(t, "topsecret", c.AccessKeySecret.Reveal())
	assert.Empty(t, c.SecurityToken, "no token of other credentials")
	assert.Equal(t, "cn-hangzhou", c.Region)

	// New reads them: the endpoint from the environment is refused here.
	_, err := newWithEnv(context.Background(), Config{Bucket: "registry"}, lookup)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "cannot reach endpoint http://127.0.0.1:1")
	assert.NotContains(t, err.Error(), "envsecret")
}

func TestConfigFromURL(t *testing.T) {
	u, err := url.Parse("oss://registry/docker/reg?region=cn-hangzhou&endpoint=http://127.0.0.1:9300" +
		"&access_key_id=LTAIid&access_key_secret=topsecret&part_size=1048576&concurrency=3&signature_version=v1" +
		"&redirect_expiry=5m&sse=KMS&sse_kms_key_id=k1&path_style=true")
	require.NoError(t, err)
	c, err := configFromURL(u)
	require.NoError(t, err)
	assert.Equal(t, Config{Bucket: "registry", RootDirectory: "/docker/reg", Region: "cn-hangzhou",
		Endpoint: "http://127.0.0.1:9300", AccessKeyID: "LTAIid", AccessKeySecret: "topsecret",
		PartSize: 1 << 20, Concurrency: 3, SignatureVersion: "v1", RedirectExpiry: 5 * time.Minute,
		SSE: SSEKMS, SSEKMSKeyID: "k1", PathStyle: true}, c)

	for _, bad := range []string{"oss://user:topsecret@registry/", "oss:///nobucket", "oss://registry/?nosuch=1", "oss://registry/?part_size=x"} {
		u, err := url.Parse(bad)
		require.NoError(t, err)
		_, err = configFromURL(u)
		require.ErrorIs(t, err, driver.ErrInvalidConfig, bad)
		assert.NotContains(t, err.Error(), "topsecret")
	}
}

// TestConfigFromParameters: distribution's oss parameter names.
func TestConfigFromParameters(t *testing.T) {
	c, err := configFromParameters(map[string]any{
		"accesskeyid": "LTAIid", "accesskeysecret": "topsecret", "region": "oss-cn-beijing",
		"internal": true, "encrypt": true, "encryptionkeyid": "kms1", "secure": false,
		"chunksize": 10485760, "rootdirectory": "/docker", "bucket": "registry",
	})
	require.NoError(t, err)
	assert.Equal(t, Config{AccessKeyID: "LTAIid", AccessKeySecret: "topsecret", Region: "oss-cn-beijing",
		Internal: true, Insecure: true, SSE: SSEKMS, SSEKMSKeyID: "kms1", PartSize: 10 << 20,
		RootDirectory: "/docker", Bucket: "registry"}, c)
	c.setDefaults()
	assert.Equal(t, "http://oss-cn-beijing-internal.aliyuncs.com", c.endpoint())

	c, err = configFromParameters(map[string]any{"bucket": "registry", "region": "oss-cn-beijing",
		"endpoint": "registry.example.com", "secure": "true", "encrypt": "true",
		"accesskeyid": "a", "accesskeysecret": "b"})
	require.NoError(t, err)
	assert.Equal(t, "https://registry.example.com", c.Endpoint)
	assert.Equal(t, SSEAES256, c.SSE)

	_, err = configFromParameters(map[string]any{"bucket": "registry", "accesskeysecret": "topsecret", "chunksise": 5})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "chunksise")
	assert.NotContains(t, err.Error(), "topsecret")
	_, err = configFromParameters(map[string]any{"bucket": "registry", "encryptionkeyid": "k"})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
}
