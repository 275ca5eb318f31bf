package node

import (
	"testing"
	"time"

	"kizuna/internal/taktest"
)

// TestUDPInput: CoT XML datagrams and TAK mesh datagrams are accepted on a
// UDP listener as its principal; garbage is dropped and counted.
func TestUDPInput(t *testing.T) {
	cfg := baseConfig([]string{"JPN:SECRET"}, []string{"USA:SECRET"}) // /metrics is the node's own nation's
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Kind: KindCoTUDP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"})
	n := startNode(t, cfg)
	jpn := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	udp := taktest.DialUDP(t, addrOf(t, n, KindCoTUDP, "USA:SECRET"))
	h := addrOf(t, n, KindHTTP, "")

	udp.SendEvent(event("udp-xml", "a-f-G", `access="S" releasableTo="JPN"`))
	got := jpn.Expect("udp-xml", isUID("udp-xml"), 5*time.Second)
	if got.Origin.Nation != "USA" {
		t.Errorf("origin %+v, want the UDP listener's nation", got.Origin)
	}
	udp.SendMesh(event("udp-mesh", "a-f-G", `access="S" releasableTo="JPN"`))
	jpn.Expect("udp-mesh", isUID("udp-mesh"), 5*time.Second)

	before := taktest.Metric(t, h, `kizuna_events_rejected_total{reason="malformed"}`)
	udp.Send([]byte{0xbf, 0x01, 0xbf, 0xff, 0xff})
	udp.Send([]byte("<event><oops>"))
	udp.SendEvent(event("udp-after", "a-f-G", `access="S" releasableTo="JPN"`))
	jpn.Expect("udp-after", isUID("udp-after"), 5*time.Second)
	if after := taktest.Metric(t, h, `kizuna_events_rejected_total{reason="malformed"}`); after < before+2 {
		t.Errorf("malformed datagrams counted %v → %v", before, after)
	}
}
