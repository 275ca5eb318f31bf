package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/stix"
	"kizuna/internal/taktest"
	"kizuna/internal/taxii"
	"kizuna/internal/topology"
)

func taxiiDo(t *testing.T, method, url, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Accept", taxii.MediaTAXII)
	if body != "" {
		req.Header.Set("Content-Type", taxii.MediaTAXII)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return b
}

func collURL(n *node.Node, coll string) string {
	return "http://" + n.Addr(node.KindHTTP) + "/taxii2/" + node.CyberAPIRoot + "/collections/" + coll + "/"
}

func incidentV(modified string) string {
	return `{"type":"incident","spec_version":"2.1","id":"incident--e1e1e1e1-e1e1-4e1e-8e1e-e1e1e1e1e1e1","created":"2026-01-01T00:00:00.000Z","modified":"` + modified + `","name":"intrusion attempt on the Sasebo base network","x_kizuna_affected_uids":["demo-jpn-escflot2"],"object_marking_refs":["%s"]}`
}

// TestCyberFederation: JPN's incident released to USA reaches the USA
// hub's federated collection and not KOR's; JPN's national indicator
// stays home; a second version sent while the link is cut arrives after
// it is back, once, with versions ordered by modified; JPN's deletion of
// the incident deletes it at the hub.
func TestCyberFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three federated nodes and restarts one")
	}
	specs := topology.Trilateral()
	c := startTopology(t, t.TempDir(), specs)
	waitLinks := func(hub *node.Node) {
		t.Helper()
		taktest.WaitUntil(t, "links up", 30*time.Second, func() bool { return hub.Federation().Status().Up() == 2 })
	}
	waitLinks(c.Node("usa-hub"))
	jpn := c.Node("jpn-node")
	rel := label.Label{Classification: label.Secret, ReleasableTo: []string{"USA"}}
	mark := string(stix.MarkingDefinition(rel))
	ind := `{"type":"indicator","spec_version":"2.1","id":"indicator--f2f2f2f2-f2f2-4f2f-8f2f-f2f2f2f2f2f2","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`
	taxiiDo(t, "POST", collURL(jpn, node.DefaultCollectionID("jpn-node"))+"objects/",
		`{"objects":[`+mark+`,`+fmt.Sprintf(incidentV("2026-01-01T00:00:00.000Z"), stix.MarkingID(rel))+`,`+ind+`]}`)

	versions := func(n *node.Node) []string {
		b := taxiiDo(t, "GET", collURL(n, node.FederatedCollectionID(n.NodeID()))+"objects/incident--e1e1e1e1-e1e1-4e1e-8e1e-e1e1e1e1e1e1/versions/", "")
		var v struct{ Versions []string }
		json.Unmarshal(b, &v)
		return v.Versions
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		taktest.WaitUntil(t, what, 30*time.Second, cond)
	}
	usa := c.Node("usa-hub")
	waitFor("the incident at the USA hub", func() bool { return len(versions(usa)) == 1 })
	b := taxiiDo(t, "GET", collURL(usa, node.FederatedCollectionID("usa-hub"))+"objects/", "")
	if strings.Contains(string(b), "indicator--f2f2f2f2") {
		t.Fatal("JPN's national indicator crossed to USA")
	}
	if !strings.Contains(string(b), stix.MarkingID(label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"})) {
		t.Fatalf("the incident lost its JPN label: %s", b)
	}
	// The effect on the picture shows at the hub too.
	eb := taxiiDo(t, "GET", "http://"+usa.Addr(node.KindHTTP)+"/api/v1/cyber/effects", "")
	if !strings.Contains(string(eb), "demo-jpn-escflot2") {
		t.Fatalf("USA effects %s", eb)
	}

	// Cut the link: stop the hub, post a second version, bring it back.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Stop(ctx, "usa-hub"); err != nil {
		t.Fatal(err)
	}
	taxiiDo(t, "POST", collURL(jpn, node.DefaultCollectionID("jpn-node"))+"objects/",
		`{"objects":[`+fmt.Sprintf(incidentV("2026-01-02T00:00:00.000Z"), stix.MarkingID(rel))+`]}`)
	usa, err := c.Restart(context.Background(), "usa-hub")
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the second version after the link is back", func() bool { return len(versions(usa)) >= 2 })
	if got := versions(usa); !slices.Equal(got, []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"}) {
		t.Fatalf("versions at the hub: %v", got)
	}
	// KOR: nothing, though it is linked to the hub all along.
	kor := c.Node("kor-node")
	if b := taxiiDo(t, "GET", collURL(kor, node.FederatedCollectionID("kor-node"))+"objects/", ""); strings.Contains(string(b), "incident--") {
		t.Fatalf("KOR received %s", b)
	}

	// JPN deletes the incident: the deletion reaches the hub, and its
	// effect goes.
	taxiiDo(t, "DELETE", collURL(jpn, node.DefaultCollectionID("jpn-node"))+"objects/incident--e1e1e1e1-e1e1-4e1e-8e1e-e1e1e1e1e1e1/", "")
	// The store forgets a version, then the effects tracker does: wait
	// for both.
	effects := func() string {
		return string(taxiiDo(t, "GET", "http://"+usa.Addr(node.KindHTTP)+"/api/v1/cyber/effects", ""))
	}
	waitFor("the deletion and its effect gone at the USA hub", func() bool {
		return len(versions(usa)) == 0 && !strings.Contains(effects(), "demo-jpn-escflot2")
	})
}

// startTopology starts federated nodes on loopback in dir and shuts them
// down when the test ends.
func startTopology(t *testing.T, dir string, specs []topology.NodeSpec) *topology.Cluster {
	t.Helper()
	c, err := topology.Start(context.Background(), dir, specs, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	return c
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}
