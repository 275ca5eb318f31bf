package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/stix"
	"kizuna/internal/taxii"
)

// startTestNode starts a node with one plain HTTP listener of principal p.
func startTestNode(t *testing.T, nation, id, p string) (*node.Node, string) {
	t.Helper()
	cfg := node.Default()
	cfg.DataDir, cfg.Nation, cfg.NodeID = t.TempDir(), nation, id
	cfg.Listeners = []node.ListenerConfig{{Kind: node.KindHTTP, Addr: "127.0.0.1:0", Principal: p}}
	n, err := node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n, "http://" + n.Addr(node.KindHTTP) + "/taxii2/" + node.CyberAPIRoot + "/collections/" + node.DefaultCollectionID(id) + "/"
}

func postObjects(t *testing.T, coll string, objs ...string) {
	t.Helper()
	req, _ := http.NewRequest("POST", coll+"objects/", strings.NewReader(`{"objects":[`+strings.Join(objs, ",")+`]}`))
	req.Header.Set("Accept", taxii.MediaTAXII)
	req.Header.Set("Content-Type", taxii.MediaTAXII)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st taxii.Status
	json.NewDecoder(resp.Body).Decode(&st)
	if resp.StatusCode != 202 || st.FailureCount != 0 {
		t.Fatalf("post: %d %+v", resp.StatusCode, st)
	}
}

func objectIDs(t *testing.T, coll string) map[string]int {
	t.Helper()
	req, _ := http.NewRequest("GET", coll+"objects/?match[type]=indicator&match[version]=all", nil)
	req.Header.Set("Accept", taxii.MediaTAXII)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Objects []struct {
			ID   string   `json:"id"`
			Refs []string `json:"object_marking_refs"`
		} `json:"objects"`
	}
	json.Unmarshal(b, &env)
	out := map[string]int{}
	for _, o := range env.Objects {
		out[o.ID]++
	}
	return out
}

func ind(i int) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'bad%d.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i)
}

// TestTAXIIPull imports from one Kizuna node into another with the CLI,
// under an operator-given label, and resumes with added_after.
func TestTAXIIPull(t *testing.T) {
	_, src := startTestNode(t, "JPN", "jpn-cert", "JPN:SECRET")
	_, dst := startTestNode(t, "USA", "usa-node", "USA:SECRET")
	for i := 0; i < 5; i++ {
		postObjects(t, src, ind(i))
	}
	state := filepath.Join(t.TempDir(), "state")
	pull := func() string {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"taxii", "pull", "--from", src, "--to", dst, "--classification", "C", "--releasable-to", "JPN,KOR", "--state", state, "--limit", "2"}, Env{Stdout: &out, Stderr: &errb})
		if code != 0 {
			t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
		}
		return out.String()
	}
	if out := pull(); !strings.Contains(out, "stored=5") || !strings.Contains(out, "pages=3") {
		t.Fatalf("first pull: %s", out)
	}
	postObjects(t, src, ind(5), ind(6))
	if out := pull(); !strings.Contains(out, "fetched=2 stored=2") {
		t.Fatalf("resumed pull: %s", out)
	}
	if out := pull(); !strings.Contains(out, "fetched=0 stored=0") {
		t.Fatalf("pull with nothing new: %s", out)
	}
	got := objectIDs(t, dst)
	if len(got) != 7 {
		t.Fatalf("destination has %d indicators: %v", len(got), got)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
	// The operator's label: USA originates, releasable to JPN and KOR.
	want := label.Label{Classification: label.Confidential, ReleasableTo: []string{"JPN", "KOR", "USA"}, Originator: "USA"}
	req, _ := http.NewRequest("GET", dst+"objects/?match[type]=indicator&limit=1", nil)
	req.Header.Set("Accept", taxii.MediaTAXII)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(stix.MarkingID(want))) {
		t.Fatalf("imported object not marked %s: %s", want.Marking(), b)
	}
}
