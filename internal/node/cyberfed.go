package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/taxii"
)

// Federation of cyber objects.
//
// A STIX object version stored on this node under a label of this node's
// nation that releases it to another nation travels the federation links
// as a CoT event of type CyberEventType: its detail carries the object's
// JSON in <__kizuna_stix>, its label is the object's label, and it is
// directed to no TAK recipient (a <dest> no client has), so it never
// enters the picture or a client's stream. Federation applies its usual
// origin checks, durable queues and label policy per link. A node that
// receives one stores the object in its federated collection under the
// label it came with (the originator stays the originating nation). Every
// version of an id is stored once (an id and version already stored is
// acknowledged and not stored again); versions are ordered by modified.

// CyberEventType is the CoT type that carries a STIX object between nodes.
const CyberEventType = "t-x-k-stix"

const cyberDest = "kizuna-cyber-federation"

// FederatedCollectionID is the id of the collection holding cyber objects
// received from allied nodes.
func FederatedCollectionID(nodeID string) string { return collectionID(nodeID, "federated") }

type stixPayload struct {
	XMLName xml.Name `xml:"__kizuna_stix"`
	Version string   `xml:"version,attr"`
	JSON    string   `xml:",chardata"`
}

func randomUID() []byte {
	b := make([]byte, 12)
	rand.Read(b)
	return b
}

// cyberEvent wraps one STIX object version in a CoT event.
func cyberEvent(o *stix.Object, l label.Label, now time.Time) (*cot.Event, error) {
	// The uid is random: uids are claimed by the first nation to use
	// them, so a predictable one could be claimed first by another nation
	// and the object never delivered. Duplicates are recognised by STIX
	// id and version on arrival, not by uid.
	h := randomUID()
	var body bytes.Buffer
	if err := xml.NewEncoder(&body).Encode(stixPayload{Version: o.Version(), JSON: string(o.Raw)}); err != nil {
		return nil, err
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	doc := fmt.Sprintf(`<event version="2.0" uid="kizuna-stix-%x" type="%s" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest callsign="%s"/></marti>%s</detail></event>`,
		h[:12], CyberEventType, ts, ts, now.Add(24*time.Hour).UTC().Format(time.RFC3339Nano), cyberDest, body.Bytes())
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		return nil, err
	}
	ev.SetLabel(l)
	return ev, nil
}

// stixOf extracts the STIX object a cyber event carries.
func stixOf(ev *cot.Event) (json.RawMessage, bool) {
	i := bytes.Index(ev.Detail, []byte("<__kizuna_stix"))
	if i < 0 {
		return nil, false
	}
	var p stixPayload
	if err := xml.NewDecoder(bytes.NewReader(ev.Detail[i:])).Decode(&p); err != nil {
		return nil, false
	}
	return json.RawMessage(p.JSON), true
}

// federateCyber is OnAdd's second half: it sends locally originated,
// releasable object versions to the federation.
func (n *Node) federateCyber(coll string, o *stix.Object, l label.Label) {
	if !n.federates() || coll == FederatedCollectionID(n.cfg.NodeID) || l.Originator != n.cfg.Nation {
		return
	}
	if !slices.ContainsFunc(l.ReleasableTo, func(x string) bool { return x != n.cfg.Nation }) {
		return // national only: no peer may receive it
	}
	ev, err := cyberEvent(o, l, time.Now())
	if err == nil {
		err = n.Inject(context.Background(), ev)
	}
	if err != nil {
		n.log.Warn("cyber: federating a STIX object failed", "id", o.ID, "err", err)
	}
}

// federateCyberDelete sends the deletion of locally originated, released
// object versions to the federation, each labelled as the version was, so
// that exactly the peers that may have received it hear of its deletion.
func (n *Node) federateCyberDelete(coll string, gone []taxii.Deleted) {
	if !n.federates() || coll == FederatedCollectionID(n.cfg.NodeID) {
		return
	}
	for _, g := range gone {
		l := g.Label
		if l.Originator != n.cfg.Nation || !slices.ContainsFunc(l.ReleasableTo, func(x string) bool { return x != n.cfg.Nation }) {
			continue
		}
		ev, err := cyberDeleteEvent(g.ID, g.Version, l, time.Now())
		if err == nil {
			err = n.Inject(context.Background(), ev)
		}
		if err != nil {
			n.log.Warn("cyber: federating a STIX deletion failed", "id", g.ID, "err", err)
		}
	}
}

// CyberDeleteType is the CoT type that carries the deletion of a STIX
// object version between nodes.
const CyberDeleteType = "t-x-k-stix-del"

type stixDeletePayload struct {
	XMLName xml.Name `xml:"__kizuna_stix_delete"`
	ID      string   `xml:"id,attr"`
	Version string   `xml:"version,attr"`
}

func cyberDeleteEvent(id, nver string, l label.Label, now time.Time) (*cot.Event, error) {
	h := randomUID()
	var body bytes.Buffer
	if err := xml.NewEncoder(&body).Encode(stixDeletePayload{ID: id, Version: nver}); err != nil {
		return nil, err
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	doc := fmt.Sprintf(`<event version="2.0" uid="kizuna-stix-del-%x" type="%s" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest callsign="%s"/></marti>%s</detail></event>`,
		h[:12], CyberDeleteType, ts, ts, now.Add(24*time.Hour).UTC().Format(time.RFC3339Nano), cyberDest, body.Bytes())
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		return nil, err
	}
	ev.SetLabel(l)
	return ev, nil
}

func stixDeleteOf(ev *cot.Event) (stixDeletePayload, bool) {
	var p stixDeletePayload
	i := bytes.Index(ev.Detail, []byte("<__kizuna_stix_delete"))
	if i < 0 {
		return p, false
	}
	if err := xml.NewDecoder(bytes.NewReader(ev.Detail[i:])).Decode(&p); err != nil || !stix.ValidID(p.ID) {
		return p, false
	}
	if p.Version != "" && stix.NormVersion(p.Version) != p.Version {
		return p, false
	}
	return p, true
}

// wireCyberFederation stores the STIX objects (and applies the deletions)
// arriving from peers. It does so in the tap, synchronously: the tap runs
// inside the federation link's hand-off of the event to the node, and the
// link acknowledges the event's sequence number to the peer only after
// that hand-off returns and its own batch commits. Storing here (Add
// commits before it returns) means that an object is durable before it is
// acknowledged: a crash at any point leaves it either stored or resent.
func (n *Node) wireCyberFederation(srv *taxii.Server) {
	n.AddTap(func(m *hub.Message, fed *federation.Provenance) {
		if fed == nil || m.Event == nil {
			return
		}
		switch m.Event.Type {
		case CyberEventType:
			n.importCyber(context.Background(), srv, m, fed)
		case CyberDeleteType:
			n.importCyberDelete(context.Background(), srv, m, fed)
		}
	})
}

// importCyberDelete applies a peer's deletion: only in the namespace of
// the event's label, whose originator federation verified, so a peer can
// delete only objects its own nation originated.
func (n *Node) importCyberDelete(ctx context.Context, srv *taxii.Server, m *hub.Message, fed *federation.Provenance) {
	p, ok := stixDeleteOf(m.Event)
	if !ok || !m.Label.Valid() {
		n.log.Warn("cyber: federated STIX deletion without a valid object or label", "uid", m.UID)
		return
	}
	k, err := srv.DeleteFederated(ctx, FederatedCollectionID(n.cfg.NodeID), m.Label, p.ID, p.Version)
	if err != nil {
		n.log.Error("cyber: applying a federated STIX deletion failed", "uid", m.UID, "err", err)
		return
	}
	if k > 0 {
		n.cyberEffects.Forget(m.Label, p.ID, p.Version)
	}
	n.log.Info("cyber: federated STIX deletion", "id", p.ID, "version", p.Version, "deleted", k, "originator", m.Label.Originator, "peer", fed.Peer)
}

func (n *Node) importCyber(ctx context.Context, srv *taxii.Server, m *hub.Message, fed *federation.Provenance) {
	raw, ok := stixOf(m.Event)
	if !ok || !m.Label.Valid() {
		n.log.Warn("cyber: federated STIX event without a valid object or label", "uid", m.UID)
		return
	}
	l := m.Label
	// The originating nation posts it, under the label it came with.
	p := label.Principal{Nation: l.Originator, Clearance: label.TopSecret, Name: "federation:" + fed.OriginNode}
	st, err := srv.Add(ctx, FederatedCollectionID(n.cfg.NodeID), p, []json.RawMessage{raw}, &taxii.AddOptions{Label: &l, Federated: true})
	if err != nil {
		n.log.Error("cyber: storing a federated STIX object failed", "uid", m.UID, "err", err)
		return
	}
	if st.FailureCount > 0 {
		n.log.Warn("cyber: federated STIX object refused", "id", st.Failures[0].ID, "reason", st.Failures[0].Message, "peer", fed.Peer)
	}
}
