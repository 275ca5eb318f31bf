package scenario

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"kizuna/internal/asterix"
)

func TestServe(t *testing.T) {
	sc := New(Config{Seed: 3})
	srv, err := Serve(context.Background(), sc, ServeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	eps := srv.Endpoints()
	if len(eps) != len(DefaultSensors()) {
		t.Fatalf("%d endpoints", len(eps))
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, ep := range eps {
		if !strings.HasPrefix(ep.Addr, "127.0.0.1:") || !strings.HasPrefix(ep.FeedFlag(), ep.Name+"="+ep.Kind+":"+ep.Transport+":127.0.0.1:") {
			t.Errorf("endpoint %+v flag %s", ep, ep.FeedFlag())
		}
		switch ep.Transport {
		case "tcp":
			c, err := net.Dial("tcp", ep.Addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(deadline)
			r := bufio.NewReader(c)
			switch ep.Kind {
			case KindAIS:
				line, err := r.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "!AIVDM,") {
					t.Errorf("ais: %q %v", line, err)
				}
			case KindSBS:
				line, err := r.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "MSG,") {
					t.Errorf("sbs: %q %v", line, err)
				}
			case KindBeast:
				b, err := r.ReadByte()
				if err != nil || b != 0x1a {
					t.Errorf("beast: %x %v", b, err)
				}
			}
			c.Close()
		case "udp":
			if ep.Site == nil {
				t.Errorf("radar %s without a site", ep.Name)
			}
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.SetDest(ep.Name, pc.LocalAddr().String()); err != nil {
				t.Fatal(err)
			}
			// A second receiver gets the same datagrams.
			pc2, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc2.Close()
			if err := srv.AddDest(ep.Name, pc2.LocalAddr().String()); err != nil {
				t.Fatal(err)
			}
			pc2.SetReadDeadline(deadline)
			if _, _, err := pc2.ReadFrom(make([]byte, 65536)); err != nil {
				t.Errorf("radar %s, second receiver: %v", ep.Name, err)
			}
			pc.SetReadDeadline(deadline)
			buf := make([]byte, 65536)
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Errorf("radar %s: %v", ep.Name, err)
			} else if recs, err := asterix.Decode(buf[:n]); err != nil || len(recs) == 0 || recs[0].Category != 48 {
				t.Errorf("radar %s datagram: %d records, %v", ep.Name, len(recs), err)
			}
			pc.Close()
		}
	}
	if err := srv.SetDest("radar-busan", "192.0.2.1:9"); err == nil {
		t.Error("a non-loopback destination was accepted")
	}
	if len(srv.Truth()) != 20 {
		t.Errorf("truth of %d targets", len(srv.Truth()))
	}
}
