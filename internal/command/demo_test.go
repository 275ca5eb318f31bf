package command

import (
	"context"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestRunDemo plays the demo script with simulated devices: orders flow,
// are delivered, acknowledged and answered, and the one without authority
// is refused.
func TestRunDemo(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.s.RunDemo(ctx, DemoConfig{Every: 5 * time.Millisecond, Simulate: true, AnswerAfter: time.Millisecond})
	}()
	steps := len(DemoScript())
	eventually(t, "every demo order answered", func() bool {
		var wilco, cantco int
		for _, p := range []string{"USA", "JPN", "KOR"} {
			for _, o := range h.s.Orders(principalOf(p), OrderFilter{}) {
				if o.IssuerUnit != "" && o.Label.Originator == p {
					switch o.State {
					case Wilco, Executing, Complete:
						wilco++
					case Cantco:
						cantco++
					}
				}
			}
		}
		return wilco >= steps-2 && cantco >= 1 && len(h.s.Orders(usa, OrderFilter{State: Complete})) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range h.audit.find("order.authority", "MOVEMENT jjoc→31meu") {
		if r.Decision == "deny" {
			refused++
		}
	}
	if len(h.s.Orders(usa, OrderFilter{State: Complete})) == 0 {
		t.Error("no demo order reached COMPLETE")
	}
	if refused == 0 {
		t.Fatal("the refused demo order was not audited")
	}
	// Receipts arrived for every delivery of an answered order.
	for _, o := range h.s.Orders(usa, OrderFilter{State: Complete}) {
		for _, d := range o.Deliveries {
			if d.DeliveredAt.IsZero() || d.ReadAt.IsZero() {
				t.Fatalf("order %s delivery %+v lacks receipts", o.ID, d)
			}
		}
	}
}

func principalOf(n string) label.Principal {
	return label.Principal{Nation: n, Clearance: usa.Clearance}
}
