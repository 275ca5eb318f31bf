package node

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/federation"
	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/store"
	"kizuna/internal/taktest"
)

// crashImage copies the TAXII store's files as they are on disk at this
// instant (the database and its write-ahead log): what a node killed now
// would restart from.
func crashImage(t *testing.T, n *Node) string {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		src := filepath.Join(n.cfg.DataDir, "taxii.db"+suffix)
		b, err := os.ReadFile(src)
		if err != nil {
			if os.IsNotExist(err) && suffix != "" {
				continue
			}
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "taxii.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "taxii.db")
}

func countIn(t *testing.T, path, id string) int {
	t.Helper()
	db, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var k int
	if err := db.QueryRow(`SELECT COUNT(*) FROM taxii_objects WHERE id = ?`, id).Scan(&k); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return k
}

// TestCyberImportDurableBeforeAck: a STIX object handed over by a
// federation link is committed before the hand-off returns, which is
// before the link can acknowledge its sequence number: the store's files
// copied at that instant (a crash image) hold it. A deletion from a peer
// applies only to objects of the nation it comes from.
func TestCyberImportDurableBeforeAck(t *testing.T) {
	t.Parallel()
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	n := startNode(t, tp.cfg)
	id := "incident--abababab-abab-4bab-8bab-abababababab"
	raw := `{"type":"incident","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"intrusion attempt","x_kizuna_affected_uids":["USA-CP-7"]}`
	o, err := stix.Validate([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	jl := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	ev, err := cyberEvent(o, jl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev.Origin.Nation, ev.Origin.Node = "JPN", "jpn-node"
	if err := n.IngestFederated(ev, jl, &federation.Provenance{OriginNode: "jpn-node", Seq: 1, Peer: "jpn-node"}); err != nil {
		t.Fatal(err)
	}
	// No waiting: the hand-off has returned, so the link may acknowledge.
	if got := countIn(t, crashImage(t, n), id); got != 1 {
		t.Fatalf("crash image right after the hand-off holds %d versions of the object, want 1", got)
	}
	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	if effs := n.CyberEffects().For(usa); len(effs) != 1 || effs[0].UID != "USA-CP-7" {
		t.Fatalf("effects %+v", effs)
	}

	// A deletion federated from KOR (verified as KOR by the link) does not
	// touch JPN's object; one from JPN does.
	del := func(orig string, seq uint64) {
		t.Helper()
		l := jl
		l.Originator = orig
		dev, err := cyberDeleteEvent(id, "", l, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		node := strings.ToLower(orig) + "-node"
		dev.Origin.Nation, dev.Origin.Node = orig, node
		if err := n.IngestFederated(dev, l, &federation.Provenance{OriginNode: node, Seq: seq, Peer: node}); err != nil {
			t.Fatal(err)
		}
	}
	del("KOR", 1)
	if got := countIn(t, crashImage(t, n), id); got != 1 {
		t.Fatalf("KOR's deletion of JPN's object: %d versions left, want 1", got)
	}
	del("JPN", 2)
	if got := countIn(t, crashImage(t, n), id); got != 0 {
		t.Fatalf("JPN's deletion: %d versions left, want 0", got)
	}
	if effs := n.CyberEffects().For(usa); len(effs) != 0 {
		t.Fatalf("effects after the deletion %+v", effs)
	}
}

// TestCyberReleaseAPI: the originating nation's operator widens a national
// sighting to JPN through POST /api/v1/cyber/release; JPN then sees it,
// may not release it further (not its own), KOR still sees nothing and
// its release is answered as for an unknown id; every decision is
// audited.
func TestCyberReleaseAPI(t *testing.T) {
	t.Parallel()
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	n := startNode(t, tp.cfg)
	usaCert, _ := tp.client(t, "USA", "CYBER-1", label.Secret)
	jpnCert, _ := tp.client(t, "JPN", "CYBER-J", label.Secret)
	korCert, _ := tp.client(t, "KOR", "CYBER-K", label.Secret)
	usa, jpn, kor := newTAXIIClient(t, tp, n, usaCert), newTAXIIClient(t, tp, n, jpnCert), newTAXIIClient(t, tp, n, korCert)
	sc := "/taxii2/" + CyberAPIRoot + "/collections/" + SightingsCollectionID(n.NodeID()) + "/"
	id := "sighting--c1c1c1c1-c1c1-4c1c-8c1c-c1c1c1c1c1c1"
	sighting := `{"type":"sighting","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","sighting_of_ref":"attack-pattern--0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a","x_kizuna_affected_uids":["USA-CP-7"]}`
	if st := usa.post(sc+"objects/", sighting); st.FailureCount != 0 {
		t.Fatalf("%+v", st)
	}
	release := func(c *taxiiClient, id string, to ...string) taxiiResp {
		b, _ := json.Marshal(map[string]any{"id": id, "releasableTo": to})
		return c.do("POST", "/api/v1/cyber/release", "application/json", "application/json", b)
	}
	if got := ids(t, jpn.get(sc+"objects/")); len(got) != 0 {
		t.Fatalf("JPN sees the national sighting: %v", got)
	}
	unknown := release(kor, "sighting--d2d2d2d2-d2d2-4d2d-8d2d-d2d2d2d2d2d2", "KOR")
	hidden := release(kor, id, "KOR")
	// KOR may not write the sightings collection: the refusal is the
	// same for every id, so it tells nothing of what the id holds.
	if hidden.status != http.StatusForbidden || hidden.status != unknown.status || string(hidden.body) != string(unknown.body) {
		t.Fatalf("KOR's release of a hidden id %d %q, of an unknown id %d %q", hidden.status, hidden.body, unknown.status, unknown.body)
	}
	r := release(usa, id, "JPN")
	if r.status != 200 || !strings.Contains(string(r.body), "REL TO JPN, USA") {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	if got := ids(t, jpn.get(sc+"objects/?match[type]=sighting")); len(got) != 1 || got[0] != id {
		t.Fatalf("JPN after the release sees %v", got)
	}
	if r := release(jpn, id, "KOR"); r.status != http.StatusForbidden {
		t.Fatalf("JPN releases USA's sighting: %d %s", r.status, r.body)
	}
	if got := ids(t, kor.get(sc+"objects/")); len(got) != 0 {
		t.Fatalf("KOR sees %v", got)
	}
	if effs := n.CyberEffects().For(label.Principal{Nation: "JPN", Clearance: label.Secret}); len(effs) != 1 {
		t.Fatalf("JPN effects after the release %+v", effs)
	}
	// Audited: the allowed release and the refusals (the log is flushed
	// in the background).
	dir := n.cfg.DataDir
	taktest.WaitUntil(t, "the release decisions in the audit log", 10*time.Second, func() bool {
		return countAudit(t, dir, "cyber.release", "allow", "REL TO JPN, USA") == 1 && countAudit(t, dir, "cyber.release", "deny", "") == 3
	})
}

// FuzzStixDeleteOf: the deletion payload of a federated event is outside
// input; whatever it holds, an accepted one names a valid STIX id and a
// normalised version or none.
func FuzzStixDeleteOf(f *testing.F) {
	f.Add([]byte(`<__kizuna_stix_delete id="incident--abababab-abab-4bab-8bab-abababababab" version=""/>`))
	f.Add([]byte(`<__kizuna_stix_delete id="incident--abababab-abab-4bab-8bab-abababababab" version="2026-01-01T00:00:00.000000000Z"/>`))
	f.Add([]byte(`<__kizuna_stix_delete id="x" version="y">`))
	f.Add([]byte(`<marti/><__kizuna_stix_delete`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		ev := &cot.Event{Detail: detail}
		p, ok := stixDeleteOf(ev)
		if !ok {
			return
		}
		if !stix.ValidID(p.ID) || (p.Version != "" && stix.NormVersion(p.Version) != p.Version) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
