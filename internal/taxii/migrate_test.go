package taxii

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/store"
)

// schemaV1 is the store's first schema: objects keyed by collection and
// id alone.
const schemaV1 = `
CREATE TABLE taxii_objects (
	seq INTEGER PRIMARY KEY, coll TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, spec TEXT NOT NULL,
	version TEXT NOT NULL, nver TEXT NOT NULL, added INTEGER NOT NULL, cls INTEGER NOT NULL, orig TEXT NOT NULL,
	rel TEXT NOT NULL, caveat TEXT NOT NULL, body BLOB NOT NULL, superseded INTEGER NOT NULL DEFAULT 0,
	UNIQUE (coll, id, nver)
);
CREATE INDEX taxii_objects_added ON taxii_objects (coll, added);
CREATE TABLE taxii_status (id TEXT PRIMARY KEY, owner TEXT NOT NULL, created INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE taxii_markings (id TEXT PRIMARY KEY, cls INTEGER NOT NULL, rel TEXT NOT NULL, orig TEXT NOT NULL, caveat TEXT NOT NULL);`

// TestMigrateV1: a store written by the first schema opens, its versions
// keep their order and labels, and listings (which now walk the
// per-nation visibility table) show them to exactly the nations allowed.
func TestMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxii.db")
	old, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(schemaV1); err != nil {
		t.Fatal(err)
	}
	id := "indicator--8e8e8e8e-8e8e-4e8e-8e8e-8e8e8e8e8e8e"
	for i, v := range []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"} {
		body := string(indicatorJSON(id, v, ""))
		if _, err := old.Exec(`INSERT INTO taxii_objects (coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body, superseded) VALUES ('c1', ?, 'indicator', '2.1', ?, ?, ?, ?, 'JPN', ' JPN USA ', '', ?, ?)`,
			id, v, stix.NormVersion(v), 1000+i, int(label.Secret), body, 1-i); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := New(Config{DBPath: path, Collections: []Collection{{ID: "c1", Read: []string{"*"}, Write: []string{"*"}}},
		Principal: func(r *http.Request) (label.Principal, bool) {
			p, err := label.ParsePrincipal(r.Header.Get("X-Test-Principal"))
			return p, err == nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	for _, c := range []struct {
		p    label.Principal
		want bool
	}{
		{label.Principal{Nation: "USA", Clearance: label.Secret}, true},
		{label.Principal{Nation: "JPN", Clearance: label.Secret}, true},
		{label.Principal{Nation: "USA", Clearance: label.Confidential}, false},
		{label.Principal{Nation: "KOR", Clearance: label.TopSecret}, false},
	} {
		d, _ := s.store()
		recs, _, err := d.find(context.Background(), c.p, query{coll: "c1", specs: []string{"2.1"}, versions: []string{"last"}, limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(recs) == 1 && strings.Contains(string(recs[0].body), "2026-01-02"); got != c.want || (!c.want && len(recs) != 0) {
			t.Errorf("%s after migration: %d records", c.p, len(recs))
		}
	}
}
