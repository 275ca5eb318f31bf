// Package sockopt sets the TCP socket options that the flash path relies
// on, for the client streams and the federation links alike.
package sockopt

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT (linux/tcp.h).
const tcpNotSentLowat = 25

// SetNotSentLowat limits the unsent bytes the kernel accepts on c: a
// write blocks once that many are waiting, so that what the writer sends
// next (a flash event) is not queued in the kernel behind megabytes of
// routine traffic. A connection that is not TCP is left alone.
func SetNotSentLowat(c net.Conn, n int) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	}); err != nil {
		return err
	}
	return serr
}

// NotSentLowat returns the connection's TCP_NOTSENT_LOWAT (0 for a
// connection that is not TCP).
func NotSentLowat(c net.Conn) (int, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat)
	}); err != nil {
		return 0, err
	}
	return v, serr
}
