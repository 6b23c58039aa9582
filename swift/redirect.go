package swift

import (
	"net/http"
	"slices"
	"time"
)

// RedirectURL returns a TempURL, valid for RedirectExpiry, for a GET (or
// a nil request) or a HEAD of path, signed with TempURLKey: a plain HTTP
// client fetches it without credentials. Swift signs the method, and a GET
// signature also admits HEAD. It returns "" without a key, and for methods
// not in TempURLMethods. Signing is local: no request is made.
func (b *backend) RedirectURL(r *http.Request, path string) (string, error) {
	if b.cfg.TempURLKey == "" {
		return "", nil
	}
	method := http.MethodGet
	if r != nil && r.Method != "" {
		method = r.Method
	}
	if !slices.Contains(b.cfg.TempURLMethods, method) {
		return "", nil
	}
	expires := time.Now().Add(b.cfg.RedirectExpiry)
	return b.conn.ObjectTempUrl(b.cfg.Container, b.key(path), b.cfg.TempURLKey.Reveal(), method, expires), nil
}
