package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/feed"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
	"kizuna/internal/web"
)

// feedSet is the node's ISR feeds and their fusion engine.
type feedSet struct {
	n      *Node
	engine *fusion.Engine
	feeds  []*feed.Feed
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// FeedLabel returns the label of what a feed reports: its classification
// (UNCLASSIFIED when unset) and releasability, originated by the node's
// nation. Without a releasability the feed is for the node's nation only.
func FeedLabel(nation string, fc FeedConfig) (label.Label, error) {
	l := label.Label{Classification: label.Unclassified, Originator: nation, ReleasableTo: []string{nation}}
	if fc.Classification != "" {
		c, err := label.ParseClassification(fc.Classification)
		if err != nil {
			return l, fmt.Errorf("feed %s: %w", fc.Name, err)
		}
		l.Classification = c
	}
	if len(fc.ReleasableTo) > 0 {
		r, err := label.ParseReleasableTo(joinSpace(fc.ReleasableTo))
		if err != nil {
			return l, fmt.Errorf("feed %s: %w", fc.Name, err)
		}
		l.ReleasableTo = r
	}
	return l, nil
}

func joinSpace(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// setupFeeds builds the feeds and the fusion engine of the configuration
// and registers them as a component, with their metrics and the
// /api/v1/tracks API. A configuration error is returned from New.
func (n *Node) setupFeeds() error {
	if len(n.cfg.Feeds) == 0 {
		return nil
	}
	fs, err := n.buildFeeds()
	if err != nil {
		return err
	}
	n.feedSet = fs
	n.metrics.Register(fs.engine.Collector(), feed.Collector(fs.feeds...))
	n.Handle("/api/v1/tracks", http.HandlerFunc(fs.serveTracks))
	n.Handle("/api/v1/feeds", http.HandlerFunc(fs.serveFeeds))
	n.Use(Hooks{ID: "feeds", OnStart: fs.start, OnStop: fs.stop})
	return nil
}

func (n *Node) buildFeeds() (*feedSet, error) {
	fs := &feedSet{n: n}
	sources := map[string]label.Label{}
	labels := make([]label.Label, len(n.cfg.Feeds))
	for i, fc := range n.cfg.Feeds {
		if _, dup := sources[fc.Name]; dup || fc.Name == "" {
			return nil, cfgErr("feed name %q empty or repeated", fc.Name)
		}
		l, err := FeedLabel(n.cfg.Nation, fc)
		if err != nil {
			return nil, cfgErr("%v", err)
		}
		sources[fc.Name], labels[i] = l, l
	}
	log := n.log.With("component", "fusion")
	eng, err := fusion.New(fusion.Config{
		Nation: n.cfg.Nation, NodeID: n.cfg.NodeID, Sources: sources, Log: log,
		Publish: func(ctx context.Context, ev *cot.Event) error { return n.Inject(ctx, ev) },
	})
	if err != nil {
		return nil, cfgErr("%v", err)
	}
	fs.engine = eng
	for i, fc := range n.cfg.Feeds {
		c := feed.Config{
			Name: fc.Name, Kind: fc.Kind, Transport: fc.Transport, Addr: fc.Addr, Label: labels[i],
			Sink: eng.Submit,
			CoT:  func(ctx context.Context, ev *cot.Event) error { return n.Inject(ctx, ev) },
			Log:  n.log.With("component", "feed"),
		}
		if fc.Site != nil {
			c.Site = &asterix.Site{Lat: fc.Site.Lat, Lon: fc.Site.Lon, Height: fc.Site.Height}
		} else if fc.Kind == "asterix" {
			n.log.Warn("asterix feed without a site: its CAT048 polar plots cannot be located (CAT062 tracks can); set \"site\" in the configuration file", "feed", fc.Name)
		}
		f, err := feed.New(c)
		if err != nil {
			return nil, cfgErr("%v", err)
		}
		fs.feeds = append(fs.feeds, f)
	}
	return fs, nil
}

// start runs the engine and every feed; it waits until each listening feed
// is bound, and fails when one cannot bind.
func (fs *feedSet) start(ctx context.Context) error {
	ctx, fs.cancel = context.WithCancel(ctx)
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		if err := fs.engine.Run(ctx); err != nil {
			fs.n.log.Error("fusion stopped", "err", err)
		}
	}()
	errc := make(chan error, len(fs.feeds))
	for _, f := range fs.feeds {
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			if err := f.Run(ctx); err != nil {
				errc <- err
			}
		}()
	}
	for _, f := range fs.feeds {
		select {
		case <-f.Ready():
			fs.n.log.Info("feed running", "feed", f.Name(), "addr", f.Addr())
		case err := <-errc:
			fs.cancel()
			fs.wg.Wait()
			return err
		case <-time.After(10 * time.Second):
			fs.cancel()
			fs.wg.Wait()
			return fmt.Errorf("feed %s did not start", f.Name())
		}
	}
	return nil
}

func (fs *feedSet) stop(ctx context.Context) error {
	if fs.cancel != nil {
		fs.cancel()
	}
	done := make(chan struct{})
	go func() {
		fs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("feeds did not stop in time")
	}
}

// FeedInfo describes one running feed.
type FeedInfo struct {
	Name  string     `json:"name"`
	Kind  string     `json:"kind"`
	Addr  string     `json:"addr"` // bound address (tcp-listen, udp) or the one dialled
	Stats feed.Stats `json:"stats"`
}

// Feeds describes the node's feeds (nil without feeds or before Start).
func (n *Node) Feeds() []FeedInfo {
	fs := n.feedSet
	if fs == nil {
		return nil
	}
	out := make([]FeedInfo, 0, len(fs.feeds))
	for i, f := range fs.feeds {
		out = append(out, FeedInfo{Name: f.Name(), Kind: n.cfg.Feeds[i].Kind, Addr: f.Addr(), Stats: f.Stats()})
	}
	return out
}

// FusedTracks returns the fusion engine's confirmed tracks (all views; not
// label-filtered: callers filter with label.Releasable).
func (n *Node) FusedTracks() []fusion.Track {
	if n.feedSet == nil {
		return nil
	}
	return n.feedSet.engine.Tracks()
}

// serveFeeds answers GET /api/v1/feeds: the feeds whose label this
// principal may see (a feed's existence is as sensitive as what it
// reports), with their counters.
func (fs *feedSet) serveFeeds(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, ok := web.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusForbidden)
		return
	}
	type feedJSON struct {
		FeedInfo
		Transport string      `json:"transport"`
		Label     label.Label `json:"label"`
	}
	out := []feedJSON{}
	for i, fi := range fs.n.Feeds() {
		fc := fs.n.cfg.Feeds[i]
		l, err := FeedLabel(fs.n.cfg.Nation, fc)
		if err != nil || !label.Releasable(p, l) {
			continue
		}
		out = append(out, feedJSON{FeedInfo: fi, Transport: fc.Transport, Label: l})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"feeds": out})
}

type trackJSON struct {
	UID        string        `json:"uid"`
	ID         string        `json:"id"`
	View       string        `json:"view"`
	Domain     string        `json:"domain"`
	Time       time.Time     `json:"time"`
	Lat        float64       `json:"lat"`
	Lon        float64       `json:"lon"`
	Alt        *float64      `json:"alt,omitempty"`
	Course     float64       `json:"course"`
	Speed      float64       `json:"speed"`
	Covariance [4][4]float64 `json:"covariance"`
	Callsign   string        `json:"callsign,omitempty"`
	Name       string        `json:"name,omitempty"`
	Sources    []string      `json:"sources"`
	Quality    float64       `json:"quality"`
	Label      label.Label   `json:"label"`
}

// serveTracks answers GET /api/v1/tracks: the fused tracks this principal
// may see, with provenance, covariance and quality.
func (fs *feedSet) serveTracks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, ok := web.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusForbidden)
		return
	}
	out := []trackJSON{}
	for _, t := range fs.engine.Tracks() {
		if !t.Published || !label.Releasable(p, t.Label) {
			continue
		}
		j := trackJSON{UID: t.UID, ID: t.Key.String(), View: fmt.Sprintf("v%d", t.View), Domain: t.Domain.String(),
			Time: t.Time, Lat: t.Lat, Lon: t.Lon, Course: t.Course, Speed: t.Speed, Covariance: t.Cov,
			Callsign: t.Callsign, Name: t.Name, Sources: t.Sources, Quality: t.Quality, Label: t.Label}
		if t.HasAlt {
			a := t.Alt
			j.Alt = &a
		}
		out = append(out, j)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"tracks": out})
}

// FusionLatency returns the q-quantile of fusion latency (observation
// received → its track updated) and the number of samples; zero without
// feeds.
func (n *Node) FusionLatency(q float64) (time.Duration, uint64) {
	if n.feedSet == nil {
		return 0, 0
	}
	return n.feedSet.engine.LatencyQuantile(q)
}

// FusionStats returns the fusion engine's counters.
func (n *Node) FusionStats() fusion.Stats {
	if n.feedSet == nil {
		return fusion.Stats{}
	}
	return n.feedSet.engine.Stats()
}
