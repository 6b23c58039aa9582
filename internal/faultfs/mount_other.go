//go:build !linux

package faultfs

import "errors"

type mount struct{}

var errNotLinux = errors.New("faultfs needs Linux (FUSE with open_by_handle_at)")

// Available reports why this process cannot mount a faultfs: only Linux
// can.
func Available() error { return errNotLinux }

// New fails: only Linux can mount a faultfs.
func New(backing, mountpoint string) (*FS, error) { return nil, errNotLinux }

func (m *mount) unmount(string) error { return errNotLinux }
