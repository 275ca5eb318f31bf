package demo

import (
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/sustain"
	"kizuna/internal/taktest"
)

// TestDemoSustainment runs the exercise and follows the sustainment
// storyline end to end: the JPN lot, the transfer received once, the US
// battery's stock falling as it engages the simulated missile, the
// destroyer unavailable, and the three national views: JPN sees the US
// battery's stock through federation, KOR never does (nor its readiness),
// but KOR sees the missile warning.
func TestDemoSustainment(t *testing.T) {
	nodes := startDemo(t, Options{Period: 500 * time.Millisecond, OrderEvery: time.Hour, WarningEvery: time.Second})
	usa, jpn, kor := nodes[0], nodes[1], nodes[2]
	usaP := label.Principal{Nation: "USA", Clearance: label.Secret}
	jpnP := label.Principal{Nation: "JPN", Clearance: label.Secret}
	korP := label.Principal{Nation: "KOR", Clearance: label.Secret}
	deadline := time.Now().Add(40 * time.Second)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		taktest.WaitUntil(t, what, time.Until(deadline), cond)
	}
	s := usa.Sustainment()
	waitFor("the transfer received", func() bool {
		for _, tr := range s.Transfers(usaP) {
			if tr.State == sustain.Received && tr.Export != nil && tr.Receipt != nil {
				return true
			}
		}
		return false
	})
	waitFor("the battery engaging the missile", func() bool {
		st, err := s.Balance(usaP, "PAC-3 MSE", DemoBattery, "USA")
		return err == nil && st.Quantity < 20 && len(s.Engagements(usaP)) > 0
	})
	eng := s.Engagements(usaP)[0]
	if !strings.HasPrefix(eng.Track, "MW-") || eng.Quantity != 2 {
		t.Fatalf("engagement: %+v", eng)
	}
	var bty, ddg *sustain.Readiness
	for _, r := range s.Readiness(usaP) {
		switch r.Unit {
		case DemoBatteryU:
			bty = &r
		case DemoDestroyerU:
			ddg = &r
		}
	}
	if bty == nil || bty.Munitions[0].OnHand >= 20 || bty.Munitions[0].Rate == 0 {
		t.Fatalf("battery readiness: %+v", bty)
	}
	if ddg == nil || ddg.Available != 1 || ddg.Assigned != 2 || len(ddg.InWork) != 1 {
		t.Fatalf("destroyer squadron readiness: %+v", ddg)
	}
	// JPN's node learns the US battery's stock and readiness over
	// federation; KOR's node never does.
	waitFor("US stock on the JPN node", func() bool {
		for _, st := range jpn.Sustainment().Stocks(jpnP, "PAC-3 MSE", DemoBattery) {
			if st.Node == usa.NodeID() && st.Owner == "USA" {
				return true
			}
		}
		return false
	})
	waitFor("US readiness on the JPN node", func() bool {
		for _, r := range jpn.Sustainment().Readiness(jpnP) {
			if r.Unit == DemoBatteryU && r.Node == usa.NodeID() {
				return true
			}
		}
		return false
	})
	waitFor("the missile warning on the KOR node", func() bool {
		for _, m := range kor.Picture().Visible(korP, time.Now()) {
			if m.Event.Type == "a-h-A-W-M-S-S" {
				return true
			}
		}
		return false
	})
	for _, st := range kor.Sustainment().Stocks(korP, "", "") {
		if st.Owner != "KOR" {
			t.Errorf("KOR sees %+v", st)
		}
	}
	for _, r := range kor.Sustainment().Readiness(korP) {
		if r.Nation != "KOR" {
			t.Errorf("KOR sees readiness %+v", r)
		}
	}
	for _, m := range kor.Picture().All() {
		if strings.HasPrefix(m.Event.Type, "y-s-") && m.Label.Originator != "KOR" {
			t.Errorf("KOR node holds %s labelled %+v", m.UID, m.Label)
		}
	}
	for _, st := range s.Stocks(korP, "", "") {
		if st.Owner != "KOR" {
			t.Errorf("KOR asking the USA hub sees %+v", st)
		}
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}
