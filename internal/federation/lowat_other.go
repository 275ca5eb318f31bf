//go:build !linux

package federation

import (
	"errors"
	"net"
)

func setNotSentLowat(net.Conn, int) error {
	return errors.New("TCP_NOTSENT_LOWAT is not supported on this system")
}

func notSentLowat(net.Conn) (int, error) {
	return 0, errors.New("TCP_NOTSENT_LOWAT is not supported on this system")
}
