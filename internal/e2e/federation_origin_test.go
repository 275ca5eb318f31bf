package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/federation"
	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/pki"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// capture reads frames from the hub, acknowledging every event, until an
// event whose payload contains every part arrives, and returns it.
func (p *rawPeer) capture(what string, parts ...string) *federation.Event {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer p.conn.SetReadDeadline(time.Time{})
	for {
		f, _, err := federation.ReadFrame(p.br, 1<<21, nil)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if f.Event == nil {
			continue
		}
		// Acknowledged, as a node does: the hub holds back what is not.
		if _, err := p.conn.Write(federation.AppendAck(nil, federation.Ack{Lane: f.Event.Lane, Seq: f.Event.Seq})); err != nil {
			p.t.Fatal(err)
		}
		all := true
		for _, s := range parts {
			all = all && bytes.Contains(f.Event.Payload, []byte(s))
		}
		if all {
			return f.Event
		}
	}
}

// relayAs returns a copy of a captured event as the peer would relay it:
// the same signed record, the path ending at the peer.
func relayAs(e *federation.Event, peer string) *federation.Event {
	c := *e
	c.Path = []string{e.OriginNode, peer}
	c.Signed = nil
	return &c
}

// TestFederationOriginForgeries: a malicious federation peer (a real TLS
// client with a valid KOR node certificate, declared as a peer of the USA
// hub) tries every forgery of origin in the trilateral topology: a relayed
// event claiming another origin node and nation, its own event for
// another nation, a replay of a captured event (as it was, and under a
// fresh origin sequence number), and a label changed under a valid
// signature (its own, and a genuine JPN node's). None is accepted at any
// of the three nodes; each is refused, counted per peer and audited, and
// the link stays up: the peer's own genuine event, sent last, arrives
// everywhere, and so does a genuine JPN event it relays unchanged.
func TestFederationOriginForgeries(t *testing.T) {
	t.Parallel()
	specs := topology.Trilateral()
	specs[0].Peers = append(specs[0].Peers, topology.Peer{Name: "kor-rogue", Classification: "SECRET"})
	c := fedCluster(t, specs)
	fedLinksUp(t, c)
	hub, jpn, kor := c.Node("usa-hub"), c.Node("jpn-node"), c.Node("kor-node")
	nodes := map[string]*node.Node{"usa-hub": hub, "jpn-node": jpn, "kor-node": kor}

	cf, kf, err := c.PKI.NodeCert("KOR", "kor-rogue", pki.Validity{})
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := dialRaw(t, hub.Addr(node.KindFederation), loadPair(t, cf, kf), "kor-rogue", "KOR")
	if err != nil {
		t.Fatal(err)
	}

	// A JPN unit, releasable to USA and KOR, in two versions; the rogue
	// sees both through the hub.
	jpnClient := fedDial(t, jpn)
	rel := `access="SECRET" releasableTo="USA KOR"`
	jpnClient.send(fedEvent("jpn-unit", "a-f-G-U-C", rel, "<remarks>version-1</remarks>"))
	v1 := rogue.capture("version 1", `uid="jpn-unit"`, "version-1")
	jpnClient.send(fedEvent("jpn-unit", "a-f-G-U-C", rel, "<remarks>version-2</remarks>"))
	v2 := rogue.capture("version 2", `uid="jpn-unit"`, "version-2")
	has := func(n *node.Node, uid, part string) bool {
		m, ok := n.Picture().Get(uid)
		return ok && bytes.Contains(m.XML(), []byte(part))
	}
	for id, n := range nodes {
		taktest.WaitUntil(t, id+" has version 2", 10*time.Second, func() bool { return has(n, "jpn-unit", "version-2") })
	}
	fresh := v2.OriginSeq + 100 // an origin sequence number jpn-node has not used

	jpnLabel := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA", "KOR"}, Originator: "JPN"}
	korLabel := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA", "JPN"}, Originator: "KOR"}
	ev := func(origin string, seq uint64, l label.Label, uid string) *federation.Event {
		path := []string{origin, "kor-rogue"}
		if origin == "kor-rogue" {
			path = path[1:]
		}
		return &federation.Event{OriginNode: origin, OriginSeq: seq, Path: path, Label: l,
			Payload: []byte(fedEvent(uid, "a-h-G", "", ""))}
	}
	sign := func(s *federation.Signer, evs ...*federation.Event) {
		t.Helper()
		if err := s.Sign(evs); err != nil {
			t.Fatal(err)
		}
	}

	// 1. Another origin node and nation. (a) no proof at all; (b) the
	// rogue's own signature, then the origin renamed; (c) a node that
	// does not exist; (d) the rogue under its own name, for nation USA.
	noProof := ev("jpn-node", fresh, jpnLabel, "forged-unsigned")
	noProof.Auth = federation.Auth{CertFP: rogue.signer.Fingerprint(), Size: 1, Sig: []byte{1}}
	renamed := ev("kor-rogue", fresh+1, jpnLabel, "forged-renamed")
	sign(rogue.signer, renamed)
	renamed.OriginNode, renamed.Path = "jpn-node", []string{"jpn-node", "kor-rogue"}
	ghost := ev("usa-ghost", 1, label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Originator: "USA"}, "forged-ghost")
	ghost.Auth = federation.Auth{CertFP: rogue.signer.Fingerprint(), Size: 1, Sig: []byte{1}}
	forUSA := ev("kor-rogue", 1, label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Originator: "USA"}, "forged-for-usa")
	sign(rogue.signer, forUSA)

	// 2. Replays of the captured version 1: (a) as it was (its origin
	// sequence number was seen); (b) under a fresh origin sequence number.
	replay := relayAs(v1, "kor-rogue")
	replayFresh := relayAs(v1, "kor-rogue")
	replayFresh.OriginSeq = fresh + 2

	// 3. Labels changed under a valid signature over the old one: (a) the
	// rogue's own event, USA only, widened to JPN; (b) an event
	// signed with the genuine jpn-node key, lowered to UNCLASSIFIED. Its
	// untampered companion is relayed as signed.
	ownTampered := ev("kor-rogue", 2, label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}, Originator: "KOR"}, "tampered-own")
	sign(rogue.signer, ownTampered)
	ownTampered.Label.ReleasableTo = []string{"USA", "JPN"}
	jcfg := c.Config("jpn-node")
	jpnSigner, err := federation.NewSigner("jpn-node", loadPair(t, jcfg.TLSCert, jcfg.TLSKey))
	if err != nil {
		t.Fatal(err)
	}
	jpnTampered := ev("jpn-node", fresh+3, jpnLabel, "tampered-jpn")
	jpnGenuine := ev("jpn-node", fresh+4, jpnLabel, "relayed-genuine")
	sign(jpnSigner, jpnTampered, jpnGenuine)
	jpnTampered.Label.Classification = label.Unclassified

	forged := []struct {
		name, uid string
		e         *federation.Event
	}{
		{"relayed, no proof", "forged-unsigned", noProof},
		{"relayed, origin renamed after signing", "forged-renamed", renamed},
		{"relayed from a node that does not exist", "forged-ghost", ghost},
		{"own node, another nation", "forged-for-usa", forUSA}, // refused before origin signatures too; kept
		{"replay as it was", "", replay},
		{"replay under a fresh sequence", "", replayFresh},
		{"own label changed after signing", "tampered-own", ownTampered},
		{"genuine JPN label changed after signing", "tampered-jpn", jpnTampered},
	}
	const unverifiable = 7 // all but the plain replay, which is a duplicate
	before := taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_unverified_total{peer="kor-rogue"}`)
	dups := taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_events_total{outcome="duplicate"}`)
	seq := uint64(0)
	for _, f := range forged {
		seq++
		rogue.sendEvent(federation.LaneRoutine, seq, f.e)
	}
	// The rogue's jpn-node certificate is not needed for jpnGenuine: the
	// hub knows it from jpn-node. Then the rogue's own genuine event.
	seq++
	rogue.sendEvent(federation.LaneRoutine, seq, jpnGenuine)
	seq++
	rogue.sendEvent(federation.LaneRoutine, seq, ev("kor-rogue", 3, korLabel, "rogue-genuine"))
	rogue.waitAck(federation.LaneRoutine, seq)

	for id, n := range nodes {
		taktest.WaitUntil(t, id+" has the rogue's genuine event", 10*time.Second, func() bool { return has(n, "rogue-genuine", "rogue-genuine") })
	}
	for _, id := range []string{"usa-hub", "kor-node"} {
		taktest.WaitUntil(t, id+" has the relayed genuine JPN event", 10*time.Second, func() bool {
			return has(nodes[id], "relayed-genuine", "relayed-genuine")
		})
	}
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			for id, n := range nodes {
				if f.uid != "" {
					if _, ok := n.Picture().Get(f.uid); ok {
						t.Errorf("%s accepted %s", id, f.uid)
					}
				} else if !has(n, "jpn-unit", "version-2") {
					t.Errorf("%s: jpn-unit is no longer version 2", id)
				}
			}
		})
	}
	if got := taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_unverified_total{peer="kor-rogue"}`) - before; got != unverifiable {
		t.Errorf("unverified from kor-rogue: %v, want %d", got, unverifiable)
	}
	if taktest.Metric(t, hub.Addr(node.KindHTTP), `kizuna_federation_events_total{outcome="duplicate"}`) <= dups {
		t.Error("the plain replay was not counted as a duplicate")
	}
	if st := fedPeer(hub.Federation().Status(), "kor-rogue"); st.State != "up" || st.Unverified != unverifiable {
		t.Errorf("kor-rogue link: %+v", st)
	}
	audited := 0
	err = audit.Read(c.Config("usa-hub").DataDir, func(r audit.Record) error {
		if r.Action == "federation.unverified" && r.Decision == "deny" && strings.HasPrefix(r.Object, "kor-rogue@KOR") {
			audited++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if audited != unverifiable {
		t.Errorf("audited refusals: %d, want %d", audited, unverifiable)
	}
	rogue.conn.Close()
}
