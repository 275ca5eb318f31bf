package taktest

import (
	"net"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/takproto"
)

// UDPClient sends datagrams to a CoT UDP listener: CoT XML, or TAK mesh
// (protocol v1) frames. UDP input is one-way, so there is nothing to read.
type UDPClient struct {
	t    testing.TB
	Conn net.Conn
}

// DialUDP opens a UDP socket to addr, closed at the test's cleanup.
func DialUDP(t testing.TB, addr string) *UDPClient {
	t.Helper()
	conn, err := net.DialTimeout("udp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial udp %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &UDPClient{t: t, Conn: conn}
}

// Send writes one datagram as it is.
func (u *UDPClient) Send(b []byte) {
	u.t.Helper()
	if _, err := u.Conn.Write(b); err != nil {
		u.t.Fatalf("send datagram: %v", err)
	}
}

// SendEvent writes ev as one CoT XML datagram.
func (u *UDPClient) SendEvent(ev *cot.Event) { u.t.Helper(); u.Send(ev.XML()) }

// SendMesh writes ev as one TAK mesh datagram (protocol version 1).
func (u *UDPClient) SendMesh(ev *cot.Event) {
	u.t.Helper()
	payload, err := takproto.MarshalPayload(nil, ev)
	if err != nil {
		u.t.Fatal(err)
	}
	u.Send(takproto.AppendMesh(nil, 1, payload))
}
