package node

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
)

// fusionSources returns the sources attribute of a fused track event, or
// "" for another event.
func fusionSources(ev *cot.Event) (string, bool) {
	d := string(ev.Detail)
	i := strings.Index(d, "<__fusion ")
	if i < 0 {
		return "", false
	}
	d = d[i:]
	j := strings.Index(d, ` sources="`)
	if j < 0 {
		return "", false
	}
	d = d[j+10:]
	return d[:strings.IndexByte(d, '"')], true
}

// TestFeedsFuseIntoLabelledTracks: an AIS receiver and a radar that both
// see one ship, and a CoT sensor, feed a JPN node. The radar is JPN only:
// a US client receives the ship's track built from AIS alone, a Japanese
// client at SECRET also the one with the radar; the API and the metrics
// agree.
func TestFeedsFuseIntoLabelledTracks(t *testing.T) {
	t.Parallel()
	site := asterix.Site{Lat: 34.20, Lon: 129.29, Height: 60}
	const rho, theta = 18.0, 40.0 // NM, degrees
	shipLat, shipLon := site.Locate(rho, theta, site.Height)

	// The AIS receiver: a TCP server streaming the ship's reports.
	aisAddr := aisReceiver(t, func() []string {
		return scenario.EncodeAISPosition(431000001, shipLat, shipLon, 0, 0, 0, time.Now(), 'A')
	})
	radarAddr := freeUDPAddr(t)

	cfg := baseConfig([]string{"JPN:SECRET", "USA:SECRET"}, []string{"JPN:SECRET", "USA:SECRET"})
	cfg.Nation = "JPN"
	cfg.FusedTracks = "all" // labels, not areas, are tested here
	cfg.Feeds = []FeedConfig{
		{Name: "ais", Kind: "ais", Transport: "tcp", Addr: aisAddr, Classification: "UNCLASSIFIED", ReleasableTo: []string{"USA", "JPN"}},
		{Name: "radar", Kind: "asterix", Transport: "udp", Addr: radarAddr, Classification: "SECRET", ReleasableTo: []string{"JPN"},
			Site: &FeedSite{Lat: site.Lat, Lon: site.Lon, Height: site.Height}},
		{Name: "sensor", Kind: "cot", Transport: "tcp-listen", Addr: "127.0.0.1:0", Classification: "U", ReleasableTo: []string{"USA", "JPN"}},
	}
	n := startNode(t, cfg)
	jpn := dial(t, addrOf(t, n, KindCoTTCP, "JPN:SECRET"))
	usa := dial(t, addrOf(t, n, KindCoTTCP, "USA:SECRET"))

	// The radar: plots of the ship every 300 ms.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		c, err := net.Dial("udp", radarAddr)
		if err != nil {
			return
		}
		defer c.Close()
		for ctx.Err() == nil {
			now := time.Now().UTC()
			r := asterix.Record{SAC: 20, SIC: 1, Rho: rho, Theta: theta, TimeOfDay: now.Sub(now.Truncate(24 * time.Hour)),
				TargetReport: asterix.TargetReport{Type: 1}}
			for _, f := range []asterix.Field{asterix.FieldSource, asterix.FieldTimeOfDay, asterix.FieldTargetReport, asterix.FieldPolar} {
				r.Set(f)
			}
			c.Write(asterix.Encode048([]asterix.Record{r}))
			time.Sleep(300 * time.Millisecond)
		}
	}()
	// The CoT sensor connects to its tcp-listen feed and claims a label
	// of its own, which the feed replaces with its configured one.
	var sensorAddr string
	for _, fi := range n.Feeds() {
		if fi.Name == "sensor" {
			sensorAddr = fi.Addr
		}
	}
	sc, err := net.Dial("tcp", sensorAddr)
	if err != nil {
		t.Fatalf("dialling the cot feed at %q: %v", sensorAddr, err)
	}
	defer sc.Close()
	sc.Write(event("ICAO-A1B2C3", "a-f-A-M-F", `access="TOP SECRET" releasableTo="GBR"`).XML())

	const ship = "test-node.MMSI-431000001"
	var jpnView *cot.Event
	expectAll(t, jpn, 20*time.Second, map[string]func(*cot.Event) bool{
		"the JPN view of the ship": func(ev *cot.Event) bool {
			s, ok := fusionSources(ev)
			if ok && ev.UID == ship+".v1" && s == "ais radar" {
				jpnView = ev
				return true
			}
			return false
		},
	})
	if l, _, _ := jpnView.ParseLabel(); l.Classification != label.Secret || l.ReleasableString() != "JPN" || jpnView.Type != "a-n-S" {
		t.Errorf("JPN view: label %s type %s", l.Marking(), jpnView.Type)
	}
	expectAll(t, usa, 20*time.Second, map[string]func(*cot.Event) bool{
		"the shared view of the ship": func(ev *cot.Event) bool {
			s, ok := fusionSources(ev)
			l, _, _ := ev.ParseLabel()
			return ok && ev.UID == ship && s == "ais" && l.Classification == label.Unclassified
		},
		"the CoT sensor's event under the feed's label": func(ev *cot.Event) bool {
			return ev.UID == "ICAO-A1B2C3" && ev.Access == "UNCLASSIFIED" && ev.ReleasableTo == "JPN USA"
		},
		"the fused track of the CoT sensor's aircraft": func(ev *cot.Event) bool {
			s, ok := fusionSources(ev)
			return ok && ev.UID == "test-node.ICAO-A1B2C3" && s == "sensor" && ev.Type == "a-f-A"
		},
		"no track built with the JPN-only radar": nil,
	})
	for _, ev := range usa.Collect(2 * time.Second) {
		if s, _ := fusionSources(ev); strings.Contains(s, "radar") {
			t.Errorf("the US client received %s built with the JPN-only radar", ev.UID)
		}
	}

	type tracksResp struct {
		Tracks []struct {
			UID     string      `json:"uid"`
			Sources []string    `json:"sources"`
			Label   label.Label `json:"label"`
			Quality float64     `json:"quality"`
		} `json:"tracks"`
	}
	for _, tc := range []struct {
		p    string
		want map[string]bool
	}{
		{"JPN:SECRET", map[string]bool{ship: true, ship + ".v1": true, "test-node.ICAO-A1B2C3": true}},
		{"USA:SECRET", map[string]bool{ship: true, "test-node.ICAO-A1B2C3": true}},
	} {
		var tr tracksResp
		if code := getJSON(t, "http://"+addrOf(t, n, KindHTTP, tc.p)+"/api/v1/tracks", &tr); code != 200 {
			t.Fatalf("%s: status %d", tc.p, code)
		}
		got := map[string]bool{}
		for _, x := range tr.Tracks {
			got[x.UID] = true
			if x.Quality <= 0 || x.Quality > 1 {
				t.Errorf("%s quality %v", x.UID, x.Quality)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: tracks %v, want %v", tc.p, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    string
		want string
	}{
		{"JPN:SECRET", "ais radar sensor"},
		{"USA:SECRET", "ais sensor"},
	} {
		var fr struct {
			Feeds []struct {
				Name  string `json:"name"`
				Stats struct {
					Observations uint64 `json:"observations"`
				} `json:"stats"`
			} `json:"feeds"`
		}
		if code := getJSON(t, "http://"+addrOf(t, n, KindHTTP, tc.p)+"/api/v1/feeds", &fr); code != 200 {
			t.Fatalf("feeds: status %d", code)
		}
		var names []string
		for _, f := range fr.Feeds {
			names = append(names, f.Name)
			if f.Stats.Observations == 0 {
				t.Errorf("%s: feed %s without observations", tc.p, f.Name)
			}
		}
		if strings.Join(names, " ") != tc.want {
			t.Errorf("%s sees feeds %v, want %s", tc.p, names, tc.want)
		}
	}
	httpAddr := addrOf(t, n, KindHTTP, "JPN:SECRET")
	if v := taktest.Metric(t, httpAddr, `kizuna_feed_messages_total{feed="ais",kind="ais"}`); v < 1 {
		t.Errorf("ais messages metric %v", v)
	}
	if v := taktest.Metric(t, httpAddr, `kizuna_fusion_tracks{state="confirmed",view="v1"}`); v < 1 {
		t.Errorf("fusion tracks metric %v", v)
	}
	if v := taktest.Metric(t, httpAddr, `kizuna_feed_connected{feed="ais"}`); v != 1 {
		t.Errorf("ais connected metric %v", v)
	}
}

// expectAll reads c until every named predicate has matched an event. A
// nil predicate names a check made on every event instead: no event
// built with a source called "radar".
func expectAll(t *testing.T, c *takClient, d time.Duration, preds map[string]func(*cot.Event) bool) {
	t.Helper()
	deadline := time.After(d)
	left := map[string]bool{}
	for k, p := range preds {
		if p != nil {
			left[k] = true
		}
	}
	for len(left) > 0 {
		select {
		case ev := <-c.Events():
			if s, _ := fusionSources(ev); strings.Contains(s, "radar") && hasNil(preds) {
				t.Errorf("received %s built with %q", ev.UID, s)
			}
			for k := range left {
				if preds[k](ev) {
					delete(left, k)
				}
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %v", left)
		}
	}
}

func hasNil(m map[string]func(*cot.Event) bool) bool {
	for _, f := range m {
		if f == nil {
			return true
		}
	}
	return false
}

func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().String()
	c.Close()
	return a
}

func TestFeedStartErrors(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		fc   FeedConfig
	}{
		{"port in use", FeedConfig{Name: "r", Kind: "asterix", Transport: "udp", Addr: busy.LocalAddr().String()}},
		{"bad classification", FeedConfig{Name: "r", Kind: "ais", Transport: "tcp", Addr: "127.0.0.1:1", Classification: "SEKRIT"}},
		{"bad nation", FeedConfig{Name: "r", Kind: "ais", Transport: "tcp", Addr: "127.0.0.1:1", ReleasableTo: []string{"usa1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig([]string{""}, nil)
			cfg.DataDir = t.TempDir()
			cfg.Feeds = []FeedConfig{tc.fc}
			n, err := New(cfg, testLogger(t))
			if err != nil {
				return // refused at New: fine
			}
			err = n.Start(context.Background())
			defer n.Shutdown(context.Background())
			if err == nil {
				t.Error("started")
			}
		})
	}
}

func TestFeedLabel(t *testing.T) {
	for _, tc := range []struct {
		fc   FeedConfig
		want label.Label
	}{
		{FeedConfig{Name: "a"}, label.Label{Classification: label.Unclassified, ReleasableTo: []string{"JPN"}, Originator: "JPN"}},
		{FeedConfig{Name: "a", Classification: "S", ReleasableTo: []string{"USA", "JPN"}},
			label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}},
	} {
		got, err := FeedLabel("JPN", tc.fc)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%+v: %+v %v, want %+v", tc.fc, got, err, tc.want)
		}
	}
}

// aisReceiver is an AIS receiver on loopback: a TCP server that writes
// every client the sentences of report() every 200 ms until the client
// goes away. It returns its address.
func aisReceiver(t *testing.T, report func() []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write([]byte(strings.Join(report(), ""))); err != nil {
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestFeedReconnects: an AIS receiver that drops the connection after
// every sentence; the node's feed redials, the ship's track keeps being
// updated and the node serves on.
func TestFeedReconnects(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	start := time.Now()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// A fast boat, 30 kt east: its track is republished every few
			// seconds (every 50 m).
			lon := 135 + time.Since(start).Seconds()*15.4/91_300
			c.Write([]byte(scenario.EncodeAISPosition(431000005, 35, lon, 30, 90, 90, time.Now(), 'A')[0]))
			c.Close()
		}
	}()
	cfg := baseConfig([]string{"JPN:UNCLASSIFIED"}, []string{"JPN:UNCLASSIFIED"})
	cfg.Nation = "JPN"
	cfg.FusedTracks = "all" // a client without a position report
	cfg.Feeds = []FeedConfig{{Name: "ais", Kind: "ais", Transport: "tcp", Addr: ln.Addr().String()}}
	n := startNode(t, cfg)
	c := dial(t, addrOf(t, n, KindCoTTCP, "JPN:UNCLASSIFIED"))
	c.Expect("the ship", isUID("test-node.MMSI-431000005"), 10*time.Second)
	httpAddr := addrOf(t, n, KindHTTP, "")
	taktest.WaitUntil(t, "three reconnections", 20*time.Second, func() bool {
		return taktest.Metric(t, httpAddr, `kizuna_feed_connects_total{feed="ais"}`) >= 4
	})
	if v := taktest.Metric(t, httpAddr, `kizuna_feed_errors_total{feed="ais",reason="disconnected"}`); v < 3 {
		t.Errorf("disconnections counted: %v", v)
	}
	// Updates keep coming after the reconnections.
	c.Expect("a later update of the ship", isUID("test-node.MMSI-431000005"), 20*time.Second)
}
