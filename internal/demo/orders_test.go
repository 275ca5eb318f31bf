package demo

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/command"
	"kizuna/internal/label"
)

type memAudit struct {
	mu sync.Mutex
	rs []audit.Record
}

func (a *memAudit) Append(_ context.Context, r audit.Record) (audit.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rs = append(a.rs, r)
	return r, nil
}

func (a *memAudit) has(action, decision, contains string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.rs {
		if r.Action == action && r.Decision == decision && strings.Contains(r.Object+" "+r.Reason, contains) {
			return true
		}
	}
	return false
}

// TestOrdersScript plays the demonstration exercise on the demo order of
// battle with simulated devices and checks that it tells the alliance
// right: no demo grant contradicts the pair policies, the US→JPN grant is
// refused, the US request for missile-defence support comes back approved
// with a Japanese order linked to it, the FRAGORD changes the executing
// OPORD, the CFC tasks ROK forces, the SITREP answers the report request,
// and JJOC's order to US Marines is refused; every decision is audited.
func TestOrdersScript(t *testing.T) {
	a := &memAudit{}
	svc, err := command.New(command.Config{DBPath: filepath.Join(t.TempDir(), "c.db"), OrbatData: Orbat(), Nation: "USA", Audit: a})
	if err != nil {
		t.Fatal(err) // a demo grant against the rules would fail here
	}
	t.Cleanup(func() { svc.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	go func() {
		defer wg.Done()
		RunOrders(ctx, svc, OrdersConfig{Every: 30 * time.Millisecond, Simulate: true, AnswerAfter: 5 * time.Millisecond})
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	jpn := label.Principal{Nation: "JPN", Clearance: label.Secret}
	kor := label.Principal{Nation: "KOR", Clearance: label.Secret}
	find := func(p label.Principal, f func(o *command.Order) bool) *command.Order {
		for _, o := range svc.Orders(p, command.OrderFilter{}) {
			if f(o) {
				return o
			}
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req := find(usa, func(o *command.Order) bool { return o.Via == "acm" && o.Outcome == command.Approved })
		national := find(jpn, func(o *command.Order) bool { return req != nil && o.Request == req.ID })
		frag := find(usa, func(o *command.Order) bool { return o.Family == command.FRAGORD })
		cfc := find(kor, func(o *command.Order) bool { return o.IssuerUnit == "cfc" && o.State == command.Complete })
		sitrep := find(kor, func(o *command.Order) bool { return len(o.Reports) > 0 })
		if req != nil && national != nil && frag != nil && cfc != nil && sitrep != nil &&
			a.has("grant.create", "deny", "nation-pair-policy") && a.has("order.authority", "deny", "jjoc→31meu") {
			if national.IssuerUnit != "jjoc" || national.Recipient != "adc" || strings.Join(national.Label.ReleasableTo, " ") != "JPN" {
				t.Fatalf("national order %+v", national)
			}
			if _, err := svc.Order(usa, national.ID); err == nil {
				t.Fatal("the US sees the Japanese national order")
			}
			base, err := svc.Order(usa, frag.Changes)
			if err != nil || base.Family != command.OPORD {
				t.Fatalf("FRAGORD changes %q: %v", frag.Changes, err)
			}
			if !a.has("order.transition", "allow", "→EXECUTING") {
				t.Fatal("no order went to EXECUTING")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo incomplete: request %v national %v fragord %v cfc %v sitrep %v", req != nil, national != nil, frag != nil, cfc != nil, sitrep != nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoOrbat: the demo order of battle has the headquarters the
// storyline needs, and every unit is visible to every allied nation.
func TestDemoOrbat(t *testing.T) {
	o, err := command.ParseOrbat(strings.NewReader(string(Orbat())))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, u := range o.Units {
		kinds[u.ID] = u.Kind
	}
	for _, id := range []string{"indopacom", "pacflt", "pacaf", "marforpac", "usarpac", "usfj", "usarj", "cnfj", "marforj", "usfk",
		"mod", "jso", "jjoc", "western-army", "15bde", "adc", "rok-jcs"} {
		if k, ok := kinds[id]; !ok || k != command.UnitForce {
			t.Errorf("demo ORBAT lacks the force %s", id)
		}
	}
	for id, want := range map[string]string{"cfc": command.UnitCombined, "acm": command.UnitCoordination, "tri-cell": command.UnitCoordination, "unc-rear": command.UnitCoordination} {
		if kinds[id] != want {
			t.Errorf("%s is %q, want %q", id, kinds[id], want)
		}
	}
	if len(o.Policies) != 2 {
		t.Errorf("policies %+v", o.Policies)
	}
}
