package demo

import (
	"context"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/taktest"
)

// TestDemoViews runs the exercise and checks that the three national views
// differ exactly as the labels say: every node shows only what is released
// to its nation, the JPN-detected missile warning reaches KOR through the
// USA hub, and JPN–USA-only units never reach KOR.
func TestDemoViews(t *testing.T) {
	nodes := startDemo(t, Options{Period: 200 * time.Millisecond, OrderEvery: time.Second, WarningEvery: time.Second})
	nations := []string{"USA", "JPN", "KOR"}
	units := Units()
	deadline := time.Now().Add(20 * time.Second)
	for i, nd := range nodes {
		p := label.Principal{Nation: nations[i], Clearance: label.Secret}
		// Wait for the warning and every unit releasable to this nation.
		for {
			seen := map[string]bool{}
			for _, m := range nd.Picture().Visible(p, time.Now()) {
				seen[m.UID] = true
				if !label.Releasable(p, m.Label) {
					t.Fatalf("%s view holds %s labelled %+v", nations[i], m.UID, m.Label)
				}
			}
			complete := seen["MW-001"] || seen["MW-002"]
			for _, u := range units {
				want := u.Nation == nations[i] || contains(u.Label.ReleasableTo, nations[i])
				if want && !seen[u.UID] {
					complete = false
				}
				if !want && seen[u.UID] {
					t.Fatalf("%s view shows %s, labelled %+v", nations[i], u.UID, u.Label)
				}
			}
			if complete {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s view incomplete: %v", nations[i], seen)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Fused sensor tracks reach every view, built only from sensors
	// released to that nation.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		taktest.WaitUntil(t, what, time.Until(deadline.Add(20*time.Second)), cond)
	}
	for i, nd := range nodes {
		p := label.Principal{Nation: nations[i], Clearance: label.Secret}
		waitFor(nations[i]+" fused tracks", func() bool {
			for _, m := range nd.Picture().Visible(p, time.Now()) {
				if m.Event.How == "m-f" {
					return true
				}
			}
			return false
		})
	}
	// The KOR node never holds JPN–USA-only traffic at all.
	for _, m := range nodes[2].Picture().All() {
		if !contains(m.Label.ReleasableTo, "KOR") && m.Label.Originator != "KOR" {
			t.Errorf("KOR node holds %s labelled %+v", m.UID, m.Label)
		}
	}
	// The cyber storyline: JPN's sighting of an intrusion attempt on the
	// ARDB base network, released to USA, marks the unit on the JPN and
	// USA views and never on KOR's.
	for i, nd := range nodes[:2] {
		p := label.Principal{Nation: nations[i], Clearance: label.Secret}
		waitFor(nations[i]+" cyber effect on "+CyberUnit, func() bool {
			for _, e := range nd.CyberEffects().For(p) {
				if e.UID == CyberUnit {
					return true
				}
			}
			return false
		})
	}
	if effs := nodes[2].CyberEffects().For(label.Principal{Nation: "KOR", Clearance: label.TopSecret}); len(effs) != 0 {
		t.Errorf("KOR view shows cyber effects %+v", effs)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startDemo runs the exercise with o (its data directory, ports and Ready
// hook filled in) until the test ends, and returns the USA, JPN and KOR
// nodes once they are up.
func startDemo(t *testing.T, o Options) [3]*node.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [3]*node.Node, 1)
	done := make(chan error, 1)
	o.DataDir, o.AnyPort = t.TempDir(), true
	o.Ready = func(usa, jpn, kor *node.Node) { ready <- [3]*node.Node{usa, jpn, kor} }
	go func() { done <- Run(ctx, o) }()
	var nodes [3]*node.Node
	select {
	case nodes = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("demo ended: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("demo did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	return nodes
}
