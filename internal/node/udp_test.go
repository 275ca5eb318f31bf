package node

import (
	"net"
	"testing"
	"time"

	"kizuna/internal/takproto"
	"kizuna/internal/taktest"
)

// TestUDPInput: CoT XML datagrams and TAK mesh datagrams are accepted on a
// UDP listener as its principal; garbage is dropped and counted.
func TestUDPInput(t *testing.T) {
	cfg := baseConfig([]string{"JPN:SECRET"}, []string{"USA:SECRET"}) // /metrics is the node's own nation's
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindCoTUDP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"})
	n := startNode(t, cfg)
	jpn := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	udp, err := net.Dial("udp", addrOf(t, n, KindCoTUDP, "USA:SECRET"))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	h := addrOf(t, n, KindHTTP, "")

	udp.Write(event("udp-xml", "a-f-G", `access="S" releasableTo="JPN"`).XML())
	got := jpn.Expect("udp-xml", isUID("udp-xml"), 5*time.Second)
	if got.Origin.Nation != "USA" {
		t.Errorf("origin %+v, want the UDP listener's nation", got.Origin)
	}
	payload, err := takproto.MarshalPayload(nil, event("udp-mesh", "a-f-G", `access="S" releasableTo="JPN"`))
	if err != nil {
		t.Fatal(err)
	}
	udp.Write(takproto.AppendMesh(nil, 1, payload))
	jpn.Expect("udp-mesh", isUID("udp-mesh"), 5*time.Second)

	before := taktest.Metric(t, h, `kizuna_events_rejected_total{reason="malformed"}`)
	udp.Write([]byte{0xbf, 0x01, 0xbf, 0xff, 0xff})
	udp.Write([]byte("<event><oops>"))
	udp.Write(event("udp-after", "a-f-G", `access="S" releasableTo="JPN"`).XML())
	jpn.Expect("udp-after", isUID("udp-after"), 5*time.Second)
	if after := taktest.Metric(t, h, `kizuna_events_rejected_total{reason="malformed"}`); after < before+2 {
		t.Errorf("malformed datagrams counted %v → %v", before, after)
	}
}
