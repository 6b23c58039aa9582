package s3

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

const testSecret = "s3cr3t-do-not-print"

func TestConfigDefaults(t *testing.T) {
	c := Config{Bucket: "registry", RootDirectory: "//docker/registry/"}
	require.NoError(t, c.Validate())
	c.setDefaults()
	assert.Equal(t, Config{
		Bucket: "registry", RootDirectory: "docker/registry", Region: DefaultRegion,
		PartSize: DefaultPartSize, Concurrency: DefaultConcurrency,
		CopyThreshold: DefaultCopyThreshold, CopyPartSize: DefaultCopyPartSize, CopyConcurrency: DefaultCopyConcurrency,
		ReadChunkSize: DefaultReadChunkSize, ReadConcurrency: DefaultReadConcurrency,
		ChecksumMode: ChecksumWhenRequired, CommitMode: CommitAuto, RedirectExpiry: DefaultRedirectExpiry,
	}, c)
	assert.EqualValues(t, 32<<20, DefaultPartSize)
	assert.EqualValues(t, 5<<20, MinPartSize)
	assert.EqualValues(t, 5<<30, MaxPartSize)
	assert.Equal(t, 10000, MaxParts)
}

func TestConfigValidate(t *testing.T) {
	good := Config{Bucket: "registry", Endpoint: "http://127.0.0.1:9000", AccessKey: "AK", SecretKey: testSecret}
	require.NoError(t, good.Validate())
	for _, ok := range []func(*Config){
		func(c *Config) { c.RootDirectory = "/" },
		func(c *Config) { c.RootDirectory = "a/b.c/d_e-f" },
		func(c *Config) { c.Endpoint = "https://s3.example.com/under/a/path" },
		func(c *Config) { c.Endpoint = "" },
		func(c *Config) { c.AccessKey, c.SecretKey = "", "" },
		func(c *Config) { c.SessionToken = testSecret },
		func(c *Config) { c.SSE = SSEAES256 },
		func(c *Config) { c.SSE = SSEKMS },
		func(c *Config) { c.SSE, c.SSEKMSKeyID = SSEKMS, "arn:aws:kms:us-east-1:1:key/x" },
		func(c *Config) { c.StorageClass = "STANDARD_IA" },
		func(c *Config) { c.ObjectACL = "bucket-owner-full-control" },
		func(c *Config) { c.PartSize, c.Concurrency = MinPartSize, 1 },
		func(c *Config) { c.PartSize, c.Concurrency = MaxPartSize, MaxConcurrency },
		func(c *Config) { c.CopyThreshold, c.CopyConcurrency = 1, MaxCopyConcurrency },
		func(c *Config) { c.ChecksumMode = ChecksumWhenSupported },
		func(c *Config) { c.CommitMode = CommitAuto },
		func(c *Config) { c.CommitMode = CommitDirect },
		func(c *Config) { c.CommitMode = CommitStaged },
		func(c *Config) { c.RedirectExpiry = time.Second },
		func(c *Config) { c.RedirectExpiry = 7 * 24 * time.Hour },
		func(c *Config) { c.CACertFile = "/etc/ssl/ca.pem" },
		func(c *Config) { c.InsecureSkipVerify = true },
	} {
		c := good
		ok(&c)
		assert.NoError(t, c.Validate(), "%+v", c)
	}

	for _, tc := range []struct {
		field string
		set   func(*Config)
	}{
		{"Bucket", func(c *Config) { c.Bucket = "" }},
		{"Bucket", func(c *Config) { c.Bucket = "a/b" }},
		{"Bucket", func(c *Config) { c.Bucket = "ab" }},
		{"RootDirectory", func(c *Config) { c.RootDirectory = "a//b" }},
		{"RootDirectory", func(c *Config) { c.RootDirectory = "/a/../b" }},
		{"RootDirectory", func(c *Config) { c.RootDirectory = "a b" }},
		{"RootDirectory", func(c *Config) { c.RootDirectory = ".berth/x" }},
		{"Region", func(c *Config) { c.Region = "us east" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "127.0.0.1:9000" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "ftp://host" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://host/?x=1" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://user:" + testSecret + "@host" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "http://h\x7f" + testSecret }},
		{"SecretKey", func(c *Config) { c.AccessKey = "" }},
		{"SecretKey", func(c *Config) { c.SecretKey = "" }},
		{"SessionToken", func(c *Config) { c.AccessKey, c.SecretKey, c.SessionToken = "", "", testSecret }},
		{"AccessKey", func(c *Config) { c.AccessKey = "A K" }},
		{"InsecureSkipVerify", func(c *Config) { c.CACertFile, c.InsecureSkipVerify = "/ca.pem", true }},
		{"SSE", func(c *Config) { c.SSE = "aes256" }},
		{"SSEKMSKeyID", func(c *Config) { c.SSEKMSKeyID = "key" }},
		{"SSEKMSKeyID", func(c *Config) { c.SSE, c.SSEKMSKeyID = SSEAES256, "key" }},
		{"StorageClass", func(c *Config) { c.StorageClass = "NONE" }},
		{"StorageClass", func(c *Config) { c.StorageClass = "GLACIER" }},
		{"StorageClass", func(c *Config) { c.StorageClass = "DEEP_ARCHIVE" }},
		{"ObjectACL", func(c *Config) { c.ObjectACL = "world-writable" }},
		{"PartSize", func(c *Config) { c.PartSize = MinPartSize - 1 }},
		{"PartSize", func(c *Config) { c.PartSize = MaxPartSize + 1 }},
		{"PartSize", func(c *Config) { c.PartSize = -1 }},
		{"Concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"Concurrency", func(c *Config) { c.Concurrency = MaxConcurrency + 1 }},
		{"CopyThreshold", func(c *Config) { c.CopyThreshold = -1 }},
		{"CopyThreshold", func(c *Config) { c.CopyThreshold = DefaultCopyThreshold + 1 }},
		{"CopyPartSize", func(c *Config) { c.CopyPartSize = 1 << 20 }},
		{"CopyConcurrency", func(c *Config) { c.CopyConcurrency = MaxCopyConcurrency + 1 }},
		{"ChecksumMode", func(c *Config) { c.ChecksumMode = "WHEN_SUPPORTED" }},
		{"CommitMode", func(c *Config) { c.CommitMode = "Staged" }},
		{"CommitMode", func(c *Config) { c.CommitMode = "copy" }},
		{"RedirectExpiry", func(c *Config) { c.RedirectExpiry = time.Millisecond }},
		{"RedirectExpiry", func(c *Config) { c.RedirectExpiry = -time.Minute }},
		{"RedirectExpiry", func(c *Config) { c.RedirectExpiry = 8 * 24 * time.Hour }},
	} {
		c := good
		tc.set(&c)
		err := c.Validate()
		if !assert.ErrorIs(t, err, driver.ErrInvalidConfig, "%s: %+v", tc.field, c) {
			continue
		}
		assert.Contains(t, err.Error(), tc.field)
		assert.NotContains(t, err.Error(), testSecret)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	c := Config{Bucket: "b", AccessKey: "AK", SecretKey: testSecret, SessionToken: testSecret + "-token"}
	j, err := json.Marshal(c)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(j)} {
		assert.NotContains(t, s, testSecret)
		assert.Contains(t, s, "REDACTED")
	}
}

// distributionParams is a storage.s3 section as Harbor's chart and
// distribution's docs write it, with YAML's typed values.
func distributionParams() map[string]any {
	return map[string]any{
		"accesskey":                   "AKIDEXAMPLE",
		"secretkey":                   testSecret,
		"region":                      "us-east-1",
		"regionendpoint":              "http://127.0.0.1:9000",
		"forcepathstyle":              true,
		"bucket":                      "harbor",
		"rootdirectory":               "/registry/",
		"encrypt":                     false,
		"keyid":                       "",
		"secure":                      true,
		"skipverify":                  false,
		"v4auth":                      true,
		"chunksize":                   10485760,
		"multipartcopychunksize":      33554432,
		"multipartcopymaxconcurrency": 100,
		"multipartcopythresholdsize":  33554432,
		"storageclass":                "STANDARD",
		"objectacl":                   "private",
		"useragent":                   "harbor-registry",
		"usedualstack":                false,
		"accelerate":                  false,
		"loglevel":                    false, // YAML's off
	}
}

func TestConfigFromParameters(t *testing.T) {
	cfg, err := configFromParameters(distributionParams())
	require.NoError(t, err)
	assert.Equal(t, Config{
		Bucket: "harbor", RootDirectory: "/registry/", Region: "us-east-1",
		Endpoint: "http://127.0.0.1:9000", PathStyle: true,
		AccessKey: "AKIDEXAMPLE", SecretKey: testSecret,
		StorageClass: "STANDARD", ObjectACL: "private",
		PartSize: 10 << 20, CopyThreshold: 32 << 20, CopyPartSize: 32 << 20, CopyConcurrency: 100,
	}, cfg)
	require.NoError(t, cfg.Validate())

	// The environment form (REGISTRY_STORAGE_S3_*): every value a string,
	// keys in any case; a bare host takes its scheme from secure.
	cfg, err = configFromParameters(map[string]any{
		"BUCKET": "harbor", "RegionEndpoint": "minio:9000", "secure": "false", "forcepathstyle": "true",
		"chunksize": "5242880", "encrypt": "true", "keyid": "alias/registry", "storageclass": "none",
		"sessiontoken": testSecret, "accesskey": "AK", "secretkey": testSecret,
		"concurrency": "8", "redirectexpiry": "5m", "disableredirect": "true", "checksummode": "when_supported",
		"commitmode": "staged",
	})
	require.NoError(t, err)
	assert.Equal(t, "http://minio:9000", cfg.Endpoint)
	assert.Equal(t, SSEKMS, cfg.SSE)
	assert.Equal(t, "alias/registry", cfg.SSEKMSKeyID)
	assert.Empty(t, cfg.StorageClass, "NONE is distribution's no class")
	assert.Equal(t, MinPartSize, cfg.PartSize)
	assert.Equal(t, 8, cfg.Concurrency)
	assert.Equal(t, 5*time.Minute, cfg.RedirectExpiry)
	assert.True(t, cfg.DisableRedirect)
	assert.Equal(t, CommitStaged, cfg.CommitMode)
	assert.Equal(t, driver.Secret(testSecret), cfg.SessionToken)
	require.NoError(t, cfg.Validate())

	cfg, err = configFromParameters(map[string]any{"bucket": "b", "regionendpoint": "s3.example.com", "encrypt": true})
	require.NoError(t, err)
	assert.Equal(t, "https://s3.example.com", cfg.Endpoint)
	assert.Equal(t, SSEAES256, cfg.SSE)

	for _, tc := range []struct {
		name string
		set  map[string]any
		kind error
		msg  string
	}{
		{"misspelt key", map[string]any{"rootdirectroy": "/x"}, driver.ErrInvalidConfig, "rootdirectroy"},
		{"wrong type", map[string]any{"chunksize": "big"}, driver.ErrInvalidConfig, "chunksize"},
		{"secret of a wrong type", map[string]any{"secretkey": 42}, driver.ErrInvalidConfig, "secretkey"},
		{"keyid without encrypt", map[string]any{"keyid": "k"}, driver.ErrInvalidConfig, "keyid"},
		{"plain http to AWS", map[string]any{"regionendpoint": "", "secure": false}, driver.ErrInvalidConfig, "secure"},
		{"dual stack", map[string]any{"usedualstack": true}, driver.ErrUnsupported, "usedualstack"},
		{"accelerate", map[string]any{"accelerate": "true"}, driver.ErrUnsupported, "accelerate"},
		{"fips", map[string]any{"usefipsendpoint": true}, driver.ErrUnsupported, "usefipsendpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := distributionParams()
			for k, v := range tc.set {
				p[k] = v
			}
			_, err := configFromParameters(p)
			require.ErrorIs(t, err, tc.kind)
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
	// A value Validate refuses passes decoding and fails in New, before
	// any request (see TestOpenValidatesBeforeNetwork).
	p := distributionParams()
	p["chunksize"] = 1024
	cfg, err = configFromParameters(p)
	require.NoError(t, err)
	assert.ErrorIs(t, cfg.Validate(), driver.ErrInvalidConfig)
}

func TestConfigFromURL(t *testing.T) {
	u, err := url.Parse("s3://harbor/registry/root?endpoint=http://127.0.0.1:9000&region=eu-1&path_style=true" +
		"&part_size=33554432&concurrency=4&access_key=AK&secret_key=" + testSecret + "&session_token=tok" +
		"&sse=aws:kms&sse_kms_key_id=k&storage_class=STANDARD&object_acl=private&copy_threshold=1048576" +
		"&copy_part_size=5242880&copy_concurrency=2&checksum_mode=when_supported&commit_mode=direct&redirect_expiry=90s" +
		"&disable_redirect=false&ca_cert_file=/ca.pem&insecure_skip_verify=false")
	require.NoError(t, err)
	cfg, err := configFromURL(u)
	require.NoError(t, err)
	assert.Equal(t, Config{
		Bucket: "harbor", RootDirectory: "/registry/root", Region: "eu-1",
		Endpoint: "http://127.0.0.1:9000", PathStyle: true,
		AccessKey: "AK", SecretKey: testSecret, SessionToken: "tok",
		CACertFile: "/ca.pem", SSE: SSEKMS, SSEKMSKeyID: "k", StorageClass: "STANDARD", ObjectACL: "private",
		PartSize: 32 << 20, Concurrency: 4, CopyThreshold: 1 << 20, CopyPartSize: 5 << 20, CopyConcurrency: 2,
		ChecksumMode: ChecksumWhenSupported, CommitMode: CommitDirect, RedirectExpiry: 90 * time.Second,
	}, cfg)
	require.NoError(t, cfg.Validate())

	u, _ = url.Parse("s3://bucket")
	cfg, err = configFromURL(u)
	require.NoError(t, err)
	assert.Equal(t, Config{Bucket: "bucket"}, cfg)

	for _, raw := range []string{
		"s3://AK:" + testSecret + "@bucket/root",
		"s3:///root",
		"s3:bucket",
		"s3://bucket/root#frag",
		"s3://bucket?secret_key=" + testSecret + "&secret_key=" + testSecret,
		"s3://bucket?secret_key=" + testSecret + "%zz",
		"s3://bucket?secretkey=" + testSecret,
		"s3://bucket?part_size=" + testSecret,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		_, err = configFromURL(u)
		if assert.ErrorIs(t, err, driver.ErrInvalidConfig, raw) {
			assert.NotContains(t, err.Error(), testSecret)
		}
	}
}
