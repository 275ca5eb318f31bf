package node

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
	"kizuna/internal/taktest"
	"kizuna/internal/taxii"
)

// taxiiClient speaks TAXII 2.1 to a node over HTTPS with one certificate.
type taxiiClient struct {
	t    *testing.T
	hc   *http.Client
	base string // https://host:port
}

func newTAXIIClient(t *testing.T, tp *testPKI, n *Node, cert tls.Certificate) *taxiiClient {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tp.clientTLS(cert)}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &taxiiClient{t: t, hc: hc, base: "https://" + addrOf(t, n, KindHTTPS, "")}
}

type taxiiResp struct {
	status int
	header http.Header
	body   []byte
}

func (r taxiiResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return m
}

func (c *taxiiClient) do(method, path, accept, ctype string, body []byte) taxiiResp {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return taxiiResp{resp.StatusCode, resp.Header, b}
}

func (c *taxiiClient) get(path string) taxiiResp {
	c.t.Helper()
	return c.do("GET", path, taxii.MediaTAXII, "", nil)
}

func (c *taxiiClient) post(path string, objs ...string) taxiii {
	c.t.Helper()
	r := c.do("POST", path, taxii.MediaTAXII, taxii.MediaTAXII, []byte(`{"objects":[`+strings.Join(objs, ",")+`]}`))
	if r.status != http.StatusAccepted {
		c.t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	var st taxiii
	if err := json.Unmarshal(r.body, &st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

type taxiii = taxii.Status

// ids lists the ids of an envelope's objects (or a manifest's entries).
func ids(t *testing.T, r taxiiResp) []string {
	t.Helper()
	var env struct {
		Objects []struct {
			ID string `json:"id"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	var out []string
	for _, o := range env.Objects {
		out = append(out, o.ID)
	}
	return out
}

func indicator(id, modified, extra string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00.000Z","modified":"%s","name":"bad host","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"%s}`, id, modified, extra)
}

func kizunaMarking(l label.Label) string { return string(stix.MarkingDefinition(l)) }

// TestTAXIIConformance checks the TAXII 2.1 requirements endpoint by
// endpoint, over HTTPS with client certificates.
func TestTAXIIConformance(t *testing.T) {
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	n := startNode(t, tp.cfg)
	usaCert, _ := tp.client(t, "USA", "CYBER-1", label.Secret)
	jpnCert, _ := tp.client(t, "JPN", "CYBER-J", label.Secret)
	usa := newTAXIIClient(t, tp, n, usaCert)
	jpn := newTAXIIClient(t, tp, n, jpnCert)
	root := "/taxii2/" + CyberAPIRoot + "/"
	coll := root + "collections/" + DefaultCollectionID(n.NodeID()) + "/"

	t.Run("discovery", func(t *testing.T) {
		r := usa.get("/taxii2/")
		if r.status != 200 || r.header.Get("Content-Type") != taxii.MediaTAXII {
			t.Fatalf("discovery: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
		}
		m := r.json(t)
		want := usa.base + root
		if m["default"] != want || !slices.Contains(anyStrings(m["api_roots"]), want) || m["title"] == "" {
			t.Fatalf("discovery %v, want default and api_roots %s", m, want)
		}
	})
	t.Run("media types", func(t *testing.T) {
		for _, acc := range []string{"application/json", "application/taxii+json;version=2.0", "text/html"} {
			r := usa.do("GET", "/taxii2/", acc, "", nil)
			if r.status != http.StatusNotAcceptable || r.json(t)["http_status"] != "406" {
				t.Errorf("Accept %q: %d %s, want 406 with a TAXII error", acc, r.status, r.body)
			}
		}
		for _, acc := range []string{"application/taxii+json", "application/taxii+json; version=2.1", "application/json, application/taxii+json;version=2.1;q=0.5"} {
			if r := usa.do("GET", "/taxii2/", acc, "", nil); r.status != 200 {
				t.Errorf("Accept %q: %d, want 200", acc, r.status)
			}
		}
		for _, ct := range []string{"application/json", "application/stix+json;version=2.1", "application/taxii+json;version=2.0", ""} {
			r := usa.do("POST", coll+"objects/", taxii.MediaTAXII, ct, []byte(`{"objects":[]}`))
			if r.status != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Type %q: %d, want 415", ct, r.status)
			}
		}
	})
	t.Run("api root", func(t *testing.T) {
		m := usa.get(root).json(t)
		if !slices.Contains(anyStrings(m["versions"]), taxii.MediaTAXII) || m["max_content_length"].(float64) <= 0 {
			t.Fatalf("api root: %v", m)
		}
		r := usa.get("/taxii2/nope/")
		if r.status != 404 || r.json(t)["title"] == "" {
			t.Fatalf("unknown api root: %d %s", r.status, r.body)
		}
	})
	t.Run("collections", func(t *testing.T) {
		var cs struct {
			Collections []struct {
				ID         string   `json:"id"`
				CanRead    bool     `json:"can_read"`
				CanWrite   bool     `json:"can_write"`
				MediaTypes []string `json:"media_types"`
			} `json:"collections"`
		}
		json.Unmarshal(usa.get(root+"collections/").body, &cs)
		if len(cs.Collections) != 3 || cs.Collections[0].ID != DefaultCollectionID(n.NodeID()) || !cs.Collections[0].CanRead || !cs.Collections[0].CanWrite {
			t.Fatalf("USA collections %+v", cs)
		}
		json.Unmarshal(jpn.get(root+"collections/").body, &cs)
		if !cs.Collections[0].CanRead || cs.Collections[0].CanWrite {
			t.Fatalf("JPN sees %+v, want read-only", cs.Collections[0])
		}
		if r := usa.get(coll); r.status != 200 || r.json(t)["id"] != DefaultCollectionID(n.NodeID()) {
			t.Fatalf("collection: %d %s", r.status, r.body)
		}
		if r := usa.get(root + "collections/00000000-0000-4000-8000-000000000000/"); r.status != 404 {
			t.Fatalf("unknown collection: %d", r.status)
		}
	})

	id1 := "indicator--11111111-1111-4111-8111-111111111111"
	id2 := "indicator--22222222-2222-4222-8222-222222222222"
	var statusID string
	t.Run("add objects", func(t *testing.T) {
		st := usa.post(coll+"objects/",
			indicator(id1, "2026-01-01T00:00:00.000Z", ""),
			indicator(id1, "2026-01-02T00:00:00.000Z", ""),
			`{"type":"indicator","spec_version":"2.1","id":"indicator--33333333-3333-4333-8333-333333333333","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[ipv4-addr:value = ]","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
			indicator(id2, "2026-01-01T00:00:00.000Z", ""),
		)
		if st.Status != "complete" || st.TotalCount != 4 || st.SuccessCount != 3 || st.FailureCount != 1 || st.PendingCount != 0 {
			t.Fatalf("status %+v", st)
		}
		if f := st.Failures[0]; f.ID != "indicator--33333333-3333-4333-8333-333333333333" || !strings.Contains(f.Message, "pattern") {
			t.Fatalf("failure %+v, want the bad pattern named", f)
		}
		statusID = st.ID
		r := usa.get(root + "status/" + st.ID + "/")
		if r.status != 200 || r.json(t)["id"] != st.ID {
			t.Fatalf("status resource: %d %s", r.status, r.body)
		}
		if r := jpn.get(root + "status/" + st.ID + "/"); r.status != 404 {
			t.Fatalf("another principal reads the status: %d", r.status)
		}
		// Posting the same version again is no error.
		if st := usa.post(coll+"objects/", indicator(id2, "2026-01-01T00:00:00.000Z", "")); st.SuccessCount != 1 {
			t.Fatalf("duplicate: %+v", st)
		}
		if r := jpn.do("POST", coll+"objects/", taxii.MediaTAXII, taxii.MediaTAXII, []byte(`{"objects":[]}`)); r.status != http.StatusForbidden {
			t.Fatalf("read-only principal posts: %d", r.status)
		}
		if r := usa.do("POST", coll+"objects/", taxii.MediaTAXII, taxii.MediaTAXII, []byte(`{"objects":`)); r.status != 400 {
			t.Fatalf("bad envelope: %d", r.status)
		}
	})
	_ = statusID
	t.Run("get objects", func(t *testing.T) {
		r := usa.get(coll + "objects/")
		if r.status != 200 || r.header.Get("Content-Type") != taxii.MediaTAXII {
			t.Fatalf("objects: %d %s", r.status, r.body)
		}
		got := ids(t, r)
		if !slices.Contains(got, id1) || !slices.Contains(got, id2) {
			t.Fatalf("objects %v", got)
		}
		first, last := r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last")
		if _, err := stix.ParseTimestamp(first); err != nil {
			t.Fatalf("X-TAXII-Date-Added-First %q: %v", first, err)
		}
		if _, err := stix.ParseTimestamp(last); err != nil || last < first {
			t.Fatalf("X-TAXII-Date-Added-Last %q", last)
		}
		// The default label is stamped as a Kizuna marking, and its
		// definition is in the collection.
		mid := stix.MarkingID(label.Default(label.Principal{Nation: "USA", Clearance: label.Secret}))
		if !bytes.Contains(r.body, []byte(mid)) {
			t.Fatalf("objects carry no marking %s: %s", mid, r.body)
		}
		if !slices.Contains(ids(t, usa.get(coll+"objects/?match[type]=marking-definition")), mid) {
			t.Fatal("marking definition not in the collection")
		}
		// version=last by default: id1 once, at its last version.
		if n := strings.Count(string(r.body), id1); n != 1 || !strings.Contains(string(r.body), "2026-01-02T00:00:00.000Z") {
			t.Fatalf("id1 appears %d times", n)
		}
		if got := ids(t, usa.get(coll+"objects/?match[version]=all&match[id]="+id1)); len(got) != 2 {
			t.Fatalf("version=all: %v", got)
		}
		if got := usa.get(coll + "objects/?match[version]=first&match[id]=" + id1); !strings.Contains(string(got.body), `"modified":"2026-01-01T00:00:00.000Z"`) {
			t.Fatalf("version=first: %s", got.body)
		}
		if got := ids(t, usa.get(coll+"objects/?match[version]=2026-01-01T00:00:00Z&match[id]="+id1)); len(got) != 1 {
			t.Fatalf("version=timestamp: %v", got)
		}
		if got := ids(t, usa.get(coll+"objects/?match[type]=malware")); len(got) != 0 {
			t.Fatalf("type filter: %v", got)
		}
		if got := ids(t, usa.get(coll+"objects/?match[spec_version]=2.0")); len(got) != 0 {
			t.Fatalf("spec_version filter: %v", got)
		}
		if got := ids(t, usa.get(coll+"objects/?match[id]="+id2+","+id1)); len(got) != 2 {
			t.Fatalf("id filter (comma list): %v", got)
		}
		if got := ids(t, usa.get(coll+"objects/?added_after="+url.QueryEscape(last))); len(got) != 0 {
			t.Fatalf("added_after the last: %v", got)
		}
		for _, q := range []string{"limit=0", "limit=x", "added_after=yesterday", "next=garbage", "match[version]=latest", "match[id]=foo", "match[color]=red"} {
			if r := usa.get(coll + "objects/?" + q); r.status != 400 || r.json(t)["http_status"] != "400" {
				t.Errorf("%s: %d, want 400 with an error message", q, r.status)
			}
		}
		if r := usa.do("PUT", coll+"objects/", taxii.MediaTAXII, taxii.MediaTAXII, nil); r.status != 405 {
			t.Errorf("PUT: %d", r.status)
		}
	})
	t.Run("pagination", func(t *testing.T) {
		var want []string
		var objs []string
		for i := 0; i < 7; i++ {
			id := fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)
			want = append(want, id)
			objs = append(objs, indicator(id, "2026-01-01T00:00:00.000Z", ""))
		}
		usa.post(coll+"objects/", objs...)
		var got []string
		next := ""
		pages := 0
		for {
			q := coll + "objects/?match[type]=indicator&limit=3"
			if next != "" {
				q += "&next=" + url.QueryEscape(next)
			}
			r := usa.get(q)
			m := r.json(t)
			got = append(got, ids(t, r)...)
			pages++
			if m["more"] != true {
				if _, ok := m["next"]; ok {
					t.Fatal("next without more")
				}
				break
			}
			next = m["next"].(string)
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if pages != 3 || len(got) != 9 {
			t.Fatalf("%d pages, %d objects %v", pages, len(got), got)
		}
		for _, id := range want {
			if !slices.Contains(got, id) {
				t.Fatalf("lost %s", id)
			}
		}
		slices.Sort(got)
		if len(slices.Compact(got)) != 9 {
			t.Fatal("duplicates across pages")
		}
		// added_after with X-TAXII-Date-Added-Last pages the same way.
		r := usa.get(coll + "objects/?match[type]=indicator&limit=4")
		r2 := usa.get(coll + "objects/?match[type]=indicator&added_after=" + url.QueryEscape(r.header.Get("X-TAXII-Date-Added-Last")))
		if len(ids(t, r))+len(ids(t, r2)) != 9 {
			t.Fatal("added_after paging lost or repeated objects")
		}
	})
	t.Run("manifest", func(t *testing.T) {
		r := usa.get(coll + "manifest/?match[id]=" + id1 + "&match[version]=all")
		var m struct {
			More    bool `json:"more"`
			Objects []struct {
				ID, DateAdded, Version, MediaType string
			} `json:"objects"`
		}
		json.Unmarshal(r.body, &m)
		if r.status != 200 || len(m.Objects) != 2 || r.header.Get("X-TAXII-Date-Added-First") == "" {
			t.Fatalf("manifest: %d %s", r.status, r.body)
		}
		var raw []map[string]any
		var env struct{ Objects []map[string]any }
		json.Unmarshal(r.body, &env)
		raw = env.Objects
		for _, e := range raw {
			if e["id"] != id1 || e["media_type"] != taxii.MediaSTIX || e["version"] == "" || e["date_added"] == "" {
				t.Fatalf("manifest entry %v", e)
			}
		}
	})
	t.Run("object and versions", func(t *testing.T) {
		r := usa.get(coll + "objects/" + id1 + "/")
		if got := ids(t, r); r.status != 200 || len(got) != 1 || r.header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Fatalf("object: %d %s", r.status, r.body)
		}
		r = usa.get(coll + "objects/" + id1 + "/versions/")
		var v struct {
			More     bool     `json:"more"`
			Versions []string `json:"versions"`
		}
		json.Unmarshal(r.body, &v)
		if r.status != 200 || !slices.Equal(v.Versions, []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"}) {
			t.Fatalf("versions: %d %s", r.status, r.body)
		}
		if r := usa.get(coll + "objects/indicator--99999999-9999-4999-8999-999999999999/"); r.status != 404 {
			t.Fatalf("unknown object: %d", r.status)
		}
		if r := usa.get(coll + "objects/indicator--99999999-9999-4999-8999-999999999999/versions/"); r.status != 200 || len(ids(t, r)) != 0 {
			t.Fatalf("versions of unknown object: %d", r.status)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if r := jpn.do("DELETE", coll+"objects/"+id2+"/", taxii.MediaTAXII, "", nil); r.status != 403 {
			t.Fatalf("read-only principal deletes: %d", r.status)
		}
		if r := usa.do("DELETE", coll+"objects/"+id1+"/?match[version]=first", taxii.MediaTAXII, "", nil); r.status != 200 {
			t.Fatalf("delete first version: %d %s", r.status, r.body)
		}
		if got := ids(t, usa.get(coll+"objects/?match[version]=all&match[id]="+id1)); len(got) != 1 {
			t.Fatalf("after deleting one version: %v", got)
		}
		if r := usa.do("DELETE", coll+"objects/"+id2+"/", taxii.MediaTAXII, "", nil); r.status != 200 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := usa.get(coll + "objects/" + id2 + "/"); r.status != 404 {
			t.Fatalf("deleted object: %d", r.status)
		}
		if r := usa.do("DELETE", coll+"objects/"+id2+"/", taxii.MediaTAXII, "", nil); r.status != 404 {
			t.Fatalf("delete twice: %d", r.status)
		}
	})
	t.Run("labels", func(t *testing.T) {
		rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "USA"}
		shared := "indicator--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
		red := "indicator--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
		ts := "indicator--cccccccc-cccc-4ccc-8ccc-cccccccccccc"
		st := usa.post(coll+"objects/", kizunaMarking(rel),
			indicator(shared, "2026-01-01T00:00:00.000Z", `,"object_marking_refs":["`+stix.MarkingID(rel)+`"]`),
			indicator(red, "2026-01-01T00:00:00.000Z", `,"object_marking_refs":["`+stix.MarkingID(rel)+`","`+stix.TLPMarkingID(stix.TLPRed)+`"]`),
			kizunaMarking(label.Label{Classification: label.TopSecret, ReleasableTo: []string{"JPN"}}),
			indicator(ts, "2026-01-01T00:00:00.000Z", `,"object_marking_refs":["`+stix.MarkingID(label.Label{Classification: label.TopSecret, ReleasableTo: []string{"JPN"}})+`"]`),
		)
		if st.SuccessCount != 4 || st.FailureCount != 1 || st.Failures[0].ID != ts || !strings.Contains(st.Failures[0].Message, "clearance") {
			t.Fatalf("status %+v", st)
		}
		got := ids(t, jpn.get(coll+"objects/"))
		if !slices.Contains(got, shared) || slices.Contains(got, red) || slices.Contains(got, id1) {
			t.Fatalf("JPN sees %v: want the released one, not TLP:RED nor USA-only", got)
		}
		for _, path := range []string{"objects/" + red + "/", "objects/" + id1 + "/"} {
			if r := jpn.get(coll + path); r.status != 404 {
				t.Errorf("JPN GET %s: %d, want 404", path, r.status)
			}
		}
		if got := ids(t, jpn.get(coll+"manifest/")); slices.Contains(got, red) || slices.Contains(got, id1) {
			t.Errorf("JPN manifest %v reveals withheld objects", got)
		}
		if r := jpn.get(coll + "objects/" + red + "/versions/"); strings.Contains(string(r.body), "2026") {
			t.Errorf("JPN versions of a withheld object: %s", r.body)
		}
		// One object at a time: JPN's pages end when its visible objects
		// do.
		var all []string
		next := ""
		for i := 0; i < 20; i++ {
			q := coll + "objects/?limit=1"
			if next != "" {
				q += "&next=" + url.QueryEscape(next)
			}
			r := jpn.get(q)
			all = append(all, ids(t, r)...)
			m := r.json(t)
			if m["more"] != true {
				break
			}
			next = m["next"].(string)
		}
		if !slices.Equal(all, got) {
			t.Fatalf("paged %v, unpaged %v", all, got)
		}
		// KOR sees none of it.
		korCert, _ := tp.client(t, "KOR", "CYBER-K", label.Secret)
		kor := newTAXIIClient(t, tp, n, korCert)
		if got := ids(t, kor.get(coll+"objects/")); len(got) != 0 {
			t.Fatalf("KOR sees %v", got)
		}
		if r := kor.get(coll + "objects/"); r.header.Get("X-TAXII-Date-Added-First") != "" {
			t.Fatal("date headers on an empty page")
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestCyberSightingsAndEffects: a refused TLS handshake becomes a sighting
// in the node's sightings collection, national by default; the operator
// releases it to JPN with a new version; an incident naming a unit shows
// as an effect to those who may see it and to no one else.
func TestCyberSightingsAndEffects(t *testing.T) {
	t.Parallel()
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	tp.cfg.SightingsFlush = Duration(50 * time.Millisecond)
	n := startNode(t, tp.cfg)
	usaCert, _ := tp.client(t, "USA", "CYBER-1", label.Secret)
	jpnCert, _ := tp.client(t, "JPN", "CYBER-J", label.Secret)
	korCert, _ := tp.client(t, "KOR", "CYBER-K", label.Secret)
	usa, jpn, kor := newTAXIIClient(t, tp, n, usaCert), newTAXIIClient(t, tp, n, jpnCert), newTAXIIClient(t, tp, n, korCert)
	sc := "/taxii2/" + CyberAPIRoot + "/collections/" + SightingsCollectionID(n.NodeID()) + "/"

	// A client without a certificate is refused at the handshake.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	if _, err := hc.Get(usa.base + "/healthz"); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	var sighting map[string]any
	taktest.WaitUntil(t, "a sighting of the refused handshake", 10*time.Second, func() bool {
		var env struct{ Objects []map[string]any }
		json.Unmarshal(usa.get(sc+"objects/?match[type]=sighting").body, &env)
		for _, o := range env.Objects {
			if strings.Contains(fmt.Sprint(o["description"]), "tls_refused from 127.0.0.1") {
				sighting = o
				return true
			}
		}
		return false
	})
	if got := ids(t, usa.get(sc+"objects/?match[type]=observed-data")); len(got) == 0 {
		t.Fatal("no observed-data beside the sighting")
	}
	if got := ids(t, jpn.get(sc+"objects/")); len(got) != 0 {
		t.Fatalf("JPN sees national sightings: %v", got)
	}
	// The operator releases it to JPN: a new version with a marking.
	rel := label.Label{Classification: label.Unclassified, ReleasableTo: []string{"JPN", "USA"}}
	sighting["modified"] = stix.FormatTimestamp(time.Now().Add(time.Second))
	sighting["object_marking_refs"] = []string{stix.MarkingID(rel)}
	sb, _ := json.Marshal(sighting)
	if st := usa.post(sc+"objects/", kizunaMarking(rel), string(sb)); st.FailureCount != 0 {
		t.Fatalf("release: %+v", st)
	}
	if got := ids(t, jpn.get(sc+"objects/?match[type]=sighting")); !slices.Contains(got, sighting["id"].(string)) {
		t.Fatalf("JPN does not see the released sighting: %v", got)
	}
	if got := ids(t, kor.get(sc+"objects/")); len(got) != 0 {
		t.Fatalf("KOR sees %v", got)
	}

	// Effects on the picture.
	coll := "/taxii2/" + CyberAPIRoot + "/collections/" + DefaultCollectionID(n.NodeID()) + "/"
	incident := `{"type":"incident","spec_version":"2.1","id":"incident--dddddddd-dddd-4ddd-8ddd-dddddddddddd","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"intrusion attempt on the base network","x_kizuna_affected_uids":["USA-CP-7"],"object_marking_refs":["` + stix.MarkingID(rel) + `"]}`
	usa.post(coll+"objects/", kizunaMarking(rel), incident)
	effects := func(c *taxiiClient) []string {
		r := c.do("GET", "/api/v1/cyber/effects", "application/json", "", nil)
		var e struct {
			Effects []struct{ UID, Marking string }
		}
		json.Unmarshal(r.body, &e)
		var out []string
		for _, x := range e.Effects {
			out = append(out, x.UID+" "+x.Marking)
		}
		return out
	}
	if got := effects(jpn); !slices.Equal(got, []string{"USA-CP-7 UNCLASSIFIED//REL TO JPN, USA"}) {
		t.Fatalf("JPN effects %v", got)
	}
	if got := effects(kor); len(got) != 0 {
		t.Fatalf("KOR effects %v", got)
	}
}
