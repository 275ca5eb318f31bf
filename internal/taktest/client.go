// Package taktest is the one test kit of Kizuna's tests. Its TAK client
// connects over TCP or TLS (with a certificate a test's PKI issued), reads
// CoT XML (and TAK protocol v1 once negotiated) into a channel of decoded
// events, and sends events in the connection's current format; UDPClient
// sends datagrams. WaitFor and WaitUntil poll for readiness instead of
// sleeping; Metric reads one sample of a node's /metrics as the node's
// own nation. Subpackage cputime measures CPU time for benchmarks. Tests
// of the node, federation, feeds, chain of command and security share it.
package taktest

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/takproto"
)

// Client is one test TAK connection.
type Client struct {
	// Name, when set, prefixes the client's failure messages, so that a
	// test with many clients says which one failed.
	Name string

	t      testing.TB
	Conn   net.Conn
	events chan *cot.Event
	done   chan struct{}

	mu    sync.Mutex // guards proto and writes
	proto bool
}

// Dial connects over plain TCP.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return Wrap(t, conn)
}

// DialTLS connects over TLS; the handshake error is returned, not fatal,
// so that refusal tests can inspect it.
func DialTLS(t testing.TB, addr string, cfg *tls.Config) (*Client, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return Wrap(t, conn), nil
}

// Wrap reads from an established connection. The connection is closed at
// the test's cleanup.
func Wrap(t testing.TB, conn net.Conn) *Client {
	c := &Client{t: t, Conn: conn, events: make(chan *cot.Event, 1<<16), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

// Events is the channel of received events, in order. Events that do not
// fit (a test that stops reading) are dropped rather than block the reader.
func (c *Client) Events() <-chan *cot.Event { return c.events }

func (c *Client) deliver(ev *cot.Event) {
	select {
	case c.events <- ev:
	default:
	}
}

func (c *Client) read() {
	defer close(c.done)
	xs := cot.NewSplitter(0)
	var ps *takproto.Splitter
	for {
		var err error
		if ps != nil {
			buf := ps.Buffer(32 << 10)
			var n int
			n, err = c.Conn.Read(buf)
			ps.Commit(n)
			for {
				p, perr := ps.Next()
				if p == nil && perr == nil {
					break
				}
				if perr != nil {
					continue
				}
				if ev, derr := takproto.ToEvent(p); derr == nil {
					c.deliver(ev)
				}
			}
		} else {
			buf := xs.Buffer(32 << 10)
			var n int
			n, err = c.Conn.Read(buf)
			xs.Commit(n)
			for {
				doc, serr := xs.Next()
				if doc == nil && serr == nil {
					break
				}
				if serr != nil {
					continue
				}
				ev, derr := cot.DecodeUnchecked(doc)
				if derr != nil {
					continue
				}
				if ev.Type == "t-x-takp-r" {
					// The server switches right after its response; switch
					// before the test sees the response, so that what it
					// sends next is framed.
					c.mu.Lock()
					c.proto = true
					c.mu.Unlock()
					c.deliver(ev)
					ps = takproto.NewSplitter(0)
					ps.Feed(xs.Rest())
					break
				}
				c.deliver(ev)
			}
		}
		if err != nil {
			return
		}
	}
}

// IsType matches events of one type.
func IsType(typ string) func(*cot.Event) bool {
	return func(e *cot.Event) bool { return e.Type == typ }
}

// IsUID matches events of one uid.
func IsUID(uid string) func(*cot.Event) bool {
	return func(e *cot.Event) bool { return e.UID == uid }
}

// Offered waits for the server's TAK protocol offer, which shows the
// connection is registered.
func (c *Client) Offered() {
	c.t.Helper()
	c.Expect("protocol offer", IsType("t-x-takp-v"), 5*time.Second)
}

// Negotiate switches the client to TAK protocol v1.
func (c *Client) Negotiate() {
	c.t.Helper()
	c.Offered()
	c.Send(takproto.Request(time.Now()))
	c.Expect("protocol response", IsType("t-x-takp-r"), 5*time.Second)
}

// Send writes raw bytes.
func (c *Client) Send(b []byte) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Conn.Write(b); err != nil {
		c.t.Fatalf("%ssend: %v", c.prefix(), err)
	}
}

// SendString writes a raw document.
func (c *Client) SendString(doc string) { c.t.Helper(); c.Send([]byte(doc)) }

// SendEvent writes ev in the client's current format.
func (c *Client) SendEvent(ev *cot.Event) {
	c.t.Helper()
	c.mu.Lock()
	proto := c.proto
	c.mu.Unlock()
	if !proto {
		c.Send(ev.XML())
		return
	}
	b, err := takproto.MarshalEvent(nil, ev)
	if err != nil {
		c.t.Fatal(err)
	}
	c.Send(b)
}

// Expect waits for an event matching pred, skipping others. It fails at
// once when the connection has ended and nothing read before the end
// matches.
func (c *Client) Expect(what string, pred func(*cot.Event) bool, timeout time.Duration) *cot.Event {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-c.events:
			if pred(ev) {
				return ev
			}
		case <-c.done:
			for {
				select {
				case ev := <-c.events:
					if pred(ev) {
						return ev
					}
				default:
					c.t.Fatalf("%sconnection ended waiting for %s", c.prefix(), what)
					return nil
				}
			}
		case <-deadline:
			c.t.Fatalf("%stimed out waiting for %s", c.prefix(), what)
			return nil
		}
	}
}

func (c *Client) prefix() string {
	if c.Name == "" {
		return ""
	}
	return c.Name + ": "
}

// Refused reports whether the server ended the connection within d
// without a single event left unread: a refused TLS handshake shows as a
// read error before anything arrives.
func (c *Client) Refused(d time.Duration) bool {
	select {
	case <-c.done:
		return len(c.events) == 0
	case <-time.After(d):
		return false
	}
}

// ByUID indexes events by uid; a later event replaces an earlier one.
func ByUID(evs []*cot.Event) map[string]*cot.Event {
	out := make(map[string]*cot.Event, len(evs))
	for _, e := range evs {
		out[e.UID] = e
	}
	return out
}

// Next returns the next event, or nil when none arrives within d.
func (c *Client) Next(d time.Duration) *cot.Event {
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(d):
		return nil
	}
}

// Collect gathers every event received within d.
func (c *Client) Collect(d time.Duration) []*cot.Event {
	var out []*cot.Event
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
}

// Closed reports whether the server closed the connection within d.
func (c *Client) Closed(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// CollectUntil gathers events until one with uid arrives (included).
func (c *Client) CollectUntil(uid string, d time.Duration) []*cot.Event {
	c.t.Helper()
	var out []*cot.Event
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			out = append(out, ev)
			if ev.UID == uid {
				return out
			}
		case <-deadline:
			c.t.Fatalf("%stimed out waiting for %s", c.prefix(), uid)
			return out
		}
	}
}
