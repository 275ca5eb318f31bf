//go:build !linux

package stream

import (
	"errors"
	"net"
)

func setNotSentLowat(*net.TCPConn, int) error {
	return errors.New("TCP_NOTSENT_LOWAT is not supported on this system")
}

func notSentLowat(*net.TCPConn) (int, error) {
	return 0, errors.New("TCP_NOTSENT_LOWAT is not supported on this system")
}
