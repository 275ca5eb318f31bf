package topology

import (
	"fmt"
	"io"
	"maps"
	"net"
	"sync"
)

// Link is a loopback relay in front of a peer's federation listener, for
// the link of a Peer marked Cuttable. Cut closes every connection through
// it and refuses new ones until Restore: the dialling node sees a real
// link drop and redials.
type Link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Link returns the relay of from's link to the peer to (nil if that link
// is not cuttable).
func (c *Cluster) Link(from, to string) *Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.links[from+"->"+to]
}

// relays starts a relay for every cuttable peer s dials and returns the
// addresses s is to dial.
func (c *Cluster) relays(s NodeSpec, addrs map[string]string) (map[string]string, error) {
	out := maps.Clone(addrs)
	for _, pe := range s.Peers {
		if !pe.Dial || !pe.Cuttable {
			continue
		}
		l, err := newLink(addrs[pe.Name])
		if err != nil {
			return nil, fmt.Errorf("topology: relay %s->%s: %w", s.ID, pe.Name, err)
		}
		c.mu.Lock()
		if old := c.links[s.ID+"->"+pe.Name]; old != nil {
			old.close()
		}
		c.links[s.ID+"->"+pe.Name] = l
		c.mu.Unlock()
		out[pe.Name] = l.ln.Addr().String()
	}
	return out, nil
}

func newLink(target string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, target: target, conns: map[net.Conn]bool{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			in.Close()
			continue
		}
		l.mu.Unlock()
		out, err := net.Dial("tcp", l.target)
		if err != nil {
			in.Close()
			continue
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		l.conns[in], l.conns[out] = true, true
		l.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			l.mu.Lock()
			delete(l.conns, dst)
			delete(l.conns, src)
			l.mu.Unlock()
		}
		go pipe(out, in)
		go pipe(in, out)
	}
}

// Cut drops the link: live connections are closed, new ones refused.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		c.Close()
	}
}

// Restore lets the link be dialled again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = false
}

func (l *Link) close() {
	l.Cut()
	l.ln.Close()
	l.wg.Wait()
}
