package driver

import (
	"strings"
)

// InternalPrefix is where drivers keep their own state (upload records,
// temporary files, claims). It is not a valid path for callers, and List and
// Walk never show it.
const InternalPrefix = "/.berth"

// MaxComponentLength is the longest path component accepted (NAME_MAX).
const MaxComponentLength = 255

// ValidPath reports whether p is a valid file path: absolute,
// '/'-separated, each component made of [A-Za-z0-9._-] (distribution's rule
// ^(/[A-Za-z0-9._-]+)+$), and additionally no "." or ".." component, no
// component longer than MaxComponentLength, and nothing under InternalPrefix.
// "/" alone is not a file path; see ValidDirPath.
func ValidPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	first := true
	for rest := p[1:]; ; {
		comp, tail, more := strings.Cut(rest, "/")
		if !validComponent(comp) {
			return false
		}
		if first && "/"+comp == InternalPrefix {
			return false
		}
		first = false
		if !more {
			return true
		}
		rest = tail
	}
}

// ValidDirPath is ValidPath, but also accepts "/": the paths Stat, List and
// Walk take.
func ValidDirPath(p string) bool { return p == "/" || ValidPath(p) }

func validComponent(c string) bool {
	if c == "" || c == "." || c == ".." || len(c) > MaxComponentLength {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// IsUnder reports whether p is dir itself or lies below it, component-wise:
// "/a/b" is under "/a", "/ab" is not. Every path is under "/".
func IsUnder(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || (strings.HasPrefix(p, dir) && p[len(dir)] == '/')
}
