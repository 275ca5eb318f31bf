package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/takproto"
)

// ListenUDP binds a CoT UDP input: each datagram is one CoT XML event or
// one TAK protocol mesh packet (0xbf, version, 0xbf, TakMessage). Every
// datagram acts as the listener's principal. UDP is input only: nothing is
// sent back.
func (s *Server) ListenUDP(ctx context.Context, l Listener) (net.Addr, error) {
	pc, err := net.ListenPacket("udp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening %s on %s: %w", l.Kind, l.Addr, err)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		pc.Close()
		return nil, net.ErrClosed
	}
	s.packets = append(s.packets, pc)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.readPackets(pc, l)
	}()
	return pc.LocalAddr(), nil
}

// datagram is the net.Conn a UDP datagram's events are ingested through:
// it only knows the addresses.
type datagram struct {
	local, remote net.Addr
}

var errDatagram = errors.New("a UDP datagram cannot be read or written as a stream")

func (d *datagram) Read([]byte) (int, error)         { return 0, errDatagram }
func (d *datagram) Write([]byte) (int, error)        { return 0, errDatagram }
func (d *datagram) Close() error                     { return nil }
func (d *datagram) LocalAddr() net.Addr              { return d.local }
func (d *datagram) RemoteAddr() net.Addr             { return d.remote }
func (d *datagram) SetDeadline(time.Time) error      { return nil }
func (d *datagram) SetReadDeadline(time.Time) error  { return nil }
func (d *datagram) SetWriteDeadline(time.Time) error { return nil }

func (s *Server) readPackets(pc net.PacketConn, l Listener) {
	buf := make([]byte, 65536)
	s.metrics.Connections.WithLabelValues(l.Kind).Inc()
	defer s.metrics.Connections.WithLabelValues(l.Kind).Dec()
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read failed", "listener", l.Kind, "err", err)
			continue
		}
		c := &Conn{
			Conn:      &datagram{local: pc.LocalAddr(), remote: from},
			Principal: l.Principal,
			Kind:      l.Kind,
			srv:       s,
			log:       s.log.With("listener", l.Kind, "remote", from.String()),
		}
		pkt := buf[:n]
		var ev *cot.Event
		format := "xml"
		if n > 0 && pkt[0] == 0xbf {
			format = "protobuf"
			_, payload, derr := takproto.DecodeMesh(pkt)
			if derr == nil {
				ev, derr = takproto.ToEvent(payload)
			}
			err = derr
		} else {
			ev, err = cot.DecodeUnchecked(pkt)
		}
		if errors.Is(err, takproto.ErrNoEvent) {
			continue
		}
		if err != nil {
			s.reject(c, cot.Reason(err), err)
			continue
		}
		if ev.IsPing() || ev.IsControl() {
			continue
		}
		c.handle(ev, format)
	}
}
