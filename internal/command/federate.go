package command

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// This file carries support requests between national nodes. Each nation
// runs its own node with the same order of battle; a US commander's
// request for JSDF support, made on the US node, must be decided by
// Japan's headquarters on the Japanese node.
//
// Three messages ride the federation links, as CoT events of type
// FedType directed to no TAK client (a <dest> nobody has), each under a
// label whose originator is the sending node's nation — the federation
// checks that label against every link (label.Releasable per peer, the
// link's accredited classification) and refuses an event whose origin
// certificate's nation is not the label's originator:
//
//   - request: the routed request, sent by the requester's node to the
//     deciding nation's nodes, under the request's label. The receiver
//     stores a replica only if the issuing unit is of the nation that
//     signed it, and only if routing the request again on its own order of
//     battle leads to the same coordination body and to one of its own
//     nation's headquarters.
//   - update: a state change of the request: the decision (WILCO with
//     APPROVED or PARTLY_APPROVED, CANTCO with DENIED) and later COMPLETE
//     or FAILED from the deciding side, CANCELLED from the requester's
//     side. Each side's states are accepted only from that side's nation.
//   - order: the deciding nation's own order carrying out an approval,
//     sent only when its label releases it to the requester's nation, and
//     stored by the requester's node only if that nation signed it and its
//     units are that nation's.

// FedType is the CoT type that carries support requests, their updates
// and released national orders between nodes.
const FedType = "t-x-k-command"

const fedDest = "kizuna-command-federation"

// ErrRemote: a federated message that is refused.
var ErrRemote = errors.New("federated command message refused")

// Federated message operations.
const (
	fedRequest = "request"
	fedUpdate  = "update"
	fedOrder   = "order"
)

type fedMsg struct {
	Op     string     `json:"op"`
	Node   string     `json:"node"`
	Order  *Order     `json:"order,omitempty"`
	Update *fedChange `json:"update,omitempty"`
}

// fedChange is one state change of a federated request.
type fedChange struct {
	ID      string `json:"id"`
	To      State  `json:"to"`
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Unit    string `json:"unit,omitempty"`
	// National is the id of the national order carrying out an
	// approval, only when it is released to the requester.
	National string `json:"national,omitempty"`
}

// remoteMsg is one federated event queued for Run.
type remoteMsg struct {
	ev     *cot.Event
	l      label.Label
	origin string
}

// EnqueueRemote hands a federated command event, with the label and the
// origin node the federation verified, to the service without blocking
// (for the node's publish tap); false when the queue is full.
func (s *Service) EnqueueRemote(ev *cot.Event, l label.Label, originNode string) bool {
	select {
	case s.remote <- remoteMsg{ev: ev, l: l, origin: originNode}:
		return true
	default:
		return false
	}
}

// federates reports whether this node federates at all.
func (s *Service) federates() bool {
	return s.cfg.Publisher != nil && s.cfg.Nation != "" && s.cfg.NodeID != "" && (s.cfg.Federated == nil || s.cfg.Federated())
}

// sendFed publishes one message under l, its originator this node's
// nation.
func (s *Service) sendFed(ctx context.Context, m fedMsg, l label.Label) {
	if !s.federates() {
		return
	}
	m.Node = s.cfg.NodeID
	body, err := json.Marshal(m)
	if err != nil {
		s.log.Warn("command: federated message not sent", "err", err)
		return
	}
	var esc bytes.Buffer
	xml.EscapeText(&esc, body)
	now := s.clock().UTC()
	doc := fmt.Sprintf(`<event version="2.0" uid="kizuna-command-%s" type="%s" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest callsign="%s"/></marti><kizunaCommand>%s</kizunaCommand></detail></event>`,
		strings.ToLower(newID("")), FedType, now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Add(24*time.Hour).Format(time.RFC3339Nano), fedDest, esc.String())
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		s.log.Warn("command: federated message not sent", "err", err)
		return
	}
	l.Originator = s.cfg.Nation
	l.ReleasableTo = slices.Clone(l.ReleasableTo)
	ev.SetLabel(l)
	if err := s.cfg.Publisher.Inject(ctx, ev); err != nil {
		s.log.Warn("command: federated message not sent", "op", m.Op, "err", err)
	}
}

// parseFed reads the message a federated event carries.
func parseFed(detail []byte) (fedMsg, error) {
	var out fedMsg
	txt, err := cot.DetailText(detail, "kizunaCommand")
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	if err := json.Unmarshal(txt, &out); err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	switch out.Op {
	case fedRequest, fedOrder:
		if out.Order == nil || !isOrderID(out.Order.ID) {
			return out, fmt.Errorf("%w: %s without a valid order", ErrRemote, out.Op)
		}
		o := out.Order
		if o.Text == "" || len(o.Text) > maxOrderText || !utf8.ValidString(o.Text) || len(o.IssuedBy) > 256 || len(o.Serial) > 64 || len(o.DTG) > 32 || len(o.Mission) > 64 {
			return out, fmt.Errorf("%w: order %s: bad text or header", ErrRemote, o.ID)
		}
		if err := o.Paragraphs.validate(); err != nil {
			return out, fmt.Errorf("%w: order %s: %v", ErrRemote, o.ID, err)
		}
		if err := o.Location.validate(); err != nil {
			return out, fmt.Errorf("%w: order %s: %v", ErrRemote, o.ID, err)
		}
	case fedUpdate:
		u := out.Update
		if u == nil || !isOrderID(u.ID) || len(u.Reason) > maxOrderText || !utf8.ValidString(u.Reason) || (u.National != "" && !isOrderID(u.National)) {
			return out, fmt.Errorf("%w: bad update", ErrRemote)
		}
	default:
		return out, fmt.Errorf("%w: operation %q", ErrRemote, out.Op)
	}
	if out.Node == "" || len(out.Node) > 128 {
		return out, fmt.Errorf("%w: no sending node", ErrRemote)
	}
	return out, nil
}

// Remote applies a federated command event with its verified label l
// from node origin.
func (s *Service) Remote(ctx context.Context, ev *cot.Event, l label.Label, origin string) error {
	op, err := s.remote1(ctx, ev, l, origin)
	if err != nil && !errors.Is(err, ErrClosed) {
		s.auditNoLock(ctx, audit.Record{Actor: "federation:" + origin, Action: "command.federated", Object: op, Decision: "deny", Reason: err.Error()})
	}
	return err
}

func (s *Service) remote1(ctx context.Context, ev *cot.Event, l label.Label, origin string) (string, error) {
	m, err := parseFed(ev.Detail)
	if err != nil {
		return "message", err
	}
	if m.Node == s.cfg.NodeID || origin == s.cfg.NodeID {
		return m.Op, nil // our own, come back round
	}
	if !l.Valid() || !slices.Contains(l.ReleasableTo, s.cfg.Nation) {
		return m.Op, fmt.Errorf("%w: label %s is not releasable to %s", ErrRemote, l.Marking(), s.cfg.Nation)
	}
	switch m.Op {
	case fedRequest:
		return m.Op, s.remoteRequest(ctx, m.Order, l, origin)
	case fedUpdate:
		return m.Op, s.remoteUpdate(ctx, m.Update, l, origin)
	}
	return m.Op, s.remoteOrder(ctx, m.Order, l, origin)
}

// remoteRequest stores the replica of another node's routed request for
// one of this nation's headquarters to decide.
func (s *Service) remoteRequest(ctx context.Context, in *Order, l label.Label, origin string) error {
	now := s.clock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, dup := s.orders[in.ID]; dup {
		s.mu.Unlock()
		return nil
	}
	issuer, wanted := s.units[in.IssuerUnit], s.units[in.Wanted]
	if in.Type != SupportRequest || in.Via == "" || issuer == nil || wanted == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s is not a routed support request between units of this order of battle", ErrRemote, in.ID)
	}
	// A node speaks only for its own nation's units.
	if issuer.Nation != l.Originator || issuer.Kind != UnitForce {
		s.mu.Unlock()
		return fmt.Errorf("%w: a %s node cannot request in the name of %s (%s)", ErrRemote, l.Originator, issuer.ID, issuer.Nation)
	}
	via, decider, err := s.routeLocked(issuer, wanted, in.Via)
	if err != nil || via == nil || decider.ID != in.Recipient {
		s.mu.Unlock()
		return fmt.Errorf("%w: request %s does not route to %s through %s here: %v", ErrRemote, in.ID, in.Recipient, in.Via, err)
	}
	if decider.Nation != s.cfg.Nation {
		s.mu.Unlock()
		return nil // for another nation's node
	}
	if !in.Deadline.After(now) {
		s.mu.Unlock()
		return fmt.Errorf("%w: request %s is past its reply-by time", ErrRemote, in.ID)
	}
	o := &Order{ID: in.ID, Type: SupportRequest, IssuerUnit: issuer.ID, IssuedBy: in.IssuedBy + " at " + origin, Recipient: decider.ID,
		Text: in.Text, Mission: normMission(in.Mission), Location: in.Location, Deadline: in.Deadline.UTC(), Serial: in.Serial, DTG: in.DTG,
		Paragraphs: in.Paragraphs, NET: in.NET, NLT: in.NLT, Via: via.ID, Wanted: wanted.ID, Label: l, State: Issued,
		Created: now, Updated: now, Origin: origin,
		Authority: Decision{Allowed: true, At: now, Issuer: issuer.ID, Unit: decider.ID, Needs: "nothing (a support request may be refused)", Reason: "a support request needs no authority"},
		History: []Transition{{At: now, To: Issued, By: "federation:" + origin, Unit: issuer.ID, Via: "federation",
			Reason: fmt.Sprintf("request from %s (%s) at %s, routed through %s to %s, which decides", issuer.ID, issuer.Nation, origin, via.ID, decider.ID)}}}
	if err := s.db.commit(ctx, write{orders: []*Order{o}}, nil); err != nil {
		s.mu.Unlock()
		return err
	}
	s.orders[o.ID] = o
	s.order = append(s.order, o.ID)
	s.notifyLocked(o.clone())
	s.mu.Unlock()
	return s.auditNoLock(ctx, audit.Record{Actor: "federation:" + origin, Action: "request.receive", Object: o.ID, Decision: "allow",
		Reason: fmt.Sprintf("support of %s requested by %s (%s) via %s, for %s to decide; label %s", wanted.ID, issuer.ID, issuer.Nation, via.ID, decider.ID, l.Marking())})
}

// decidingStates are the states only the deciding side sets.
var decidingStates = []State{Acknowledged, Wilco, Cantco, Executing, Complete, Failed}

// remoteUpdate applies a state change of a federated request: from the
// deciding nation to the requester's original, from the requesting
// nation (a cancellation) to the decider's replica.
func (s *Service) remoteUpdate(ctx context.Context, u *fedChange, l label.Label, origin string) error {
	s.mu.Lock()
	o, ok := s.orders[u.ID]
	var issuer, decider *Unit
	if ok {
		issuer, decider = s.units[o.IssuerUnit], s.units[o.Recipient]
	}
	s.mu.Unlock()
	if !ok || o.Type != SupportRequest || o.Via == "" || issuer == nil || decider == nil {
		return fmt.Errorf("%w: no routed request %s here", ErrRemote, u.ID)
	}
	var mutate func(*Order)
	switch {
	case o.Origin == "" && slices.Contains(decidingStates, u.To):
		if l.Originator != decider.Nation || (u.Unit != "" && u.Unit != decider.ID) {
			return fmt.Errorf("%w: only %s (%s) answers request %s, not a %s node", ErrRemote, decider.ID, decider.Nation, o.ID, l.Originator)
		}
		outcome := strings.ToUpper(u.Outcome)
		switch {
		case u.To == Wilco && outcome != Approved && outcome != PartlyApproved,
			u.To == Cantco && outcome != Denied,
			u.To != Wilco && u.To != Cantco && outcome != "":
			return fmt.Errorf("%w: %s with outcome %q", ErrRemote, u.To, u.Outcome)
		}
		mutate = func(n *Order) {
			if outcome != "" {
				n.Outcome = outcome
			}
			if u.National != "" {
				n.Answer = u.National
			}
		}
	case o.Origin != "" && u.To == Cancelled:
		if l.Originator != issuer.Nation || o.Origin != origin {
			return fmt.Errorf("%w: only %s's node cancels request %s", ErrRemote, issuer.ID, o.ID)
		}
	default:
		return fmt.Errorf("%w: %s cannot set request %s to %s", ErrRemote, origin, o.ID, u.To)
	}
	_, err := s.move(ctx, o.ID, u.To, &actor{By: "federation:" + origin, Unit: u.Unit, Via: "federation"}, u.Reason, nil, mutate)
	return err
}

// remoteOrder stores the released national order that carries out one of
// this node's requests: a read-only copy, as released.
func (s *Service) remoteOrder(ctx context.Context, in *Order, l label.Label, origin string) error {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.orders[in.ID]; dup {
		return nil
	}
	req, ok := s.orders[strings.ToUpper(in.Request)]
	if !ok || req.Origin != "" || req.Via == "" {
		return fmt.Errorf("%w: order %s answers no request of this node", ErrRemote, in.ID)
	}
	decider, issuer, recipient := s.units[req.Recipient], s.units[in.IssuerUnit], s.units[in.Recipient]
	if decider == nil || issuer == nil || recipient == nil || l.Originator != decider.Nation || issuer.Nation != decider.Nation || recipient.Nation != decider.Nation {
		return fmt.Errorf("%w: order %s is not a %s order to %s forces", ErrRemote, in.ID, l.Originator, l.Originator)
	}
	if !label.Releasable(label.Principal{Nation: s.cfg.Nation, Clearance: label.TopSecret}, l) {
		return fmt.Errorf("%w: order %s is not released to %s", ErrRemote, in.ID, s.cfg.Nation)
	}
	st := in.State
	if _, known := transitions[st]; !known {
		st = Issued
	}
	o := &Order{ID: in.ID, Type: in.Type, IssuerUnit: issuer.ID, IssuedBy: in.IssuedBy + " at " + origin, Recipient: recipient.ID, Text: in.Text,
		Mission: normMission(in.Mission), Location: in.Location, Deadline: in.Deadline.UTC(), Family: in.Family, Serial: in.Serial, DTG: in.DTG,
		Paragraphs: in.Paragraphs, NET: in.NET, NLT: in.NLT, Request: req.ID, Label: l, State: st, Created: now, Updated: now, Origin: origin,
		Authority: Decision{Allowed: true, At: now, Issuer: issuer.ID, Unit: recipient.ID, Reason: "national order of " + decider.Nation + ", released"},
		History: []Transition{{At: now, To: st, By: "federation:" + origin, Unit: issuer.ID, Via: "federation",
			Reason: fmt.Sprintf("%s national order released to %s, carrying out request %s", decider.Nation, s.cfg.Nation, req.ID)}}}
	if err := s.db.commit(ctx, write{orders: []*Order{o}}, nil); err != nil {
		return err
	}
	s.orders[o.ID] = o
	s.order = append(s.order, o.ID)
	s.notifyLocked(o.clone())
	s.auditNoLock(ctx, audit.Record{Actor: "federation:" + origin, Action: "order.receive", Object: o.ID, Decision: "allow",
		Reason: fmt.Sprintf("%s national order %s→%s carrying out request %s, label %s", decider.Nation, issuer.ID, recipient.ID, req.ID, l.Marking())})
	return nil
}

// federateIssued sends a new routed request to the deciding nation's
// node when that nation is not this node's.
func (s *Service) federateIssued(ctx context.Context, o *Order, issuer, decider *Unit) {
	if !s.federates() || o.Via == "" || o.Origin != "" || decider.Nation == s.cfg.Nation || issuer.Nation != s.cfg.Nation {
		return
	}
	c := o.clone()
	c.Deliveries, c.History, c.Authority = nil, nil, Decision{}
	s.sendFed(ctx, fedMsg{Op: fedRequest, Order: c}, o.Label)
}

// federateMoved sends a state change of a federated request to the other
// side: the decider's answers from the replica, the requester's
// cancellation from the original. Changes that came from the federation
// are not sent back.
func (s *Service) federateMoved(ctx context.Context, o *Order, to State, by *actor) {
	if !s.federates() || o.Type != SupportRequest || o.Via == "" || by.Via == "federation" {
		return
	}
	s.mu.Lock()
	issuer, decider := s.unitCopy(o.IssuerUnit), s.unitCopy(o.Recipient)
	var national *Order
	if o.Answer != "" {
		if n, ok := s.orders[o.Answer]; ok {
			national = n.clone()
		}
	}
	s.mu.Unlock()
	if issuer == nil || decider == nil {
		return
	}
	u := &fedChange{ID: o.ID, To: to, Reason: o.StateReason, Unit: by.Unit}
	switch {
	case o.Origin != "" && slices.Contains(decidingStates, to):
		u.Unit = decider.ID
		if to == Wilco || to == Cantco {
			u.Outcome = o.Outcome
			if r := o.History[len(o.History)-1].Reason; r != "" {
				u.Reason = r
			}
		}
		released := national != nil && label.Releasable(label.Principal{Nation: issuer.Nation, Clearance: label.TopSecret}, national.Label)
		if released {
			c := national.clone()
			c.Deliveries, c.History, c.Authority, c.Origin = nil, nil, Decision{}, ""
			s.sendFed(ctx, fedMsg{Op: fedOrder, Order: c}, national.Label)
			u.National = national.ID
		}
	case o.Origin == "" && to == Cancelled && decider.Nation != s.cfg.Nation:
		u.Unit = issuer.ID
	default:
		return
	}
	s.sendFed(ctx, fedMsg{Op: fedUpdate, Update: u}, o.Label)
}
