package node

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"kizuna/internal/command"
	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/label"
	"kizuna/internal/mission"
	"kizuna/internal/reject"
	"kizuna/internal/sustain"
	"kizuna/internal/taktest"
)

// ownModel is the write rules written out independently of ingest: who
// owns each uid, and the classification of each live object.
type ownModel struct {
	reserved []string
	owner    map[string]string
	class    map[string]label.Classification // live objects
}

func (m *ownModel) isReserved(uid string) bool {
	for _, p := range m.reserved {
		if strings.HasPrefix(uid, p) {
			return true
		}
	}
	return false
}

func persistentType(e *cot.Event) bool {
	if len(e.Dests) > 0 {
		return false
	}
	for _, p := range []string{"t-", "b-t-f", "b-f-t"} {
		if strings.HasPrefix(e.Type, p) {
			return false
		}
	}
	return true
}

// apply returns the reason the rules refuse ev from p (or "") and, when
// accepted, updates the model.
func (m *ownModel) apply(p label.Principal, ev *cot.Event, l label.Label) reject.Reason {
	if l.Classification > p.Clearance {
		return reject.AboveClearance
	}
	var targets []string
	if ev.IsDelete() {
		for _, lk := range ev.Links {
			targets = append(targets, lk.UID)
		}
		if len(targets) == 0 {
			targets = []string{ev.UID}
		}
	}
	if m.isReserved(ev.UID) {
		return reject.Reserved
	}
	for _, uid := range targets {
		if m.isReserved(uid) {
			return reject.Reserved
		}
	}
	if ev.IsDelete() {
		for _, uid := range targets {
			o, ok := m.owner[uid]
			switch {
			case !ok:
				return reject.UnknownUID
			case o != p.Nation:
				return reject.NotOwner
			case m.class[uid] > p.Clearance:
				return reject.WriteDown
			}
		}
		if o, ok := m.owner[ev.UID]; ok && o != p.Nation {
			return reject.NotOwner
		}
		for _, uid := range targets {
			delete(m.class, uid)
		}
		m.owner[ev.UID] = p.Nation
		return ""
	}
	if o, ok := m.owner[ev.UID]; ok && o != p.Nation {
		return reject.NotOwner
	}
	m.owner[ev.UID] = p.Nation // a refused write-down leaves the owner as it was
	if c, ok := m.class[ev.UID]; ok && c > p.Clearance {
		return reject.WriteDown
	}
	if persistentType(ev) {
		m.class[ev.UID] = l.Classification
	}
	return ""
}

// TestOwnershipProperty sends random sequences of events of every kind
// (positions, markers, directed markers, chat, tasking, file transfer,
// deletes with and without links, uids of the node's own namespaces) from
// random principals through the node's ingest, and checks that no
// principal ever changes, claims or deletes what the ownership and
// clearance rules forbid, each refusal with its own reason.
func TestOwnershipProperty(t *testing.T) {
	cfg := baseConfig(nil, nil)
	cfg.Peers = nil
	nd := startNode(t, cfg)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))

	nations := []string{"USA", "JPN", "KOR"}
	classes := []label.Classification{label.Unclassified, label.Confidential, label.Secret, label.TopSecret}
	uids := []string{"u1", "u2", "u3", "u4", "u5", "u6", "KIZUNA.order.7", "test-node.ais:431000001", "GeoChat.KIZUNA.x.y.z"}
	types := []string{"a-f-G-U-C", "b-m-p-s-m", "b-t-f", "t-s", "b-f-t-r", "t-x-d-d", "t-x-d-d", "a-f-G-U-C"}
	m := &ownModel{reserved: []string{"KIZUNA.", "GeoChat.KIZUNA.", "test-node."}, owner: map[string]string{}, class: map[string]label.Classification{}}
	counts := map[reject.Reason]int{}
	now := time.Now().UTC()
	for i := 0; i < 3000; i++ {
		p := label.Principal{Nation: nations[rng.IntN(len(nations))], Clearance: classes[rng.IntN(len(classes))]}
		pick := func() string {
			if rng.IntN(8) == 0 {
				return fmt.Sprintf("fresh-%d", rng.IntN(1000)) // most never claimed
			}
			return uids[rng.IntN(len(uids))]
		}
		ev := &cot.Event{Version: "2.0", UID: pick(), Type: types[rng.IntN(len(types))], How: "h-e",
			Time: now, Start: now, Stale: now.Add(time.Hour)}
		ev.Point.Lat, ev.Point.Lon = 35, 139
		if ev.IsDelete() {
			for k := rng.IntN(3); k > 0; k-- {
				ev.Links = append(ev.Links, cot.Link{UID: pick(), Relation: "p-p"})
			}
		} else if rng.IntN(4) == 0 {
			ev.Dests = []cot.Dest{{Callsign: "someone"}}
		}
		l := label.Label{Classification: classes[rng.IntN(len(classes))], ReleasableTo: nations, Originator: p.Nation}
		ev.Access, ev.ReleasableTo = l.Classification.String(), strings.Join(nations, " ")
		want := m.apply(p, ev, l)
		var got reject.Reason
		if rej := nd.ingestFrom(p, ev, 0); rej != nil {
			got = rej.Reason
		}
		counts[got]++
		if got != want {
			t.Fatalf("event %d: %s %s uid %s links %v dests %d class %s: got %q, the rules say %q",
				i, p, ev.Type, ev.UID, ev.Links, len(ev.Dests), l.Classification, got, want)
		}
		for _, uid := range uids {
			o, ok := nd.picture.Owner(uid)
			if mo, mok := m.owner[uid]; ok != mok || o != mo {
				t.Fatalf("event %d: owner of %s is %q (%v), the rules say %q (%v)", i, uid, o, ok, mo, mok)
			}
			obj, live := nd.picture.Get(uid)
			if mc, mlive := m.class[uid]; live != mlive || (live && obj.Label.Classification != mc) {
				t.Fatalf("event %d: object %s live=%v, the rules say live=%v class %s", i, uid, live, mlive, mc)
			}
		}
	}
	for _, r := range []reject.Reason{"", reject.NotOwner, reject.WriteDown, reject.Reserved, reject.UnknownUID, reject.AboveClearance} {
		if counts[r] == 0 {
			t.Errorf("no event ended as %q: the generator does not exercise it (%v)", r, counts)
		}
	}
}

// TestOwnershipOnTheWire: over real TAK connections, a partner can neither
// squat nor speak for another nation's uid with a non-persistent type,
// delete a never-claimed uid, claim the node's namespace, or write down;
// each refusal is counted under its own reason and the connection stays.
func TestOwnershipOnTheWire(t *testing.T) {
	prins := []string{"USA:SECRET", "JPN:SECRET", "USA:UNCLASSIFIED"}
	nd := startNode(t, baseConfig(prins, []string{"USA:SECRET", "JPN:SECRET"}))
	httpAddr := addrOf(t, nd, KindHTTP, "USA:SECRET")
	usa := dial(t, addrOf(t, nd, KindCoTTCP, "USA:SECRET"))
	jpn := dial(t, addrOf(t, nd, KindCoTTCP, "JPN:SECRET"))
	usaLow := dial(t, addrOf(t, nd, KindCoTTCP, "USA:UNCLASSIFIED"))
	for _, c := range []*takClient{usa, jpn, usaLow} {
		c.Expect("offer", func(e *cot.Event) bool { return e.Type == "t-x-takp-v" }, 5*time.Second)
	}
	rel := `access="U" releasableTo="USA JPN"`
	directed := func(uid string) *cot.Event {
		e := event(uid, "b-m-p-s-m", rel)
		e.Dests = []cot.Dest{{Callsign: "anyone"}}
		if err := e.SetDetail([]byte(`<marti><dest callsign="anyone"/></marti>`)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// JPN squats a uid with a directed marker, then USA publishes it.
	jpn.SendEvent(directed("squat-1"))
	taktest.WaitUntil(t, "JPN's directed marker claims squat-1", 5*time.Second, func() bool {
		o, ok := nd.picture.Owner("squat-1")
		return ok && o == "JPN"
	})
	usa.SendEvent(event("squat-1", "a-f-G-U-C", rel))
	// USA's chat-typed event with JPN's marker uid is refused too.
	jpn.SendEvent(event("jpn-marker", "a-f-G-U-C", rel))
	taktest.WaitUntil(t, "JPN marker", 5*time.Second, func() bool { _, ok := nd.picture.Get("jpn-marker"); return ok })
	usa.SendEvent(event("jpn-marker", "b-t-f", rel))
	// A delete of a never-claimed uid, and of the node's namespace.
	jpn.SendEvent(event("never-claimed", "t-x-d-d", ""))
	usa.SendEvent(event("KIZUNA.order.1", "b-t-f", rel))
	usa.SendEvent(event("test-node.track-1", "a-h-A", rel))
	// Node-to-node message types from a client: a forged support request
	// and a forged STIX deletion would leave for allied nodes signed by
	// this node.
	usa.SendEvent(event("forged-request", command.FedType, rel))
	jpn.SendEvent(event("forged-stix-del", CyberDeleteType, rel))
	// A SECRET USA object; an UNCLASSIFIED USA client tries to change it.
	usa.SendEvent(event("usa-secret", "a-f-G-U-C", `access="S" releasableTo="USA"`))
	taktest.WaitUntil(t, "USA secret object", 5*time.Second, func() bool { _, ok := nd.picture.Get("usa-secret"); return ok })
	usaLow.SendEvent(event("usa-secret", "a-f-G-U-C", `access="U"`))
	usaLow.SendEvent(event("usa-secret", "t-x-d-d", ""))
	// Caveats: an unknown one is refused; NOFORN withholds from JPN
	// whatever releasableTo says.
	usa.SendEvent(event("cav-unknown", "a-f-G-U-C", `access="U" releasableTo="USA JPN" caveat="SPECIAL"`))
	usa.SendEvent(event("cav-noforn", "a-f-G-U-C", `access="U" releasableTo="USA JPN" caveat="NOFORN"`))
	usa.SendEvent(event("cav-fouo", "a-f-G-U-C", `access="U" releasableTo="USA JPN" caveat="FOUO"`))
	taktest.WaitUntil(t, "caveat objects", 5*time.Second, func() bool {
		_, a := nd.picture.Get("cav-noforn")
		_, b := nd.picture.Get("cav-fouo")
		return a && b
	})
	var o objectsResp
	getJSON(t, "http://"+addrOf(t, nd, KindHTTP, "JPN:SECRET")+"/api/v1/objects", &o)
	if o.has("cav-noforn") || !o.has("cav-fouo") || o.has("cav-unknown") {
		t.Errorf("JPN sees NOFORN %v, FOUO %v, unknown %v; want false, true, false", o.has("cav-noforn"), o.has("cav-fouo"), o.has("cav-unknown"))
	}
	for reason, n := range map[reject.Reason]float64{reject.NotOwner: 2, reject.UnknownUID: 1, reject.Reserved: 2, reject.ReservedType: 2, reject.WriteDown: 2, reject.Caveat: 1} {
		taktest.WaitUntil(t, "rejections "+string(reason), 5*time.Second, func() bool {
			return taktest.Metric(t, httpAddr, fmt.Sprintf(`kizuna_events_rejected_total{reason="%s"}`, reason)) == n
		})
	}
	for _, uid := range []string{"forged-request", "forged-stix-del"} {
		if _, ok := nd.picture.Get(uid); ok {
			t.Errorf("the node took the client's %s", uid)
		}
	}
	for _, typ := range []string{command.FedType, mission.FedType, sustain.FedType, CyberEventType, CyberDeleteType} {
		if !strings.HasPrefix(typ, cot.NodeTypePrefix) {
			t.Errorf("node-to-node type %s is outside %s: clients could send it", typ, cot.NodeTypePrefix)
		}
	}
	if m, ok := nd.picture.Get("usa-secret"); !ok || m.Label.Classification != label.Secret {
		t.Fatalf("the SECRET object was changed or deleted: %v", ok)
	}
	// The connections stay: each still publishes.
	for i, c := range []*takClient{usa, jpn, usaLow} {
		uid := fmt.Sprintf("still-%d", i)
		c.SendEvent(event(uid, "a-f-G-U-C", ""))
		taktest.WaitUntil(t, uid, 5*time.Second, func() bool { _, ok := nd.picture.Get(uid); return ok })
	}
}

// TestClaimsExpire: a claim outlives its object by the retention, then
// lapses, so the map does not grow without bound and another nation may
// use the uid.
func TestClaimsExpire(t *testing.T) {
	cfg := baseConfig(nil, nil)
	cfg.HistoryRetention = Duration(time.Hour)
	nd := startNode(t, cfg)
	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	jpn := label.Principal{Nation: "JPN", Clearance: label.Secret}
	now := time.Now().UTC()
	ev := func(uid, typ string, stale time.Time) *cot.Event {
		e := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "h-e", Time: now, Start: now, Stale: stale}
		e.Point.Lat, e.Point.Lon = 35, 139
		return e
	}
	if rej := nd.ingestFrom(usa, ev("chat-1", "b-t-f", now.Add(time.Minute)), 0); rej != nil {
		t.Fatal(rej)
	}
	if rej := nd.ingestFrom(jpn, ev("chat-1", "b-t-f", now.Add(time.Minute)), 0); rej == nil || rej.Reason != reject.NotOwner {
		t.Fatalf("JPN reused USA's live claim: %v", rej)
	}
	if got := nd.picture.ExpireClaims(now.Add(30 * time.Minute)); got != 0 {
		t.Fatalf("%d claims released within the retention", got)
	}
	if got := nd.picture.ExpireClaims(now.Add(2 * time.Hour)); got != 1 {
		t.Fatalf("%d claims released after stale plus retention, want 1", got)
	}
	if n := nd.picture.Claims(); n != 0 {
		t.Fatalf("%d claims left", n)
	}
	if rej := nd.ingestFrom(jpn, ev("chat-1", "b-t-f", now.Add(time.Minute)), 0); rej != nil {
		t.Fatalf("JPN may not use a released uid: %v", rej)
	}
}

// TestFederatedOwnNamespace: a peer can neither write nor delete a uid of
// this node's own namespace (its fused tracks); a peer's own uids pass.
func TestFederatedOwnNamespace(t *testing.T) {
	nd := startNode(t, baseConfig(nil, nil))
	fed := &federation.Provenance{OriginNode: "peer-1", Seq: 1, Path: []string{"peer-1"}, Peer: "peer-1"}
	l := label.Label{Classification: label.Unclassified, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	for _, tc := range []struct {
		uid, typ, link string
		refused        bool
	}{
		{"test-node.ais:1", "a-n-S", "", true},
		{"peer-1.ais:1", "a-n-S", "", false},
		{"x-del", "t-x-d-d", "test-node.ais:2", true},
	} {
		ev := event(tc.uid, tc.typ, "")
		if tc.link != "" {
			ev.Links = []cot.Link{{UID: tc.link, Relation: "p-p"}}
		}
		err := nd.IngestFederated(ev, l, fed)
		if refused := errors.Is(err, ErrReserved); refused != tc.refused {
			t.Errorf("%s %s: %v, want refused %v", tc.uid, tc.typ, err, tc.refused)
		}
	}
}
