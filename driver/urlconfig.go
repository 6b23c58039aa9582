package driver

import (
	"context"
	"net/url"
)

// URLParams checks what every driver URL shares, scheme://host[/path][?query],
// and returns its query as Params for the driver's own keys: no
// user@ or user:password@ (credentials hints where they go instead), no
// opaque form or empty host (form is the URL form, for the error), no
// #fragment, and each query key at most once. No error echoes the query,
// which may hold a credential. The host and path are the caller's to read.
func URLParams(driverName string, u *url.URL, form, credentials string) (*Params, error) {
	switch {
	case u.User != nil:
		return nil, ConfigError(driverName, "%s URLs take no user@ or user:password@; use %s", driverName, credentials)
	case u.Opaque != "" || u.Host == "":
		return nil, ConfigError(driverName, "want %s", form)
	case u.Fragment != "":
		return nil, ConfigError(driverName, "%s URLs take no #fragment", driverName)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil { // its text may quote part of a credential
		return nil, ConfigError(driverName, "the URL's query is malformed")
	}
	m := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, ConfigError(driverName, "query parameter %q given %d times", k, len(vs))
		}
		m[k] = vs[0]
	}
	return NewParams(driverName, m), nil
}

// ConfigFactory returns the Factory of a driver whose URL form and
// parameter map both decode into its typed configuration C, which open
// (the driver's New) then opens.
func ConfigFactory[C any](name, summary string, open func(context.Context, C) (*Store, error),
	fromURL func(*url.URL) (C, error), fromParameters func(map[string]any) (C, error)) Factory {
	return Factory{
		Name:    name,
		Summary: summary,
		OpenURL: func(ctx context.Context, u *url.URL) (*Store, error) {
			cfg, err := fromURL(u)
			if err != nil {
				return nil, err
			}
			return open(ctx, cfg)
		},
		FromParameters: func(ctx context.Context, params map[string]any) (*Store, error) {
			cfg, err := fromParameters(params)
			if err != nil {
				return nil, err
			}
			return open(ctx, cfg)
		},
	}
}
