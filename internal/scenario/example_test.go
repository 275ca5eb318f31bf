package scenario_test

import (
	"context"
	"fmt"
	"strings"

	"kizuna/internal/node"
	"kizuna/internal/scenario"
)

// ExampleServe feeds a node from a simulated picture through the node's
// ordinary --feed inputs: the AIS and ADS-B receivers are TCP servers the
// feeds dial, the radars send ASTERIX to UDP ports the feeds listen on.
// Radars need their site, which travels in the configuration (the "site"
// of a feed in the config file).
func ExampleServe() {
	ctx := context.Background()
	sc := scenario.New(scenario.Config{Seed: 1, Crossing: true})
	srv, err := scenario.Serve(ctx, sc, scenario.ServeConfig{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	cfg := node.Default()
	cfg.Nation, cfg.NodeID = "JPN", "jpn-c2"
	for _, ep := range srv.Endpoints() {
		fmt.Println(ep.FeedFlag()) // e.g. radar-tsushima=asterix:udp:127.0.0.1:40123@SECRET/JPN
		cl, rel, _ := strings.Cut(ep.Label, "/")
		fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr,
			Classification: cl, ReleasableTo: strings.Split(rel, ",")}
		if ep.Site != nil {
			fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
		}
		cfg.Feeds = append(cfg.Feeds, fc)
	}
	// node.New(cfg, log) and Start: fused tracks appear on its TAK
	// listeners. A second node can read the same TCP receivers; give it
	// the radars with srv.AddDest(radar, itsBoundUDPAddr) (see
	// (*node.Node).Feeds for the bound address).
}
