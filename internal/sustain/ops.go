package sustain

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"kizuna/internal/label"
)

// fillSerials completes the serials of a serialised movement that names
// none: new ones for production acceptance (LOT-n), else the first ones
// held at the origin.
func (l *ledger) fillSerials(m *Movement) {
	it, ok := l.items[m.Item]
	if !ok || !it.Serialised || len(m.Serials) > 0 || m.Quantity <= 0 || m.Quantity > maxQuantity {
		return
	}
	known := l.serials[m.Item]
	if m.Reason == Production {
		// Numbered per owner and lot, so that a serial reveals nothing
		// of another nation's stock.
		prefix := m.ToOwner + "-" + m.Lot
		if m.Lot == "" {
			prefix = m.ToOwner + "-SN"
		}
		for n := 1; int64(len(m.Serials)) < m.Quantity; n++ {
			s := prefix + "-" + strconv.Itoa(n)
			if _, taken := known[s]; !taken {
				m.Serials = append(m.Serials, s)
			}
		}
		return
	}
	var here []string
	for s, p := range known {
		if !p.expended && p.loc == m.From && p.owner == m.FromOwner && (m.Lot == "" || p.lot == m.Lot) {
			here = append(here, s)
		}
	}
	sort.Strings(here)
	if int64(len(here)) >= m.Quantity {
		m.Serials = here[:m.Quantity]
	}
}

// Engagement is one firing: which unit fired how many of what at which
// track. It is recorded as an expenditure movement.
type Engagement struct {
	ID       string      `json:"id"`
	Unit     string      `json:"unit,omitempty"`
	Location string      `json:"location"`
	Item     string      `json:"item"`
	Quantity int64       `json:"quantity"`
	Track    string      `json:"track,omitempty"`
	Time     time.Time   `json:"time"`
	Serials  []string    `json:"serials,omitempty"`
	Seq      int64       `json:"seq"`
	By       string      `json:"by"`
	Label    label.Label `json:"label"`
	Key      string      `json:"idempotencyKey,omitempty"`
}

// Engage records an engagement of p's nation and its expenditure. The
// location defaults to the firing unit's stock location.
func (s *Service) Engage(ctx context.Context, p label.Principal, e Engagement) (Engagement, error) {
	if err := checkLabel(p, &e.Label); err != nil {
		return Engagement{}, err
	}
	if e.Track != "" {
		if err := checkName("track", e.Track); err != nil {
			return Engagement{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return Engagement{}, err
	}
	defer s.endLocked()
	if e.Unit != "" {
		u := s.units[e.Unit]
		if u == nil {
			return Engagement{}, fmt.Errorf("%w: unit %q", ErrNotFound, e.Unit)
		}
		if u.Nation != p.Nation {
			return Engagement{}, fmt.Errorf("%w: %s reports engagements only of %s units", ErrRefused, p.Nation, p.Nation)
		}
		if e.Location == "" {
			e.Location = u.Location
		}
	}
	key := ""
	if e.Key != "" {
		if err := checkName("idempotency key", e.Key); err != nil {
			return Engagement{}, err
		}
		key = p.Nation + ":engage:" + e.Key
		for _, old := range s.engages {
			if old.Key == key {
				return old, nil
			}
		}
	}
	e.ID = newID("eng")
	e.Key = key
	e.By = p.String()
	e.Time = s.now()
	m := Movement{Item: e.Item, From: e.Location, To: Sink, FromOwner: p.Nation, ToOwner: p.Nation, Quantity: e.Quantity,
		Reason: Expenditure, Serials: slices.Clone(e.Serials), Ref: e.ID, Actor: p.String(), Label: e.Label}
	if key != "" {
		m.Key = key
	}
	rec := e
	_, err := s.commitLocked(ctx, []Movement{m}, func(tx *sql.Tx, staged []*Movement) error {
		if len(staged) != 1 {
			return fmt.Errorf("%w: engagement recorded twice", ErrState)
		}
		rec.Seq = staged[0].Seq
		rec.Serials = staged[0].Serials
		return s.putDoc(tx, "engagement", rec.ID, rec)
	})
	if err != nil {
		s.audit(ctx, p, "sustain.engage", e.Location, "deny", err.Error())
		return Engagement{}, err
	}
	s.engages = append(s.engages, rec)
	s.audit(ctx, p, "sustain.engage", rec.ID, "allow", fmt.Sprintf("%d %s from %s at %s", rec.Quantity, rec.Item, rec.Location, rec.Track))
	return rec, nil
}

// Engagements returns the engagements p may see, newest first.
func (s *Service) Engagements(p label.Principal) []Engagement {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Engagement{}
	for i := len(s.engages) - 1; i >= 0; i-- {
		if label.Releasable(p, s.engages[i].Label) {
			out = append(out, s.engages[i])
		}
	}
	return out
}

// Scheduled is a production lot expected to be accepted on a date.
type Scheduled struct {
	ID       string      `json:"id"`
	Item     string      `json:"item"`
	Location string      `json:"location"`
	Owner    string      `json:"owner"`
	Date     time.Time   `json:"date"`
	Quantity int64       `json:"quantity"`
	Lot      string      `json:"lot,omitempty"`
	Label    label.Label `json:"label"`
}

// Schedule records planned production of p's nation.
func (s *Service) Schedule(ctx context.Context, p label.Principal, sc Scheduled) (Scheduled, error) {
	if err := checkLabel(p, &sc.Label); err != nil {
		return Scheduled{}, err
	}
	sc.Owner = p.Nation
	if sc.Quantity <= 0 || sc.Quantity > maxQuantity || sc.Date.IsZero() {
		return Scheduled{}, invalid("a scheduled lot needs a quantity and a date")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return Scheduled{}, err
	}
	defer s.endLocked()
	if _, ok := s.led.items[sc.Item]; !ok {
		return Scheduled{}, invalid("unknown item %q", sc.Item)
	}
	if _, ok := s.led.locs[sc.Location]; !ok {
		return Scheduled{}, fmt.Errorf("%w: location %q", ErrNotFound, sc.Location)
	}
	sc.ID = newID("sched")
	sc.Date = sc.Date.UTC()
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "schedule", sc.ID, sc) }); err != nil {
		return Scheduled{}, err
	}
	s.schedules[sc.ID] = &sc
	s.audit(ctx, p, "sustain.schedule", sc.ID, "allow", fmt.Sprintf("%d %s at %s on %s", sc.Quantity, sc.Item, sc.Location, sc.Date.Format(time.DateOnly)))
	s.kick()
	return sc, nil
}

// Schedules returns the scheduled lots p may see, by date.
func (s *Service) Schedules(p label.Principal) []Scheduled {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Scheduled{}
	for _, sc := range s.schedules {
		if label.Releasable(p, sc.Label) {
			out = append(out, *sc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}

// WorkStatus is the status of a maintenance work order.
type WorkStatus string

// Work order statuses.
const (
	Planned       WorkStatus = "planned"
	Inducted      WorkStatus = "inducted"
	InWork        WorkStatus = "in-work"
	AwaitingParts WorkStatus = "awaiting-parts"
	Complete      WorkStatus = "complete"
)

var workNext = map[WorkStatus][]WorkStatus{
	Planned:       {Inducted, Complete},
	Inducted:      {InWork, AwaitingParts, Complete},
	InWork:        {AwaitingParts, Complete},
	AwaitingParts: {InWork, Complete},
}

// Unavailable reports whether an asset under this status is out of service.
func (w WorkStatus) Unavailable() bool {
	return w == Inducted || w == InWork || w == AwaitingParts
}

// PartDemand is a demand for parts against the ledger.
type PartDemand struct {
	Item     string `json:"item"`
	Quantity int64  `json:"quantity"`
	From     string `json:"from"`
	Issued   bool   `json:"issued"`
	Seq      int64  `json:"seq,omitempty"`
}

// WorkOrder is maintenance or repair of one ship or aircraft.
type WorkOrder struct {
	ID       string       `json:"id"`
	Asset    string       `json:"asset"`
	Unit     string       `json:"unit,omitempty"`
	UID      string       `json:"uid,omitempty"`
	Owner    string       `json:"owner"`
	Facility string       `json:"facility"`
	Type     string       `json:"type"`
	Inducted time.Time    `json:"induction"`
	Planned  time.Time    `json:"plannedCompletion"`
	Status   WorkStatus   `json:"status"`
	Parts    []PartDemand `json:"parts,omitempty"`
	History  []Step       `json:"history"`
	Label    label.Label  `json:"label"`
}

// OpenWorkOrder records a work order for an asset of p's nation.
func (s *Service) OpenWorkOrder(ctx context.Context, p label.Principal, w WorkOrder) (WorkOrder, error) {
	if err := checkLabel(p, &w.Label); err != nil {
		return WorkOrder{}, err
	}
	for what, v := range map[string]string{"asset": w.Asset, "facility": w.Facility, "type": w.Type} {
		if err := checkName(what, v); err != nil {
			return WorkOrder{}, err
		}
	}
	w.Owner = p.Nation
	if w.Status == "" {
		w.Status = Planned
	}
	if w.Status != Planned && w.Status != Inducted {
		return WorkOrder{}, invalid("a work order starts planned or inducted")
	}
	for _, d := range w.Parts {
		if d.Quantity <= 0 || d.Quantity > maxQuantity || d.Issued {
			return WorkOrder{}, invalid("part demand %q", d.Item)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return WorkOrder{}, err
	}
	defer s.endLocked()
	w.ID = newID("wo")
	w.Inducted = w.Inducted.UTC()
	w.Planned = w.Planned.UTC()
	w.History = []Step{{At: s.now(), By: p.String(), Action: "open", State: TransferState(w.Status)}}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "workorder", w.ID, w) }); err != nil {
		return WorkOrder{}, err
	}
	cp := w
	s.orders[w.ID] = &cp
	s.audit(ctx, p, "sustain.workorder.open", w.ID, "allow", w.Asset+" at "+w.Facility)
	s.kick()
	return w, nil
}

// SetWorkStatus moves a work order to a new status; the asset's owner
// nation or the facility's nation (when the facility is a known location)
// may do so.
func (s *Service) SetWorkStatus(ctx context.Context, p label.Principal, id string, st WorkStatus, note string) (WorkOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return WorkOrder{}, err
	}
	defer s.endLocked()
	w := s.orders[id]
	if w == nil || !label.Releasable(p, w.Label) {
		return WorkOrder{}, fmt.Errorf("%w: work order %q", ErrNotFound, id)
	}
	if !s.workPartyLocked(p, w) {
		s.audit(ctx, p, "sustain.workorder.status", id, "deny", "not a party")
		return WorkOrder{}, fmt.Errorf("%w: %s is neither the asset's nation nor the facility's", ErrRefused, p.Nation)
	}
	if !slices.Contains(workNext[w.Status], st) {
		return WorkOrder{}, fmt.Errorf("%w: %s cannot become %s", ErrState, w.Status, st)
	}
	if len(note) > 500 {
		return WorkOrder{}, invalid("note too long")
	}
	next := *w
	next.History = append(slices.Clone(w.History), Step{At: s.now(), By: p.String(), Action: "status", State: TransferState(st), Note: note})
	next.Status = st
	if st == Inducted && next.Inducted.IsZero() {
		next.Inducted = s.now()
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "workorder", id, next) }); err != nil {
		return WorkOrder{}, err
	}
	*w = next
	s.audit(ctx, p, "sustain.workorder.status", id, "allow", string(st))
	s.kick()
	return next, nil
}

func (s *Service) workPartyLocked(p label.Principal, w *WorkOrder) bool {
	if p.Nation == w.Owner {
		return true
	}
	f := s.led.locs[w.Facility]
	return f != nil && f.Nation == p.Nation
}

// IssueParts issues demand n of a work order from the ledger: an issue
// movement of the owner's stock to the facility.
func (s *Service) IssueParts(ctx context.Context, p label.Principal, id string, n int) (WorkOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return WorkOrder{}, err
	}
	defer s.endLocked()
	w := s.orders[id]
	if w == nil || !label.Releasable(p, w.Label) {
		return WorkOrder{}, fmt.Errorf("%w: work order %q", ErrNotFound, id)
	}
	if n < 0 || n >= len(w.Parts) {
		return WorkOrder{}, fmt.Errorf("%w: part demand %d", ErrNotFound, n)
	}
	if p.Nation != w.Owner {
		return WorkOrder{}, fmt.Errorf("%w: only %s issues its parts", ErrRefused, w.Owner)
	}
	d := w.Parts[n]
	if d.Issued {
		return *w, nil
	}
	next := *w
	next.Parts = slices.Clone(w.Parts)
	m := Movement{Item: d.Item, From: d.From, To: w.Facility, FromOwner: w.Owner, ToOwner: w.Owner, Quantity: d.Quantity,
		Reason: Issue, Ref: w.ID, Key: "workorder:" + w.ID + ":" + strconv.Itoa(n), Actor: p.String(), Label: w.Label}
	_, err := s.commitLocked(ctx, []Movement{m}, func(tx *sql.Tx, staged []*Movement) error {
		next.Parts[n].Issued = true
		if len(staged) == 1 {
			next.Parts[n].Seq = staged[0].Seq
		}
		return s.putDoc(tx, "workorder", id, next)
	})
	if err != nil {
		return WorkOrder{}, err
	}
	*w = next
	s.audit(ctx, p, "sustain.workorder.issue", id, "allow", fmt.Sprintf("%d %s", d.Quantity, d.Item))
	return next, nil
}

// WorkOrders returns the work orders p may see.
func (s *Service) WorkOrders(p label.Principal) []WorkOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []WorkOrder{}
	for _, w := range s.orders {
		if label.Releasable(p, w.Label) {
			c := *w
			c.History = slices.Clone(w.History)
			c.Parts = slices.Clone(w.Parts)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].History[0].At.After(out[j].History[0].At) })
	return out
}

func sortBy[T any](s []T, k func(T) string) {
	sort.SliceStable(s, func(i, j int) bool { return k(s[i]) < k(s[j]) })
}
