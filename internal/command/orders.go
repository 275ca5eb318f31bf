package command

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"kizuna/internal/audit"
	"kizuna/internal/label"
)

// maxOrderText bounds an order's text.
const maxOrderText = 4000

// IssueRequest asks to issue an order. As is the issuing (acting) unit.
type IssueRequest struct {
	As        string `json:"as,omitempty"`
	Recipient string `json:"recipient"`
	Type      string `json:"type"`
	Text      string `json:"text"`
	// Mission is the order's mission type (e.g. AIR_DEFENCE).
	Mission  string    `json:"mission,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Deadline, or DeadlineIn (a duration from now such as "2h"): the
	// reply-by time.
	Deadline   time.Time `json:"deadline,omitzero"`
	DeadlineIn string    `json:"deadlineIn,omitempty"`
	// Family is WARNORD, OPORD (the default for tasks and movements),
	// FRAGORD (with Changes) or EXORD.
	Family     string      `json:"family,omitempty"`
	Paragraphs *Paragraphs `json:"paragraphs,omitempty"`
	// NET and NLT bound the action (not earlier / not later than).
	NET time.Time `json:"net,omitzero"`
	NLT time.Time `json:"nlt,omitzero"`
	// Changes is the order a FRAGORD changes or an EXORD executes.
	Changes string `json:"changes,omitempty"`
	// Via names the coordination body for a support request to another
	// nation's forces (found from the order of battle when empty).
	Via string `json:"via,omitempty"`
	// Label overrides: the issuer's clearance and releasability to the
	// issuer's and the recipient's nations by default.
	Classification string   `json:"classification,omitempty"`
	ReleasableTo   []string `json:"releasableTo,omitempty"`
	Caveat         string   `json:"caveat,omitempty"`
}

// Issue issues an order after checking the issuer's authority. The order is
// committed to the database before Issue returns, then delivered to the
// recipient unit's TAK devices. A refusal is an *AuthorityError.
func (s *Service) Issue(ctx context.Context, p label.Principal, req IssueRequest) (*Order, error) {
	return s.issue(ctx, p, req, "")
}

// issue issues an order; request, when set, is the support request the
// order answers.
func (s *Service) issue(ctx context.Context, p label.Principal, req IssueRequest, request string) (*Order, error) {
	f, err := s.checkIssue(req)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	a, denied, err := s.authorizeIssueLocked(ctx, p, req, f)
	if err != nil {
		s.mu.Unlock()
		if denied != nil {
			s.auditNoLock(ctx, *denied)
		}
		return nil, err
	}
	o := s.newOrderLocked(p, req, f, a, request)
	if err := s.db.commit(ctx, write{orders: []*Order{o}}, nil); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.orders[o.ID] = o
	s.order = append(s.order, o.ID)
	for _, dl := range o.Deliveries {
		s.messages[dl.MessageID] = o.ID
	}
	issuerUnit, recipientUnit := a.issuer.clone(), a.recipient.clone()
	var infoUnits []*Unit
	for _, id := range o.Info {
		infoUnits = append(infoUnits, s.units[id].clone())
	}
	out := o.clone()
	s.notifyLocked(out)
	s.mu.Unlock()

	err = s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "order.transition", Object: o.ID, Decision: "allow",
		Reason: strings.TrimSpace(fmt.Sprintf("→ISSUED %s %s %s %s→%s reply by %s label %s %s", o.Serial, strings.TrimSpace(string(f.fam)+" "+string(f.typ)), o.DTG, a.issuer.ID, a.recipient.ID,
			o.Deadline.Format(time.RFC3339), a.lbl.Marking(), orderLinks(o)))})
	s.deliver(ctx, out, issuerUnit, recipientUnit)
	s.federateIssued(ctx, out, issuerUnit, recipientUnit)
	for _, iu := range infoUnits {
		s.notifyUnit(ctx, out, issuerUnit, iu, fmt.Sprintf("INFO %s %s %s to %s: %s", orFamily(out), out.ID, out.Serial, recipientUnit.callsign(), out.Text))
	}
	return out, err
}

// issueFields are the checked fields of an IssueRequest.
type issueFields struct {
	typ      OrderType
	fam      Family
	text     string
	now      time.Time
	deadline time.Time
}

// checkIssue validates an IssueRequest on its own, before any lookup.
func (s *Service) checkIssue(req IssueRequest) (issueFields, error) {
	var f issueFields
	typ, err := ParseOrderType(req.Type)
	if err != nil {
		return f, invalid("%v", err)
	}
	text := strings.TrimSpace(req.Text)
	if text == "" && req.Paragraphs != nil {
		text = strings.TrimSpace(req.Paragraphs.Mission)
	}
	if text == "" {
		return f, invalid("an order needs text")
	}
	if err := req.Paragraphs.validate(); err != nil {
		return f, invalid("%v", err)
	}
	var fam Family
	if req.Family != "" {
		if fam, err = ParseFamily(req.Family); err != nil {
			return f, invalid("%v", err)
		}
	} else if typ == Task || typ == Movement {
		fam = OPORD
	}
	if fam != "" && (typ == SupportRequest || typ == ReportRequest) {
		return f, invalid("a %s is a request, not a %s", typ, fam)
	}
	if !req.NET.IsZero() && !req.NLT.IsZero() && !req.NLT.After(req.NET) {
		return f, invalid("NLT must come after NET")
	}
	if len(text) > maxOrderText || !utf8.ValidString(text) {
		return f, invalid("order text must be valid UTF-8 of at most %d bytes", maxOrderText)
	}
	if err := req.Location.validate(); err != nil {
		return f, invalid("%v", err)
	}
	now := s.clock()
	deadline, err := orderDeadline(req, now)
	if err != nil {
		return f, err
	}
	return issueFields{typ: typ, fam: fam, text: text, now: now, deadline: deadline}, nil
}

// orderDeadline is the request's deadline (absolute or relative to now),
// checked together with its NLT time against now.
func orderDeadline(req IssueRequest, now time.Time) (time.Time, error) {
	deadline := req.Deadline
	if req.DeadlineIn != "" {
		d, err := time.ParseDuration(req.DeadlineIn)
		if err != nil || d <= 0 {
			return time.Time{}, invalid("bad deadlineIn %q", req.DeadlineIn)
		}
		if !deadline.IsZero() {
			return time.Time{}, invalid("give deadline or deadlineIn, not both")
		}
		deadline = now.Add(d)
	}
	if deadline.IsZero() {
		return time.Time{}, invalid("an order needs a deadline")
	}
	if !deadline.After(now) {
		return time.Time{}, invalid("the deadline %s has passed", deadline.UTC().Format(time.RFC3339))
	}
	if !req.NLT.IsZero() && !req.NLT.After(now) {
		return time.Time{}, invalid("the NLT time %s has passed", req.NLT.UTC().Format(time.RFC3339))
	}
	return deadline, nil
}

// issueAuthority is what authorizeIssueLocked found: the units, the label
// and the authority decision of an order about to be issued.
type issueAuthority struct {
	issuer, recipient, via *Unit
	wanted                 string
	lbl                    label.Label
	d                      Decision
	mission                string
}

// authorizeIssueLocked looks up the order's units and decides whether the
// issuer may issue it. A refusal that must be audited comes with its record,
// which the caller writes once s.mu is released. s.mu is held.
func (s *Service) authorizeIssueLocked(ctx context.Context, p label.Principal, req IssueRequest, f issueFields) (issueAuthority, *audit.Record, error) {
	var a issueAuthority
	typ := f.typ
	deny := func(object string, err error) *audit.Record {
		return &audit.Record{Actor: p.String(), Action: "order.authority", Object: object, Decision: "deny", Reason: err.Error()}
	}
	issuer, err := s.actingLocked(p, req.As)
	if err != nil {
		return a, deny(fmt.Sprintf("%s %s→%s", typ, req.As, req.Recipient), err), err
	}
	recipient, ok := s.units[req.Recipient]
	if !ok || !label.Releasable(p, s.unitLabel(recipient)) {
		return a, nil, fmt.Errorf("%w: unit %q", ErrNotFound, req.Recipient)
	}
	var via *Unit
	wanted := ""
	if typ == SupportRequest {
		if via, recipient, err = s.routeLocked(issuer, recipient, req.Via); err != nil {
			return a, deny(fmt.Sprintf("%s %s→%s", typ, issuer.ID, req.Recipient), err), err
		}
		if via != nil && recipient.ID != req.Recipient {
			wanted = req.Recipient
		}
	}
	if _, err := s.checkChangesLocked(issuer, recipient, f.fam, req.Changes); err != nil {
		return a, deny(fmt.Sprintf("%s %s %s→%s", f.fam, typ, issuer.ID, recipient.ID), err), err
	}
	lbl, err := orderLabel(p, issuer, recipient, s.world().nationsOfUnit(issuer), req)
	if err != nil {
		return a, nil, err
	}
	d := s.world().OrderAuthority(typ, issuer.ID, recipient.ID, f.now)
	if err := s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "order.authority", Object: fmt.Sprintf("%s %s→%s", typ, issuer.ID, recipient.ID), Decision: decisionWord(d.Allowed), Reason: d.Reason}); err != nil {
		return a, nil, err
	}
	if !d.Allowed {
		return a, nil, &AuthorityError{Decision: d}
	}
	mission := normMission(req.Mission)
	if err := checkCaveats(d.Chain, typ, mission, req.Location); err != nil {
		return a, deny(fmt.Sprintf("%s %s→%s", typ, issuer.ID, recipient.ID), err), err
	}
	return issueAuthority{issuer: issuer, recipient: recipient, via: via, wanted: wanted, lbl: lbl, d: d, mission: mission}, nil, nil
}

// newOrderLocked builds the order that authorizeIssueLocked allowed, with
// its information addressees, a fresh ID and one delivery per recipient
// device. s.mu is held.
func (s *Service) newOrderLocked(p label.Principal, req IssueRequest, f issueFields, a issueAuthority, request string) *Order {
	now, d, issuer, recipient := f.now, a.d, a.issuer, a.recipient
	o := &Order{Mission: a.mission,
		Type: f.typ, IssuerUnit: issuer.ID, IssuedBy: p.String(), Recipient: recipient.ID, Text: f.text, Location: req.Location,
		Deadline: f.deadline.UTC(), Label: a.lbl, State: Issued, Created: now, Updated: now, Authority: d,
		History: []Transition{{At: now, To: Issued, By: p.String(), Unit: issuer.ID, Via: "api", Reason: d.Reason}},
		Family:  f.fam, Serial: s.serialLocked(issuer), DTG: DTG(now), Paragraphs: req.Paragraphs, NET: req.NET.UTC(), NLT: req.NLT.UTC(),
		Changes: strings.ToUpper(req.Changes), Wanted: a.wanted, Request: request,
	}
	if req.NET.IsZero() {
		o.NET = time.Time{}
	}
	if req.NLT.IsZero() {
		o.NLT = time.Time{}
	}
	if a.via != nil {
		o.Via = a.via.ID
		o.History[0].Reason = fmt.Sprintf("routed through %s (%s) to %s, the %s headquarters that decides: %s", a.via.ID, a.via.Name, recipient.ID, recipient.Nation, d.Reason)
	}
	if f.typ != SupportRequest {
		for _, id := range s.world().infoAddressees(issuer.ID, recipient.ID, d) {
			if u := s.units[id]; u != nil && label.Releasable(label.Principal{Nation: u.Nation, Clearance: label.TopSecret}, a.lbl) {
				o.Info = append(o.Info, id)
			}
		}
	}
	for {
		o.ID = newID("O")
		if _, dup := s.orders[o.ID]; !dup {
			break
		}
	}
	for _, dev := range recipient.Devices {
		o.Deliveries = append(o.Deliveries, Delivery{DeviceUID: dev.UID, Callsign: dev.Callsign, MessageID: newMessageID(), SentAt: now})
	}
	return o
}

// orderLabel computes an order's label.
// A combined command's orders are releasable to every member nation.
func orderLabel(p label.Principal, issuer, recipient *Unit, issuerNations []string, req IssueRequest) (label.Label, error) {
	cav, err := label.ParseCaveat(strings.TrimSpace(req.Caveat))
	if err != nil {
		return label.Label{}, invalid("%v", err) // a caveat without a defined meaning
	}
	l := label.Label{Classification: p.Clearance, Originator: issuer.Nation, Caveat: cav}
	if req.Classification != "" {
		c, err := label.ParseClassification(req.Classification)
		if err != nil {
			return label.Label{}, invalid("%v", err)
		}
		l.Classification = c
	}
	if err := label.CheckSubmit(p, l); err != nil {
		return label.Label{}, invalid("%v", err)
	}
	rel := append(slices.Clone(issuerNations), recipient.Nation)
	if len(req.ReleasableTo) > 0 {
		r, err := label.ParseReleasableTo(strings.Join(req.ReleasableTo, " "))
		if err != nil {
			return label.Label{}, invalid("%v", err)
		}
		if !slices.Contains(r, recipient.Nation) && recipient.Nation != issuer.Nation {
			return label.Label{}, invalid("the label must be releasable to the recipient's nation %s", recipient.Nation)
		}
		rel = r
	}
	slices.Sort(rel)
	l.ReleasableTo = slices.Compact(rel)
	return l, nil
}

// chatText renders an order as a GeoChat line.
func chatText(o *Order, issuerCallsign string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%s) %s %s %s %s from %s: %s", o.Label.Marking(), orFamily(o), strings.ReplaceAll(string(o.Type), "_", " "), o.ID, o.DTG, issuerCallsign, o.Text)
	if o.Changes != "" {
		fmt.Fprintf(&b, " | changes %s", o.Changes)
	}
	if o.Paragraphs != nil && o.Paragraphs.Execution.Intent != "" {
		fmt.Fprintf(&b, " | intent: %s", o.Paragraphs.Execution.Intent)
	}
	if !o.NET.IsZero() {
		fmt.Fprintf(&b, " | NET %s", DTG(o.NET))
	}
	if !o.NLT.IsZero() {
		fmt.Fprintf(&b, " | NLT %s", DTG(o.NLT))
	}
	if o.Location != nil {
		if c, ok := o.Location.center(); ok {
			name := o.Location.Name
			if name != "" {
				name += " "
			}
			fmt.Fprintf(&b, " | at %s%.5f,%.5f", name, c.Lat, c.Lon)
		}
	}
	fmt.Fprintf(&b, " | reply by %s: WILCO %s or CANTCO %s <reason>", o.Deadline.UTC().Format("2006-01-02 15:04Z"), o.ID, o.ID)
	return b.String()
}

// deliver publishes an order's GeoChat messages and location to TAK.
func (s *Service) deliver(ctx context.Context, o *Order, issuer, recipient *Unit) {
	if s.cfg.Publisher == nil {
		return
	}
	now := s.clock()
	text := chatText(o, issuer.callsign())
	var c *LatLon
	if p, ok := o.Location.center(); ok {
		c = &p
	}
	if o.Location != nil {
		ev, err := buildLocation(o, issuer.ID, now, s.cfg.NodeID)
		if err == nil && ev != nil {
			err = s.cfg.Publisher.Inject(ctx, ev)
		}
		if err != nil {
			s.log.Error("command: publishing order location", "order", o.ID, "err", err)
		}
	}
	var failed []Delivery
	for _, dl := range o.Deliveries {
		ev, err := buildChat(chatMsg{
			SenderUID: senderUID(issuer.ID), SenderCallsign: issuer.callsign(),
			To: Device{UID: dl.DeviceUID, Callsign: dl.Callsign}, MessageID: dl.MessageID,
			Text: text, At: now, Stale: later(o.Deadline, now.Add(24*time.Hour)), Point: c,
		}, o.Label, s.cfg.NodeID)
		if err == nil {
			err = s.cfg.Publisher.Inject(ctx, ev)
		}
		if err != nil {
			s.log.Error("command: delivering order", "order", o.ID, "device", dl.DeviceUID, "err", err)
			dl.Error = err.Error()
			failed = append(failed, dl)
		}
	}
	if len(failed) > 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, ok := s.orders[o.ID]
		if !ok {
			return
		}
		n := cur.clone()
		for _, f := range failed {
			for i := range n.Deliveries {
				if n.Deliveries[i].MessageID == f.MessageID {
					n.Deliveries[i].Error = f.Error
				}
			}
		}
		if err := s.db.commit(ctx, write{orders: []*Order{n}}, nil); err == nil {
			s.orders[o.ID] = n
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// notifyUnit sends an untracked GeoChat status line from one unit to every
// device of another.
func (s *Service) notifyUnit(ctx context.Context, o *Order, from, to *Unit, text string) {
	if s.cfg.Publisher == nil || to == nil || from == nil {
		return
	}
	now := s.clock()
	for _, dev := range to.Devices {
		ev, err := buildChat(chatMsg{SenderUID: senderUID(from.ID), SenderCallsign: from.callsign(), To: dev, MessageID: newMessageID(),
			Text: fmt.Sprintf("(%s) %s", o.Label.Marking(), text), At: now, Stale: now.Add(24 * time.Hour)}, o.Label, s.cfg.NodeID)
		if err == nil {
			err = s.cfg.Publisher.Inject(ctx, ev)
		}
		if err != nil {
			s.log.Warn("command: order status message", "order", o.ID, "device", dev.UID, "err", err)
		}
	}
}

// actor is who moves an order.
type actor struct {
	By   string // principal, device or "system"
	Unit string
	Via  string // api, tak, system
}

// recheckStates are the recipient's commitments; the issuer's authority is
// checked again before each.
func recheckState(to State) bool {
	return to == Acknowledged || to == Wilco || to == Executing
}

// move applies one transition. mutate, if not nil, edits the new copy
// (delivery receipts). A receipt that arrives after the order has moved on
// only updates the delivery.
func (s *Service) move(ctx context.Context, id string, to State, by *actor, reason string, check func(o *Order) error, mutate func(o *Order)) (*Order, error) {
	now := s.clock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	cur, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: order %q", ErrNotFound, id)
	}
	if check != nil {
		if err := check(cur); err != nil {
			s.mu.Unlock()
			s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.transition", Object: id, Decision: "deny", Reason: fmt.Sprintf("%s→%s: %v", cur.State, to, err)})
			return nil, err
		}
	}
	from := cur.State
	if to != Expired && CanMove(from, Expired) && !now.Before(cur.Deadline) {
		// Past its deadline: it expires now, whatever was asked.
		s.mu.Unlock()
		if _, err := s.move(ctx, id, Expired, &actor{By: "system", Via: "system"}, "deadline passed", nil, nil); err != nil {
			return nil, err
		}
		err := fmt.Errorf("%w: order %s expired at its deadline %s", ErrIllegalTransition, id, cur.Deadline.UTC().Format(time.RFC3339))
		s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.transition", Object: id, Decision: "deny", Reason: err.Error()})
		return nil, err
	}
	n := cur.clone()
	if mutate != nil {
		mutate(n)
	}
	if !CanMove(from, to) {
		if by.Via == "tak" && (to == Delivered || to == Acknowledged) && from.rank() >= to.rank() {
			// A late or repeated receipt: record the delivery facts only.
			return s.lateReceiptLocked(ctx, id, n, mutate != nil)
		}
		s.mu.Unlock()
		err := fmt.Errorf("%w: order %s is %s and cannot become %s", ErrIllegalTransition, id, from, to)
		s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.transition", Object: id, Decision: "deny", Reason: err.Error()})
		return nil, err
	}
	if recheckState(to) {
		if err := s.recheckMoveLocked(ctx, id, n, from, to, by, now); err != nil {
			return nil, err
		}
	}
	n.History = append(n.History, Transition{At: now, From: from, To: to, By: by.By, Unit: by.Unit, Via: by.Via, Reason: reason})
	n.State = to
	n.Updated = now
	if to == Cantco || to == Failed || to == Cancelled || to == Expired {
		n.StateReason = reason
	}
	if err := s.db.commit(ctx, write{orders: []*Order{n}}, nil); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.orders[id] = n
	out := n.clone()
	s.notifyLocked(out)
	issuer, recipient := s.unitCopy(n.IssuerUnit), s.unitCopy(n.Recipient)
	s.mu.Unlock()
	return out, s.announceMove(ctx, out, from, to, by, reason, issuer, recipient)
}

// announceMove audits a committed transition, federates it, tells the units
// concerned and moves the support request an order carries out with it.
func (s *Service) announceMove(ctx context.Context, out *Order, from, to State, by *actor, reason string, issuer, recipient *Unit) error {
	err := s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.transition", Object: out.ID, Decision: "allow",
		Reason: strings.TrimSpace(fmt.Sprintf("%s→%s via %s %s", from, to, by.Via, reason))})
	s.federateMoved(ctx, out, to, by)
	switch to {
	case Cancelled, Expired:
		s.notifyUnit(ctx, out, issuer, recipient, fmt.Sprintf("ORDER %s %s: %s", out.ID, to, reason))
	case Wilco, Cantco, Executing, Complete, Failed:
		s.notifyUnit(ctx, out, recipient, issuer, strings.TrimSpace(fmt.Sprintf("ORDER %s %s by %s %s", out.ID, to, out.Recipient, reason)))
	}
	if out.Request != "" && (to == Complete || to == Failed) && issuer != nil {
		// The requester learns the outcome, not the national order.
		if _, rerr := s.move(ctx, out.Request, to, &actor{By: "system", Unit: issuer.ID, Via: "system"},
			fmt.Sprintf("the %s national order carrying out the request is %s", issuer.Nation, to), nil, nil); rerr != nil {
			s.log.Info("command: request not moved with its national order", "request", out.Request, "err", rerr)
		}
	}
	return err
}

// lateReceiptLocked records the delivery facts of a late or repeated
// receipt (when changed is set) without moving the order. It releases s.mu.
func (s *Service) lateReceiptLocked(ctx context.Context, id string, n *Order, changed bool) (*Order, error) {
	if changed {
		if err := s.db.commit(ctx, write{orders: []*Order{n}}, nil); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.orders[id] = n
	}
	out := n.clone()
	s.mu.Unlock()
	return out, nil
}

// recheckMoveLocked decides the order's authority again before it moves to
// a state that needs it (recheckState), auditing the decision. A refusal is
// recorded on the order. s.mu is held; when it returns an error, s.mu has
// been released.
func (s *Service) recheckMoveLocked(ctx context.Context, id string, n *Order, from, to State, by *actor, now time.Time) error {
	d := s.world().OrderAuthority(n.Type, n.IssuerUnit, n.Recipient, now)
	var cavErr error
	if d.Allowed {
		if cavErr = checkCaveats(d.Chain, n.Type, n.Mission, n.Location); cavErr != nil {
			d.Allowed, d.Reason = false, cavErr.Error()
		}
	}
	if err := s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.authority", Object: id, Decision: decisionWord(d.Allowed),
		Reason: fmt.Sprintf("recheck before %s: %s", to, d.Reason)}); err != nil {
		s.mu.Unlock()
		return err
	}
	if d.Allowed {
		return nil
	}
	n.History = append(n.History, Transition{At: now, From: from, To: to, By: by.By, Unit: by.Unit, Via: by.Via, Refused: true,
		Reason: "refused: " + d.Reason})
	n.Updated = now
	if err := s.db.commit(ctx, write{orders: []*Order{n}}, nil); err == nil {
		s.orders[id] = n
		s.notifyLocked(n.clone())
	}
	s.mu.Unlock()
	s.auditNoLock(ctx, audit.Record{Actor: by.By, Action: "order.transition", Object: id, Decision: "deny", Reason: fmt.Sprintf("%s→%s refused: %s", from, to, d.Reason)})
	if cavErr != nil {
		return cavErr
	}
	return &AuthorityError{Decision: d}
}

func (s *Service) unitCopy(id string) *Unit {
	if u, ok := s.units[id]; ok {
		return u.clone()
	}
	return nil
}

// Respond moves an order on the recipient's side: ACKNOWLEDGED, WILCO,
// CANTCO (with a reason), EXECUTING, COMPLETE or FAILED (with a reason). p
// must hold a position in the recipient unit (as). ACKNOWLEDGED, WILCO and
// EXECUTING re-check the issuer's authority first.
func (s *Service) Respond(ctx context.Context, p label.Principal, as, id string, to State, reason string) (*Order, error) {
	switch to {
	case Acknowledged, Wilco, Cantco, Executing, Complete, Failed:
	default:
		return nil, invalid("the recipient cannot set %s", to)
	}
	reason = strings.TrimSpace(reason)
	if (to == Cantco || to == Failed) && reason == "" {
		return nil, invalid("%s needs a reason", to)
	}
	by := &actor{By: p.String(), Via: "api"}
	check := func(o *Order) error {
		au, err := s.asRecipient(p, o, id, as, "answer")
		if err != nil {
			return err
		}
		if err := routedAnswer(o, to); err != nil {
			return err
		}
		by.Unit = au.ID
		return nil
	}
	return s.move(ctx, id, to, by, reason, check, nil)
}

// Cancel cancels an order; only the issuing unit or one of its superiors
// may.
func (s *Service) Cancel(ctx context.Context, p label.Principal, as, id, reason string) (*Order, error) {
	by := &actor{By: p.String(), Via: "api"}
	check := func(o *Order) error {
		if !label.Releasable(p, o.Label) {
			return fmt.Errorf("%w: order %q", ErrNotFound, id)
		}
		if as == "" {
			as = o.IssuerUnit
			if _, err := s.actingLocked(p, as); err != nil {
				as = ""
			}
		}
		au, err := s.actingLocked(p, as)
		if err != nil {
			return err
		}
		if au.ID != o.IssuerUnit && !s.world().within(o.IssuerUnit, au.ID) {
			return ruleErr(RuleCancel, "only %s (the issuer) or its superiors may cancel order %s, not %s", o.IssuerUnit, o.ID, au.ID)
		}
		by.Unit = au.ID
		return nil
	}
	return s.move(ctx, id, Cancelled, by, strings.TrimSpace(reason), check, nil)
}

// OrderFilter narrows a list of orders.
type OrderFilter struct {
	Unit  string // issued by or to this unit
	State State
}

// Orders lists the orders p may see, newest first.
func (s *Service) Orders(p label.Principal, f OrderFilter) []*Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Order
	for i := len(s.order) - 1; i >= 0; i-- {
		o := s.orders[s.order[i]]
		if o == nil || !label.Releasable(p, o.Label) {
			continue
		}
		if f.Unit != "" && o.IssuerUnit != f.Unit && o.Recipient != f.Unit {
			continue
		}
		if f.State != "" && o.State != f.State {
			continue
		}
		out = append(out, o.clone())
	}
	return out
}

// Order returns one order with its full history, if p may see it.
func (s *Service) Order(p label.Principal, id string) (*Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[strings.ToUpper(id)]
	if !ok || !label.Releasable(p, o.Label) {
		return nil, fmt.Errorf("%w: order %q", ErrNotFound, id)
	}
	return o.clone(), nil
}

// expireDue moves every open order past its deadline to EXPIRED.
func (s *Service) expireDue(ctx context.Context) {
	now := s.clock()
	s.mu.Lock()
	var due []string
	for _, id := range s.order {
		o := s.orders[id]
		if o != nil && CanMove(o.State, Expired) && !now.Before(o.Deadline) {
			due = append(due, id)
		}
	}
	s.mu.Unlock()
	for _, id := range due {
		if _, err := s.move(ctx, id, Expired, &actor{By: "system", Via: "system"}, "deadline passed", nil, nil); err != nil {
			s.log.Warn("command: expiring order", "order", id, "err", err)
		}
	}
}

// handleInbound applies one GeoChat receipt or reply from a TAK client.
func (s *Service) handleInbound(ctx context.Context, in inbound) {
	c, ok := parseChat(in.ev)
	if !ok {
		return
	}
	switch c.Type {
	case typeDelivered, typeRead:
		s.handleReceipt(ctx, in, c)
	case typeChat:
		s.handleReply(ctx, in, c)
	}
}

func (s *Service) handleReceipt(ctx context.Context, in inbound, c chatIn) {
	s.mu.Lock()
	id, ok := s.messages[c.MessageID]
	s.mu.Unlock()
	if !ok {
		return
	}
	to := Delivered
	if c.Type == typeRead {
		to = Acknowledged
	}
	// The device is the connection's authenticated identity, never what
	// the receipt claims.
	device := in.sender.UID
	now := s.clock()
	check := func(o *Order) error {
		if !label.Releasable(in.from, o.Label) {
			return fmt.Errorf("%w: %s may not see order %s", ErrNoPosition, in.from, o.ID)
		}
		for _, dl := range o.Deliveries {
			if dl.MessageID == c.MessageID {
				if in.sender.UID == "" || dl.DeviceUID == "" || in.sender.UID != dl.DeviceUID {
					return fmt.Errorf("%w: receipt for %s's message came from %s", ErrNoPosition, orUnknown(dl.DeviceUID), orUnknown(in.sender.UID))
				}
				if c.SenderUID != "" && c.SenderUID != in.sender.UID {
					return fmt.Errorf("%w: receipt claims device %s but came from %s", ErrNoPosition, c.SenderUID, in.sender.UID)
				}
				if rec := s.units[o.Recipient]; rec == nil || in.from.Nation != rec.Nation {
					return fmt.Errorf("%w: %s is not of the recipient's nation", ErrNoPosition, in.from)
				}
				return nil
			}
		}
		return fmt.Errorf("%w: message %s", ErrNotFound, c.MessageID)
	}
	mutate := func(o *Order) {
		for i := range o.Deliveries {
			dl := &o.Deliveries[i]
			if dl.MessageID != c.MessageID {
				continue
			}
			if dl.DeliveredAt.IsZero() {
				dl.DeliveredAt = now
			}
			if to == Acknowledged && dl.ReadAt.IsZero() {
				dl.ReadAt = now
			}
		}
	}
	by := fmt.Sprintf("%s device %s", in.from, device)
	_, err := s.move(ctx, id, to, &actor{By: by, Via: "tak"}, c.Type+" receipt from "+device, check, mutate)
	if err != nil {
		s.log.Info("command: receipt not applied", "order", id, "type", c.Type, "device", device, "err", err)
		s.auditNoLock(ctx, audit.Record{Actor: by, Action: "order.receipt", Object: id, Decision: "deny", Reason: err.Error()})
		return
	}
	s.auditNoLock(ctx, audit.Record{Actor: by, Action: "order.receipt", Object: id, Decision: "allow", Reason: c.Type + " for message " + c.MessageID})
}

func (s *Service) handleReply(ctx context.Context, in inbound, c chatIn) {
	r, ok := parseReply(c.Text)
	if !ok {
		return
	}
	s.mu.Lock()
	o, known := s.orders[r.OrderID]
	var recipient *Unit
	var dev Device
	if known {
		recipient = s.unitCopy(o.Recipient)
	}
	s.mu.Unlock()
	if !known || recipient == nil {
		return
	}
	// The device is the connection's authenticated identity; the chat's
	// own sender uid and callsign are claims and must agree with it.
	device := in.sender.UID
	fromDevice := false
	for _, d := range recipient.Devices {
		if in.sender.UID != "" && d.UID == in.sender.UID && (c.SenderUID == "" || c.SenderUID == in.sender.UID) {
			fromDevice, dev = true, d
		}
	}
	by := fmt.Sprintf("%s device %s", in.from, device)
	if (r.To == Cantco || r.To == Failed) && r.Reason == "" {
		r.Reason = "no reason given"
	}
	check := func(o *Order) error {
		if !label.Releasable(in.from, o.Label) {
			return fmt.Errorf("%w: %s may not see order %s", ErrNoPosition, in.from, o.ID)
		}
		if !fromDevice || in.from.Nation != recipient.Nation {
			return fmt.Errorf("%w: %s is not a device of %s, the recipient of %s", ErrNoPosition, device, recipient.ID, o.ID)
		}
		return routedAnswer(o, r.To)
	}
	var err error
	if r.Report != "" {
		_, err = s.report(ctx, in.from, r.OrderID, Report{Kind: r.Report, Text: r.Reason}, nil, &actor{By: by, Unit: recipient.ID, Via: "tak"}, check)
	} else {
		_, err = s.move(ctx, r.OrderID, r.To, &actor{By: by, Unit: recipient.ID, Via: "tak"}, r.Reason, check, nil)
	}
	if err != nil {
		s.log.Info("command: GeoChat reply not applied", "order", r.OrderID, "state", r.To, "device", device, "err", err)
		if fromDevice {
			s.mu.Lock()
			cur := s.orders[r.OrderID].clone()
			issuer := s.unitCopy(cur.IssuerUnit)
			s.mu.Unlock()
			if issuer != nil {
				s.replyTo(ctx, cur, issuer, dev, fmt.Sprintf("%s %s not accepted: %v", r.To, r.OrderID, err))
			}
		}
	}
}

// replyTo sends one untracked GeoChat line from a unit to one device.
func (s *Service) replyTo(ctx context.Context, o *Order, from *Unit, to Device, text string) {
	if s.cfg.Publisher == nil {
		return
	}
	now := s.clock()
	ev, err := buildChat(chatMsg{SenderUID: senderUID(from.ID), SenderCallsign: from.callsign(), To: to, MessageID: newMessageID(),
		Text: fmt.Sprintf("(%s) %s", o.Label.Marking(), text), At: now, Stale: now.Add(24 * time.Hour)}, o.Label, s.cfg.NodeID)
	if err == nil {
		err = s.cfg.Publisher.Inject(ctx, ev)
	}
	if err != nil {
		s.log.Warn("command: reply message", "order", o.ID, "device", to.UID, "err", err)
	}
}

// ---- streams ----

type subscriber struct {
	p  label.Principal
	ch chan *Order
}

// Subscribe streams every change of an order p may see. The channel closes
// when cancel is called, when the service closes, or when the subscriber
// falls more than 256 updates behind.
func (s *Service) Subscribe(p label.Principal) (<-chan *Order, func()) {
	sub := &subscriber{p: p, ch: make(chan *Order, 256)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs[sub] = struct{}{}
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

// notifyLocked sends o to every subscriber entitled to it; callers hold s.mu.
func (s *Service) notifyLocked(o *Order) {
	for sub := range s.subs {
		if !label.Releasable(sub.p, o.Label) {
			continue
		}
		select {
		case sub.ch <- o.clone():
		default:
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

// asRecipient checks that principal p may see order o (id as the caller
// named it) and acts, as unit as (the recipient when empty), for o's
// recipient: only the recipient may act on an order it was sent. verb
// says what p tries, for the refusal.
func (s *Service) asRecipient(p label.Principal, o *Order, id, as, verb string) (*Unit, error) {
	if !label.Releasable(p, o.Label) {
		return nil, fmt.Errorf("%w: order %q", ErrNotFound, id)
	}
	if as == "" {
		as = o.Recipient
	}
	au, err := s.actingLocked(p, as)
	if err != nil {
		return nil, err
	}
	if au.ID != o.Recipient {
		return nil, fmt.Errorf("%w: only %s (the recipient) may %s order %s, not %s", ErrNoPosition, o.Recipient, verb, o.ID, au.ID)
	}
	return au, nil
}
