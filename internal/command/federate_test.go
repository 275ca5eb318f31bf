package command

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// nodeHarness is a harness for a node of a given nation and id.
func nodeHarness(t *testing.T, nation, id string, c *clock) *harness {
	t.Helper()
	h := &harness{audit: &fakeAudit{}, pub: &fakePub{}, clock: c, path: filepath.Join(t.TempDir(), "command.db")}
	s, err := New(Config{DBPath: h.path, OrbatData: testOrbat(t), Nation: nation, NodeID: id, Clock: c.Now, Publisher: h.pub, Audit: h.audit})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() { s.Close() })
	return h
}

// link carries the federated command events one node published since the
// last call to another node, as the federation would: only events whose
// label releases them to the receiving nation, with the label and the
// origin node verified (here: taken from the sender).
type link struct {
	from, to *harness
	origin   string
	nation   string
	sent     int
}

func (l *link) pump(t *testing.T) (delivered int, errs []error) {
	t.Helper()
	evs := l.from.pub.all()
	for _, ev := range evs[l.sent:] {
		if ev.Type != FedType {
			continue
		}
		lb, _, err := ev.ParseLabel()
		if err != nil {
			t.Fatal(err)
		}
		if !label.Releasable(label.Principal{Nation: l.nation, Clearance: label.Secret}, lb) {
			continue // withheld by the link's egress policy
		}
		delivered++
		if err := l.to.s.Remote(context.Background(), ev, lb, l.origin); err != nil {
			errs = append(errs, err)
		}
	}
	l.sent = len(evs)
	return delivered, errs
}

// TestRequestAcrossNodes: a US request for JSDF support made on the US
// node reaches the Japanese node, is decided there by JJOC, and the
// outcome comes back; the Japanese order comes back only when released.
// A denial and a cancellation travel the same way.
func TestRequestAcrossNodes(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	us := nodeHarness(t, "USA", "usa-hub", c)
	jp := nodeHarness(t, "JPN", "jpn-node", c)
	toJP := &link{from: us, to: jp, origin: "usa-hub", nation: "JPN"}
	toUS := &link{from: jp, to: us, origin: "jpn-node", nation: "USA"}
	pump := func() {
		t.Helper()
		for _, l := range []*link{toJP, toUS} {
			if _, errs := l.pump(t); len(errs) > 0 {
				t.Fatalf("federated messages refused: %v", errs)
			}
		}
	}

	// Approved with a national order Japan keeps to itself.
	req := mustIssue(t, us.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h",
		Text: "Request Patriot coverage of Kadena for the missile defence of Japan"})
	pump()
	rep, err := jp.s.Order(jpn, req.ID)
	if err != nil || rep.Origin != "usa-hub" || rep.Recipient != "jjoc" || rep.Via != "acm" || rep.Wanted != "adc" || rep.State != Issued {
		t.Fatalf("replica on the JPN node: %v %+v", err, rep)
	}
	// Only the deciding headquarters' principal decides.
	if _, _, err := jp.s.Decide(ctx, usa, req.ID, DecideRequest{As: "jjoc", Outcome: Denied, Reason: "x"}); !errors.Is(err, ErrNoPosition) {
		t.Fatalf("a US principal decided on the JPN node: %v", err)
	}
	// A JPN principal on the US node does not decide there: the request
	// was sent to the JPN node, where the decision is made.
	var re *RuleError
	if _, _, err := us.s.Decide(ctx, jpn, req.ID, DecideRequest{As: "jjoc", Outcome: Denied, Reason: "x"}); !errors.As(err, &re) || re.Rule != RuleDecide {
		t.Fatalf("a decision on the requester's node: %v", err)
	}
	_, national, err := jp.s.Decide(ctx, jpn, req.ID, DecideRequest{As: "jjoc", Outcome: Approved, Reason: "Kadena covered",
		Order: &IssueRequest{Recipient: "adc", Text: "Deploy PAC-3 fire units to cover Kadena", DeadlineIn: "2h"}})
	if err != nil {
		t.Fatal(err)
	}
	pump()
	got, _ := us.s.Order(usa, req.ID)
	if got.State != Wilco || got.Outcome != Approved || got.Answer != "" {
		t.Fatalf("requester's request after the decision: %+v", got)
	}
	if _, err := us.s.Order(usa, national.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the unreleased JPN order reached the US node: %v", err)
	}
	// The national order is carried out; the request completes on both.
	for _, st := range []State{Wilco, Complete} {
		if _, err := jp.s.Respond(ctx, jpn, "adc", national.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	pump()
	if got, _ := us.s.Order(usa, req.ID); got.State != Complete {
		t.Fatalf("request after the national order completed: %+v", got)
	}

	// Approved with a national order released to the USA.
	req2 := mustIssue(t, us.s, usa, IssueRequest{As: "usfj", Recipient: "escort-force", Type: "SUPPORT_REQUEST", DeadlineIn: "2h", Text: "Escort TF 76 through the Nansei islands"})
	pump()
	_, n2, err := jp.s.Decide(ctx, jpn, req2.ID, DecideRequest{As: "jjoc", Outcome: PartlyApproved, Reason: "one escort division only",
		Order: &IssueRequest{Recipient: "escort-force", Text: "Escort Division 1 escorts TF 76", DeadlineIn: "2h", ReleasableTo: []string{"JPN", "USA"}}})
	if err != nil {
		t.Fatal(err)
	}
	pump()
	got, _ = us.s.Order(usa, req2.ID)
	if got.State != Wilco || got.Outcome != PartlyApproved || got.Answer != n2.ID {
		t.Fatalf("request after a partial approval: %+v", got)
	}
	rel, err := us.s.Order(usa, n2.ID)
	if err != nil || rel.Origin != "jpn-node" || rel.Request != req2.ID || rel.IssuerUnit != "jjoc" || !slices.Equal(rel.Label.ReleasableTo, []string{"JPN", "USA"}) {
		t.Fatalf("released national order on the US node: %v %+v", err, rel)
	}

	// Denied.
	req3 := mustIssue(t, us.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h", Text: "Cover Sasebo"})
	pump()
	if _, _, err := jp.s.Decide(ctx, jpn, req3.ID, DecideRequest{As: "jjoc", Outcome: Denied, Reason: "fire units committed"}); err != nil {
		t.Fatal(err)
	}
	pump()
	if got, _ := us.s.Order(usa, req3.ID); got.State != Cantco || got.Outcome != Denied {
		t.Fatalf("request after the denial: %+v", got)
	}

	// Cancelled by the requester before a decision.
	req4 := mustIssue(t, us.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h", Text: "Cover Iwakuni"})
	pump()
	if _, err := us.s.Cancel(ctx, usa, "usfj", req4.ID, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	pump()
	if got, _ := jp.s.Order(jpn, req4.ID); got.State != Cancelled {
		t.Fatalf("replica after the cancellation: %+v", got)
	}
	if r := jp.audit.find("request.receive", req.ID); len(r) != 1 {
		t.Fatalf("receipt of the request not audited: %+v", r)
	}
}

// TestForgedFederatedMessages: a node speaks only for its own nation's
// units. The JPN node cannot make a request in USFJ's name, the USA node
// cannot answer for JJOC, a request for another nation's headquarters is
// not stored, and an unreleased national order is refused.
func TestForgedFederatedMessages(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	us := nodeHarness(t, "USA", "usa-hub", c)
	jp := nodeHarness(t, "JPN", "jpn-node", c)
	req := mustIssue(t, us.s, usa, IssueRequest{As: "usfj", Recipient: "adc", Type: "SUPPORT_REQUEST", DeadlineIn: "2h", Text: "Cover Kadena"})
	var reqEv *cot.Event
	for _, ev := range us.pub.all() {
		if ev.Type == FedType {
			reqEv = ev
		}
	}
	if reqEv == nil {
		t.Fatal("the request was not federated")
	}
	lb, _, _ := reqEv.ParseLabel()
	rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}}

	// The same request signed by a KOR node: not KOR's to make.
	forged := lb
	forged.Originator = "KOR"
	err := jp.s.Remote(ctx, reqEv, forged, "kor-node")
	if !errors.Is(err, ErrRemote) {
		t.Fatalf("request in USFJ's name from a KOR node: %v", err)
	}
	if _, err := jp.s.Order(jpn, req.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal("forged request stored")
	}
	// A label not releasable to Japan.
	usOnly := lb
	usOnly.ReleasableTo = []string{"USA"}
	if err := jp.s.Remote(ctx, reqEv, usOnly, "usa-hub"); !errors.Is(err, ErrRemote) {
		t.Fatalf("request under a USA-only label: %v", err)
	}
	// The genuine one is stored.
	if err := jp.s.Remote(ctx, reqEv, lb, "usa-hub"); err != nil {
		t.Fatal(err)
	}
	// The US node answering its own request for JJOC: refused.
	us2 := nodeHarness(t, "USA", "usa-2", c)
	send := func(h *harness, m fedMsg, l label.Label) *cot.Event {
		t.Helper()
		n := len(h.pub.all())
		h.s.sendFed(ctx, m, l)
		evs := h.pub.all()
		if len(evs) != n+1 {
			t.Fatal("nothing sent")
		}
		return evs[n]
	}
	ev := send(us2, fedMsg{Op: fedUpdate, Update: &fedChange{ID: req.ID, To: Wilco, Outcome: Approved, Unit: "jjoc"}}, rel)
	l2, _, _ := ev.ParseLabel()
	if err := us.s.Remote(ctx, ev, l2, "usa-2"); !errors.Is(err, ErrRemote) {
		t.Fatalf("a US node answered for JJOC: %v", err)
	}
	if got, _ := us.s.Order(usa, req.ID); got.State != Issued || got.Outcome != "" {
		t.Fatalf("request moved by a forged answer: %+v", got)
	}
	// A JPN node cancelling the US request: not its to cancel.
	jp2 := nodeHarness(t, "JPN", "jpn-2", c)
	ev = send(jp2, fedMsg{Op: fedUpdate, Update: &fedChange{ID: req.ID, To: Cancelled}}, rel)
	l3, _, _ := ev.ParseLabel()
	if err := jp.s.Remote(ctx, ev, l3, "jpn-2"); !errors.Is(err, ErrRemote) {
		t.Fatalf("a JPN node cancelled USFJ's request: %v", err)
	}
	// An approval with an outcome that does not match its state.
	ev = send(jp2, fedMsg{Op: fedUpdate, Update: &fedChange{ID: req.ID, To: Wilco, Outcome: Denied}}, rel)
	l4, _, _ := ev.ParseLabel()
	if err := us.s.Remote(ctx, ev, l4, "jpn-2"); !errors.Is(err, ErrRemote) {
		t.Fatalf("WILCO with DENIED: %v", err)
	}
	// A national order under a JPN-only label is refused by the US node
	// even if it arrives.
	ord := &Order{ID: newID("O"), Type: Task, IssuerUnit: "jjoc", Recipient: "adc", Text: "x", Request: req.ID, Deadline: t0.Add(time.Hour)}
	ev = send(jp2, fedMsg{Op: fedOrder, Order: ord}, label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}})
	l5, _, _ := ev.ParseLabel()
	if err := us.s.Remote(ctx, ev, l5, "jpn-2"); !errors.Is(err, ErrRemote) {
		t.Fatalf("unreleased national order: %v", err)
	}
	// A "national order" of US forces sent by the JPN node: refused.
	ord2 := &Order{ID: newID("O"), Type: Task, IssuerUnit: "usfj", Recipient: "12mlr", Text: "x", Request: req.ID, Deadline: t0.Add(time.Hour)}
	ev = send(jp2, fedMsg{Op: fedOrder, Order: ord2}, rel)
	l6, _, _ := ev.ParseLabel()
	if err := us.s.Remote(ctx, ev, l6, "jpn-2"); !errors.Is(err, ErrRemote) {
		t.Fatalf("JPN node sent a US order: %v", err)
	}
	if d := us.audit.find("command.federated", ""); len(d) < 4 {
		t.Fatalf("refusals not audited: %+v", d)
	}
}

// FuzzParseFed: the federated message parser never panics and accepts
// only well-formed messages.
func FuzzParseFed(f *testing.F) {
	f.Add([]byte(`<kizunaCommand>{"op":"update","node":"n","update":{"id":"O123456","to":"WILCO","outcome":"APPROVED"}}</kizunaCommand>`))
	f.Add([]byte(`<kizunaCommand>{"op":"request","node":"n","order":{"id":"O123456","type":"SUPPORT_REQUEST","text":"x"}}</kizunaCommand>`))
	f.Add([]byte(`<kizunaCommand>&lt;</kizunaCommand>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseFed(b)
		if err == nil && m.Node == "" {
			t.Fatal("accepted a message without a node")
		}
	})
}
