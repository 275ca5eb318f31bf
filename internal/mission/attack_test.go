package mission

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"kizuna/internal/files"
	"kizuna/internal/label"
)

// clientDir is a fake set of live TAK streams: uid → principals.
type clientDir struct {
	mu sync.Mutex
	m  map[string][]label.Principal
}

func (c *clientDir) set(uid string, ps ...label.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[uid] = ps
}

func (c *clientDir) get(uid string) []label.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[uid]
}

func principal(t *testing.T, who string) label.Principal {
	t.Helper()
	name, pr, _ := strings.Cut(who, "@")
	p, err := label.ParsePrincipal(pr)
	if err != nil {
		t.Fatal(err)
	}
	p.Name = name
	return p
}

// TestSubscribeOnlyOwnClients: a caller cannot aim change notices at
// another principal's client uid, neither by subscribing a uid that
// another principal's stream holds, nor by subscribing a uid before that
// client connects: notices go only to streams of the subscription's own
// principal.
func TestSubscribeOnlyOwnClients(t *testing.T) {
	f := newFixture(t, "")
	dir := &clientDir{m: map[string][]label.Principal{}}
	f.svc.cfg.Clients = dir.get
	dir.set("jpn-2", principal(t, jpn))
	dir.set("kor-1", principal(t, kor))
	f.must(jpn, "PUT", "/Marti/api/missions/aim?access=SECRET&releasableTo=KOR", nil, http.StatusCreated)

	f.must(kor, "PUT", "/Marti/api/missions/aim/subscription?uid=jpn-2", nil, http.StatusForbidden)
	f.must(kor, "PUT", "/Marti/api/missions/aim/subscription?uid=kor-1", nil, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/aim/subscription?uid=jpn-2", nil, http.StatusCreated)
	// A uid no stream holds yet may be subscribed, but its notices wait
	// for a stream of the subscriber's own principal.
	f.must(kor, "PUT", "/Marti/api/missions/aim/subscription?uid=jpn-3", nil, http.StatusCreated)
	dir.set("jpn-3", principal(t, jpn))
	f.sink.take()
	f.must(jpn, "PUT", "/Marti/api/missions/aim/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusOK)
	var got []string
	for _, ev := range f.sink.take() {
		for _, d := range ev.Dests {
			got = append(got, d.UID)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"jpn-2", "kor-1"}) {
		t.Fatalf("notices directed to %v, want jpn-2 and kor-1", got)
	}
	// Once the uid is KOR's own stream, KOR's subscription reaches it.
	dir.set("jpn-3", principal(t, kor))
	f.must(jpn, "DELETE", "/Marti/api/missions/aim/contents?uid=shared-obj", nil, http.StatusOK)
	got = nil
	for _, ev := range f.sink.take() {
		for _, d := range ev.Dests {
			got = append(got, d.UID)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"jpn-2", "jpn-3", "kor-1"}) {
		t.Fatalf("notices directed to %v", got)
	}
}

// TestHiddenNameIndistinguishable: creating a name that a mission the
// caller may not see already holds answers exactly as for a free name
// (201, a new mission); the hidden mission is untouched, and a principal
// who sees both reaches each by its guid.
func TestHiddenNameIndistinguishable(t *testing.T) {
	f := newFixture(t, "")
	hidden := decode[missionsResp](t, f.must(jpn, "PUT", "/Marti/api/missions/op?access=SECRET&releasableTo=USA", nil, http.StatusCreated)).Data[0]
	code1, taken := f.do(kor, "PUT", "/Marti/api/missions/op?access=SECRET&releasableTo=USA", nil)
	code2, free := f.do(kor, "PUT", "/Marti/api/missions/free-name?access=SECRET&releasableTo=USA", nil)
	if code1 != http.StatusCreated || code2 != http.StatusCreated {
		t.Fatalf("taken name %d, free name %d", code1, code2)
	}
	mine := decode[missionsResp](t, taken).Data[0]
	if mine.GUID == hidden.GUID || mine.Label.Originator != "KOR" || bytes.Contains(taken, []byte(hidden.GUID)) {
		t.Fatalf("KOR's create answered %s", taken)
	}
	// The two answers differ only in name, guid and time.
	norm := func(b []byte, v *View) string {
		r := strings.NewReplacer(v.Name, "N", v.GUID, "G", v.CreateTime, "T")
		return r.Replace(string(b))
	}
	if norm(taken, mine) != norm(free, decode[missionsResp](t, free).Data[0]) {
		t.Fatalf("answers differ:\n%s\n%s", taken, free)
	}
	if v := decode[missionsResp](t, f.must(jpn, "GET", "/Marti/api/missions/op", nil, http.StatusOK)).Data[0]; v.GUID != hidden.GUID {
		t.Fatalf("JPN's op is now %s", v.GUID)
	}
	if v := decode[missionsResp](t, f.must(kor, "GET", "/Marti/api/missions/op", nil, http.StatusOK)).Data[0]; v.GUID != mine.GUID {
		t.Fatalf("KOR's op is %s", v.GUID)
	}
	// USA sees both: the list holds both, each guid reaches its own.
	list := decode[missionsResp](t, f.must(usa, "GET", "/Marti/api/missions", nil, http.StatusOK)).Data
	n := 0
	for _, v := range list {
		if v.Name == "op" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("USA lists %d missions named op", n)
	}
	for _, g := range []string{hidden.GUID, mine.GUID} {
		if v := decode[missionsResp](t, f.must(usa, "GET", "/Marti/api/missions/guid/"+g, nil, http.StatusOK)).Data[0]; v.GUID != g {
			t.Fatalf("guid %s answered %s", g, v.GUID)
		}
	}
	// KOR reaches JPN's mission by guid no more than by name.
	f.must(kor, "GET", "/Marti/api/missions/guid/"+hidden.GUID, nil, http.StatusNotFound)
	f.must(kor, "GET", "/Marti/api/missions/guid/"+hidden.GUID+"/changes", nil, http.StatusNotFound)
}

// TestRolePersists: a read-only role stays with the principal when it
// unsubscribes and subscribes again (also with another client uid).
func TestRolePersists(t *testing.T) {
	f := newFixture(t, "")
	f.must(jpn, "PUT", "/Marti/api/missions/ro?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	f.must(kor, "PUT", "/Marti/api/missions/ro/subscription?uid=kor-1", nil, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/ro/role?clientUid=kor-1&role=MISSION_READONLY_SUBSCRIBER", nil, http.StatusOK)
	f.must(kor, "PUT", "/Marti/api/missions/ro/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusForbidden)
	f.must(kor, "DELETE", "/Marti/api/missions/ro/subscription?uid=kor-1", nil, http.StatusOK)
	for _, uid := range []string{"kor-1", "kor-2"} {
		b := f.must(kor, "PUT", "/Marti/api/missions/ro/subscription?uid="+uid, nil, http.StatusCreated)
		if !bytes.Contains(b, []byte(`"type":"MISSION_READONLY_SUBSCRIBER"`)) {
			t.Fatalf("resubscribed %s as %s", uid, b)
		}
		f.must(kor, "PUT", "/Marti/api/missions/ro/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusForbidden)
	}
	// Also across a restart.
	f.srv.Close()
	f.svc.Stop(context.Background())
	g := newFixture(t, f.db)
	g.must(kor, "DELETE", "/Marti/api/missions/ro/subscription?uid=kor-1", nil, http.StatusOK)
	g.must(kor, "DELETE", "/Marti/api/missions/ro/subscription?uid=kor-2", nil, http.StatusOK)
	if b := g.must(kor, "PUT", "/Marti/api/missions/ro/subscription?uid=kor-1", nil, http.StatusCreated); !bytes.Contains(b, []byte("MISSION_READONLY_SUBSCRIBER")) {
		t.Fatalf("after restart: %s", b)
	}
}

// TestMissionPassword: a mission created with a password needs it to
// subscribe; until then its contents are withheld; the password is
// stored only as a bcrypt hash and never shown.
func TestMissionPassword(t *testing.T) {
	f := newFixture(t, "")
	const pw = "s3cret-Pass"
	b := f.must(jpn, "PUT", "/Marti/api/missions/locked?creatorUid=jpn-1&access=SECRET&releasableTo=KOR&password="+pw, nil, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/locked/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusOK)
	v := decode[missionsResp](t, f.must(kor, "GET", "/Marti/api/missions/locked?changes=true", nil, http.StatusOK)).Data[0]
	if !v.PasswordProtected || len(v.UIDs) != 0 || len(v.MissionChanges) != 0 {
		t.Fatalf("KOR before the password: %+v", v)
	}
	f.must(kor, "PUT", "/Marti/api/missions/locked/subscription?uid=kor-1", nil, http.StatusForbidden)
	f.must(kor, "PUT", "/Marti/api/missions/locked/subscription?uid=kor-1&password=wrong", nil, http.StatusForbidden)
	f.must(kor, "GET", "/Marti/api/missions/locked/cot", nil, http.StatusOK)
	bodies := [][]byte{b}
	bodies = append(bodies, f.must(kor, "PUT", "/Marti/api/missions/locked/subscription?uid=kor-1&password="+pw, nil, http.StatusCreated))
	v = decode[missionsResp](t, f.must(kor, "GET", "/Marti/api/missions/locked", nil, http.StatusOK)).Data[0]
	if len(v.UIDs) != 1 {
		t.Fatalf("KOR after subscribing: %+v", v)
	}
	bodies = append(bodies, f.must(jpn, "GET", "/Marti/api/missions", nil, http.StatusOK), f.must(jpn, "GET", "/Marti/api/missions/locked?changes=true&logs=true", nil, http.StatusOK))
	for _, body := range bodies {
		if bytes.Contains(body, []byte(pw)) || bytes.Contains(body, []byte("$2a$")) || bytes.Contains(body, []byte("$2b$")) {
			t.Fatalf("password shown: %s", body)
		}
	}
	f.srv.Close()
	f.svc.Stop(context.Background())
	raw, err := os.ReadFile(f.db)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(pw)) || !bytes.Contains(raw, []byte("$2a$")) {
		t.Fatal("the database does not hold the password as a bcrypt hash only")
	}
	g := newFixture(t, f.db)
	g.must(usa, "PUT", "/Marti/api/missions/locked/password?password=x", nil, http.StatusNotFound)
	g.must(kor, "PUT", "/Marti/api/missions/locked/password?password=x", nil, http.StatusForbidden)
	g.must(jpn, "DELETE", "/Marti/api/missions/locked/password", nil, http.StatusOK)
	if v := decode[missionsResp](t, g.must(jpn, "GET", "/Marti/api/missions/locked", nil, http.StatusOK)).Data[0]; v.PasswordProtected {
		t.Fatal("password not removed")
	}
}

// TestMissionByGUID: the /missions/guid/{guid}/… forms reach the same
// mission as its name, and DELETE /missions?guid= deletes it.
func TestMissionByGUID(t *testing.T) {
	f := newFixture(t, "")
	v := decode[missionsResp](t, f.must(jpn, "PUT", "/Marti/api/missions/by-guid?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)).Data[0]
	g := "/Marti/api/missions/guid/" + v.GUID
	f.must(jpn, "PUT", g+"/contents", Contents{UIDs: []string{"shared-obj"}}, http.StatusOK)
	if got := decode[missionsResp](t, f.must(kor, "GET", g, nil, http.StatusOK)).Data[0]; got.Name != "by-guid" || len(got.UIDs) != 1 {
		t.Fatalf("by guid: %+v", got)
	}
	if cs := decode[changesResp](t, f.must(kor, "GET", g+"/changes", nil, http.StatusOK)).Data; len(cs) != 2 {
		t.Fatalf("changes by guid: %+v", cs)
	}
	f.must(kor, "PUT", g+"/subscription?uid=kor-1", nil, http.StatusCreated)
	if subs := decode[struct{ Data []string }](t, f.must(kor, "GET", g+"/subscriptions", nil, http.StatusOK)).Data; !slices.Equal(subs, []string{"jpn-1", "kor-1"}) {
		t.Fatalf("subscriptions by guid %v", subs)
	}
	if b := f.must(kor, "GET", g+"/cot", nil, http.StatusOK); !bytes.Contains(b, []byte("shared-obj")) {
		t.Fatalf("cot by guid %s", b)
	}
	f.must(usa, "GET", g, nil, http.StatusNotFound)
	f.must(jpn, "GET", "/Marti/api/missions/guid/00000000-0000-0000-0000-000000000000", nil, http.StatusNotFound)
	f.must(kor, "DELETE", "/Marti/api/missions?guid="+v.GUID, nil, http.StatusForbidden)
	f.must(jpn, "DELETE", "/Marti/api/missions?guid="+v.GUID, nil, http.StatusOK)
	f.must(jpn, "GET", "/Marti/api/missions/by-guid", nil, http.StatusNotFound)
}

// TestMissionLayers: the owner creates, nests, renames and deletes
// layers (by name and by guid); others read them; only who sees the
// mission does.
func TestMissionLayers(t *testing.T) {
	f := newFixture(t, "")
	v := decode[missionsResp](t, f.must(jpn, "PUT", "/Marti/api/missions/lay?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)).Data[0]
	f.must(jpn, "PUT", "/Marti/api/missions/lay/layers?name=Sector&type=GROUP&uid=g1&creatorUid=jpn-1", nil, http.StatusOK)
	f.must(jpn, "PUT", "/Marti/api/missions/guid/"+v.GUID+"/layers?name=Units&type=UID&uid=u1&parentUid=g1&creatorUid=jpn-1", nil, http.StatusOK)
	f.must(jpn, "PUT", "/Marti/api/missions/lay/layers?name=Bad&type=NOPE", nil, http.StatusBadRequest)
	f.must(jpn, "PUT", "/Marti/api/missions/lay/layers?name=Orphan&parentUid=missing", nil, http.StatusNotFound)
	f.must(kor, "PUT", "/Marti/api/missions/lay/subscription?uid=kor-1", nil, http.StatusCreated)
	f.must(kor, "PUT", "/Marti/api/missions/lay/layers?name=Mine", nil, http.StatusForbidden)
	f.must(jpn, "PUT", "/Marti/api/missions/lay/layers/u1/name?name=Friendly+units", nil, http.StatusOK)
	type layersResp struct{ Data []*LayerView }
	ls := decode[layersResp](t, f.must(kor, "GET", "/Marti/api/missions/lay/layers", nil, http.StatusOK)).Data
	if len(ls) != 1 || ls[0].UID != "g1" || len(ls[0].MissionLayers) != 1 || ls[0].MissionLayers[0].Name != "Friendly units" || ls[0].MissionLayers[0].Type != "UID" {
		t.Fatalf("layers %+v", ls)
	}
	f.must(kor, "GET", "/Marti/api/missions/lay/layers/g1", nil, http.StatusOK)
	f.must(usa, "GET", "/Marti/api/missions/lay/layers", nil, http.StatusNotFound)
	f.must(jpn, "DELETE", "/Marti/api/missions/lay/layers?uid=g1&creatorUid=jpn-1", nil, http.StatusOK)
	if ls := decode[layersResp](t, f.must(kor, "GET", "/Marti/api/missions/lay/layers", nil, http.StatusOK)).Data; len(ls) != 0 {
		t.Fatalf("after delete %+v", ls)
	}
}

// TestMissionPackage: a data package imported into a mission becomes its
// contents under the label asked for; the mission's archive holds, for
// each caller, only the files and CoT its labels release to it.
func TestMissionPackage(t *testing.T) {
	f := newFixture(t, "")
	st, err := files.New(files.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.svc.cfg.Store, f.svc.cfg.Files = storeAdapter{st}, st
	f.must(jpn, "PUT", "/Marti/api/missions/pkg?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	f.must(jpn, "PUT", "/Marti/api/missions/pkg/contents", Contents{UIDs: []string{"shared-obj", "secret-jpn"}}, http.StatusOK)
	zipOf := func(entries map[string]string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for n, c := range entries {
			w, _ := zw.Create(n)
			w.Write([]byte(c))
		}
		zw.Close()
		return b.Bytes()
	}
	put := func(who, query string, body []byte, want int) {
		t.Helper()
		req, _ := http.NewRequest("PUT", f.srv.URL+"/Marti/api/missions/pkg/contents/missionpackage?creatorUid=x"+query, bytes.NewReader(body))
		req.Header.Set("X-Principal", who)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("import as %s%s: %d, want %d", who, query, resp.StatusCode, want)
		}
	}
	put(jpn, "&access=SECRET&releasableTo=KOR", zipOf(map[string]string{"MANIFEST/manifest.xml": "<m/>", "plan/shared.txt": "shared plan"}), http.StatusOK)
	put(jpn, "", zipOf(map[string]string{"jpn.txt": "jpn only plan"}), http.StatusOK)
	put(jpn, "", []byte("not a zip"), http.StatusBadRequest)
	// A small archive that inflates past the package limit (two files of
	// zeros, each under the per-file limit) is refused before anything
	// is written.
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	for _, n := range []string{"a.bin", "b.bin"} {
		w, _ := zw.Create(n)
		w.Write(make([]byte, maxPackage/2+1))
	}
	zw.Close()
	if bomb.Len() >= maxPackage/100 {
		t.Fatalf("the test archive is not small: %d bytes", bomb.Len())
	}
	put(jpn, "", bomb.Bytes(), http.StatusBadRequest)
	put(usa, "", zipOf(map[string]string{"x.txt": "x"}), http.StatusNotFound)
	archive := func(who string) map[string]string {
		t.Helper()
		code, b := f.do(who, "GET", "/Marti/api/missions/pkg/archive", nil)
		if code != http.StatusOK {
			t.Fatalf("archive as %s: %d", who, code)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, zf := range zr.File {
			rc, _ := zf.Open()
			c, _ := io.ReadAll(rc)
			rc.Close()
			out[zf.Name] = string(c)
		}
		return out
	}
	has := func(a map[string]string, content string) bool {
		for _, c := range a {
			if strings.Contains(c, content) {
				return true
			}
		}
		return false
	}
	k := archive(kor)
	if !has(k, "shared plan") || has(k, "jpn only plan") || !has(k, `uid="shared-obj"`) || has(k, "secret-jpn") || k["MANIFEST/manifest.xml"] == "" {
		t.Fatalf("KOR's archive %v", k)
	}
	j := archive(jpn)
	if !has(j, "shared plan") || !has(j, "jpn only plan") || !has(j, `uid="secret-jpn"`) {
		t.Fatalf("JPN's archive %v", j)
	}
	f.must(usa, "GET", "/Marti/api/missions/pkg/archive", nil, http.StatusNotFound)
}

type storeAdapter struct{ *files.Store }

func (a storeAdapter) Open(p label.Principal, hash string) (io.ReadCloser, files.Meta, error) {
	return a.Store.Open(p, hash)
}
