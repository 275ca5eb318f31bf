package sustain

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"kizuna/internal/label"
)

// Asset is one piece of major equipment assigned to a unit (a ship, an
// aircraft, a launcher), linked to a CoT uid where it reports.
type Asset struct {
	ID   string `json:"id"`
	Kind string `json:"kind,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Unit is a unit's sustainment profile: where its munitions are, what
// equipment it is assigned, what load it must carry. Its id is the ORBAT
// unit id; Parent follows the command relationships for the roll-up.
type Unit struct {
	ID       string           `json:"id"`
	Parent   string           `json:"parent,omitempty"`
	Nation   string           `json:"nation"`
	Name     string           `json:"name"`
	Location string           `json:"location,omitempty"`
	Assets   []Asset          `json:"assets,omitempty"`
	Required map[string]int64 `json:"required,omitempty"`
	Safety   map[string]int64 `json:"safety,omitempty"`
	// AlertBelow is the operator's threshold, the lowest acceptable
	// colour: an alert is raised when the unit's own colour is worse (AMBER
	// alerts on RED, GREEN on AMBER and RED). A munition below its safety
	// level always alerts.
	AlertBelow Colour      `json:"alertBelow,omitempty"`
	Label      label.Label `json:"label"`
}

// PutUnit creates or replaces the profile of a unit of p's nation.
func (s *Service) PutUnit(ctx context.Context, p label.Principal, u Unit) (Unit, error) {
	if !validID(u.ID) || (u.Parent != "" && !validID(u.Parent)) {
		return Unit{}, invalid("unit id")
	}
	if u.Name == "" {
		u.Name = u.ID
	}
	if err := checkName("unit", u.Name); err != nil {
		return Unit{}, err
	}
	if u.Nation == "" {
		u.Nation = p.Nation
	}
	if u.Nation != p.Nation {
		return Unit{}, fmt.Errorf("%w: %s may profile only %s units", ErrRefused, p.Nation, p.Nation)
	}
	if u.AlertBelow != "" && u.AlertBelow.rank() == 0 {
		return Unit{}, invalid("alertBelow %q", u.AlertBelow)
	}
	if len(u.Assets) > 1000 || len(u.Required) > 100 || len(u.Safety) > 100 {
		return Unit{}, invalid("unit profile too large")
	}
	for _, a := range u.Assets {
		if err := checkName("asset", a.ID); err != nil {
			return Unit{}, err
		}
	}
	for _, m := range []map[string]int64{u.Required, u.Safety} {
		for _, q := range m {
			if q < 0 || q > maxQuantity {
				return Unit{}, invalid("quantity out of range")
			}
		}
	}
	if err := checkLabel(p, &u.Label); err != nil {
		return Unit{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return Unit{}, err
	}
	defer s.endLocked()
	if old := s.units[u.ID]; old != nil && old.Nation != p.Nation {
		return Unit{}, fmt.Errorf("%w: unit %s belongs to %s", ErrRefused, u.ID, old.Nation)
	}
	if u.Parent != "" {
		for a := u.Parent; a != ""; {
			if a == u.ID {
				return Unit{}, invalid("unit %s would be its own ancestor", u.ID)
			}
			pu := s.units[a]
			if pu == nil {
				break
			}
			a = pu.Parent
		}
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "unit", u.ID, u) }); err != nil {
		return Unit{}, err
	}
	cp := u
	s.units[u.ID] = &cp
	s.audit(ctx, p, "sustain.unit", u.ID, "allow", "")
	s.kick()
	return u, nil
}

// CyberStatus reports the active cyber effects on a unit (package
// cyber's Effects satisfies it): the labels of the effects on the unit
// id. A unit with any is rated at best AMBER, and its readiness carries
// their labels, since the rating reveals them.
type CyberStatus interface {
	Labels(uid string) []label.Label
}

// Colour is a readiness rating.
type Colour string

// The ratings, best first.
const (
	Green Colour = "GREEN"
	Amber Colour = "AMBER"
	Red   Colour = "RED"
)

func (c Colour) rank() int {
	switch c {
	case Green:
		return 1
	case Amber:
		return 2
	case Red:
		return 3
	}
	return 0
}

func worse(a, b Colour) Colour {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// The colour rule, in one place (the README quotes it):
//
//	E = equipment available / assigned (1 when none is assigned)
//	M = the lowest, over the required items, of on hand / required load
//	D = the lowest, over the required items, of days of supply
//	    (on hand / mean daily expenditure over the rate window; unlimited
//	    without expenditure)
//	GREEN when E >= 0.9 and M >= 0.9 and D >= 7
//	AMBER when E >= 0.7 and M >= 0.6 and D >= 3
//	RED   otherwise
//
// A unit's rolled-up colour is the worst of its own and of every
// subordinate the viewer may see.
const (
	greenE, greenM, greenD = 0.9, 0.9, 7.0
	amberE, amberM, amberD = 0.7, 0.6, 3.0
)

// Rate returns the colour for the three ratios.
func Rate(e, m, d float64) Colour {
	switch {
	case e >= greenE && m >= greenM && d >= greenD:
		return Green
	case e >= amberE && m >= amberM && d >= amberD:
		return Amber
	}
	return Red
}

// Munition is one required item of a unit.
type Munition struct {
	Item     string  `json:"item"`
	OnHand   int64   `json:"onHand"`
	Required int64   `json:"required"`
	Safety   int64   `json:"safety,omitempty"`
	Rate     float64 `json:"ratePerDay"`
	// DaysOfSupply is nil when nothing was expended in the window.
	DaysOfSupply *float64 `json:"daysOfSupply,omitempty"`
	BelowSafety  bool     `json:"belowSafety,omitempty"`
}

// Readiness is one unit's readiness, its own and rolled up.
type Readiness struct {
	Unit      string   `json:"unit"`
	Name      string   `json:"name"`
	Nation    string   `json:"nation"`
	Parent    string   `json:"parent,omitempty"`
	Assigned  int      `json:"assigned"`
	Available int      `json:"available"`
	InWork    []string `json:"inWork,omitempty"`
	// UIDs are the CoT uids of the unit's assets, for the map's unit panel.
	UIDs      []string   `json:"uids,omitempty"`
	Munitions []Munition `json:"munitions"`
	Colour    Colour     `json:"colour"`
	Reasons   []string   `json:"reasons,omitempty"`
	Alert     bool       `json:"alert,omitempty"`
	// Rolled up over the subordinates the viewer may see.
	Rollup      Colour      `json:"rollup"`
	RollupUnits int         `json:"rollupUnits"`
	Children    []string    `json:"children,omitempty"`
	Lat         float64     `json:"lat,omitempty"`
	Lon         float64     `json:"lon,omitempty"`
	Node        string      `json:"node,omitempty"`
	Label       label.Label `json:"label"`
}

// own computes one unit's readiness and label from everything it is
// derived from. Caller holds s.mu.
func (s *Service) ownLocked(u *Unit, now time.Time, inWork map[string]label.Label) Readiness {
	r := Readiness{Unit: u.ID, Name: u.Name, Nation: u.Nation, Parent: u.Parent, Munitions: []Munition{}}
	labels := []label.Label{u.Label}
	if loc := s.led.locs[u.Location]; loc != nil {
		r.Lat, r.Lon = loc.Lat, loc.Lon
		labels = append(labels, loc.Label)
	}
	for _, a := range u.Assets {
		r.Assigned++
		if a.UID != "" {
			r.UIDs = append(r.UIDs, a.UID)
		}
		l, down := inWork[a.ID]
		if !down && a.UID != "" {
			l, down = inWork[a.UID]
		}
		if down {
			r.InWork = append(r.InWork, a.ID)
			labels = append(labels, l)
		} else {
			r.Available++
		}
	}
	e, m, d := 1.0, 1.0, math.Inf(1)
	if r.Assigned > 0 {
		e = float64(r.Available) / float64(r.Assigned)
	}
	items := make([]string, 0, len(u.Required))
	for it := range u.Required {
		items = append(items, it)
	}
	sort.Strings(items)
	for _, it := range items {
		mu := Munition{Item: it, Required: u.Required[it], Safety: u.Safety[it]}
		if q, l, ok := s.led.onHand(it, u.Location, u.Nation); ok {
			mu.OnHand = q
			labels = append(labels, l)
		}
		mu.Rate = s.led.rate(it, u.Location, now, s.cfg.RateWindow)
		if mu.Rate > 0 {
			dos := float64(mu.OnHand) / mu.Rate
			mu.DaysOfSupply = &dos
			d = math.Min(d, dos)
		}
		if mu.Required > 0 {
			m = math.Min(m, float64(mu.OnHand)/float64(mu.Required))
		}
		if mu.Safety > 0 && mu.OnHand < mu.Safety {
			mu.BelowSafety = true
			r.Alert = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s below safety level (%d < %d)", it, mu.OnHand, mu.Safety))
		}
		r.Munitions = append(r.Munitions, mu)
	}
	r.Colour = Rate(e, m, d)
	if e < greenE {
		r.Reasons = append(r.Reasons, fmt.Sprintf("equipment %d/%d available", r.Available, r.Assigned))
	}
	if m < greenM {
		r.Reasons = append(r.Reasons, fmt.Sprintf("munitions at %.0f%% of required load", 100*m))
	}
	if d < greenD {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%.1f days of supply", d))
	}
	if s.cfg.Cyber != nil {
		if ls := s.cfg.Cyber.Labels(u.ID); len(ls) > 0 {
			r.Colour = worse(r.Colour, Amber)
			r.Reasons = append(r.Reasons, fmt.Sprintf("cyber: %d active effect(s) on the unit's networks", len(ls)))
			labels = append(labels, ls...)
		}
	}
	if u.AlertBelow != "" && r.Colour.rank() > u.AlertBelow.rank() {
		r.Alert = true
	}
	r.Rollup = r.Colour
	r.RollupUnits = 1
	r.Label = label.Combine(u.Nation, labels...)
	return r
}

// inWorkLocked maps every asset (id and CoT uid) under an open work order
// to that order's label.
func (s *Service) inWorkLocked() map[string]label.Label {
	inWork := map[string]label.Label{}
	for _, w := range s.orders {
		if w.Status.Unavailable() {
			inWork[w.Asset] = w.Label
			if w.UID != "" {
				inWork[w.UID] = w.Label
			}
		}
	}
	return inWork
}

// Readiness returns the readiness of every unit p may see, each rolled up
// over its visible subordinates.
func (s *Service) Readiness(p label.Principal) []Readiness {
	s.mu.Lock()
	now := s.now()
	own := make(map[string]*Readiness, len(s.units))
	inWork := s.inWorkLocked()
	for id, u := range s.units {
		r := s.ownLocked(u, now, inWork)
		if label.Releasable(p, r.Label) {
			own[id] = &r
		}
	}
	var remote []Readiness
	for k, r := range s.remoteRdy {
		if now.After(s.staleAt["r|"+k]) {
			continue
		}
		if label.Releasable(p, r.Label) {
			remote = append(remote, r)
		}
	}
	s.mu.Unlock()
	return rollup(own, remote)
}

// rollup folds visible subordinates into their visible ancestors. A
// hidden unit breaks no chain: its visible subordinates roll up to its
// nearest visible ancestor.
func rollup(own map[string]*Readiness, remote []Readiness) []Readiness {
	for _, r := range remote {
		if _, ok := own[r.Unit]; !ok {
			c := r
			c.Children = nil
			c.Rollup, c.RollupUnits = c.Colour, 1
			own[r.Unit] = &c
		}
	}
	parents := map[string]string{}
	for id, r := range own {
		parents[id] = r.Parent
	}
	// Children in sorted order, then a post-order fold.
	kids := map[string][]string{}
	var roots []string
	for id, r := range own {
		if _, ok := own[r.Parent]; ok && r.Parent != id {
			kids[r.Parent] = append(kids[r.Parent], id)
		} else {
			roots = append(roots, id)
		}
	}
	var fold func(id string, depth int)
	fold = func(id string, depth int) {
		r := own[id]
		slices.Sort(kids[id])
		r.Children = kids[id]
		if depth > 64 {
			return
		}
		for _, k := range kids[id] {
			fold(k, depth+1)
			c := own[k]
			r.Rollup = worse(r.Rollup, c.Rollup)
			r.RollupUnits += c.RollupUnits
		}
	}
	sort.Strings(roots)
	for _, id := range roots {
		fold(id, 0)
	}
	keys := make([]string, 0, len(own))
	for k := range own {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := strings.Compare(own[a].Node, own[b].Node); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]Readiness, 0, len(own))
	for _, k := range keys {
		out = append(out, *own[k])
	}
	return out
}

// Alert is a unit that fell below its operator threshold or a munition
// below its safety level.
type Alert struct {
	Time    time.Time   `json:"time"`
	Unit    string      `json:"unit"`
	Colour  Colour      `json:"colour"`
	Reasons []string    `json:"reasons"`
	Label   label.Label `json:"label"`
}

// Alerts returns the alerts p may see, newest first.
func (s *Service) Alerts(p label.Principal) []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Alert{}
	for i := len(s.alerts) - 1; i >= 0; i-- {
		if label.Releasable(p, s.alerts[i].Label) {
			out = append(out, s.alerts[i])
		}
	}
	return out
}

// ForecastPoint is the projected stock at the end of one day.
type ForecastPoint struct {
	Day      int       `json:"day"`
	Date     time.Time `json:"date"`
	Quantity float64   `json:"quantity"`
}

// Forecast projects one balance.
type Forecast struct {
	Item     string          `json:"item"`
	Location string          `json:"location"`
	Owner    string          `json:"owner"`
	OnHand   int64           `json:"onHand"`
	Rate     float64         `json:"ratePerDay"`
	Safety   int64           `json:"safety"`
	Points   []ForecastPoint `json:"points"`
	// BelowSafety is the first day the projection drops below the safety
	// level, nil when it does not within the horizon.
	BelowSafety *time.Time  `json:"belowSafety,omitempty"`
	Label       label.Label `json:"label"`
}

// Forecast projects the stock of item at loc held by owner over days
// days: the balance, plus scheduled production and approved or shipped
// transfers arriving on their expected day, minus approved transfers
// leaving, minus the recent expenditure rate. safety < 0 takes the safety
// level of the unit whose location this is. The forecast is released to
// p only if p may see everything it is computed from.
func (s *Service) Forecast(p label.Principal, item, loc, owner string, days int, safety int64) (Forecast, error) {
	if days <= 0 || days > 365 {
		return Forecast{}, invalid("days must be 1..365")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.led.items[item]; !ok {
		return Forecast{}, fmt.Errorf("%w: item %q", ErrNotFound, item)
	}
	l := s.led.locs[loc]
	if l == nil {
		return Forecast{}, fmt.Errorf("%w: location %q", ErrNotFound, loc)
	}
	now := s.now()
	f := Forecast{Item: item, Location: loc, Owner: owner, Points: make([]ForecastPoint, 0, days+1)}
	labels := s.forecastStart(&f, now, safety, []label.Label{l.Label})
	delta, labels := s.forecastDeltas(&f, now, days, labels)
	f.Label = label.Combine(owner, labels...)
	if !label.Releasable(p, f.Label) {
		return Forecast{}, fmt.Errorf("%w: no visible forecast", ErrNotFound)
	}
	f.project(now, delta)
	return f, nil
}

// forecastStart sets the forecast's stock on hand, expenditure rate and
// safety level (s.mu held), adding to labels those of what they come
// from.
func (s *Service) forecastStart(f *Forecast, now time.Time, safety int64, labels []label.Label) []label.Label {
	item, loc, owner := f.Item, f.Location, f.Owner
	if q, bl, ok := s.led.onHand(item, loc, owner); ok {
		f.OnHand = q
		labels = append(labels, bl)
	}
	f.Rate = s.led.rate(item, loc, now, s.cfg.RateWindow)
	if f.Rate > 0 {
		// The rate is derived from expenditure movements at this location.
		for _, o := range []string{owner} {
			if _, bl, ok := s.led.onHand(item, loc, o); ok {
				labels = append(labels, bl)
			}
		}
	}
	f.Safety = safety
	if safety < 0 {
		f.Safety = 0
		for _, u := range s.units {
			if u.Location == loc && u.Nation == owner {
				f.Safety = u.Safety[item]
				labels = append(labels, u.Label)
			}
		}
	}
	return labels
}

// forecastDeltas returns the stock change of each day 0..days from
// scheduled production and transfers (s.mu held), adding to labels those
// of the schedules and transfers counted.
func (s *Service) forecastDeltas(f *Forecast, now time.Time, days int, labels []label.Label) ([]float64, []label.Label) {
	item, loc, owner := f.Item, f.Location, f.Owner
	delta := make([]float64, days+1)
	day := func(t time.Time) int {
		d := int(math.Ceil(t.Sub(now).Hours() / 24))
		if d < 0 {
			d = 0
		}
		return d
	}
	for _, sc := range s.schedules {
		if sc.Item == item && sc.Location == loc && sc.Owner == owner {
			if d := day(sc.Date); d <= days && !sc.Date.Before(now.Add(-24*time.Hour)) {
				delta[d] += float64(sc.Quantity)
				labels = append(labels, sc.Label)
			}
		}
	}
	for _, t := range s.transfers {
		if t.Item != item || (t.State != Approved && t.State != Shipped) {
			continue
		}
		d := day(t.Expected)
		if t.To == loc && t.ToNation == owner && d <= days {
			delta[d] += float64(t.Quantity)
			labels = append(labels, t.Label)
		}
		if t.From == loc && t.FromNation == owner && t.State == Approved {
			delta[0] -= float64(t.Quantity)
			labels = append(labels, t.Label)
		}
	}
	return delta, labels
}

// project fills the forecast's points, one a day from now, from its stock
// on hand, rate and the daily changes delta, and the first day below the
// safety level.
func (f *Forecast) project(now time.Time, delta []float64) {
	q := float64(f.OnHand)
	start := now.Truncate(24 * time.Hour)
	for d := 0; d < len(delta); d++ {
		if d > 0 {
			q -= f.Rate
		}
		q += delta[d]
		if q < 0 {
			q = 0
		}
		date := start.Add(time.Duration(d) * 24 * time.Hour)
		f.Points = append(f.Points, ForecastPoint{Day: d, Date: date, Quantity: math.Round(q*10) / 10})
		if f.BelowSafety == nil && f.Safety > 0 && q < float64(f.Safety) {
			dd := date
			f.BelowSafety = &dd
		}
	}
}

// Units returns the unit profiles p may see.
func (s *Service) Units(p label.Principal) []Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Unit{}
	for _, u := range s.units {
		if label.Releasable(p, u.Label) {
			out = append(out, *u)
		}
	}
	sortBy(out, func(u Unit) string { return u.ID })
	return out
}
