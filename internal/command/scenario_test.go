package command

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestScenario runs the six steps of the chain-of-command scenario with a
// fake publisher and an injectable clock.
func TestScenario(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	s := h.s
	ctx := context.Background()

	// 1. INDOPACOM holds COCOM of US forces in Japan.
	ans, err := s.Authority(ctx, usa, "31meu", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Holders) == 0 || ans.Holders[0].Holder != "indopacom" || ans.Holders[0].Kind != COCOM {
		t.Fatalf("step 1: want INDOPACOM holding COCOM of 31meu, got %+v", ans.Holders)
	}
	if c := ans.Holders[0].Chain; len(c) != 1 || c[0].Grantor != "" || c[0].ID != "cocom-usa" {
		t.Fatalf("step 1: COCOM chain %+v", c)
	}
	for _, hd := range ans.Holders {
		if hd.Holder == "usfj" || hd.Holder == "cfc-gcc" {
			t.Fatalf("step 1: %s already holds %s over 31meu", hd.Holder, hd.Kind)
		}
	}

	// 2. INDOPACOM grants USFJ OPCON of 31st MEU for a window; USFJ's task
	// order is allowed and reaches the MEU's TAK devices.
	opcon := mustGrant(t, s, usa, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "2h", Reason: "USFJ JFHQ exercise window"})
	task := IssueRequest{As: "usfj", Recipient: "31meu", Type: "TASK", Text: "Secure the landing beach at Kin Blue", DeadlineIn: "6h",
		Location: &Location{Name: "Kin Blue", Point: &LatLon{Lat: 26.4518, Lon: 127.9221}}}
	o1 := mustIssue(t, s, usa, task)
	if o1.State != Issued || !o1.Authority.Allowed || o1.Authority.Holds != OPCON {
		t.Fatalf("step 2: order %+v", o1)
	}
	if len(o1.Authority.Chain) != 2 || o1.Authority.Chain[0].ID != "cocom-usa" || o1.Authority.Chain[1].ID != opcon.ID {
		t.Fatalf("step 2: chain %+v", o1.Authority.Chain)
	}
	for _, cs := range []string{"31MEU-1", "31MEU-2"} {
		evs := h.pub.to(cs)
		if len(evs) != 1 || evs[0].Type != "b-t-f" {
			t.Fatalf("step 2: %s got %d events", cs, len(evs))
		}
		if !strings.Contains(string(evs[0].Detail), o1.ID) || !strings.Contains(string(evs[0].Detail), "Kin Blue") {
			t.Fatalf("step 2: GeoChat to %s does not carry the order: %s", cs, evs[0].Detail)
		}
	}
	// The machine receipt from one device moves it to DELIVERED.
	h.s.ObserveFrom(receipt(t, "b-t-f-d", o1.Deliveries[0].MessageID, "ANDROID-31MEU-1", "31MEU-1"), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "DELIVERED", func() bool { o, _ := s.Order(usa, o1.ID); return o.State == Delivered })

	// 3. After the window ends, the same order is refused, with the reason.
	h.clock.Advance(2*time.Hour + time.Minute)
	_, err = s.Issue(ctx, usa, task)
	wantRefused(t, err, "OPCON", opcon.ID, "ended at")

	// 4. CFC-GCC cannot order the MEU until USFJ grants it TACON; then its
	// movement order is allowed and its task order refused.
	move := IssueRequest{As: "cfc-gcc", Recipient: "31meu", Type: "MOVEMENT", Text: "Move to assembly area Camp Hansen", DeadlineIn: "3h",
		Location: &Location{Route: []LatLon{{Lat: 26.40, Lon: 127.80}, {Lat: 26.46, Lon: 127.88}}}}
	_, err = s.Issue(ctx, kor, move)
	wantRefused(t, err, "cfc-gcc holds no COCOM, OPCON or TACON over 31meu")
	mustGrant(t, s, usa, GrantRequest{Kind: OPCON, Grantor: "indopacom", Grantee: "usfj", Unit: "31meu", Duration: "4h", Reason: "second window"})
	tacon := mustGrant(t, s, usa, GrantRequest{Kind: TACON, Grantor: "usfj", Grantee: "cfc-gcc", Unit: "31meu", Decision: &NationalDecision{Authority: "Secretary of Defense (exercise)", Reference: "EXORD-TEST-02", Caveats: Caveats{Mission: "combined manoeuvre", NoRetransfer: true}}, Duration: "2h", Reason: "bilateral manoeuvre"})
	o2 := mustIssue(t, s, kor, move)
	if o2.Authority.Holds != TACON || !slices.Equal(o2.Label.ReleasableTo, []string{"KOR", "USA"}) || o2.Label.Originator != "KOR" {
		t.Fatalf("step 4: order %+v", o2)
	}
	for _, ev := range h.pub.to("31MEU-1") {
		if strings.Contains(string(ev.Detail), o2.ID) && ev.ReleasableTo != "KOR USA" {
			t.Fatalf("step 4: GeoChat labelled %q", ev.ReleasableTo)
		}
	}
	_, err = s.Issue(ctx, kor, IssueRequest{As: "cfc-gcc", Recipient: "31meu", Type: "TASK", Text: "Seize Ie Shima airfield", DeadlineIn: "3h"})
	wantRefused(t, err, "needs COCOM or OPCON", "TACON from usfj is held but is not enough")

	// 5. The US revokes the TACON: CFC-GCC's next order is refused, and the
	// order already issued cannot be acknowledged as WILCO.
	h.clock.Advance(time.Minute)
	if _, err := s.Revoke(ctx, usa, "usfj", false, tacon.ID, "bilateral phase over"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Issue(ctx, kor, move)
	wantRefused(t, err, "revoked")
	s.ObserveFrom(chatReply(t, "ANDROID-31MEU-1", "31MEU-1", "cfc-gcc", "CFC-GCC", "WILCO "+o2.ID), usa, Sender{UID: "ANDROID-31MEU-1", Callsign: "31MEU-1"})
	eventually(t, "refused WILCO in history", func() bool {
		o, _ := s.Order(usa, o2.ID)
		last := o.History[len(o.History)-1]
		return last.Refused && last.To == Wilco
	})
	if o, _ := s.Order(usa, o2.ID); o.State != Issued {
		t.Fatalf("step 5: order moved to %s after a refused WILCO", o.State)
	}
	_, err = s.Respond(ctx, usa, "31meu", o2.ID, Wilco, "")
	wantRefused(t, err, "revoked")
	// The device is told why.
	eventually(t, "refusal message to the device", func() bool {
		for _, ev := range h.pub.to("31MEU-1") {
			if strings.Contains(string(ev.Detail), "WILCO "+o2.ID+" not accepted") {
				return true
			}
		}
		return false
	})

	// 6. ADCON across nations is refused; a JPN principal never sees a
	// USA–KOR order in any list or stream.
	_, err = s.Grant(ctx, usa, GrantRequest{Kind: ADCON, Grantor: "indopacom", Grantee: "cfc-gcc", Unit: "31meu", Reason: "try"})
	wantRule(t, err, RuleADCONCrossNation)
	stream, cancel := s.Subscribe(jpn)
	defer cancel()
	usaStream, cancelUSA := s.Subscribe(usa)
	defer cancelUSA()
	mustGrant(t, s, usa, GrantRequest{Kind: TACON, Grantor: "usfj", Grantee: "cfc-gcc", Unit: "31meu", Decision: &NationalDecision{Authority: "Secretary of Defense (exercise)", Reference: "EXORD-TEST-02", Caveats: Caveats{Mission: "combined manoeuvre", NoRetransfer: true}}, Duration: "1h", Reason: "again"})
	o3 := mustIssue(t, s, kor, move)
	if _, err := s.Cancel(ctx, kor, "cfc-gcc", o3.ID, "superseded"); err != nil {
		t.Fatal(err)
	}
	// A JPN-releasable order after it: when the JPN stream sees that, it
	// would have seen the earlier ones already.
	mustGrant(t, s, jpn, GrantRequest{Kind: TACON, Grantor: "jjoc", Grantee: "adc", Unit: "escort-force", Duration: "1h", Reason: "exercise"})
	o4 := mustIssue(t, s, jpn, IssueRequest{As: "adc", Recipient: "escort-force", Type: "MOVEMENT", Text: "Sortie", DeadlineIn: "1h"})
	select {
	case o, ok := <-stream:
		if !ok {
			t.Fatal("JPN stream closed")
		}
		if o.ID != o4.ID {
			t.Fatalf("step 6: JPN stream got order %s labelled %s", o.ID, o.Label.Marking())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("JPN stream saw nothing")
	}
	for _, o := range s.Orders(jpn, OrderFilter{}) {
		if o.ID != o4.ID {
			t.Fatalf("step 6: JPN list shows %s (%s)", o.ID, o.Label.Marking())
		}
	}
	for _, id := range []string{o1.ID, o2.ID, o3.ID} {
		if _, err := s.Order(jpn, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("step 6: JPN can show %s: %v", id, err)
		}
	}
	// The US stream did see the USA–KOR order.
	select {
	case o := <-usaStream:
		if o.ID != o3.ID {
			t.Fatalf("USA stream: first %s, want %s", o.ID, o3.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("USA stream saw nothing")
	}
	if !label.Releasable(kor, o3.Label) || label.Releasable(jpn, o3.Label) {
		t.Fatalf("label %+v", o3.Label)
	}
}
