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

	// Publication of an updated track, latest state winning: at most once
	// per PublishInterval (default 1 s), and only when the picture would
	// otherwise be off, that is when the track has moved more than
	// PublishDistance (default 50 m) from where it was last published, its
	// sources, label, names or type changed, or Heartbeat (default 30 s,
	// at most half the track's deletion timeout) has passed. A ship at
	// 10 kt is so published every 10 s, an airliner every second, a moored
	// ship every heartbeat. TickInterval is how often Run looks at a fifth
	// of the tracks to expire and publish them (default 200 ms: every track
	// once a second).
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
	def(&c.PublishInterval, time.Second)
	def(&c.Heartbeat, 30*time.Second)
	def(&c.MaxAge, time.Minute)
	if c.PublishDistance <= 0 {
		c.PublishDistance = 50
	}
	def(&c.TickInterval, 200*time.Millisecond)
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
	Confirmed    uint64
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

	mu      sync.Mutex // guards views for snapshots
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
	out := make(chan []*cot.Event, 4)
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
		case <-tick.C:
			// While the publisher is behind, tracks stay due and are
			// published later with their latest state: the publication
			// rate adapts to what the node can take.
			pending = append(pending, e.tick(time.Now(), len(pending) == 0, part, tickParts)...)
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
	t := &track{key: key, born: o.Time, domain: o.Domain}
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

// measure applies o to t (predict to o's time, update position and
// velocity) and records the contribution. It returns false when the
// measurement could not be used.
func (e *Engine) measure(t *track, o *Observation) bool {
	q := e.q(t.domain)
	dt := o.Time.Sub(t.t).Seconds()
	r := o.cov()
	de, dn := t.f.toENU(o.Lat, o.Lon)
	if dt >= 0 {
		predict(&t.x, &t.p, dt, q)
		t.t = o.Time
	} else {
		// Out of order: carry the measurement to the track's time along the
		// track's velocity, and widen it by the process noise over |dt|.
		de -= t.x[2] * dt
		dn -= t.x[3] * dt
		a := -dt
		r[0] += q * a * a * a / 3
		r[2] += q * a * a * a / 3
	}
	de -= t.x[0]
	dn -= t.x[1]
	if !updatePos(&t.x, &t.p, r, de, dn) {
		return false
	}
	if o.HasVel && dt >= -1 {
		ve, vn := velocityENU(o.Course, o.Speed)
		updateVel(&t.x, &t.p, o.velVar(), ve, vn)
		t.vel = true
	}
	t.recentre()
	if o.HasAlt {
		t.hasAlt, t.alt = true, o.Alt
		if o.ID.Kind == IDNone {
			t.plotAir = true
		}
	}
	if o.Callsign != "" {
		t.callsign = o.Callsign
	}
	if o.Name != "" {
		t.name = o.Name
	}
	if o.Affiliation != 0 {
		t.aff = o.Affiliation
	}
	t.military = t.military || o.Military
	if t.domain == DomainUnknown && o.Domain != DomainUnknown {
		t.domain = o.Domain
	}
	t.addSource(o.Source)
	t.hits++
	t.dirty = true
	return true
}

// identity applies an observation that names its object.
func (e *Engine) identity(v *view, o *Observation) {
	t := v.byKey[o.ID]
	if o.Static {
		if t != nil {
			t.callsign = cmpOr(o.Callsign, t.callsign)
			t.name = cmpOr(o.Name, t.name)
			t.military = t.military || o.Military
			t.addSource(o.Source)
			t.dirty = true
			return
		}
		if len(v.static) > 100_000 {
			clear(v.static)
		}
		s := v.static[o.ID]
		v.static[o.ID] = staticInfo{callsign: cmpOr(o.Callsign, s.callsign), name: cmpOr(o.Name, s.name), military: s.military || o.Military}
		return
	}
	if t == nil {
		if len(v.tracks) >= e.cfg.MaxTracks {
			return
		}
		t = e.newTrack(v, o.ID, o)
		if s, ok := v.static[o.ID]; ok {
			t.callsign, t.name, t.military = s.callsign, s.name, s.military
			delete(v.static, o.ID)
		}
		e.measureFirst(t, o)
		v.index(t)
		return
	}
	// A report far outside the track's uncertainty (a stale track, or a
	// reused identity) restarts the kinematics.
	x, p := t.predicted(o.Time, e.q(t.domain))
	de, dn := t.f.toENU(o.Lat, o.Lon)
	if _, d2, ok := innovation(&p, o.cov(), de-x[0], dn-x[1]); !ok || d2 > 1e4 {
		if o.Time.After(t.t) {
			initState(t, o)
			e.measureFirst(t, o)
			v.index(t)
		}
		return
	}
	if e.measure(t, o) {
		v.index(t)
	}
}

// measureFirst records the first observation of a new track (its state is
// already o).
func (e *Engine) measureFirst(t *track, o *Observation) {
	if o.HasAlt {
		t.hasAlt, t.alt = true, o.Alt
		t.plotAir = o.ID.Kind == IDNone
	}
	t.callsign = cmpOr(o.Callsign, t.callsign)
	t.name = cmpOr(o.Name, t.name)
	if o.Affiliation != 0 {
		t.aff = o.Affiliation
	}
	t.military = t.military || o.Military
	t.addSource(o.Source)
	t.hits++
	t.dirty = true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type plotRef struct {
	o   *Observation
	seq uint64
}

type pair struct {
	plot, trk int
	cost      float64
}

type assocScratch struct {
	plots  []plotRef
	cands  []*track
	candIx map[*track]int
	pairs  []pair
	parent []int
}

func (s *assocScratch) find(i int) int {
	for s.parent[i] != i {
		s.parent[i] = s.parent[s.parent[i]]
		i = s.parent[i]
	}
	return i
}

// associate assigns one batch of plots to the view's tracks by global
// nearest neighbour and starts tentative tracks from the rest.
func (e *Engine) associate(v *view, plots []plotRef) {
	s := &e.scratch
	if s.candIx == nil {
		s.candIx = map[*track]int{}
	}
	clear(s.candIx)
	s.cands = s.cands[:0]
	s.pairs = s.pairs[:0]
	inGate := make([]bool, len(plots))
	for pi, pr := range plots {
		o := pr.o
		r := o.cov()
		detR := r[0]*r[2] - r[1]*r[1]
		v.near(o.Lat, o.Lon, func(t *track) {
			x, p := t.predicted(o.Time, e.q(t.domain))
			de, dn := t.f.toENU(o.Lat, o.Lon)
			sv, d2, ok := innovation(&p, r, de-x[0], dn-x[1])
			if !ok {
				return
			}
			if t.confirmed && d2 <= suppressGate*e.cfg.Gate {
				inGate[pi] = true
			}
			if d2 > e.cfg.Gate {
				return
			}
			// The cost is the negative log-likelihood of the pairing up to
			// a constant: d² + ln(|S| / |R|). A track that knows its
			// position well (a confirmed one) wins a plot over a vague
			// tentative one at the same distance.
			cost := d2 + math.Log(math.Max(1, (sv[0]*sv[2]-sv[1]*sv[1])/detR))
			ti, seen := s.candIx[t]
			if !seen {
				ti = len(s.cands)
				s.candIx[t] = ti
				s.cands = append(s.cands, t)
			}
			s.pairs = append(s.pairs, pair{plot: pi, trk: ti, cost: cost})
		})
	}
	np, nt := len(plots), len(s.cands)
	// Union-find over plots (0..np-1) and tracks (np..np+nt-1).
	s.parent = s.parent[:0]
	for i := range np + nt {
		s.parent = append(s.parent, i)
	}
	for _, pp := range s.pairs {
		a, b := s.find(pp.plot), s.find(np+pp.trk)
		if a != b {
			s.parent[a] = b
		}
	}
	assigned := make([]int, np) // track index+1, 0 none
	comps := map[int][]int{}    // root → pair indices
	for i, pp := range s.pairs {
		r := s.find(pp.plot)
		comps[r] = append(comps[r], i)
	}
	for _, idx := range comps {
		if len(idx) == 1 {
			pp := s.pairs[idx[0]]
			assigned[pp.plot] = pp.trk + 1
			continue
		}
		e.solve(idx, assigned)
	}
	for pi, pr := range plots {
		if ti := assigned[pi]; ti > 0 {
			t := s.cands[ti-1]
			if e.measure(t, pr.o) {
				e.plotDomain(t)
				v.index(t)
			}
			continue
		}
		if len(v.tracks) >= e.cfg.MaxTracks || inGate[pi] {
			// A plot near a confirmed track (within suppressGate times the
			// gate) that was not assigned to it is not taken for a new
			// object: a track started from it would compete with the
			// confirmed one for that object's next plots (crossings, noise
			// outliers, split plots).
			continue
		}
		t := e.newTrack(v, Key{Kind: IDNone, ID: pr.seq}, pr.o)
		e.measureFirst(t, pr.o)
		e.plotDomain(t)
		v.index(t)
	}
}

// suppressGate widens the gate inside which a plot cannot start a track.
const suppressGate = 4

// solve assigns the plots of one cluster optimally: rows are the plots,
// columns the tracks followed by one "no track" column per plot. Leaving a
// gated plot unassigned costs more than any pairing, so the solution
// assigns as many gated plots as it can, then minimises the total cost.
func (e *Engine) solve(idx []int, assigned []int) {
	s := &e.scratch
	var rows, cols []int
	rowOf, colOf := map[int]int{}, map[int]int{}
	for _, i := range idx {
		pp := s.pairs[i]
		if _, ok := rowOf[pp.plot]; !ok {
			rowOf[pp.plot] = len(rows)
			rows = append(rows, pp.plot)
		}
		if _, ok := colOf[pp.trk]; !ok {
			colOf[pp.trk] = len(cols)
			cols = append(cols, pp.trk)
		}
	}
	n, m := len(rows), len(cols)+len(rows)
	const big = 1e9
	const unassignedCost = 1e6
	cost := make([][]float64, n)
	for r := range cost {
		cost[r] = make([]float64, m)
		for c := range cost[r] {
			cost[r][c] = big
		}
		cost[r][len(cols)+r] = unassignedCost
	}
	for _, i := range idx {
		pp := s.pairs[i]
		cost[rowOf[pp.plot]][colOf[pp.trk]] = pp.cost
	}
	for r, c := range assign(cost, n, m) {
		if c < len(cols) && cost[r][c] < big {
			assigned[rows[r]] = cols[c] + 1
		}
	}
}

// plotDomain classifies a track without identity: air when a plot carried
// an altitude or it moves faster than 30 m/s (58 kt), otherwise surface.
func (e *Engine) plotDomain(t *track) {
	if t.key.Kind != IDNone {
		return
	}
	_, spd := courseSpeed(t.x[2], t.x[3])
	switch {
	case t.plotAir || (t.hits >= 3 && spd > 30):
		t.domain = DomainAir
	case t.hits >= 3 && t.domain == DomainUnknown:
		t.domain = DomainSea
	}
}

// Tick expires, confirms and merges tracks as of now, and returns the CoT
// events due: updates of confirmed tracks not published for their publish
// interval, and deletions.
func (e *Engine) Tick(now time.Time) []*cot.Event { return e.tick(now, true, 0, 1) }

// tickParts is how many ticks of Run examine every track once: each tick
// takes its share of every view, so that no tick holds the engine for
// long (at 190,000 tracks a whole pass takes tens of milliseconds).
const tickParts = 5

// tick examines part k of parts of every view's tracks: expiry,
// confirmation, merging and, when publish is set, publication.
func (e *Engine) tick(now time.Time, publish bool, k, parts int) []*cot.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*cot.Event
	window := time.Duration(e.cfg.ConfirmN) * e.cfg.ScanPeriod
	share := func(v *view) []*track {
		n := len(v.tracks)
		return v.tracks[k*n/parts : (k+1)*n/parts]
	}
	for _, v := range e.views {
		for _, t := range share(v) {
			if t.removed {
				continue
			}
			age := now.Sub(t.t)
			switch {
			case !t.confirmed && t.hits >= e.cfg.ConfirmM && t.t.Sub(t.born) <= window:
				t.confirmed = true
				e.stats.conf.Add(1)
			case !t.confirmed && now.Sub(t.born) > window:
				e.drop(v, t)
				continue
			case t.confirmed && age > e.timeout(t):
				if t.published {
					out = append(out, e.deleteEvent(t, now))
				}
				e.drop(v, t)
				e.stats.del.Add(1)
				continue
			}
			if t.confirmed && t.key.Kind == IDNone {
				out = e.merge(v, t, now, out)
			}
		}
	}
	if publish {
		for _, v := range e.views {
			for _, t := range share(v) {
				out = e.publish(v, t, now, out)
			}
		}
	}
	for _, v := range e.views {
		if v.removed > 0 && (parts == 1 || v.removed > len(v.tracks)/8) {
			v.compact()
		}
	}
	return out
}

// publish appends t's event when it is due.
func (e *Engine) publish(v *view, t *track, now time.Time, out []*cot.Event) []*cot.Event {
	if !t.confirmed || t.removed || !t.dirty || now.Sub(t.lastPub) < e.cfg.PublishInterval || !e.due(t, now) {
		return out
	}
	if e.duplicate(v, t) {
		e.stats.supp.Add(1)
		t.dirty = false
		if t.published {
			out = append(out, e.deleteEvent(t, now))
			t.published = false
		}
		return out
	}
	ev, err := e.event(v, t, now)
	if err != nil {
		e.cfg.Log.Error("building track event", "uid", t.uid, "err", err)
		t.dirty = false
		return out
	}
	t.lastPub, t.dirty, t.published, t.changed = now, false, true, false
	t.pubLat, t.pubLon = ev.Point.Lat, ev.Point.Lon
	t.pubCallsign, t.pubName, t.pubType = t.callsign, t.name, ev.Type
	return append(out, ev)
}

// compact removes the dropped tracks from the view's list; a pointer is
// rewritten only after a removal.
func (v *view) compact() {
	n := 0
	for i, t := range v.tracks {
		if t.removed {
			continue
		}
		if n != i {
			v.tracks[n] = t
		}
		n++
	}
	clear(v.tracks[n:])
	v.tracks = v.tracks[:n]
	v.removed = 0
}

// due reports whether a track's picture needs refreshing (see
// PublishDistance).
func (e *Engine) due(t *track, now time.Time) bool {
	if !t.published || t.changed || t.callsign != t.pubCallsign || t.name != t.pubName || e.cotType(t) != t.pubType {
		return true
	}
	if now.Sub(t.lastPub) >= min(e.cfg.Heartbeat, e.timeout(t)/2) {
		return true
	}
	// Where the track is now relative to where it was published, in the
	// track's plane: its offset from the plane's origin plus the origin's
	// offset from the published point (equirectangular: within 1 % here).
	dt := now.Sub(t.t).Seconds()
	const mPerDeg = 111_320.0
	de := t.x[0] + t.x[2]*dt + (t.f.lon-t.pubLon)*mPerDeg*t.f.cosLat
	dn := t.x[1] + t.x[3]*dt + (t.f.lat-t.pubLat)*mPerDeg
	return de*de+dn*dn > e.cfg.PublishDistance*e.cfg.PublishDistance
}

func (e *Engine) drop(v *view, t *track) {
	t.removed = true
	v.removed++
	v.unindex(t)
	if t.key.Kind != IDNone && v.byKey[t.key] == t {
		delete(v.byKey, t.key)
	}
}

// duplicate reports whether an earlier view holds a track of the same
// object built from exactly the same sources: that one is published and
// this one would repeat it under the same label.
func (e *Engine) duplicate(v *view, t *track) bool {
	for _, w := range e.views[:v.idx] {
		var o *track
		if t.key.Kind != IDNone {
			o = w.byKey[t.key]
		} else {
			o = w.findBirth(t)
		}
		if o != nil && o.confirmed && !o.removed && slices.Equal(o.sources, t.sources) {
			return true
		}
	}
	return false
}

// findBirth finds the anonymous track born from the same plot.
func (v *view) findBirth(t *track) *track {
	var found *track
	v.near(t.lat(), t.lon(), func(o *track) {
		if o.key == t.key {
			found = o
		}
	})
	return found
}

// merge folds a confirmed anonymous track that lies on an identity track
// into it.
func (e *Engine) merge(v *view, t *track, now time.Time, out []*cot.Event) []*cot.Event {
	{
		var best *track
		bestD := e.cfg.Gate
		v.near(t.lat(), t.lon(), func(o *track) {
			if o.removed || o.key.Kind == IDNone {
				return
			}
			// Cheap rejection before any geometry: more than about 5 km
			// apart in latitude or longitude.
			if math.Abs(o.lat()-t.lat()) > 0.05 || math.Abs(o.lon()-t.lon()) > 0.07 {
				return
			}
			at := t.t
			if o.t.After(at) {
				at = o.t
			}
			xa, pa := t.predicted(at, e.q(t.domain))
			xb, pb := o.predicted(at, e.q(o.domain))
			ae, an := t.f.fromENU(xa[0], xa[1])
			de, dn := o.f.toENU(ae, an)
			de -= xb[0]
			dn -= xb[1]
			_, d2, ok := innovation(&pb, [3]float64{pa[0][0], pa[0][1], pa[1][1]}, de, dn)
			if !ok || d2 > bestD {
				return
			}
			dv := math.Hypot(xa[2]-xb[2], xa[3]-xb[3])
			sv := math.Sqrt(pa[2][2] + pa[3][3] + pb[2][2] + pb[3][3])
			if dv > 3*sv+2 {
				return
			}
			best, bestD = o, d2
		})
		if best == nil {
			return out
		}
		for _, s := range t.sources {
			best.addSource(s)
		}
		best.hits += t.hits
		best.dirty = true
		if t.published {
			out = append(out, e.deleteEvent(t, now))
		}
		e.drop(v, t)
		e.stats.merged.Add(1)
	}
	return out
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
