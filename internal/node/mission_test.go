package node

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/mission"
	"kizuna/internal/taktest"
)

// missionCall sends a Mission API request to an HTTP listener.
func missionCall(t *testing.T, addr, method, path, body string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

func isMissionChange(uid string) func(*cot.Event) bool {
	return func(ev *cot.Event) bool {
		return ev.Type == mission.TypeChange && bytes.Contains(ev.Detail, []byte("<contentUid>"+uid+"</contentUid>"))
	}
}

// TestMissionOverStreams: a JPN operator creates a mission shared with
// KOR and files a JPN-only object and a shared one; the KOR subscriber's
// TAK stream gets the change about the shared object and never the other
// (the first mission change it receives is the shared one); a late KOR
// joiner's view, change log and cot hold the shared object only; a
// JPN-only mission is a 404 for KOR.
func TestMissionOverStreams(t *testing.T) {
	cfg := baseConfig([]string{"JPN:SECRET", "KOR:SECRET"}, []string{"JPN:SECRET", "KOR:SECRET"})
	n := startNode(t, cfg)
	jh, kh := addrOf(t, n, KindHTTP, "JPN:SECRET"), addrOf(t, n, KindHTTP, "KOR:SECRET")
	jc := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	kc := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
	jc.SendEvent(event("jpn-1", "a-f-G-U-C", ""))
	jc.SendEvent(event("secret-jpn", "a-h-G", `access="SECRET" releasableTo="JPN"`))
	jc.SendEvent(event("shared-obj", "a-f-G", `access="SECRET" releasableTo="KOR"`))
	kc.SendEvent(event("kor-1", "a-f-G-U-C", ""))
	taktest.WaitUntil(t, "objects in the picture", 10*time.Second, func() bool {
		var jo, ko objectsResp
		getJSON(t, "http://"+jh+"/api/v1/objects", &jo)
		getJSON(t, "http://"+kh+"/api/v1/objects", &ko)
		return jo.has("secret-jpn") && jo.has("shared-obj") && jo.has("jpn-1") && ko.has("kor-1")
	})

	missionCall(t, jh, "PUT", "/Marti/api/missions/op-sakura?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", "", http.StatusCreated)
	missionCall(t, jh, "PUT", "/Marti/api/missions/op-jpn?creatorUid=jpn-1", "", http.StatusCreated)
	missionCall(t, kh, "PUT", "/Marti/api/missions/op-sakura/subscription?uid=kor-1", "", http.StatusCreated)
	missionCall(t, jh, "PUT", "/Marti/api/missions/op-sakura/contents?creatorUid=jpn-1", `{"uids":["secret-jpn"]}`, http.StatusOK)
	missionCall(t, jh, "PUT", "/Marti/api/missions/op-sakura/contents?creatorUid=jpn-1", `{"uids":["shared-obj"]}`, http.StatusOK)

	// JPN's creator subscription sees both changes, in order.
	jc.Expect("JPN notice about secret-jpn", isMissionChange("secret-jpn"), 10*time.Second)
	jc.Expect("JPN notice about shared-obj", isMissionChange("shared-obj"), 10*time.Second)
	// KOR's first mission notice is the shared object's.
	ev := kc.Expect("KOR mission notice", func(ev *cot.Event) bool { return ev.Type == mission.TypeChange }, 10*time.Second)
	if !isMissionChange("shared-obj")(ev) || bytes.Contains(ev.Detail, []byte("secret-jpn")) || ev.ReleasableTo == "" {
		t.Fatalf("KOR's first notice: %s (releasableTo %q)", ev.Detail, ev.ReleasableTo)
	}
	if !bytes.Contains(ev.Detail, []byte(`name="op-sakura"`)) {
		t.Fatalf("notice without the mission: %s", ev.Detail)
	}

	// Late join: a second KOR client subscribes and catches up.
	kc2 := dial(t, addrOf(t, n, KindCoTTCP, "KOR:SECRET"))
	kc2.SendEvent(event("kor-2", "a-f-G-U-C", ""))
	missionCall(t, kh, "PUT", "/Marti/api/missions/op-sakura/subscription?uid=kor-2", "", http.StatusCreated)
	var view struct {
		Data []mission.View `json:"data"`
	}
	b := missionCall(t, kh, "GET", "/Marti/api/missions/op-sakura?changes=true", "", http.StatusOK)
	if err := json.Unmarshal(b, &view); err != nil || len(view.Data) != 1 {
		t.Fatalf("view %s: %v", b, err)
	}
	v := view.Data[0]
	if len(v.UIDs) != 1 || v.UIDs[0].Data != "shared-obj" || len(v.MissionChanges) != 2 {
		t.Fatalf("KOR late joiner sees uids %+v and %d changes", v.UIDs, len(v.MissionChanges))
	}
	for _, path := range []string{"/Marti/api/missions/op-sakura/changes", "/Marti/api/missions/op-sakura/cot", "/Marti/api/missions"} {
		body := missionCall(t, kh, "GET", path, "", http.StatusOK)
		if bytes.Contains(body, []byte("secret-jpn")) || bytes.Contains(body, []byte("op-jpn")) {
			t.Fatalf("KOR's %s reveals JPN-only data: %s", path, body)
		}
		if path == "/Marti/api/missions/op-sakura/cot" && !bytes.Contains(body, []byte(`uid="shared-obj"`)) {
			t.Fatalf("KOR's cot lacks the shared object: %s", body)
		}
	}
	missionCall(t, kh, "GET", "/Marti/api/missions/op-jpn", "", http.StatusNotFound)
	missionCall(t, kh, "GET", "/Marti/api/missions/op-jpn/changes", "", http.StatusNotFound)
}
