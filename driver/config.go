package driver

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Secret holds a credential. It prints as "REDACTED" through fmt, %v, %+v,
// %#v and encoding/json, so a Config can be logged whole.
type Secret string

const redacted = "REDACTED"

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the credential, for the SDK call that needs it.
func (s Secret) Reveal() string { return string(s) }

// Factory opens one kind of driver. Name is both the registered driver name
// and the URL scheme.
type Factory struct {
	Name string
	// Summary is one line for help texts.
	Summary string
	// OpenURL opens a Store from a URL such as nasfs:///var/lib/registry.
	OpenURL func(ctx context.Context, u *url.URL) (*Store, error)
	// FromParameters opens a Store from distribution's parameter map (the
	// storage.<driver> section of a registry's config file).
	FromParameters func(ctx context.Context, params map[string]any) (*Store, error)
}

// Registry is an explicit set of driver factories. Nothing registers itself:
// a program builds the registry with the drivers it links.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Factory
}

// NewRegistry returns a registry holding fs.
func NewRegistry(fs ...Factory) *Registry {
	r := &Registry{m: map[string]Factory{}}
	for _, f := range fs {
		if err := r.Register(f); err != nil {
			panic(err)
		}
	}
	return r
}

// Register adds f; a second factory of one name is an error.
func (r *Registry) Register(f Factory) error {
	if f.Name == "" || f.OpenURL == nil {
		return fmt.Errorf("driver registry: factory needs a Name and OpenURL: %w", ErrInvalidConfig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[f.Name]; dup {
		return fmt.Errorf("driver registry: %q registered twice: %w", f.Name, ErrInvalidConfig)
	}
	r.m[f.Name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (r *Registry) lookup(name string) (Factory, error) {
	r.mu.RLock()
	f, ok := r.m[name]
	r.mu.RUnlock()
	if !ok {
		return Factory{}, &Error{Driver: name, Op: "Open", Kind: ErrInvalidConfig,
			Err: fmt.Errorf("unknown driver %q (known: %s)", name, strings.Join(r.Names(), ", "))}
	}
	return f, nil
}

// Open opens a Store from a driver URL; the scheme names the driver. The URL
// is never echoed whole in an error, since it may hold a credential.
func (r *Registry) Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, &Error{Driver: "berth", Op: "Open", Kind: ErrInvalidConfig,
			Err: fmt.Errorf("not a driver URL (want scheme://...): %s", redactURLError(err))}
	}
	f, err := r.lookup(u.Scheme)
	if err != nil {
		return nil, err
	}
	return f.OpenURL(ctx, u)
}

// FromParameters opens the named driver from distribution's parameter map.
func (r *Registry) FromParameters(ctx context.Context, name string, params map[string]any) (*Store, error) {
	f, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	if f.FromParameters == nil {
		return nil, &Error{Driver: name, Op: "Open", Kind: ErrUnsupported,
			Err: fmt.Errorf("driver %q takes no parameter map", name)}
	}
	return f.FromParameters(ctx, params)
}

func redactURLError(err error) string {
	if err == nil {
		return "missing scheme"
	}
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "malformed"
}

// Params decodes distribution's parameter map strictly: values may be the
// strings an environment variable gives or the typed values YAML gives, and
// every key must be consumed, so a misspelt key is an error, not a silent
// default. Use the getters, then Err.
type Params struct {
	driver string
	m      map[string]any
	used   map[string]bool
	errs   []string
}

// NewParams starts decoding m for the named driver. Keys are matched
// case-insensitively, as distribution does.
func NewParams(driverName string, m map[string]any) *Params {
	lower := make(map[string]any, len(m))
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	return &Params{driver: driverName, m: lower, used: map[string]bool{}}
}

func (p *Params) get(key string) (any, bool) {
	key = strings.ToLower(key)
	p.used[key] = true
	v, ok := p.m[key]
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}

func (p *Params) bad(key string, v any, want string) {
	if _, secret := v.(Secret); secret {
		v = redacted
	}
	p.errs = append(p.errs, fmt.Sprintf("parameter %q: want %s, got %T", key, want, v))
}

// String sets *dst to the string value of key, if present.
func (p *Params) String(key string, dst *string) {
	if v, ok := p.get(key); ok {
		switch t := v.(type) {
		case string:
			*dst = t
		case Secret: // its String is REDACTED: a map built in code holds the real one
			*dst = t.Reveal()
		case fmt.Stringer:
			*dst = t.String()
		default:
			p.bad(key, v, "a string")
		}
	}
}

// Secret sets *dst to the value of key, if present.
func (p *Params) Secret(key string, dst *Secret) {
	var s string
	p.String(key, &s)
	if s != "" {
		*dst = Secret(s)
	}
}

// Int64 sets *dst to the integer value of key, if present.
func (p *Params) Int64(key string, dst *int64) {
	v, ok := p.get(key)
	if !ok {
		return
	}
	switch t := v.(type) {
	case int:
		*dst = int64(t)
	case int64:
		*dst = t
	case uint64:
		*dst = int64(t)
	case float64:
		if t != float64(int64(t)) {
			p.bad(key, v, "an integer")
			return
		}
		*dst = int64(t)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		if err != nil {
			p.bad(key, v, "an integer")
			return
		}
		*dst = n
	default:
		p.bad(key, v, "an integer")
	}
}

// Int sets *dst to the integer value of key, if present.
func (p *Params) Int(key string, dst *int) {
	n := int64(*dst)
	p.Int64(key, &n)
	*dst = int(n)
}

// Bool sets *dst to the boolean value of key, if present.
func (p *Params) Bool(key string, dst *bool) {
	v, ok := p.get(key)
	if !ok {
		return
	}
	switch t := v.(type) {
	case bool:
		*dst = t
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(t))
		if err != nil {
			p.bad(key, v, "true or false")
			return
		}
		*dst = b
	default:
		p.bad(key, v, "true or false")
	}
}

// Duration sets *dst to the duration value of key ("30s", or seconds as a
// number), if present.
func (p *Params) Duration(key string, dst *time.Duration) {
	v, ok := p.get(key)
	if !ok {
		return
	}
	switch t := v.(type) {
	case time.Duration:
		*dst = t
	case int:
		*dst = time.Duration(t) * time.Second
	case float64:
		*dst = time.Duration(t * float64(time.Second))
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(t))
		if err != nil {
			p.bad(key, v, "a duration such as 30s")
			return
		}
		*dst = d
	default:
		p.bad(key, v, "a duration such as 30s")
	}
}

// Ignore marks keys as known but unused (a parameter of another driver
// version that has no meaning here).
func (p *Params) Ignore(keys ...string) {
	for _, k := range keys {
		p.used[strings.ToLower(k)] = true
	}
}

// Err reports type errors and unknown keys as one ErrInvalidConfig error.
func (p *Params) Err() error {
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	errs := p.errs
	if len(unknown) > 0 {
		errs = append(errs, "unknown parameter(s): "+strings.Join(unknown, ", "))
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Driver: p.driver, Op: "Open", Kind: ErrInvalidConfig, Err: fmt.Errorf("%s", strings.Join(errs, "; "))}
}

// ConfigError returns an ErrInvalidConfig error for a driver's Validate.
func ConfigError(driverName, format string, args ...any) error {
	return &Error{Driver: driverName, Op: "Open", Kind: ErrInvalidConfig, Err: fmt.Errorf(format, args...)}
}
