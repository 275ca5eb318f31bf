package mission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/files"
	"kizuna/internal/label"
)

// fakeObjects is a picture of fixed objects.
type fakeObjects map[string]Object

func (f fakeObjects) Latest(uid string) (Object, bool) { o, ok := f[uid]; return o, ok }

// fakeFiles is a file store of fixed files.
type fakeFiles map[string]files.Meta

func (f fakeFiles) Stat(p label.Principal, hash string) (files.Meta, error) {
	m, ok := f[hash]
	if !ok || !label.Releasable(p, m.Label) {
		return files.Meta{}, files.ErrNotFound
	}
	return m, nil
}

// sink records the notices a service publishes.
type sink struct {
	mu  sync.Mutex
	evs []*cot.Event
}

func (s *sink) Inject(_ context.Context, ev *cot.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	return nil
}

// take returns the notices to subscribers sent since the last call.
func (s *sink) take() []*cot.Event {
	return s.takeWhere(func(ev *cot.Event) bool { return ev.Type != FedType })
}

// takeFed returns the federated changes sent since the last call.
func (s *sink) takeFed() []*cot.Event {
	return s.takeWhere(func(ev *cot.Event) bool { return ev.Type == FedType })
}

func (s *sink) takeWhere(keep func(*cot.Event) bool) []*cot.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out, rest []*cot.Event
	for _, ev := range s.evs {
		if keep(ev) {
			out = append(out, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	s.evs = rest
	return out
}

var (
	jpnOnly = label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}, Originator: "JPN"}
	shared  = label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Originator: "JPN"}
	jpnHash = strings.Repeat("a", 64)
	shHash  = strings.Repeat("b", 64)
)

func objects() fakeObjects {
	return fakeObjects{
		"secret-jpn": {Type: "a-h-G", Callsign: "HIDDEN-ONE", Lat: 35, Lon: 139, Label: jpnOnly, XML: []byte(`<event uid="secret-jpn"/>`)},
		"shared-obj": {Type: "a-f-G", Callsign: "FRIEND", Lat: 36, Lon: 140, Label: shared, XML: []byte(`<event uid="shared-obj"/>`)},
	}
}

func fileSet() fakeFiles {
	return fakeFiles{
		jpnHash: {Hash: jpnHash, Size: 3, Entry: files.Entry{Name: "hidden-plan.pdf", ContentType: "application/pdf", Label: jpnOnly}},
		shHash:  {Hash: shHash, Size: 4, Entry: files.Entry{Name: "shared.kml", ContentType: "application/xml", Label: shared}},
	}
}

type fixture struct {
	audit []string
	amu   sync.Mutex
	t     *testing.T
	svc   *Service
	srv   *httptest.Server
	sink  *sink
	db    string
}

// newFixture runs a service behind a real HTTP server; the caller's
// principal is named by the X-Principal header (NAME@NATION:CLEARANCE).
func newFixture(t *testing.T, db string) *fixture {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "missions.db")
	}
	f := &fixture{t: t, sink: &sink{}, db: db}
	svc, err := New(Config{DBPath: db, NodeID: "node-1", Objects: objects(), Files: fileSet(), Publisher: f.sink,
		Audit: func(_ context.Context, actor, action, object, decision, _ string) {
			f.amu.Lock()
			defer f.amu.Unlock()
			f.audit = append(f.audit, strings.Join([]string{actor, action, object, decision}, " "))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	mux := http.NewServeMux()
	for pat, h := range svc.Routes(func(r *http.Request) label.Principal {
		name, pr, _ := strings.Cut(r.Header.Get("X-Principal"), "@")
		p, _ := label.ParsePrincipal(pr)
		p.Name = name
		return p
	}) {
		mux.Handle(pat, h)
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		svc.Stop(context.Background())
	})
	return f
}

// do sends a request as principal who and returns the status and body.
func (f *fixture) do(who, method, path string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Principal", who)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) must(who, method, path string, body any, want int) []byte {
	f.t.Helper()
	code, b := f.do(who, method, path, body)
	if code != want {
		f.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, who, code, b, want)
	}
	return b
}

const (
	jpn = "alice@JPN:SECRET"
	kor = "kim@KOR:SECRET"
	usa = "bob@USA:SECRET"
)

type missionsResp struct {
	Version string  `json:"version"`
	Type    string  `json:"type"`
	NodeID  string  `json:"nodeId"`
	Data    []*View `json:"data"`
}

type changesResp struct {
	Type string       `json:"type"`
	Data []ChangeView `json:"data"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// TestMissionLabels: a mission shared with KOR that holds a JPN-only
// object and file: KOR's mission, change log, cot and counts never reveal
// them; a JPN-only mission is a 404 to KOR on every route.
func TestMissionLabels(t *testing.T) {
	f := newFixture(t, "")
	f.must(jpn, "PUT", "/Marti/api/missions/op-shared?creatorUid=ANDROID-alice&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/op-shared/contents?creatorUid=ANDROID-alice", Contents{UIDs: []string{"secret-jpn", "shared-obj"}, Hashes: []string{jpnHash, shHash}}, http.StatusOK)
	f.must(jpn, "PUT", "/Marti/api/missions/op-jpn?creatorUid=ANDROID-alice", nil, http.StatusCreated)
	f.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"op-shared"}, "content": "HIDDEN-LOG", "creatorUid": "ANDROID-alice"}, http.StatusCreated)
	f.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"op-shared"}, "content": "shared log", "creatorUid": "ANDROID-alice",
		"label": map[string]any{"classification": "SECRET", "releasableTo": []string{"KOR"}}}, http.StatusCreated)

	secrets := []string{"secret-jpn", "HIDDEN-ONE", jpnHash, "hidden-plan", "HIDDEN-LOG", "op-jpn"}
	korBodies := map[string][]byte{}
	for _, path := range []string{
		"/Marti/api/missions", "/Marti/api/missions/op-shared", "/Marti/api/missions/op-shared?changes=true&logs=true",
		"/Marti/api/missions/op-shared/changes", "/Marti/api/missions/op-shared/cot", "/Marti/api/missions/op-shared/log",
	} {
		korBodies[path] = f.must(kor, "GET", path, nil, http.StatusOK)
	}
	for path, b := range korBodies {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("KOR's %s reveals %q: %s", path, s, b)
			}
		}
	}
	v := decode[missionsResp](t, korBodies["/Marti/api/missions/op-shared?changes=true&logs=true"])
	if v.Version != "3" || v.Type != "Mission" || v.NodeID != "node-1" || len(v.Data) != 1 {
		t.Fatalf("envelope %+v", v)
	}
	m := v.Data[0]
	if len(m.UIDs) != 1 || m.UIDs[0].Data != "shared-obj" || len(m.Contents) != 1 || m.Contents[0].Data.Hash != shHash {
		t.Fatalf("KOR sees uids %+v contents %+v", m.UIDs, m.Contents)
	}
	if len(m.MissionChanges) != 3 || len(m.Logs) != 1 {
		t.Fatalf("KOR sees %d changes and %d logs, want 3 and 1", len(m.MissionChanges), len(m.Logs))
	}
	// JPN sees everything.
	jv := decode[missionsResp](t, f.must(jpn, "GET", "/Marti/api/missions/op-shared?changes=true&logs=true", nil, http.StatusOK)).Data[0]
	if len(jv.UIDs) != 2 || len(jv.Contents) != 2 || len(jv.MissionChanges) != 5 || len(jv.Logs) != 2 {
		t.Fatalf("JPN sees %d uids %d contents %d changes %d logs", len(jv.UIDs), len(jv.Contents), len(jv.MissionChanges), len(jv.Logs))
	}
	if cot := f.must(jpn, "GET", "/Marti/api/missions/op-shared/cot", nil, http.StatusOK); !bytes.Contains(cot, []byte("secret-jpn")) || !bytes.HasPrefix(cot, []byte("<?xml")) {
		t.Fatalf("JPN cot %s", cot)
	}
	// A JPN-only mission does not exist for KOR, on any route.
	for _, r := range []struct{ method, path string }{
		{"GET", "/Marti/api/missions/op-jpn"}, {"GET", "/Marti/api/missions/OP-JPN"},
		{"GET", "/Marti/api/missions/op-jpn/changes"}, {"GET", "/Marti/api/missions/op-jpn/cot"},
		{"PUT", "/Marti/api/missions/op-jpn/subscription?uid=kor-1"}, {"GET", "/Marti/api/missions/op-jpn/subscriptions/roles"},
		{"DELETE", "/Marti/api/missions/op-jpn"}, {"GET", "/Marti/api/missions/nonexistent"},
	} {
		if code, b := f.do(kor, r.method, r.path, nil); code != http.StatusNotFound || string(b) != "not found\n" {
			t.Errorf("%s %s as KOR: %d %q, want a plain 404", r.method, r.path, code, b)
		}
	}
	// KOR may not file an object, or remove one, it cannot see.
	f.must(kor, "PUT", "/Marti/api/missions/op-shared/subscription?uid=kor-1", nil, http.StatusCreated)
	f.must(kor, "PUT", "/Marti/api/missions/op-shared/contents", Contents{UIDs: []string{"secret-jpn"}}, http.StatusNotFound)
	f.must(kor, "DELETE", "/Marti/api/missions/op-shared/contents?uid=secret-jpn", nil, http.StatusNotFound)
	// A USA principal sees neither mission.
	if l := decode[missionsResp](t, f.must(usa, "GET", "/Marti/api/missions", nil, http.StatusOK)); len(l.Data) != 0 {
		t.Fatalf("USA lists %+v", l.Data)
	}
}

// TestMissionNotices: each change reaches, as a t-x-m-c directed to their
// uids, exactly the subscribers entitled to the mission and the item, and
// the notice's own label releases it to no one else.
func TestMissionNotices(t *testing.T) {
	f := newFixture(t, "")
	f.must(jpn, "PUT", "/Marti/api/missions/op?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	f.must(kor, "PUT", "/Marti/api/missions/op/subscription?uid=kor-1", nil, http.StatusCreated)
	// KOR cannot take over JPN's client uid (and with it JPN's notices).
	f.must(kor, "PUT", "/Marti/api/missions/op/subscription?uid=jpn-1", nil, http.StatusForbidden)
	f.sink.take()
	f.must(jpn, "PUT", "/Marti/api/missions/op/contents?creatorUid=jpn-1", Contents{UIDs: []string{"secret-jpn"}}, http.StatusOK)
	f.must(jpn, "PUT", "/Marti/api/missions/op/contents?creatorUid=jpn-1", Contents{UIDs: []string{"shared-obj"}}, http.StatusOK)
	evs := f.sink.take()
	if len(evs) != 2 {
		t.Fatalf("%d notices, want 2", len(evs))
	}
	dests := func(ev *cot.Event) []string {
		var out []string
		for _, d := range ev.Dests {
			out = append(out, d.UID)
		}
		slices.Sort(out)
		return out
	}
	korP := label.Principal{Nation: "KOR", Clearance: label.Secret}
	for i, tc := range []struct {
		uid   string
		dests []string
		kor   bool
	}{{"secret-jpn", []string{"jpn-1"}, false}, {"shared-obj", []string{"jpn-1", "kor-1"}, true}} {
		ev := evs[i]
		if ev.Type != TypeChange || !bytes.Contains(ev.Detail, []byte("<contentUid>"+tc.uid+"</contentUid>")) || !bytes.Contains(ev.Detail, []byte(`<mission type="CHANGE" tool="public" name="op"`)) {
			t.Fatalf("notice %d: %s %s", i, ev.Type, ev.Detail)
		}
		if got := dests(ev); !slices.Equal(got, tc.dests) {
			t.Errorf("notice about %s goes to %v, want %v", tc.uid, got, tc.dests)
		}
		l, _, err := ev.ParseLabel()
		if err != nil || label.Releasable(korP, l) != tc.kor {
			t.Errorf("notice about %s labelled %+v (%v): releasable to KOR should be %v", tc.uid, l, err, tc.kor)
		}
	}
	// A read-only subscriber cannot write; only the owner deletes.
	f.must(jpn, "PUT", "/Marti/api/missions/op/role?clientUid=kor-1&role=MISSION_READONLY_SUBSCRIBER", nil, http.StatusOK)
	f.must(kor, "PUT", "/Marti/api/missions/op/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusForbidden)
	f.must(kor, "DELETE", "/Marti/api/missions/op", nil, http.StatusForbidden)
	f.amu.Lock()
	audited := slices.Contains(f.audit, "kim@KOR:SECRET@missions mission.delete /Marti/api/missions/op deny")
	f.amu.Unlock()
	if !audited {
		t.Errorf("KOR's refused delete not audited: %q", f.audit)
	}
	f.must(kor, "PUT", "/Marti/api/missions/op/role?clientUid=kor-1&role=MISSION_OWNER", nil, http.StatusForbidden)
	f.sink.take()
	f.must(jpn, "DELETE", "/Marti/api/missions/op", nil, http.StatusOK)
	if evs := f.sink.take(); len(evs) != 1 || evs[0].Type != TypeDelete || !slices.Equal(dests(evs[0]), []string{"jpn-1", "kor-1"}) {
		t.Fatalf("delete notices %+v", evs)
	}
	f.must(jpn, "GET", "/Marti/api/missions/op", nil, http.StatusNotFound)
}

// TestMissionDurable: missions, items, subscriptions, change log and log
// entries survive a restart of the service.
func TestMissionDurable(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missions.db")
	f := newFixture(t, db)
	f.must(jpn, "PUT", "/Marti/api/missions/keep?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", map[string]any{"description": "kept", "keywords": []string{"k1"}}, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/keep/contents", Contents{UIDs: []string{"shared-obj", "secret-jpn"}, Hashes: []string{shHash}}, http.StatusOK)
	f.must(kor, "PUT", "/Marti/api/missions/keep/subscription?uid=kor-1", nil, http.StatusCreated)
	f.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"keep"}, "content": "entry"}, http.StatusCreated)
	before := f.must(jpn, "GET", "/Marti/api/missions/keep?changes=true&logs=true", nil, http.StatusOK)
	f.srv.Close()
	f.svc.Stop(context.Background())

	g := newFixture(t, db)
	after := g.must(jpn, "GET", "/Marti/api/missions/keep?changes=true&logs=true", nil, http.StatusOK)
	if !bytes.Equal(before, after) {
		t.Fatalf("after restart\n%s\nbefore\n%s", after, before)
	}
	subs := decode[struct{ Data []string }](t, g.must(kor, "GET", "/Marti/api/missions/keep/subscriptions", nil, http.StatusOK))
	if !slices.Equal(subs.Data, []string{"jpn-1", "kor-1"}) {
		t.Fatalf("subscribers after restart %v", subs.Data)
	}
	// A nation that cannot see it creates its own mission of that name.
	other := decode[missionsResp](t, g.must(usa, "PUT", "/Marti/api/missions/KEEP", nil, http.StatusCreated)).Data[0]
	if bytes.Contains(g.must(jpn, "GET", "/Marti/api/missions/keep", nil, http.StatusOK), []byte(other.GUID)) {
		t.Fatal("JPN's name now means USA's mission")
	}
}

// TestMissionChangesWindow: secago, start and end select changes by time.
func TestMissionChangesWindow(t *testing.T) {
	f := newFixture(t, "")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	f.svc.cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f.must(jpn, "PUT", "/Marti/api/missions/w", nil, http.StatusCreated)
	advance(time.Hour)
	f.must(jpn, "PUT", "/Marti/api/missions/w/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusOK)
	advance(time.Hour)
	f.must(jpn, "PUT", "/Marti/api/missions/w/contents", Contents{Hashes: []string{shHash}}, http.StatusOK)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"CREATE_MISSION", "ADD_CONTENT", "ADD_CONTENT"}},
		{"?secago=4000", []string{"ADD_CONTENT", "ADD_CONTENT"}},
		{"?secago=60", []string{"ADD_CONTENT"}},
		{"?start=2026-01-01T12:30:00Z&end=2026-01-01T13:30:00Z", []string{"ADD_CONTENT"}},
		{"?end=2026-01-01T12:00:00Z", []string{"CREATE_MISSION"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			cs := decode[changesResp](t, f.must(jpn, "GET", "/Marti/api/missions/w/changes"+tc.query, nil, http.StatusOK))
			var got []string
			for _, c := range cs.Data {
				got = append(got, c.Type)
			}
			if cs.Type != "MissionChange" || !slices.Equal(got, tc.want) {
				t.Fatalf("%s: %v, want %v", tc.query, got, tc.want)
			}
		})
	}
	f.must(jpn, "GET", "/Marti/api/missions/w/changes?secago=x", nil, http.StatusBadRequest)
}

func TestLabelFor(t *testing.T) {
	p := label.Principal{Nation: "JPN", Clearance: label.Secret}
	for _, tc := range []struct {
		name string
		req  *label.Label
		want error
	}{
		{"default", nil, nil},
		{"above clearance", &label.Label{Classification: label.TopSecret}, ErrInvalid},
		{"bad nation", &label.Label{Classification: label.Secret, ReleasableTo: []string{"xx"}}, ErrInvalid},
		{"forged originator", &label.Label{Classification: label.Secret, Originator: "USA"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LabelFor(p, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && (l.Originator != "JPN" || !slices.Contains(l.ReleasableTo, "JPN")) {
				t.Fatalf("label %+v", l)
			}
		})
	}
}
