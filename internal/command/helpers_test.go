package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// fakeAudit records every audit record in memory.
type fakeAudit struct {
	mu      sync.Mutex
	records []audit.Record
	fail    error
}

func (a *fakeAudit) Append(_ context.Context, r audit.Record) (audit.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return audit.Record{}, a.fail
	}
	r.Seq = uint64(len(a.records) + 1)
	a.records = append(a.records, r)
	return r, nil
}

func (a *fakeAudit) all() []audit.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Record(nil), a.records...)
}

// find returns the records with the given action and object (object ""
// matches any).
func (a *fakeAudit) find(action, object string) []audit.Record {
	var out []audit.Record
	for _, r := range a.all() {
		if r.Action == action && (object == "" || r.Object == object) {
			out = append(out, r)
		}
	}
	return out
}

// fakePub records every injected event, as XML round-tripped through the
// real decoder so that tests see what a TAK client would.
type fakePub struct {
	mu     sync.Mutex
	events []*cot.Event
	fail   error
}

func (p *fakePub) Inject(_ context.Context, ev *cot.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.events = append(p.events, ev)
	return nil
}

func (p *fakePub) all() []*cot.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*cot.Event(nil), p.events...)
}

// to returns the events directed at callsign.
func (p *fakePub) to(callsign string) []*cot.Event {
	var out []*cot.Event
	for _, ev := range p.all() {
		for _, d := range ev.Dests {
			if d.Callsign == callsign {
				out = append(out, ev)
			}
		}
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

type harness struct {
	s     *Service
	audit *fakeAudit
	pub   *fakePub
	clock *clock
	path  string
}

// newHarness starts a service on the demo ORBAT (or orbat when given).
func newHarness(t testing.TB, orbat []byte) *harness {
	t.Helper()
	if orbat == nil {
		orbat = testOrbat(t)
	}
	h := &harness{audit: &fakeAudit{}, pub: &fakePub{}, clock: &clock{t: t0}, path: filepath.Join(t.TempDir(), "command.db")}
	s, err := New(Config{DBPath: h.path, OrbatData: orbat, Nation: "USA", NodeID: "usa-hub", Clock: h.clock.Now, Publisher: h.pub, Audit: h.audit, ExpiryInterval: 20 * time.Millisecond,
		// One node without federation links: every headquarters decides
		// here (nodeHarness builds linked nodes).
		Federated: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() { s.Close() })
	return h
}

// run runs the service loop until the test ends.
func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Principals of the demo ORBAT (plain listeners: no name).
var (
	usa = label.Principal{Nation: "USA", Clearance: label.Secret}
	jpn = label.Principal{Nation: "JPN", Clearance: label.Secret}
	kor = label.Principal{Nation: "KOR", Clearance: label.Secret}
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustGrant(t *testing.T, s *Service, p label.Principal, req GrantRequest) Grant {
	t.Helper()
	g, err := s.Grant(context.Background(), p, req)
	if err != nil {
		t.Fatalf("grant %+v: %v", req, err)
	}
	return g
}

func mustIssue(t *testing.T, s *Service, p label.Principal, req IssueRequest) *Order {
	t.Helper()
	o, err := s.Issue(context.Background(), p, req)
	if err != nil {
		t.Fatalf("issue %+v: %v", req, err)
	}
	return o
}

func wantRule(t *testing.T, err error, rule string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want rule %s, got no error", rule)
	}
	if got := RuleOf(err); got != rule {
		t.Fatalf("want rule %s, got %q (%v)", rule, got, err)
	}
}

func wantRefused(t *testing.T, err error, contains ...string) *AuthorityError {
	t.Helper()
	var ae *AuthorityError
	if !errors.As(err, &ae) {
		t.Fatalf("want an authority refusal, got %v", err)
	}
	for _, c := range contains {
		if !strings.Contains(ae.Decision.Reason, c) {
			t.Errorf("refusal %q does not mention %q", ae.Decision.Reason, c)
		}
	}
	return ae
}

// receipt builds an ATAK-shaped receipt for messageID from a device.
func receipt(t *testing.T, typ, messageID, deviceUID, deviceCallsign string) *cot.Event {
	t.Helper()
	xml := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<event version="2.0" uid="` + messageID + `" type="` + typ + `" how="h-g-i-g-o" time="2026-11-27T09:00:01.000Z" start="2026-11-27T09:00:01.000Z" stale="2026-11-28T09:00:01.000Z">
  <point lat="26.3" lon="127.8" hae="9999999.0" ce="9999999.0" le="9999999.0"/>
  <detail>
    <__chatreceipt parent="RootContactGroup" groupOwner="false" messageId="` + messageID + `" chatroom="USFJ" id="KIZUNA.usfj" senderCallsign="` + deviceCallsign + `">
      <chatgrp uid0="` + deviceUID + `" uid1="KIZUNA.usfj" id="KIZUNA.usfj"/>
    </__chatreceipt>
    <link uid="` + deviceUID + `" type="a-f-G-U-C" relation="p-p"/>
    <marti><dest callsign="USFJ"/></marti>
  </detail>
</event>`
	ev, err := cot.Decode([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// chatReply builds an ATAK-shaped GeoChat reply from a device to a unit.
func chatReply(t *testing.T, deviceUID, deviceCallsign, toUnit, toCallsign, text string) *cot.Event {
	t.Helper()
	mid := newMessageID()
	xml := `<event version="2.0" uid="GeoChat.` + deviceUID + `.` + toCallsign + `.` + mid + `" type="b-t-f" how="h-g-i-g-o" time="2026-11-27T09:00:02.000Z" start="2026-11-27T09:00:02.000Z" stale="2026-11-28T09:00:02.000Z">
  <point lat="26.3" lon="127.8" hae="9999999.0" ce="9999999.0" le="9999999.0"/>
  <detail>
    <__chat parent="RootContactGroup" groupOwner="false" messageId="` + mid + `" chatroom="` + toCallsign + `" id="KIZUNA.` + toUnit + `" senderCallsign="` + deviceCallsign + `">
      <chatgrp uid0="` + deviceUID + `" uid1="KIZUNA.` + toUnit + `" id="KIZUNA.` + toUnit + `"/>
    </__chat>
    <link uid="` + deviceUID + `" type="a-f-G-U-C" relation="p-p"/>
    <remarks source="BAO.F.ATAK.` + deviceUID + `" to="KIZUNA.` + toUnit + `" time="2026-11-27T09:00:02.000Z">` + cot.Escape(text) + `</remarks>
    <marti><dest callsign="` + toCallsign + `"/></marti>
  </detail>
</event>`
	ev, err := cot.Decode([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// testOrbat is the test order of battle (testdata/orbat.json): US, JSDF
// and ROK chains, the standing COCOM grants, USFJ's OPCON and the USA–JPN
// pair policy.
func testOrbat(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "orbat.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshot returns a function that puts the service's grants back as they
// are now, so that one harness serves every case of a rule table (a fresh
// database per case made the tables slow under -race).
func (h *harness) snapshot() func() {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	base := make([]Grant, len(h.s.grants))
	for i, g := range h.s.grants {
		base[i] = *g
	}
	seq := h.s.seq
	return func() {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		h.s.grants = h.s.grants[:0:0]
		h.s.grantIdx = map[string]*Grant{}
		for i := range base {
			g := base[i]
			h.s.grants = append(h.s.grants, &g)
			h.s.grantIdx[g.ID] = &g
		}
		h.s.seq = seq
	}
}
