package driver

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURLParams(t *testing.T) {
	for _, raw := range []string{
		"x://user:hunter2@bucket/root", "x:opaque", "x:///root", "x://bucket#frag",
		"x://bucket?a=1&a=2", "x://bucket?secret=%zz",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = URLParams("x", u, "x://bucket", "the keys")
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", raw, err)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "%zz")) {
			t.Errorf("%s: the error echoes the URL: %v", raw, err)
		}
	}
	u, _ := url.Parse("x://bucket/root?size=7&name=n")
	p, err := URLParams("x", u, "x://bucket", "the keys")
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	p.Int64("size", &size)
	if err := p.Err(); err == nil || size != 7 {
		t.Errorf("size %d, unknown key error %v", size, err)
	}
}

func TestConfigFactory(t *testing.T) {
	open := func(_ context.Context, name string) (*Store, error) {
		return nil, errors.New("opened " + name)
	}
	fromURL := func(u *url.URL) (string, error) { return u.Host, nil }
	fromParams := func(m map[string]any) (string, error) {
		if m["name"] == nil {
			return "", ConfigError("x", "no name")
		}
		return m["name"].(string), nil
	}
	f := ConfigFactory("x", "test", open, fromURL, fromParams)
	u, _ := url.Parse("x://a")
	if _, err := f.OpenURL(context.Background(), u); err == nil || err.Error() != "opened a" {
		t.Errorf("OpenURL: %v", err)
	}
	if _, err := f.FromParameters(context.Background(), map[string]any{"name": "b"}); err == nil || err.Error() != "opened b" {
		t.Errorf("FromParameters: %v", err)
	}
	if _, err := f.FromParameters(context.Background(), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("FromParameters without name: %v", err)
	}
}
