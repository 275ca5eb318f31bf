package mission

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"kizuna/internal/label"
)

// TestMissionFederation: changes of a JPN mission shared with KOR cross to
// a KOR node as a link releasing per label would carry them: the JPN-only
// item never leaves; the replica is read-only; a delete follows.
func TestMissionFederation(t *testing.T) {
	a := newFixture(t, "")
	b := newFixture(t, filepath.Join(t.TempDir(), "b.db"))
	b.svc.cfg.NodeID = "node-2"
	peer := label.Principal{Nation: "KOR", Clearance: label.Secret}
	// hop carries what the link to KOR releases, as federation does.
	hop := func() (sent, withheld int) {
		t.Helper()
		for _, ev := range a.sink.takeFed() {
			l, _, err := ev.ParseLabel()
			if err != nil {
				t.Fatal(err)
			}
			if !label.Releasable(peer, l) {
				withheld++
				continue
			}
			if err := b.svc.Remote(context.Background(), ev, l); err != nil {
				t.Fatalf("remote: %v", err)
			}
			sent++
		}
		return sent, withheld
	}
	a.must(jpn, "PUT", "/Marti/api/missions/fed?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	a.must(jpn, "PUT", "/Marti/api/missions/fed/contents", Contents{UIDs: []string{"secret-jpn", "shared-obj"}, Hashes: []string{jpnHash}}, http.StatusOK)
	if sent, withheld := hop(); sent != 2 || withheld != 2 {
		t.Fatalf("sent %d, withheld %d; want 2 and 2", sent, withheld)
	}
	v := decode[missionsResp](t, b.must(kor, "GET", "/Marti/api/missions/fed?changes=true", nil, http.StatusOK)).Data[0]
	if v.Origin != "node-1" || len(v.UIDs) != 1 || v.UIDs[0].Data != "shared-obj" || len(v.Contents) != 0 || len(v.MissionChanges) != 2 {
		t.Fatalf("replica %+v", v)
	}
	// Even JPN at node-2 holds only what crossed.
	if body := b.must(jpn, "GET", "/Marti/api/missions/fed?changes=true", nil, http.StatusOK); strings.Contains(string(body), "secret-jpn") {
		t.Fatalf("withheld item at node-2: %s", body)
	}
	b.must(kor, "PUT", "/Marti/api/missions/fed/subscription?uid=kor-9", nil, http.StatusCreated)
	b.must(kor, "PUT", "/Marti/api/missions/fed/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusForbidden)
	b.sink.take()
	a.must(jpn, "DELETE", "/Marti/api/missions/fed/contents?uid=shared-obj", nil, http.StatusOK)
	hop()
	if evs := b.sink.take(); len(evs) != 1 || evs[0].Dests[0].UID != "kor-9" {
		t.Fatalf("local notices of a remote change: %+v", evs)
	}
	a.must(jpn, "DELETE", "/Marti/api/missions/fed", nil, http.StatusOK)
	hop()
	b.must(kor, "GET", "/Marti/api/missions/fed", nil, http.StatusNotFound)

	// A change whose inner labels are not the event's is refused.
	a.must(jpn, "PUT", "/Marti/api/missions/forged?access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	evs := a.sink.takeFed()
	if len(evs) != 1 {
		t.Fatalf("%d federated events", len(evs))
	}
	forged := label.Label{Classification: label.Secret, ReleasableTo: []string{"KOR"}, Originator: "KOR"}
	if err := b.svc.Remote(context.Background(), evs[0], forged); !errors.Is(err, ErrRemote) {
		t.Fatalf("forged label: %v", err)
	}
}

func FuzzParseFederated(f *testing.F) {
	f.Add([]byte(`<kizunaMission>{"mission":{"name":"op","guid":"g","node":"n","label":{"classification":"SECRET","releasableTo":["JPN"],"originator":"JPN"}},"change":{"type":"CREATE_MISSION"}}</kizunaMission>`))
	f.Add([]byte(`<kizunaMission>{"mission":{"name":"op","guid":"g","node":"n","label":{"classification":"SECRET","originator":"JPN"}},"change":{"type":"ADD_CONTENT","item":{"kind":"uid","key":"u","label":{"classification":"SECRET","originator":"JPN"}}}}</kizunaMission>`))
	f.Add([]byte(`<kizunaMission>&lt;</kizunaMission>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseFederated(b)
		if err != nil {
			return
		}
		if !m.Mission.Label.Valid() || (m.Change.Item != nil && !m.Change.Item.Label.Valid()) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
