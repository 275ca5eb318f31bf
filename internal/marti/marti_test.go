package marti

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/files"
	"kizuna/internal/label"
)

func TestFindProfile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"JPN-commander.zip", "JPN.zip", "role-operator.zip", "default.zip"} {
		os.MkdirAll(filepath.Join(dir, ProfileConnection), 0o700)
		os.WriteFile(filepath.Join(dir, ProfileConnection, n), []byte(n), 0o600)
	}
	tests := []struct {
		p    label.Principal
		kind string
		want string
	}{
		{label.Principal{Nation: "JPN", Clearance: label.Secret, Role: "commander"}, ProfileConnection, "JPN-commander.zip"},
		{label.Principal{Nation: "JPN", Clearance: label.Secret}, ProfileConnection, "JPN.zip"},
		{label.Principal{Nation: "KOR", Clearance: label.Secret, Role: "operator"}, ProfileConnection, "role-operator.zip"},
		{label.Principal{Nation: "KOR", Clearance: label.Secret, Role: "../x"}, ProfileConnection, "default.zip"},
		{label.Principal{Nation: "KOR", Clearance: label.Secret}, ProfileEnrollment, ""},
		{label.Principal{Nation: "KOR", Clearance: label.Secret}, "../connection", ""},
	}
	for _, tc := range tests {
		t.Run(tc.p.String()+"/"+tc.kind, func(t *testing.T) {
			got := FindProfile(dir, tc.kind, tc.p)
			if filepath.Base(got) != tc.want && !(got == "" && tc.want == "") {
				t.Errorf("FindProfile = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientsVisible(t *testing.T) {
	c := NewClients(2)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	mk := func(uid, call, access, rel, nation string) *cot.Event {
		ev := &cot.Event{UID: uid, Type: "a-f-G-U-C", Callsign: call, Access: access, ReleasableTo: rel, Stale: now.Add(time.Minute),
			Detail: []byte(`<contact callsign="` + call + `" endpoint="*:-1:stcp"/>`)}
		ev.Origin.Nation = nation
		return ev
	}
	c.Observe(mk("j", "SAKURA", "SECRET", "JPN", "JPN"), label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "s"})
	now = now.Add(time.Second)
	c.Observe(mk("k", "TIGER", "SECRET", "KOR JPN", "KOR"), label.Principal{Nation: "KOR", Clearance: label.Secret})
	now = now.Add(time.Second)
	c.Observe(&cot.Event{UID: "chat", Type: "b-t-f", Callsign: "X"}, label.Principal{})
	// A marker a client placed is not a client.
	marker := mk("marker", "HOSTILE-1", "SECRET", "JPN", "JPN")
	marker.Type, marker.Detail = "a-h-G", []byte(`<contact callsign="HOSTILE-1"/>`)
	c.Observe(marker, label.Principal{Nation: "JPN", Clearance: label.Secret})
	jpn := c.Visible(label.Principal{Nation: "JPN", Clearance: label.Secret}, 0)
	if len(jpn) != 2 || jpn[0].Callsign != "TIGER" || jpn[1].Username != "s" {
		t.Errorf("JPN sees %+v", jpn)
	}
	kor := c.Visible(label.Principal{Nation: "KOR", Clearance: label.Secret}, 0)
	if len(kor) != 1 || kor[0].Callsign != "TIGER" {
		t.Errorf("KOR sees %+v", kor)
	}
	if low := c.Visible(label.Principal{Nation: "JPN", Clearance: label.Unclassified}, 0); len(low) != 0 {
		t.Errorf("UNCLASSIFIED sees %+v", low)
	}
	// The bound forgets the least recently seen.
	c.Observe(mk("u", "EAGLE", "U", "JPN", "USA"), label.Principal{Nation: "USA", Clearance: label.Secret})
	if got := c.Visible(label.Principal{Nation: "JPN", Clearance: label.Secret}, 0); len(got) != 2 || got[1].Callsign != "TIGER" {
		t.Errorf("after eviction %+v", got)
	}
	now = now.Add(2 * time.Minute)
	if got := c.Visible(label.Principal{Nation: "JPN", Clearance: label.Secret}, 0); got[0].LastStatus != "Disconnected" {
		t.Errorf("stale client %+v", got[0])
	}
	if got := c.Visible(label.Principal{Nation: "JPN", Clearance: label.Secret}, time.Minute); len(got) != 0 {
		t.Errorf("secAgo filter %+v", got)
	}
	// A delete (t-x-d-d) of a client's uid forgets it.
	c.Observe(&cot.Event{UID: "del", Type: "t-x-d-d", Links: []cot.Link{{UID: "k"}}}, label.Principal{Nation: "KOR", Clearance: label.Secret})
	if got := c.Visible(label.Principal{Nation: "KOR", Clearance: label.Secret}, 0); len(got) != 0 {
		t.Errorf("after delete %+v", got)
	}
}

func FuzzRequestedLabel(f *testing.F) {
	f.Add("Secret", "KOR")
	f.Add("Undefined", "")
	f.Add("", "JPN")
	f.Add("NATO Secret", "")
	f.Fuzz(func(t *testing.T, access, rel string) {
		l, err := requestedLabel(url.Values{"access": {access}, "releasableTo": {rel}})
		if err != nil && !errors.Is(err, files.ErrLabel) {
			t.Fatalf("error %v is not ErrLabel", err)
		}
		if err == nil && l != nil && !l.Classification.Valid() {
			t.Fatalf("invalid classification accepted: %q", access)
		}
	})
}

// BenchmarkClientsMemory reports the heap the client registry holds per
// client (one entry per uid that sent a position report).
func BenchmarkClientsMemory(b *testing.B) {
	const n = 10000
	now := time.Now()
	evs := make([]*cot.Event, n)
	for i := range evs {
		evs[i] = &cot.Event{UID: fmt.Sprintf("ANDROID-%016x", i), Type: "a-f-G-U-C", Callsign: fmt.Sprintf("UNIT-%d", i),
			Access: "SECRET", ReleasableTo: "JPN KOR", Stale: now.Add(time.Minute), Origin: cot.Origin{Nation: "JPN"},
			Detail: []byte(`<takv platform="ATAK-CIV"/>`)}
	}
	p := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "x"}
	for it := 0; it < b.N; it++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := NewClients(n)
		for _, ev := range evs {
			c.Observe(ev, p)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/client")
		runtime.KeepAlive(c)
	}
}
