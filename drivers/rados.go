//go:build cgo && rados

package drivers

import "github.com/berthio/berth/rados"

// Built with the rados tag (go build -tags rados, cgo on), the registry
// holds the RADOS driver too.
func init() { tagged = append(tagged, rados.Factory) }
