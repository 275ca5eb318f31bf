package fusion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Config configures an Engine. Zero values take the defaults noted.
type Config struct {
	// Nation is the fusing node's nation, the originator of every track
	// label. NodeID prefixes track uids.
	Nation string
	NodeID string
	// Sources are the labels of the sources (feeds) by name. Observations
	// from other sources are dropped. The views are derived from them.
	Sources map[string]label.Label

	// ScanPeriod is the radar scan period that the M-of-N window counts in
	// (default 5 s).
	ScanPeriod time.Duration
	// ConfirmM and ConfirmN: a tentative track is confirmed when it has M
	// hits within N scan periods of its first plot (default 3 of 5).
	ConfirmM, ConfirmN int
	// CoastTime deletes a confirmed track without identity after this long
	// without an update (default 5 scans + 1 s: at a detection probability of 0.9, five misses in a row happen once in 100,000 scans).
	CoastTime time.Duration
	// SeaTimeout and AirTimeout delete identity tracks (AIS; ADS-B/Mode S)
	// after this long without an update (defaults 200 s and 60 s).
	SeaTimeout, AirTimeout time.Duration
	// Gate is the χ² gate on the squared Mahalanobis distance of a plot
	// (default 9.21, 99 % for 2 degrees of freedom).
	Gate float64
	// QSea, QAir, QUnknown are the process noise spectral densities in
	// m²/s³ (defaults 0.01, 4 and 1).
	QSea, QAir, QUnknown float64
	// MaxTracks bounds the tracks of one view (default 200,000); plots that
	// would start more are dropped.
	MaxTracks int
	// MaxAge drops an observation measured longer than this before it was
	// received (default 60 s).
	MaxAge time.Duration

	// Publication of an updated track, latest state winning: as soon as
	// an observation makes it due (Run, PublishChanged), at most once per
	// PublishInterval (default 100 ms), and only when the picture would
	// otherwise be off, that is when the track has moved more than
	// PublishDistance (default 50 m) from where it was last published, its
	// sources, label, names or type changed, or Heartbeat (default 30 s,
	// at most half the track's deletion timeout) has passed. A ship at
	// 10 kt is so published every 10 s, a moored ship every heartbeat, an
	// airliner reporting its position twice a second at each report; the
	// interval bounds a track fed faster (several receivers, a fast radar)
	// to ten updates a second. TickInterval is how often Run publishes the
	// held tracks whose interval has passed and looks at a 25th of the
	// tracks to expire them and to publish the pending changes (a change
	// not due before, a merge) of tracks quiet for a second (quietAfter);
	// default 40 ms: every track once a second, and no tick holds the
	// engine, and so the observations behind it, for long.
	PublishInterval time.Duration
	PublishDistance float64
	Heartbeat       time.Duration
	TickInterval    time.Duration
	// Publish receives the CoT events of tracks (updates and deletions). Run
	// calls it from one goroutine of its own.
	Publish func(context.Context, *cot.Event) error
	// Queue bounds the observation batches waiting for the engine (default
	// 4096); Submit drops when it is full.
	Queue int
	Log   *slog.Logger
}

func (c *Config) defaults() error {
	if !label.ValidNation(c.Nation) {
		return fmt.Errorf("fusion: bad nation %q", c.Nation)
	}
	if c.NodeID == "" {
		return errors.New("fusion: empty node id")
	}
	for name, l := range c.Sources {
		if !l.Valid() {
			return fmt.Errorf("fusion: source %s has an invalid label", name)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ScanPeriod, 5*time.Second)
	if c.ConfirmM <= 0 {
		c.ConfirmM = 3
	}
	if c.ConfirmN < c.ConfirmM {
		c.ConfirmN = max(5, c.ConfirmM)
	}
	def(&c.CoastTime, 5*c.ScanPeriod+time.Second)
	def(&c.SeaTimeout, 200*time.Second)
	def(&c.AirTimeout, 60*time.Second)
	def(&c.PublishInterval, 100*time.Millisecond)
	def(&c.Heartbeat, 30*time.Second)
	def(&c.MaxAge, time.Minute)
	if c.PublishDistance <= 0 {
		c.PublishDistance = 50
	}
	def(&c.TickInterval, 40*time.Millisecond)
	fdef := func(f *float64, v float64) {
		if *f <= 0 {
			*f = v
		}
	}
	fdef(&c.Gate, 9.21)
	fdef(&c.QSea, 0.01)
	fdef(&c.QAir, 4)
	fdef(&c.QUnknown, 1)
	if c.MaxTracks <= 0 {
		c.MaxTracks = 200_000
	}
	if c.Queue <= 0 {
		c.Queue = 4096
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are the engine's counters.
type Stats struct {
	Observations uint64 // applied to at least one view
	Dropped      uint64 // Submit found the queue full
	UnknownSrc   uint64 // from a source not configured
	Invalid      uint64 // refused by the sanity checks (position, values, age)
	NewTracks    uint64 // tentative tracks started (all views)
	Confirmed    uint64 // tracks confirmed: identity tracks when started, anonymous ones after M of N
	Deleted      uint64
	Merged       uint64 // anonymous tracks merged into identity tracks
	Published    uint64
	PublishErrs  uint64
	Suppressed   uint64 // view tracks not published: an earlier view has the same one
}

// Engine is the fusion engine. Process and Tick are its synchronous core;
// Run drives them from Submit and a ticker. Not safe to call Process or
// Tick concurrently with Run.
type Engine struct {
	cfg      Config
	views    []*view
	bySource map[string][]*view
	srcLabel map[string]label.Label
	in       chan []Observation
	seq      uint64

	mu sync.Mutex // guards views for snapshots
	// touched are the tracks changed since PublishChanged last ran, held
	// those changed within their publish interval (publish.go); now is the
	// wall clock of the batch being applied.
	touched []*track
	held    []*track
	now     time.Time
	clock   func() time.Time // time.Now; tests set it
	lat     *latency
	stats   struct{ obs, dropped, unknown, invalid, newT, conf, del, merged, pub, pubErr, supp atomic.Uint64 }
	scratch assocScratch
}

// New returns an engine for cfg.
func New(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		bySource: map[string][]*view{},
		srcLabel: map[string]label.Label{},
		in:       make(chan []Observation, cfg.Queue),
		lat:      newLatency(),
		clock:    time.Now,
	}
	for name, l := range cfg.Sources {
		e.srcLabel[name] = l
	}
	for i, vs := range buildViews(cfg.Nation, cfg.Sources) {
		v := &view{idx: i, tag: viewTag(i), spec: vs, sources: map[string]bool{},
			byKey: map[Key]*track{}, grid: map[cellKey][]*track{}, static: map[Key]staticInfo{}}
		for _, s := range vs.sources {
			v.sources[s] = true
			e.bySource[s] = append(e.bySource[s], v)
		}
		e.views = append(e.views, v)
		cfg.Log.Info("fusion view", "view", v.tag, "sources", vs.sources, "audiences", vs.audiences)
	}
	return e, nil
}

// Views describes the views: for each, its sources and the audiences
// (NATION:CLEARANCE) whose visible sources it is.
func (e *Engine) Views() [][2][]string {
	out := make([][2][]string, len(e.views))
	for i, v := range e.views {
		out[i] = [2][]string{slices.Clone(v.spec.sources), slices.Clone(v.spec.audiences)}
	}
	return out
}

// Submit queues one batch of observations from one source (for a radar,
// the plots of one datagram: they are associated together). It never
// blocks; it returns false and counts a drop when the queue is full.
func (e *Engine) Submit(batch []Observation) bool {
	select {
	case e.in <- batch:
		return true
	default:
		e.stats.dropped.Add(uint64(len(batch)))
		return false
	}
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Observations: e.stats.obs.Load(), Dropped: e.stats.dropped.Load(), UnknownSrc: e.stats.unknown.Load(), Invalid: e.stats.invalid.Load(),
		NewTracks: e.stats.newT.Load(), Confirmed: e.stats.conf.Load(), Deleted: e.stats.del.Load(),
		Merged: e.stats.merged.Load(), Published: e.stats.pub.Load(), PublishErrs: e.stats.pubErr.Load(),
		Suppressed: e.stats.supp.Load(),
	}
}

// Run processes submitted batches and publishes tracks until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.Publish == nil {
		return errors.New("fusion: Run needs a Publish function")
	}
	out := make(chan []*cot.Event, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for evs := range out {
			for _, ev := range evs {
				if err := e.cfg.Publish(ctx, ev); err != nil {
					e.stats.pubErr.Add(1)
					e.cfg.Log.Warn("publishing track", "uid", ev.UID, "err", err)
					continue
				}
				e.stats.pub.Add(1)
			}
		}
	}()
	defer func() {
		close(out)
		wg.Wait()
	}()
	tick := time.NewTicker(e.cfg.TickInterval)
	defer tick.Stop()
	var pending []*cot.Event
	part := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-e.in:
			e.Process(b)
			// A track is published as soon as an observation makes it
			// due. While the publisher is behind, changed tracks stay
			// queued and are published later with their latest state:
			// the publication rate adapts to what the node can take.
			if len(pending) == 0 {
				pending = e.PublishChanged(time.Now())
			}
		case <-tick.C:
			now := time.Now()
			idle := len(pending) == 0
			if idle {
				pending = e.PublishChanged(now)
			}
			pending = append(pending, e.tick(now, idle, part, tickParts, quietAfter)...)
			part = (part + 1) % tickParts
		}
		if len(pending) > 0 {
			select {
			case out <- pending:
				pending = nil
			default:
				// The publisher is behind: keep the events (updates of the
				// same track are rate-limited by Tick already).
			}
		}
	}
}

// Process applies one batch of observations from one source.
func (e *Engine) Process(batch []Observation) {
	if len(batch) == 0 {
		return
	}
	batch = e.sane(batch)
	if len(batch) == 0 {
		return
	}
	e.mu.Lock()
	e.now = e.clock()
	base := e.seq
	e.seq += uint64(len(batch))
	for i := 0; i < len(batch); {
		// A batch normally has one source; split it when it does not.
		j := i + 1
		for j < len(batch) && batch[j].Source == batch[i].Source {
			j++
		}
		part := batch[i:j]
		vs, ok := e.bySource[part[0].Source]
		if !ok {
			e.stats.unknown.Add(uint64(len(part)))
		} else {
			for _, v := range vs {
				e.apply(v, part, base+uint64(i))
			}
			e.stats.obs.Add(uint64(len(part)))
		}
		i = j
	}
	e.mu.Unlock()
	now := time.Now()
	for i := range batch {
		if !batch[i].Received.IsZero() {
			e.lat.observe(now.Sub(batch[i].Received))
		}
	}
}

// sane drops observations no filter should see: a position that is not
// a WGS-84 coordinate, a non-finite altitude, velocity or covariance, a
// speed above 1,000 m/s, or a time more than MaxAge before its receipt.
// A time after its receipt (a sensor clock ahead) is taken as the
// receipt time. The batch is filtered in place.
func (e *Engine) sane(batch []Observation) []Observation {
	out := batch[:0]
	for _, o := range batch {
		ok := o.Static || (o.Lat >= -90 && o.Lat <= 90 && o.Lon >= -180 && o.Lon <= 180)
		ok = ok && (!o.HasAlt || finite(o.Alt) && math.Abs(o.Alt) < 100_000)
		ok = ok && (!o.HasVel || finite(o.Course) && finite(o.Speed) && o.Speed >= 0 && o.Speed < 1000)
		ok = ok && finite(o.Cov[0]) && finite(o.Cov[1]) && finite(o.Cov[2]) && o.Cov[0] >= 0 && o.Cov[2] >= 0 && finite(o.VelVar)
		if ok && !o.Received.IsZero() {
			switch {
			case o.Time.IsZero() || o.Time.After(o.Received):
				o.Time = o.Received
			case o.Received.Sub(o.Time) > e.cfg.MaxAge:
				ok = false
			}
		}
		if !ok {
			e.stats.invalid.Add(1)
			continue
		}
		out = append(out, o)
	}
	return out
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (e *Engine) q(d Domain) float64 {
	switch d {
	case DomainSea:
		return e.cfg.QSea
	case DomainAir:
		return e.cfg.QAir
	}
	return e.cfg.QUnknown
}

func (e *Engine) timeout(t *track) time.Duration {
	switch t.key.Kind {
	case IDMMSI:
		return e.cfg.SeaTimeout
	case IDICAO:
		return e.cfg.AirTimeout
	}
	return e.cfg.CoastTime
}

func (e *Engine) apply(v *view, part []Observation, seq uint64) {
	plots := e.scratch.plots[:0]
	for i := range part {
		o := &part[i]
		if o.ID.Kind != IDNone {
			e.identity(v, o)
			continue
		}
		if o.Static {
			continue
		}
		plots = append(plots, plotRef{o: o, seq: seq + uint64(i)})
	}
	if len(plots) > 0 {
		e.associate(v, plots)
	}
	e.scratch.plots = plots[:0]
}

// newTrack starts a track at o.
func (e *Engine) newTrack(v *view, key Key, o *Observation) *track {
	t := &track{v: v, key: key, born: o.Time, domain: o.Domain}
	initState(t, o)
	t.uid = e.cfg.NodeID + "." + key.String()
	t.confirmed = key.Kind != IDNone
	if v.idx > 0 {
		t.uid += "." + v.tag
	}
	v.tracks = append(v.tracks, t)
	if key.Kind != IDNone {
		v.byKey[key] = t
	}
	e.stats.newT.Add(1)
	if t.confirmed {
		e.stats.conf.Add(1)
	}
	return t
}

// initState sets the kinematic state of t to the observation o.
func initState(t *track, o *Observation) {
	t.t, t.f, t.x, t.p, t.vel = o.Time, newFrame(o.Lat, o.Lon), vec4{}, mat4{}, false
	r := o.cov()
	t.p[0][0], t.p[0][1], t.p[1][0], t.p[1][1] = r[0], r[1], r[1], r[2]
	if o.HasVel {
		t.x[2], t.x[3] = velocityENU(o.Course, o.Speed)
		vv := o.velVar()
		t.p[2][2], t.p[3][3] = vv, vv
		t.vel = true
	} else {
		s := maxSpeed(o.Domain, o.HasAlt) / 2
		t.p[2][2], t.p[3][3] = s*s, s*s
	}
}

func maxSpeed(d Domain, hasAlt bool) float64 {
	switch {
	case d == DomainSea:
		return 25
	case d == DomainAir || hasAlt:
		return 300
	}
	return 200
}

// Tracks returns a snapshot of the confirmed tracks of every view.
func (e *Engine) Tracks() []Track {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Track
	for _, v := range e.views {
		for _, t := range v.tracks {
			if t.confirmed && !t.removed {
				out = append(out, e.snapshot(v, t))
			}
		}
	}
	return out
}

func (e *Engine) snapshot(v *view, t *track) Track {
	lat, lon := t.f.fromENU(t.x[0], t.x[1])
	c, s := courseSpeed(t.x[2], t.x[3])
	return Track{
		UID: t.uid, View: v.idx, Key: t.key, Confirmed: t.confirmed, Domain: t.domain, Time: t.t,
		Lat: lat, Lon: lon, HasAlt: t.hasAlt, Alt: t.alt, Course: c, Speed: s, Cov: t.p,
		Callsign: t.callsign, Name: t.name, Sources: slices.Clone(t.sources),
		Label: e.label(t), Quality: e.quality(t, t.t), Hits: t.hits, Published: t.published,
	}
}

// label combines the contributors' labels under the node's nation.
func (e *Engine) label(t *track) label.Label {
	ls := make([]label.Label, 0, len(t.sources))
	for _, s := range t.sources {
		ls = append(ls, e.srcLabel[s])
	}
	return label.Combine(e.cfg.Nation, ls...)
}

// quality is a figure in [0, 1]: precision (1 for a perfectly known
// position, 0.5 at a 100 m standard deviation) times freshness (1 just
// updated, 0 at the deletion timeout).
func (e *Engine) quality(t *track, now time.Time) float64 {
	prec := 1 / (1 + t.sigma()/100)
	fresh := 1 - float64(now.Sub(t.t))/float64(e.timeout(t))
	fresh = math.Max(0, math.Min(1, fresh))
	return math.Round(prec*fresh*100) / 100
}
