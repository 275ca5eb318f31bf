package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kizuna/internal/node"
)

func TestParsePeer(t *testing.T) {
	cases := []struct {
		in      string
		want    node.PeerConfig
		wantErr bool
	}{
		{"usa-hub=10.0.0.1:9001@SECRET", node.PeerConfig{Name: "usa-hub", Addr: "10.0.0.1:9001", Classification: "SECRET"}, false},
		{"kor-node=", node.PeerConfig{Name: "kor-node"}, false},
		{"jpn-node=@TS", node.PeerConfig{Name: "jpn-node", Classification: "TOP SECRET"}, false},
		{"x=host:1@ULTRA", node.PeerConfig{}, true},
		{"=host:1", node.PeerConfig{}, true},
		{"nohost", node.PeerConfig{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePeer(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFeed(t *testing.T) {
	cases := []struct {
		in      string
		want    node.FeedConfig
		wantErr bool
	}{
		{"radar1=asterix:udp:127.0.0.1:8600@SECRET/USA,JPN", node.FeedConfig{Name: "radar1", Kind: "asterix", Transport: "udp", Addr: "127.0.0.1:8600", Classification: "SECRET", ReleasableTo: []string{"JPN", "USA"}}, false},
		{"adsb=sbs:tcp:localhost:30003", node.FeedConfig{Name: "adsb", Kind: "sbs", Transport: "tcp", Addr: "localhost:30003"}, false},
		{"ais=ais:tcp-listen:127.0.0.1:10110@U", node.FeedConfig{Name: "ais", Kind: "ais", Transport: "tcp-listen", Addr: "127.0.0.1:10110", Classification: "UNCLASSIFIED"}, false},
		{"bad=ais:tcp", node.FeedConfig{}, true},
		{"bad=ais:tcp:h:1@S/JAPAN", node.FeedConfig{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseFeed(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr {
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			}
		})
	}
}

// TestServeFlagsOverrideFile: listeners keep flag order across kinds, and
// flags override the configuration file.
func TestServeFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kizuna.json")
	os.WriteFile(file, []byte(`{"nation":"KOR","nodeId":"from-file","listeners":[{"kind":"http","addr":"127.0.0.1:1"}],"queueSize":77}`), 0o600)
	cfg := node.Default()
	sf := newServeFlags("serve", &cfg, &bytes.Buffer{})
	err := sf.parse([]string{"--config", file, "--nation", "JPN",
		"--http", "127.0.0.1:0@JPN:SECRET", "--cot-tcp", "127.0.0.1:0@USA:S", "--cot-udp", "127.0.0.1:0"}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Nation != "JPN" || cfg.NodeID != "from-file" || cfg.QueueSize != 77 {
		t.Errorf("nation=%s node=%s queue=%d", cfg.Nation, cfg.NodeID, cfg.QueueSize)
	}
	want := []node.ListenerConfig{
		{Kind: "http", Addr: "127.0.0.1:0", Principal: "JPN:SECRET"},
		{Kind: "cot-tcp", Addr: "127.0.0.1:0", Principal: "USA:S"},
		{Kind: "cot-udp", Addr: "127.0.0.1:0"},
	}
	if d := cmp.Diff(want, cfg.Listeners); d != "" {
		t.Errorf("listeners (-want +got)\n%s", d)
	}
	// A feed redefined on the command line keeps the site from the file.
	os.WriteFile(file, []byte(`{"feeds":[{"name":"r1","kind":"asterix","transport":"udp","addr":"127.0.0.1:1","site":{"lat":33.6,"lon":130.4}}]}`), 0o600)
	fc := node.Default()
	if err := newServeFlags("serve", &fc, &bytes.Buffer{}).parse([]string{"--config", file, "--feed", "r1=asterix:udp:127.0.0.1:2@S/USA"}, &fc); err != nil {
		t.Fatal(err)
	}
	if len(fc.Feeds) != 1 || fc.Feeds[0].Addr != "127.0.0.1:2" || fc.Feeds[0].Site == nil || fc.Feeds[0].Site.Lat != 33.6 {
		t.Errorf("feeds = %+v", fc.Feeds)
	}
	for _, bad := range [][]string{
		{"--cot-tls", "127.0.0.1:0@JPN:SECRET"},
		{"--cot-tcp", "127.0.0.1:0@JPN:ULTRA"},
		{"--trust", "JAPAN=ca.pem"},
		{"stray"},
	} {
		c := node.Default()
		if err := newServeFlags("serve", &c, &bytes.Buffer{}).parse(bad, &c); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestServeWritesListeners runs `kizuna serve` through Main and checks
// listeners.json against the SPEC's shape, in flag order.
func TestServeWritesListeners(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--data", dir, "--nation", "JPN", "--log-level", "error",
			"--cot-tcp", "127.0.0.1:0@JPN:SECRET", "--http", "127.0.0.1:0@USA:S", "--cot-tcp", "127.0.0.1:0"},
			Env{Stdout: &bytes.Buffer{}, Stderr: &stderr})
	}()
	var ls []map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "listeners.json"))
		if err == nil && json.Unmarshal(b, &ls) == nil && len(ls) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listeners.json; stderr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	kinds := []string{ls[0]["kind"], ls[1]["kind"], ls[2]["kind"]}
	prins := []string{ls[0]["principal"], ls[1]["principal"], ls[2]["principal"]}
	if strings.Join(kinds, ",") != "cot-tcp,http,cot-tcp" || strings.Join(prins, ",") != "JPN:SECRET,USA:SECRET,JPN:UNCLASSIFIED" {
		t.Errorf("listeners.json = %v", ls)
	}
	for _, l := range ls {
		if !strings.HasPrefix(l["addr"], "127.0.0.1:") || strings.HasSuffix(l["addr"], ":0") {
			t.Errorf("address %q is not a bound loopback address", l["addr"])
		}
	}
}
