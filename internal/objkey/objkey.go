// Package objkey maps driver paths to the keys of an object store (S3,
// OSS, Swift), under a root directory, as distribution's drivers lay keys
// out: the root directory, then the path without its leading '/'.
package objkey

import "strings"

// Layout is a root directory without leading or trailing '/'; "" is the
// bucket's (or container's) root.
type Layout string

// Key maps a driver path to an object key.
func (l Layout) Key(p string) string {
	if l == "" {
		return strings.TrimPrefix(p, "/")
	}
	if p == "/" {
		return string(l)
	}
	return string(l) + p
}

// Dir is the key prefix of everything below directory p.
func (l Layout) Dir(p string) string {
	if p == "/" {
		if l == "" {
			return ""
		}
		return string(l) + "/"
	}
	return l.Key(p) + "/"
}

// Path maps an object key back to a driver path.
func (l Layout) Path(key string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(key, string(l)), "/")
}
