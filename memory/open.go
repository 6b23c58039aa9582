package memory

import (
	"context"
	"net/url"
	"sync"

	"github.com/berthio/berth/driver"
)

var (
	namedMu sync.Mutex
	named   = map[string]*Shared{}
)

// Named returns the process-wide backend of that name, made on first use:
// what memory://name opens, so that two instances opened from one URL share
// their data.
func Named(name string) *Shared {
	namedMu.Lock()
	defer namedMu.Unlock()
	sh := named[name]
	if sh == nil {
		sh = NewShared()
		named[name] = sh
	}
	return sh
}

// Factory opens memory://name and the parameter map {name: ...}.
var Factory = driver.Factory{
	Name:    Name,
	Summary: "in-memory reference driver; instances opened with one name share data within a process",
	OpenURL: func(_ context.Context, u *url.URL) (*driver.Store, error) {
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return nil, driver.ConfigError(Name, "want memory://NAME with nothing after the name")
		}
		return New(Named(u.Host)), nil
	},
	FromParameters: func(_ context.Context, params map[string]any) (*driver.Store, error) {
		p := driver.NewParams(Name, params)
		var name string
		p.String("name", &name)
		if err := p.Err(); err != nil {
			return nil, err
		}
		return New(Named(name)), nil
	},
}
