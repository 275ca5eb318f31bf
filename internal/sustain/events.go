package sustain

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Event types of the sustainment reports the node publishes. They are
// ordinary labelled CoT events: the hub releases them per recipient and
// federation carries them to allied nodes only where the label allows.
const (
	TypeStock     = "y-s-s"
	TypeReadiness = "y-s-r"
)

// republish is how often every report is sent again (they go stale after
// three times as long).
const republish = 10 * time.Minute

// coalesce is how long the publisher gathers changes before one pass.
const coalesce = 250 * time.Millisecond

// publishLoop publishes a stock report for every changed balance and a
// readiness report for every unit whose readiness changed, whenever the
// ledger changes and every republish interval.
func (s *Service) publishLoop(ctx context.Context) {
	lastStock := map[key]int64{}
	lastRdy := map[string]string{}
	t := time.NewTicker(republish)
	defer t.Stop()
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case <-s.events:
			// Coalesce a burst of changes into one pass.
			select {
			case <-ctx.Done():
				return
			case <-time.After(coalesce):
			}
			select {
			case <-s.events:
			default:
			}
		case <-t.C:
			all = true
		}
		if all {
			s.markUnsettled()
		}
		evs := s.reports(lastStock, lastRdy, all)
		if s.cfg.Reporter != nil && !s.cfg.Reporter() {
			evs = nil // another instance reports; the alerts are kept here too
		}
		evs = append(evs, s.fedEvents()...)
		if s.cfg.Publisher == nil {
			continue
		}
		for _, ev := range evs {
			if err := s.cfg.Publisher.Inject(ctx, ev); err != nil && ctx.Err() == nil {
				s.log.Warn("sustain: publishing report", "uid", ev.UID, "err", err)
			}
		}
	}
}

// stockSnap and rdySnap are what reports copies under the lock: a changed
// balance with its location, and a unit with its readiness.
type stockSnap struct {
	k   key
	qty int64
	l   label.Label
	loc Location
}

type rdySnap struct {
	u Unit
	r Readiness
}

// reports builds the events for what changed since the last call. It
// takes a snapshot under the lock and builds the events outside it.
func (s *Service) reports(lastStock map[key]int64, lastRdy map[string]string, all bool) []*cot.Event {
	now, stocks, rdys := s.reportSnapshot(lastStock, all)
	var evs []*cot.Event
	for _, st := range stocks {
		k, loc := st.k, st.loc
		d := fmt.Sprintf(`<contact callsign="%s"/><__sustain kind="stock" item="%s" location="%s" owner="%s" quantity="%d"/><remarks>%s</remarks>`,
			esc(fmt.Sprintf("%s %s: %d", loc.Name, k.item, st.qty)), esc(k.item), esc(k.loc), esc(k.owner), st.qty,
			esc(fmt.Sprintf("%s stock of %s at %s: %d", k.owner, k.item, loc.Name, st.qty)))
		evs = append(evs, s.event("sustain.stock."+s.cfg.NodeID+"."+safeUID(k.item)+"."+k.loc+"."+k.owner, TypeStock, loc.Lat, loc.Lon, now, d, st.l))
	}
	var alerts []Alert
	for _, x := range rdys {
		u, r := x.u, x.r
		changed, alert := readinessChange(lastRdy, u.ID, r, all)
		if !changed {
			continue
		}
		if alert {
			alerts = append(alerts, Alert{Time: now, Unit: u.ID, Colour: r.Colour, Reasons: r.Reasons, Label: r.Label})
			s.log.Warn("sustain: readiness alert", "unit", u.ID, "colour", r.Colour, "reasons", r.Reasons)
		}
		if (r.Lat == 0 && r.Lon == 0) || !r.Label.Valid() {
			continue
		}
		evs = append(evs, s.readinessEvent(u, r, now))
	}
	s.keepAlerts(alerts)
	return evs
}

// reportSnapshot copies, under the lock, the balances changed since
// lastStock (all of them when all is set) at located places, and every
// unit with its readiness; lastStock is brought up to date.
func (s *Service) reportSnapshot(lastStock map[key]int64, all bool) (time.Time, []stockSnap, []rdySnap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var stocks []stockSnap
	for k, b := range s.led.bal {
		if q, ok := lastStock[k]; ok && q == b.qty && !all {
			continue
		}
		lastStock[k] = b.qty
		loc := s.led.locs[k.loc]
		if loc == nil || (loc.Lat == 0 && loc.Lon == 0) || !b.label.Valid() {
			continue
		}
		stocks = append(stocks, stockSnap{k, b.qty, b.label, *loc})
	}
	inWork := s.inWorkLocked()
	rdys := make([]rdySnap, 0, len(s.units))
	for _, u := range s.units {
		rdys = append(rdys, rdySnap{*u, s.ownLocked(u, now, inWork)})
	}
	return now, stocks, rdys
}

// readinessChange records unit id's readiness r in lastRdy and reports
// whether it changed since the last report (always when all is set), and
// whether it raises an alert: alerting now, and not before or in another
// colour.
func readinessChange(lastRdy map[string]string, id string, r Readiness, all bool) (changed, alert bool) {
	sig := fmt.Sprintf("%s|%d/%d|%v|%v", r.Colour, r.Available, r.Assigned, r.Munitions, r.Alert)
	if lastRdy[id] == sig && !all {
		return false, false
	}
	prev := lastRdy[id+"#colour"]
	prevAlert := lastRdy[id+"#alert"] == "1"
	lastRdy[id] = sig
	lastRdy[id+"#colour"] = string(r.Colour)
	alert = r.Alert && (!prevAlert || prev != string(r.Colour))
	if r.Alert {
		lastRdy[id+"#alert"] = "1"
	} else {
		lastRdy[id+"#alert"] = ""
	}
	return true, alert
}

// readinessEvent is the event reporting unit u's readiness r.
func (s *Service) readinessEvent(u Unit, r Readiness, now time.Time) *cot.Event {
	var mun strings.Builder
	for _, m := range r.Munitions {
		fmt.Fprintf(&mun, `<munition item="%s" onHand="%d" required="%d"/>`, esc(m.Item), m.OnHand, m.Required)
	}
	d := fmt.Sprintf(`<contact callsign="%s"/><__readiness unit="%s" name="%s" nation="%s" parent="%s" colour="%s" assigned="%d" available="%d" alert="%t">%s</__readiness><remarks>%s</remarks>`,
		esc(fmt.Sprintf("%s %s", u.Name, r.Colour)), esc(u.ID), esc(u.Name), u.Nation, esc(u.Parent), r.Colour, r.Assigned, r.Available, r.Alert,
		mun.String(), esc(fmt.Sprintf("Readiness %s: %s", r.Colour, strings.Join(r.Reasons, "; "))))
	return s.event("sustain.readiness."+s.cfg.NodeID+"."+u.ID, TypeReadiness, r.Lat, r.Lon, now, d, r.Label)
}

// keepAlerts adds alerts to the last thousand kept.
func (s *Service) keepAlerts(alerts []Alert) {
	if len(alerts) == 0 {
		return
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, alerts...)
	if len(s.alerts) > 1000 {
		s.alerts = s.alerts[len(s.alerts)-1000:]
	}
	s.mu.Unlock()
}

func (s *Service) event(uid, typ string, lat, lon float64, now time.Time, detail string, l label.Label) *cot.Event {
	ev := &cot.Event{Version: "2.0", UID: uid, Type: typ, How: "h-g-i-g-o", Time: now, Start: now, Stale: now.Add(3 * republish),
		Point: cot.Point{Lat: lat, Lon: lon, HAE: 0, CE: 9999999, LE: 9999999}, HasDetail: true, Detail: []byte(detail)}
	ev.Origin.Nation = l.Originator
	ev.SetLabel(l)
	return ev
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

func safeUID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// reportXML is the part of a report's detail Remote reads.
type reportXML struct {
	Stock *struct {
		Kind     string `xml:"kind,attr"`
		Item     string `xml:"item,attr"`
		Location string `xml:"location,attr"`
		Owner    string `xml:"owner,attr"`
		Quantity string `xml:"quantity,attr"`
	} `xml:"__sustain"`
	Ready *struct {
		Unit      string `xml:"unit,attr"`
		Name      string `xml:"name,attr"`
		Nation    string `xml:"nation,attr"`
		Parent    string `xml:"parent,attr"`
		Colour    string `xml:"colour,attr"`
		Assigned  int    `xml:"assigned,attr"`
		Available int    `xml:"available,attr"`
		Alert     bool   `xml:"alert,attr"`
		Munitions []struct {
			Item     string `xml:"item,attr"`
			OnHand   int64  `xml:"onHand,attr"`
			Required int64  `xml:"required,attr"`
		} `xml:"munition"`
	} `xml:"__readiness"`
}

// Remote takes a sustainment report that arrived from an allied node
// (federation has authenticated the peer and checked the label; l is the
// event's label as stamped at its origin). Reports of this node itself are
// ignored. The report keeps its label: every list that shows it filters
// it again. A report is shown until it goes stale (its publisher repeats
// it every ten minutes).
func (s *Service) Remote(ev *cot.Event, l label.Label) error {
	if ev.Type != TypeStock && ev.Type != TypeReadiness {
		return nil
	}
	node := ev.Origin.Node
	if node == "" || node == s.cfg.NodeID || !l.Valid() {
		return nil
	}
	if len(ev.Detail) > 64<<10 {
		return invalid("report too large")
	}
	var r reportXML
	dec := xml.NewDecoder(bytes.NewReader(append(append([]byte("<d>"), ev.Detail...), "</d>"...)))
	dec.Strict = true
	dec.Entity = nil
	if err := dec.Decode(&r); err != nil {
		return invalid("report %s: %v", ev.UID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case ev.Type == TypeStock && r.Stock != nil:
		q, err := strconv.ParseInt(r.Stock.Quantity, 10, 64)
		if err != nil || q < 0 || q > 1<<40 || checkName("item", r.Stock.Item) != nil || !label.ValidNation(r.Stock.Owner) || !validID(r.Stock.Location) {
			return invalid("stock report %s", ev.UID)
		}
		k := node + "|" + r.Stock.Item + "|" + r.Stock.Location + "|" + r.Stock.Owner
		if len(s.remote) > 100000 {
			return invalid("too many remote stock reports")
		}
		s.staleAt["s|"+k] = ev.Stale
		s.remote[k] = Stock{Item: r.Stock.Item, Location: r.Stock.Location, Owner: r.Stock.Owner, Quantity: q, Label: l, Node: node}
	case ev.Type == TypeReadiness && r.Ready != nil:
		c := Colour(r.Ready.Colour)
		if c.rank() == 0 || !validID(r.Ready.Unit) || !label.ValidNation(r.Ready.Nation) {
			return invalid("readiness report %s", ev.UID)
		}
		rd := Readiness{Unit: r.Ready.Unit, Name: r.Ready.Name, Nation: r.Ready.Nation, Parent: r.Ready.Parent, Colour: c,
			Assigned: r.Ready.Assigned, Available: r.Ready.Available, Alert: r.Ready.Alert, Lat: ev.Point.Lat, Lon: ev.Point.Lon,
			Node: node, Label: l, Munitions: []Munition{}}
		for _, m := range r.Ready.Munitions {
			rd.Munitions = append(rd.Munitions, Munition{Item: m.Item, OnHand: m.OnHand, Required: m.Required})
		}
		if len(s.remoteRdy) > 100000 {
			return invalid("too many remote readiness reports")
		}
		s.remoteRdy[node+"|"+rd.Unit] = rd
		s.staleAt["r|"+node+"|"+rd.Unit] = ev.Stale
	}
	return nil
}
