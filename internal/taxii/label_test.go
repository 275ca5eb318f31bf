package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// newTestServer starts a TAXII server whose principal is read from the
// X-Test-Principal header (NATION:CLEARANCE), on httptest.
func newTestServer(t testing.TB, colls ...Collection) (*Server, *httptest.Server) {
	t.Helper()
	if len(colls) == 0 {
		colls = []Collection{{ID: "c1", Title: "one", Read: []string{"*"}, Write: []string{"*"}}}
	}
	s, err := New(Config{
		DBPath:      filepath.Join(t.TempDir(), "taxii.db"),
		Collections: colls,
		Principal: func(r *http.Request) (label.Principal, bool) {
			p, err := label.ParsePrincipal(r.Header.Get("X-Test-Principal"))
			return p, err == nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		s.Stop(context.Background())
	})
	return s, hs
}

func get(t testing.TB, hs *httptest.Server, p label.Principal, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+path, nil)
	req.Header.Set("Accept", MediaTAXII)
	req.Header.Set("X-Test-Principal", p.Nation+":"+p.Clearance.String())
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type expect struct {
	id      string
	version string
	cls     label.Classification
	rel     []string // with the poster
	poster  string
}

// TestLabelsNeverReveal posts random objects under random markings by
// random principals, then checks for every principal that objects,
// manifest, single objects, versions and every page of every listing show
// exactly what an independent statement of the rule allows, and never the
// id of anything else.
func TestLabelsNeverReveal(t *testing.T) {
	_, hs := newTestServer(t)
	rng := rand.New(rand.NewPCG(14, 14))
	nations := []string{"JPN", "KOR", "USA"}
	classes := []label.Classification{label.Unclassified, label.Confidential, label.Secret, label.TopSecret}
	var principals []label.Principal
	for _, n := range nations {
		for _, c := range classes {
			principals = append(principals, label.Principal{Nation: n, Clearance: c})
		}
	}
	var all []expect
	for i := 0; i < 24; i++ {
		poster := principals[rng.IntN(len(principals))]
		id := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", i, i)
		versions := 1 + rng.IntN(2)
		// One classification per id: an id is one object per originator
		// and classification (a version at another classification is
		// another object, see TestIDNamespaces).
		cls := classes[rng.IntN(int(poster.Clearance))]
		for v := 0; v < versions; v++ {
			var rel []string
			for _, n := range nations {
				if rng.IntN(2) == 0 {
					rel = append(rel, n)
				}
			}
			l := label.Label{Classification: cls, ReleasableTo: rel, Originator: "KOR"} // the originator claimed is ignored
			tlp := []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}[rng.IntN(5)]
			refs := []string{stix.MarkingID(l)}
			if tlp != stix.TLPNone {
				refs = append(refs, stix.TLPMarkingID(tlp))
			}
			rb, _ := json.Marshal(refs)
			mod := fmt.Sprintf("2026-01-0%dT00:00:00.000Z", v+1)
			obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00.000Z","modified":"%s","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","object_marking_refs":%s}`, id, mod, i, rb)
			body := `{"objects":[` + string(stix.MarkingDefinition(l)) + `,` + obj + `]}`
			req, _ := http.NewRequest("POST", hs.URL+"/taxii2/kizuna/collections/c1/objects/", strings.NewReader(body))
			req.Header.Set("Accept", MediaTAXII)
			req.Header.Set("Content-Type", MediaTAXII)
			req.Header.Set("X-Test-Principal", poster.Nation+":"+poster.Clearance.String())
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var st Status
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.FailureCount != 0 || st.SuccessCount != 2 {
				t.Fatalf("post %s: %+v", id, st)
			}
			erel := append([]string{poster.Nation}, rel...)
			if tlp == stix.TLPRed || tlp == stix.TLPAmberStrict {
				erel = []string{poster.Nation}
			}
			all = append(all, expect{id: id, version: mod, cls: cls, rel: erel, poster: poster.Nation})
		}
		_ = versions
	}
	// oracle: visible iff clearance covers the classification and the
	// nation originated it or is listed.
	visible := func(p label.Principal, e expect) bool {
		return p.Clearance >= e.cls && (p.Nation == e.poster || slices.Contains(e.rel, p.Nation))
	}
	for _, p := range principals {
		t.Run(p.String(), func(t *testing.T) {
			latest := map[string]string{}
			for _, e := range all {
				if visible(p, e) && e.version > latest[e.id] {
					latest[e.id] = e.version
				}
			}
			hidden := func(body []byte) {
				t.Helper()
				for _, e := range all {
					if latest[e.id] == "" && bytes.Contains(body, []byte(e.id)) {
						t.Fatalf("%s: response reveals withheld %s", p, e.id)
					}
				}
			}
			// Every page size: the union of pages is exactly the visible set.
			for _, limit := range []int{2, 1000} {
				got := map[string]string{}
				next := ""
				for page := 0; page < 100; page++ {
					q := fmt.Sprintf("/taxii2/kizuna/collections/c1/objects/?match[type]=indicator&limit=%d", limit)
					if next != "" {
						q += "&next=" + url.QueryEscape(next)
					}
					code, body := get(t, hs, p, q)
					if code != 200 {
						t.Fatalf("%d %s", code, body)
					}
					hidden(body)
					var env struct {
						More    bool   `json:"more"`
						Next    string `json:"next"`
						Objects []struct {
							ID       string `json:"id"`
							Modified string `json:"modified"`
						} `json:"objects"`
					}
					json.Unmarshal(body, &env)
					if env.More && len(env.Objects) == 0 {
						t.Fatal("an empty page with more=true")
					}
					for _, o := range env.Objects {
						if _, dup := got[o.ID]; dup {
							t.Fatalf("%s twice", o.ID)
						}
						got[o.ID] = o.Modified
					}
					if !env.More {
						break
					}
					next = env.Next
				}
				if len(got) != len(latest) {
					t.Fatalf("limit %d: got %d objects, want %d", limit, len(got), len(latest))
				}
				for id, v := range latest {
					if got[id] != v {
						t.Fatalf("limit %d: %s at %q, want %q", limit, id, got[id], v)
					}
				}
			}
			_, body := get(t, hs, p, "/taxii2/kizuna/collections/c1/manifest/?match[version]=all")
			hidden(body)
			for _, e := range all {
				code, body := get(t, hs, p, "/taxii2/kizuna/collections/c1/objects/"+e.id+"/")
				if latest[e.id] == "" && code != 404 {
					t.Fatalf("withheld %s: %d", e.id, code)
				}
				if latest[e.id] != "" && code != 200 {
					t.Fatalf("visible %s: %d", e.id, code)
				}
				hidden(body)
				_, body = get(t, hs, p, "/taxii2/kizuna/collections/c1/objects/"+e.id+"/versions/")
				hidden(body)
				if !visible(p, e) && bytes.Contains(body, []byte(e.version)) && latest[e.id] == "" {
					t.Fatalf("versions of withheld %s shown", e.id)
				}
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"objects":[{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}]}`))
	f.Add([]byte(`{"more":false,"objects":[]}`))
	f.Add([]byte(`{"objects":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		for _, o := range objs {
			if _, err := stix.Validate(o); err == nil && !json.Valid(o) {
				t.Fatalf("validated invalid JSON %q", o)
			}
		}
	})
}
