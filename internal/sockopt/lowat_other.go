//go:build !linux

// Package sockopt sets the TCP socket options that the flash path relies
// on, for the client streams and the federation links alike.
package sockopt

import (
	"errors"
	"net"
)

// ErrUnsupported: this system has no TCP_NOTSENT_LOWAT.
var ErrUnsupported = errors.New("TCP_NOTSENT_LOWAT is not supported on this system")

// SetNotSentLowat is not supported on this system.
func SetNotSentLowat(net.Conn, int) error { return ErrUnsupported }

// NotSentLowat is not supported on this system.
func NotSentLowat(net.Conn) (int, error) { return 0, ErrUnsupported }
