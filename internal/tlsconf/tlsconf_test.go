package tlsconf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthio/berth/driver"
)

func TestRootCAs(t *testing.T) {
	if roots, err := RootCAs("s3", ""); roots != nil || err != nil {
		t.Fatalf(`RootCAs("") = %v, %v; want the system's (nil)`, roots, err)
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		_, err := Config("s3", f, false)
		if !errors.Is(err, driver.ErrInvalidConfig) {
			t.Errorf("Config(%q): %v, want ErrInvalidConfig", f, err)
		}
	}
	c, err := Config("s3", "", true)
	if err != nil || !c.InsecureSkipVerify || c.MinVersion == 0 {
		t.Errorf("Config(insecure) = %+v, %v", c, err)
	}
}
