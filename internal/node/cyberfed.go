package node

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/hub"
	"kizuna/internal/label"
	"kizuna/internal/seclog"
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

// cyberEvent wraps one STIX object version in a CoT event.
func cyberEvent(o *stix.Object, l label.Label, now time.Time) (*cot.Event, error) {
	h := sha1.Sum([]byte(o.ID + "\x00" + stix.NormVersion(o.Version())))
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
	if n.federation == nil || coll == FederatedCollectionID(n.cfg.NodeID) || l.Originator != n.cfg.Nation {
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

// cyberImport is the tap half: STIX objects arriving from peers are queued
// for the store (the tap must not block).
type cyberImport struct {
	q chan fedEvent
}

// fedEvent is an event that arrived over federation, with its provenance.
type fedEvent struct {
	m   *hub.Message
	fed *federation.Provenance
}

func (n *Node) wireCyberFederation(srv *taxii.Server) {
	ci := &cyberImport{q: make(chan fedEvent, 4096)}
	n.AddTap(func(m *hub.Message, fed *federation.Provenance) {
		if fed == nil || m.Event == nil || m.Event.Type != CyberEventType {
			return
		}
		select {
		case ci.q <- fedEvent{m, fed}:
		default:
			n.log.Warn("cyber: federated STIX import queue full; object dropped", "uid", m.UID, seclog.Tag(seclog.Federation))
		}
	})
	done := make(chan struct{})
	var stop context.CancelFunc = func() {}
	n.OnStart(func(ctx context.Context) error {
		ctx, stop = context.WithCancel(ctx)
		go func() {
			defer close(done)
			for {
				select {
				case <-ctx.Done():
					// Drain what was queued before the stop.
					for {
						select {
						case fe := <-ci.q:
							n.importCyber(context.Background(), srv, fe)
						default:
							return
						}
					}
				case fe := <-ci.q:
					n.importCyber(ctx, srv, fe)
				}
			}
		}()
		return nil
	})
	// Registered after the TAXII server's closer, so it runs before it
	// (closers run last first): the importer drains and stops while the
	// store is still open.
	n.OnShutdown(func(ctx context.Context) error {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return nil
	})
}

func (n *Node) importCyber(ctx context.Context, srv *taxii.Server, fe fedEvent) {
	m := fe.m
	raw, ok := stixOf(m.Event)
	if !ok || !m.Label.Valid() {
		n.log.Warn("cyber: federated STIX event without a valid object or label", "uid", m.UID)
		return
	}
	l := m.Label
	// The originating nation posts it, under the label it came with.
	p := label.Principal{Nation: l.Originator, Clearance: label.TopSecret, Name: "federation:" + fe.fed.OriginNode}
	st, err := srv.Add(ctx, FederatedCollectionID(n.cfg.NodeID), p, []json.RawMessage{raw}, &taxii.AddOptions{Label: &l, Federated: true})
	if err != nil {
		n.log.Error("cyber: storing a federated STIX object failed", "uid", m.UID, "err", err)
		return
	}
	if st.FailureCount > 0 {
		n.log.Warn("cyber: federated STIX object refused", "id", st.Failures[0].ID, "reason", st.Failures[0].Message, "peer", fe.fed.Peer)
	}
}
