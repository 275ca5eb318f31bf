package node

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"kizuna/internal/hub"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
)

// TestFusedTracksFollowClientArea: a TAK client of an "area" listener
// receives the fused tracks within its radius of its own position (those
// already in the picture when it first reports, then live updates), a
// client of an "all" listener every track, one of a "none" listener none;
// a client that has not reported a position gets no fused track, and the
// label policy still decides every delivery.
func TestFusedTracksFollowClientArea(t *testing.T) {
	t.Parallel()
	// Two moored ships 330 km apart and a fast boat near the first.
	type ship struct {
		mmsi     uint32
		lat, lon float64
		speed    float64
	}
	ships := []ship{{431000011, 35, 135, 0}, {431000012, 38, 135, 0}, {431000013, 35.05, 135, 30}}
	start := time.Now()
	aisAddr := aisReceiver(t, func() []string {
		var lines []string
		for _, s := range ships {
			lon := s.lon + time.Since(start).Seconds()*s.speed*0.5144/91_300
			lines = append(lines, scenario.EncodeAISPosition(s.mmsi, s.lat, lon, s.speed, 90, 90, time.Now(), 'A')...)
		}
		return lines
	})
	cfg := baseConfig(nil, nil)
	cfg.Nation = "JPN"
	cfg.FusedRadiusKm = 50
	cfg.Listeners = []ListenerConfig{
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"},
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET", FusedTracks: "all"},
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET", FusedTracks: "none"},
		{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "USA:SECRET"},
	}
	// The feed is for JPN only: USA clients may not see its tracks.
	cfg.Feeds = []FeedConfig{{Name: "ais", Kind: "ais", Transport: "tcp", Addr: aisAddr}}
	n := startNode(t, cfg)
	uid := func(s ship) string { return fmt.Sprintf("test-node.MMSI-%d", s.mmsi) }
	taktest.WaitUntil(t, "the ships in the picture", 20*time.Second, func() bool {
		seen := 0
		for _, tr := range n.FusedTracks() {
			if tr.Published {
				seen++
			}
		}
		return seen == len(ships)
	})
	addr := func(i int) string { return n.Listeners()[i].Addr }
	near, far := ships[0], ships[1]
	cases := []struct {
		name     string
		listener int
		at       *ship // the client's own position, if it reports one
		want     []string
	}{
		{"area: the tracks near it", 0, &near, []string{uid(near), uid(ships[2])}},
		{"area: the tracks near it, elsewhere", 0, &far, []string{uid(far)}},
		{"area, no position yet: none", 0, nil, nil},
		{"all: every track", 1, nil, []string{uid(near), uid(far), uid(ships[2])}},
		{"none: no track", 2, &near, nil},
		{"area, not releasable: none", 3, &near, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr(tc.listener))
			if tc.at != nil {
				me := fmt.Sprintf("client-%d", i)
				c.SendString(fmt.Sprintf(`<event version="2.0" uid="%s" type="a-f-G-U-C" how="m-g" time="%s" start="%s" stale="%s"><point lat="%f" lon="%f" hae="10" ce="5" le="5"/><detail><contact callsign="%s"/></detail></event>`,
					me, ts(0), ts(0), ts(time.Minute), tc.at.lat+0.1, tc.at.lon, me))
			}
			// The pong follows the connection's replay and what its own
			// position report queued.
			c.SendString(fmt.Sprintf(`<event version="2.0" uid="ping" type="t-x-c-t" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="0" le="0"/></event>`,
				ts(0), ts(0), ts(time.Minute)))
			var got []string
			for _, ev := range c.CollectUntil("takPong", 10*time.Second) {
				if ev.How == "m-f" && !slices.Contains(got, ev.UID) {
					got = append(got, ev.UID)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("fused tracks %v, want %v", got, want)
			}
			if tc.listener == 0 && tc.at == &near {
				// The fast boat is republished as it moves: live updates
				// in the area arrive too.
				c.Expect("a live update of the boat", isUID(uid(ships[2])), 20*time.Second)
			}
		})
	}
}

// ts is the CoT time d from now.
func ts(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }

func TestFusedTracksConfig(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"node all", func(c *Config) { c.FusedTracks = "all" }, true},
		{"node unknown scope", func(c *Config) { c.FusedTracks = "everything" }, false},
		{"negative radius", func(c *Config) { c.FusedRadiusKm = -1 }, false},
		{"listener none", func(c *Config) { c.Listeners[0].FusedTracks = "none" }, true},
		{"listener unknown scope", func(c *Config) { c.Listeners[0].FusedTracks = "ALL" }, false},
		{"on an http listener", func(c *Config) { c.Listeners[1].FusedTracks = "all" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig([]string{"JPN:SECRET"}, []string{"JPN:SECRET"})
			cfg.DataDir = t.TempDir()
			tc.edit(&cfg)
			if err := cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	cfg := Config{FusedTracks: "none", FusedRadiusKm: 20}
	if s, r := cfg.fusedScope(ListenerConfig{FusedTracks: "area"}); s != hub.ScopeArea || r != 20_000 {
		t.Errorf("listener override: %v %v, want area 20 km", s, r)
	}
	if s, r := (&Config{}).fusedScope(ListenerConfig{}); s != hub.ScopeArea || r != DefaultFusedRadiusKm*1000 {
		t.Errorf("defaults: %v %v, want area %d km", s, r, DefaultFusedRadiusKm)
	}
}

// TestClientEventNotFusedTrack: a TAK client that sends an event dressed
// as a fused track (how="m-f" with a <__fusion> detail) does not get
// fused-track handling: it reaches a client of an "area" listener that has
// reported no position (a fused track would not), as every other client
// event does, and is stored at once, not after the fused tracks' delay.
func TestClientEventNotFusedTrack(t *testing.T) {
	t.Parallel()
	cfg := baseConfig([]string{"JPN:SECRET"}, nil)
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []ListenerConfig{{Kind: KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"}}
	n := startNode(t, cfg)
	addr := n.Listeners()[0].Addr
	watcher := dial(t, addr)
	sender := dial(t, addr)
	sender.SendString(fmt.Sprintf(`<event version="2.0" uid="posing-track" type="a-h-S" how="m-f" time="%s" start="%s" stale="%s"><point lat="35" lon="135" hae="0" ce="5" le="5"/><detail><__fusion updated="%s" sources="1"/></detail></event>`,
		ts(0), ts(0), ts(time.Minute), ts(0)))
	watcher.Expect("the client's event", isUID("posing-track"), 10*time.Second)
	if _, ok := n.picture.Get("posing-track"); !ok {
		t.Fatal("the client's event is not in the picture")
	}
	taktest.WaitUntil(t, "the client's event stored", 5*time.Second, func() bool {
		objs, err := n.store.Objects(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.UID == "posing-track" {
				return true
			}
		}
		return false
	})
}
