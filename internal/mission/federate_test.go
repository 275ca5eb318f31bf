package mission

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
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
	f.Add([]byte(`<kizunaMission>{"mission":{"node":"n"},"change":{"type":"SYNC_REQUEST"}}</kizunaMission>`))
	f.Add([]byte(`<kizunaMission>{"mission":{"name":"op","guid":"g","node":"n","label":{"classification":"SECRET","originator":"JPN"}},"change":{"type":"SYNC_CHANGE"},"sync":"s","record":{"type":"ADD_CONTENT","item":{"kind":"hash","key":"h","label":{"classification":"SECRET","originator":"JPN"}}}}</kizunaMission>`))
	f.Add([]byte(`<kizunaMission>{"mission":{"name":"op","guid":"g","node":"n","label":{"classification":"SECRET","originator":"JPN"}},"change":{"type":"ADD_LOG"},"log":{"id":"i","content":"c","label":{"classification":"SECRET","originator":"JPN"}}}</kizunaMission>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseFederated(b)
		if err != nil {
			return
		}
		if m.Change.Type == fedRequest {
			if m.Mission.Node == "" {
				t.Fatalf("accepted %+v", m)
			}
			return
		}
		if !m.Mission.Label.Valid() || (m.Change.Item != nil && !m.Change.Item.Label.Valid()) ||
			(m.Log != nil && !m.Log.Label.Valid()) || (m.Record != nil && m.Record.Item != nil && !m.Record.Item.Label.Valid()) {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// TestMissionResync: a node that missed a mission's messages (it joined
// late, or they were lost) catches up when the origin sends its missions
// whole: items, change log, keywords and log entries, each released to
// the peer only if its labels allow; an item removed meanwhile goes.
func TestMissionResync(t *testing.T) {
	a := newFixture(t, "")
	b := newFixture(t, filepath.Join(t.TempDir(), "b.db"))
	b.svc.cfg.NodeID = "node-2"
	peer := label.Principal{Nation: "KOR", Clearance: label.Secret}
	hop := func() (sent int) {
		t.Helper()
		for _, ev := range a.sink.takeFed() {
			l, _, err := ev.ParseLabel()
			if err != nil {
				t.Fatal(err)
			}
			if !label.Releasable(peer, l) {
				continue
			}
			if err := b.svc.Remote(context.Background(), ev, l); err != nil {
				t.Fatalf("remote: %v", err)
			}
			sent++
		}
		return sent
	}
	a.must(jpn, "PUT", "/Marti/api/missions/late?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	a.must(jpn, "PUT", "/Marti/api/missions/late/contents", Contents{UIDs: []string{"secret-jpn", "shared-obj"}, Hashes: []string{shHash}}, http.StatusOK)
	a.must(jpn, "PUT", "/Marti/api/missions/late/keywords", []string{"alpha", "bravo"}, http.StatusOK)
	a.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"late"}, "content": "shared entry",
		"label": map[string]any{"classification": "SECRET", "releasableTo": []string{"KOR"}}}, http.StatusCreated)
	a.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"late"}, "content": "jpn-only entry"}, http.StatusCreated)
	a.must(jpn, "PUT", "/Marti/api/missions/jpn-only", nil, http.StatusCreated)
	// All of that was lost on the way.
	a.sink.takeFed()
	b.must(kor, "GET", "/Marti/api/missions/late", nil, http.StatusNotFound)

	a.svc.sendAll(context.Background())
	hop()
	v := decode[missionsResp](t, b.must(kor, "GET", "/Marti/api/missions/late?changes=true&logs=true", nil, http.StatusOK)).Data[0]
	if v.Origin != "node-1" || len(v.UIDs) != 1 || v.UIDs[0].Data != "shared-obj" || len(v.Contents) != 1 ||
		!slices.Equal(v.Keywords, []string{"alpha", "bravo"}) || len(v.Logs) != 1 || v.Logs[0].Content != "shared entry" {
		t.Fatalf("replica after the resync: %+v", v)
	}
	var types []string
	for _, c := range v.MissionChanges {
		types = append(types, c.Type)
	}
	if !slices.Equal(types, []string{"CREATE_MISSION", "ADD_CONTENT", "ADD_CONTENT"}) {
		t.Fatalf("replica's change log %v", types)
	}
	all := string(b.must(jpn, "GET", "/Marti/api/missions", nil, http.StatusOK)) + string(b.must(jpn, "GET", "/Marti/api/missions/late?changes=true&logs=true", nil, http.StatusOK))
	if strings.Contains(all, "secret-jpn") || strings.Contains(all, "jpn-only") || strings.Contains(all, "hidden-plan") {
		t.Fatalf("withheld data at node-2: %s", all)
	}
	// A removal and a new log entry, both lost; a subscriber at node-2
	// hears of the removal at the next resync.
	b.must(kor, "PUT", "/Marti/api/missions/late/subscription?uid=kor-9", nil, http.StatusCreated)
	a.must(jpn, "DELETE", "/Marti/api/missions/late/contents?uid=shared-obj", nil, http.StatusOK)
	a.must(jpn, "PUT", "/Marti/api/missions/late/keywords", []string{"charlie"}, http.StatusOK)
	a.sink.takeFed()
	b.sink.take()
	a.svc.sendAll(context.Background())
	hop()
	v = decode[missionsResp](t, b.must(kor, "GET", "/Marti/api/missions/late?changes=true", nil, http.StatusOK)).Data[0]
	if len(v.UIDs) != 0 || !slices.Equal(v.Keywords, []string{"charlie"}) || len(v.MissionChanges) != 4 {
		t.Fatalf("replica after the second resync: %+v", v)
	}
	if evs := b.sink.take(); len(evs) != 1 || !strings.Contains(string(evs[0].Detail), "REMOVE_CONTENT") {
		t.Fatalf("notices of the catch-up: %d", len(evs))
	}
	// Live log entries and keywords cross too.
	a.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"late"}, "content": "live entry",
		"label": map[string]any{"classification": "SECRET", "releasableTo": []string{"KOR"}}}, http.StatusCreated)
	a.must(jpn, "PUT", "/Marti/api/missions/late/keywords", []string{"delta"}, http.StatusOK)
	hop()
	v = decode[missionsResp](t, b.must(kor, "GET", "/Marti/api/missions/late?logs=true", nil, http.StatusOK)).Data[0]
	if len(v.Logs) != 2 || !slices.Equal(v.Keywords, []string{"delta"}) {
		t.Fatalf("live logs and keywords: %+v", v)
	}
	// A replica's log entry cannot be deleted at node-2.
	b.must(jpn, "DELETE", "/Marti/api/missions/logs/entries/"+v.Logs[0].ID, nil, http.StatusForbidden)
}
