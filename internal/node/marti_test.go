package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/taktest"
)

type httpResult struct {
	status int
	body   []byte
	header http.Header
}

func doHTTP(t *testing.T, c *http.Client, method, url, ct string, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, b, resp.Header}
}

func multipartBody(t *testing.T, field, name, ct string, content []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + name + `"`}
	h["Content-Type"] = []string{ct}
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(content)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type clientEndPointsResp struct {
	Version string `json:"version"`
	Type    string `json:"type"`
	NodeID  string `json:"nodeId"`
	Data    []struct {
		UID           string `json:"uid"`
		Callsign      string `json:"callsign"`
		LastEventTime string `json:"lastEventTime"`
		LastStatus    string `json:"lastStatus"`
	} `json:"data"`
}

func (c clientEndPointsResp) has(callsign string) bool {
	for _, d := range c.Data {
		if d.Callsign == callsign {
			return true
		}
	}
	return false
}

// TestMartiAPI: the endpoints TAK clients call on connect and to share
// files, their shapes and status codes, and the label filter on each.
func TestMartiAPI(t *testing.T) {
	tp := newTestPKI(t, "USA", "JPN", "KOR")
	cfg := tp.cfg
	for _, p := range []string{"JPN:SECRET", "KOR:SECRET"} {
		cfg.Listeners = append(cfg.Listeners,
			ListenerConfig{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: p},
			ListenerConfig{Kind: KindHTTP, Addr: "127.0.0.1:0", Principal: p})
	}
	cfg.DataDir = t.TempDir()
	n := startNode(t, cfg)
	jpnURL := "http://" + addrOf(t, n, KindHTTP, "JPN:SECRET")
	korURL := "http://" + addrOf(t, n, KindHTTP, "KOR:SECRET")
	hc := &http.Client{Timeout: 10 * time.Second}

	t.Run("version", func(t *testing.T) {
		r := doHTTP(t, hc, "GET", jpnURL+"/Marti/api/version", "", nil)
		if r.status != 200 || !strings.Contains(string(r.body), "Kizuna") {
			t.Errorf("version: %d %q", r.status, r.body)
		}
		r = doHTTP(t, hc, "GET", jpnURL+"/Marti/api/version/config", "", nil)
		var vc struct {
			Version string            `json:"version"`
			Type    string            `json:"type"`
			Data    map[string]string `json:"data"`
			NodeID  string            `json:"nodeId"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &vc) != nil || vc.Version != "3" || vc.Type != "ServerConfig" ||
			vc.Data["api"] != "3" || !strings.HasPrefix(vc.Data["version"], "Kizuna") || vc.NodeID != "usa-node" {
			t.Errorf("version/config: %d %s", r.status, r.body)
		}
	})

	t.Run("clientEndPoints", func(t *testing.T) {
		jpn := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
		kor := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
		jpn.Offered()
		kor.Offered()
		jpn.SendString(atak5SA("ANDROID-sakura", "SAKURA", "h-e"))
		kor.SendString(atak5SA("ANDROID-tiger", "TIGER", "h-e"))
		// Another KOR device shares its presence with JPN explicitly.
		kor2 := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
		kor2.Offered()
		kor2.SendString(strings.Replace(atak5SA("ANDROID-tiger2", "TIGER-SHARED", "h-e"), "access='Undefined'", "access='Secret' releasableTo='JPN'", 1))
		get := func(base string) clientEndPointsResp {
			var c clientEndPointsResp
			r := doHTTP(t, hc, "GET", base+"/Marti/api/clientEndPoints", "", nil)
			if r.status != 200 || json.Unmarshal(r.body, &c) != nil {
				t.Fatalf("clientEndPoints: %d %s", r.status, r.body)
			}
			return c
		}
		taktest.WaitUntil(t, "clients listed", 5*time.Second, func() bool {
			return get(jpnURL).has("TIGER-SHARED") && get(korURL).has("TIGER")
		})
		j, k := get(jpnURL), get(korURL)
		if j.Type != "com.bbn.marti.remote.ClientEndpoint" || j.Version != "3" {
			t.Errorf("shape: %+v", j)
		}
		if !j.has("SAKURA") || j.has("TIGER") {
			t.Errorf("JPN sees %+v", j.Data)
		}
		if k.has("SAKURA") || !k.has("TIGER") || !k.has("TIGER-SHARED") {
			t.Errorf("KOR sees %+v", k.Data)
		}
		for _, d := range j.Data {
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", d.LastEventTime); err != nil || d.LastStatus != "Connected" || d.UID == "" {
				t.Errorf("entry %+v: %v", d, err)
			}
		}
		// A closed stream makes its client Disconnected.
		kor2.Conn.Close()
		taktest.WaitUntil(t, "TIGER-SHARED disconnected", 5*time.Second, func() bool {
			for _, d := range get(korURL).Data {
				if d.Callsign == "TIGER-SHARED" {
					return d.LastStatus == "Disconnected"
				}
			}
			return false
		})
		if c := get(korURL); !c.has("TIGER") {
			t.Error("KOR's own connected client missing")
		}
		// Over HTTPS the principal is the client certificate.
		korCert, _ := tp.client(t, "KOR", "TIGER-1", label.Secret)
		sc := &http.Client{Transport: &http.Transport{TLSClientConfig: tp.clientTLS(korCert)}, Timeout: 10 * time.Second}
		var c clientEndPointsResp
		r := doHTTP(t, sc, "GET", "https://"+addrOf(t, n, KindHTTPS, "")+"/Marti/api/clientEndPoints", "", nil)
		if r.status != 200 || json.Unmarshal(r.body, &c) != nil || c.has("SAKURA") || !c.has("TIGER") {
			t.Errorf("HTTPS clientEndPoints as KOR: %d %s", r.status, r.body)
		}
	})

	t.Run("device profile", func(t *testing.T) {
		if r := doHTTP(t, hc, "GET", jpnURL+"/Marti/api/device/profile/connection?syncSecago=0&clientUid=x", "", nil); r.status != 204 {
			t.Errorf("no profile: %d", r.status)
		}
		dir := filepath.Join(cfg.DataDir, "profiles", "connection")
		os.MkdirAll(dir, 0o700)
		if err := os.WriteFile(filepath.Join(dir, "JPN.zip"), []byte("PK\x05\x06jpn-profile"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := doHTTP(t, hc, "GET", jpnURL+"/Marti/api/device/profile/connection", "", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/zip" || !bytes.Contains(r.body, []byte("jpn-profile")) {
			t.Errorf("JPN profile: %d %q", r.status, r.body)
		}
		if r := doHTTP(t, hc, "GET", korURL+"/Marti/api/device/profile/connection", "", nil); r.status != 204 {
			t.Errorf("KOR got JPN's profile: %d", r.status)
		}
		if r := doHTTP(t, hc, "GET", korURL+"/Marti/api/tls/profile/enrollment", "", nil); r.status != 204 {
			t.Errorf("enrollment profile: %d", r.status)
		}
	})

	t.Run("files", func(t *testing.T) {
		content := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("mission package "), 1<<17)...) // 2 MiB: over the 1 MiB API body limit
		hash := sha(content)
		if r := doHTTP(t, hc, "GET", jpnURL+"/Marti/sync/missionquery?hash="+hash, "", nil); r.status != 404 {
			t.Errorf("missionquery before upload: %d", r.status)
		}
		ct, body := multipartBody(t, "assetfile", "pkg.zip", "application/x-zip-compressed", content)
		r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload?hash="+hash+"&filename=pkg.zip&creatorUid=ANDROID-sakura", ct, body)
		wantURL := jpnURL + "/Marti/sync/content?hash=" + hash
		if r.status != 200 || string(r.body) != wantURL {
			t.Fatalf("missionupload: %d %q, want %q", r.status, r.body, wantURL)
		}
		if r := doHTTP(t, hc, "GET", jpnURL+"/Marti/sync/missionquery?hash="+hash, "", nil); r.status != 200 || string(r.body) != wantURL {
			t.Errorf("missionquery: %d %q", r.status, r.body)
		}
		if r := doHTTP(t, hc, "GET", jpnURL+"/Marti/sync/content?hash="+hash, "", nil); r.status != 200 || !bytes.Equal(r.body, content) ||
			!strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("content as JPN: %d, %d bytes, %v", r.status, len(r.body), r.header)
		}
		// KOR holds the hash but may not see the file: 404, same as absent.
		absent := doHTTP(t, hc, "GET", korURL+"/Marti/sync/content?hash="+sha([]byte("nothing")), "", nil)
		for _, path := range []string{"/Marti/sync/content?hash=", "/Marti/sync/missionquery?hash="} {
			r := doHTTP(t, hc, "GET", korURL+path+hash, "", nil)
			if r.status != 404 || (path == "/Marti/sync/content?hash=" && !bytes.Equal(r.body, absent.body)) {
				t.Errorf("KOR %s: %d %q", path, r.status, r.body)
			}
		}
		if r := doHTTP(t, hc, "DELETE", korURL+"/Marti/api/files/"+hash, "", nil); r.status != 404 {
			t.Errorf("KOR delete: %d", r.status)
		}
		// Refusals.
		ct2, body2 := multipartBody(t, "assetfile", "x.zip", "application/zip", []byte("PK\x03\x04x"))
		if r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload?hash="+hash, ct2, body2); r.status != 400 {
			t.Errorf("hash mismatch: %d %s", r.status, r.body)
		}
		ct3, body3 := multipartBody(t, "assetfile", "x.html", "text/html", []byte("<script>"))
		if r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload", ct3, body3); r.status != 415 {
			t.Errorf("html: %d %s", r.status, r.body)
		}
		ct4, body4 := multipartBody(t, "other", "x.zip", "application/zip", []byte("PK\x03\x04x"))
		if r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload", ct4, body4); r.status != 400 {
			t.Errorf("no assetfile: %d %s", r.status, r.body)
		}
		if r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload?access=TOP+SECRET", ct2, body2); r.status != 403 {
			t.Errorf("above clearance: %d %s", r.status, r.body)
		}
		// Widened to KOR by its uploader: KOR may fetch it.
		shared := []byte("PK\x03\x04shared")
		ct5, body5 := multipartBody(t, "assetfile", "shared.zip", "application/zip", shared)
		if r := doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/missionupload?access=Secret&releasableTo=KOR", ct5, body5); r.status != 200 {
			t.Fatalf("shared upload: %d %s", r.status, r.body)
		}
		if r := doHTTP(t, hc, "GET", korURL+"/Marti/sync/content?hash="+sha(shared), "", nil); r.status != 200 || !bytes.Equal(r.body, shared) {
			t.Errorf("KOR fetch of a file released to it: %d", r.status)
		}
		// Raw /Marti/sync/upload answers with metadata.
		r = doHTTP(t, hc, "POST", jpnURL+"/Marti/sync/upload?name=note.txt&keywords=a,b", "text/plain", []byte("hello"))
		var meta map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &meta) != nil || meta["Hash"] != sha([]byte("hello")) || meta["Name"] != "note.txt" {
			t.Errorf("sync/upload: %d %s", r.status, r.body)
		}
		// The owner deletes.
		if r := doHTTP(t, hc, "DELETE", jpnURL+"/Marti/api/files/"+hash, "", nil); r.status != 200 {
			t.Errorf("owner delete: %d %s", r.status, r.body)
		}
		if r := doHTTP(t, hc, "GET", jpnURL+"/Marti/sync/missionquery?hash="+hash, "", nil); r.status != 404 {
			t.Errorf("missionquery after delete: %d", r.status)
		}
	})

	t.Run("file transfer request passes through", func(t *testing.T) {
		src := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
		dst := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
		kor := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
		for _, c := range []*takClient{src, dst, kor} {
			c.Offered()
		}
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		stale := time.Now().UTC().Add(time.Minute).Format("2006-01-02T15:04:05.000Z")
		src.SendString(`<event version="2.0" uid="ft-1" type="b-f-t-r" how="h-e" time="` + now + `" start="` + now + `" stale="` + stale + `" access="Undefined"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><fileshare filename="pkg.zip" senderUrl="` + jpnURL + `/Marti/sync/content?hash=abc" sizeInBytes="5" sha256="abc" senderUid="ANDROID-sakura" senderCallsign="SAKURA" name="pkg"/><ackrequest uid="ack-1" ackrequested="true" tag="pkg"/></detail></event>`)
		src.SendEvent(event("ft-sentinel", "a-f-G-U-C", `access="U" releasableTo="KOR"`))
		got := dst.Expect("b-f-t-r", isUID("ft-1"), 5*time.Second)
		if !bytes.Contains(got.Detail, []byte("<fileshare")) {
			t.Errorf("detail %s", got.Detail)
		}
		for _, e := range kor.CollectUntil("ft-sentinel", 5*time.Second) {
			if e.UID == "ft-1" {
				t.Error("KOR received JPN's file transfer request")
			}
		}
	})
}

// TestMartiFilesSurviveRestart: a file uploaded through the Marti API is
// there, with its label, after the node restarts on the same data folder.
func TestMartiFilesSurviveRestart(t *testing.T) {
	cfg := baseConfig(nil, []string{"JPN:SECRET", "KOR:SECRET"})
	cfg.DataDir = t.TempDir()
	first, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	content := []byte("PK\x03\x04 kept across restarts")
	ct, body := multipartBody(t, "assetfile", "keep.zip", "application/zip", content)
	r := doHTTP(t, hc, "POST", "http://"+addrOf(t, first, KindHTTP, "JPN:SECRET")+"/Marti/sync/missionupload?hash="+sha(content), ct, body)
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, cfg)
	if r := doHTTP(t, hc, "GET", "http://"+addrOf(t, n, KindHTTP, "JPN:SECRET")+"/Marti/sync/content?hash="+sha(content), "", nil); r.status != 200 || !bytes.Equal(r.body, content) {
		t.Errorf("after restart JPN: %d %q", r.status, r.body)
	}
	if r := doHTTP(t, hc, "GET", "http://"+addrOf(t, n, KindHTTP, "KOR:SECRET")+"/Marti/sync/content?hash="+sha(content), "", nil); r.status != 404 {
		t.Errorf("after restart KOR: %d", r.status)
	}
}
