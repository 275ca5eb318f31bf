package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/label"
)

// TestObjectFacts: the event facts the map relies on (missile track,
// flash) come from the server's one rule in package cot.
func TestObjectFacts(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		typ, detail  string
		missile, fls bool
	}{
		{"a-h-A-W-M-S-S", "", true, true},
		{"a-u-A-W-M", "", true, true},
		{"b-d-l", "", false, true},
		{"a-f-G-U-C", "", false, false},
		{"a-f-G-U-C", `<emergency type="911 Alert">x</emergency>`, false, true},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			ev := &cot.Event{UID: "u", Type: tc.typ, How: "m-g", Time: now, Start: now, Stale: now.Add(time.Minute)}
			if tc.detail != "" {
				ev.HasDetail, ev.Detail = true, []byte(tc.detail)
			}
			m := hub.NewMessage(ev, label.Label{Classification: label.Unclassified, Originator: "USA"}, 0, nil)
			b, err := json.Marshal(ObjectOf(m))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(b), `"missile":`); got != tc.missile {
				t.Errorf("missile present = %v, want %v: %s", got, tc.missile, b)
			}
			if got := strings.Contains(string(b), `"flash":true`); got != tc.fls {
				t.Errorf("flash = %v, want %v: %s", got, tc.fls, b)
			}
		})
	}
}
