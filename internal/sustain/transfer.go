package sustain

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/label"
)

// TransferState is a step of a transfer's lifecycle.
type TransferState string

// The lifecycle: requested → approved (both sides) → shipped → received;
// requested or approved → rejected.
const (
	Requested TransferState = "requested"
	Approved  TransferState = "approved"
	Shipped   TransferState = "shipped"
	Received  TransferState = "received"
	Rejected  TransferState = "rejected"
)

// Approval is one side's decision.
type Approval struct {
	Nation string    `json:"nation"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // export-licence or receipt
}

// Step is one entry of a transfer's history.
type Step struct {
	At     time.Time     `json:"at"`
	By     string        `json:"by"`
	Action string        `json:"action"`
	State  TransferState `json:"state"`
	Note   string        `json:"note,omitempty"`
}

// TransferRecord is a transfer of stock from one nation to another.
type TransferRecord struct {
	ID         string        `json:"id"`
	Item       string        `json:"item"`
	Quantity   int64         `json:"quantity"`
	Lot        string        `json:"lot,omitempty"`
	Serials    []string      `json:"serials,omitempty"`
	From       string        `json:"from"`
	To         string        `json:"to"`
	FromNation string        `json:"fromNation"`
	ToNation   string        `json:"toNation"`
	Expected   time.Time     `json:"expected,omitempty"`
	State      TransferState `json:"state"`
	Export     *Approval     `json:"export,omitempty"`
	Receipt    *Approval     `json:"receipt,omitempty"`
	ShippedSeq int64         `json:"shippedSeq,omitempty"`
	RecvSeq    int64         `json:"receivedSeq,omitempty"`
	// The facts of the lifecycle, each set once by the side it belongs
	// to: the sender ships, the receiver receives, either rejects.
	Ship    *Approval `json:"ship,omitempty"`
	Receive *Approval `json:"receive,omitempty"`
	Reject  *Approval `json:"reject,omitempty"`
	// Federated: the two parties' stocks are on two nodes; each node
	// records its own side and learns the other's over federation.
	Federated bool `json:"federated,omitempty"`
	// Settled (sender's node of a federated transfer): the shipment left
	// this ledger, delivered into EXPORTED or returned after a late
	// rejection (Returned).
	Settled  bool        `json:"settled,omitempty"`
	Returned bool        `json:"returned,omitempty"`
	History  []Step      `json:"history"`
	Label    label.Label `json:"label"`
}

// derive is the state the facts give.
func (t *TransferRecord) derive() TransferState {
	switch {
	case t.Receive != nil:
		return Received
	case t.Reject != nil:
		return Rejected
	case t.Ship != nil:
		return Shipped
	case t.Export != nil && t.Receipt != nil:
		return Approved
	}
	return Requested
}

// TransferRequest asks for a transfer.
type TransferRequest struct {
	Item     string    `json:"item"`
	Quantity int64     `json:"quantity"`
	Lot      string    `json:"lot,omitempty"`
	Serials  []string  `json:"serials,omitempty"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Expected time.Time `json:"expected,omitempty"`
	// FromNation or ToNation name the nation of a location held on an
	// allied node (a federated transfer); the node's own side must be a
	// location of this node.
	FromNation string      `json:"fromNation,omitempty"`
	ToNation   string      `json:"toNation,omitempty"`
	Label      label.Label `json:"label"`
}

// approver checks that p may act for nation on a transfer: p is of that
// nation and cleared for the transfer, and then either the Authorizer
// (the chain of command: p acts for a command with authority over the
// stock at loc) or, without one, one of the approver roles.
func (s *Service) approver(ctx context.Context, p label.Principal, nation, action, loc string, t *TransferRecord) error {
	if !p.Valid() || p.Nation != nation {
		return fmt.Errorf("%w: %s acts only for %s, not %s", ErrRefused, p.String(), p.Nation, nation)
	}
	if !label.Releasable(p, t.Label) {
		return fmt.Errorf("%w: %s is not cleared for this transfer", ErrRefused, p.String())
	}
	if s.cfg.Authorize == nil {
		if !slices.Contains(s.cfg.ApproverRoles, p.Role) {
			return fmt.Errorf("%w: %s needs one of the roles %v to %s", ErrRefused, p.String(), s.cfg.ApproverRoles, action)
		}
		return nil
	}
	if err := s.cfg.Authorize(ctx, p, s.stockAuthorityLocked(nation, action, loc)); err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return nil
}

// StockAuthority is what an approver must hold authority over: the
// stocks of a nation at a location, held by a unit (the location's unit,
// then its superiors as the sustainment profiles record them, nearest
// first) or by no unit (the nation's own, such as a factory's).
type StockAuthority struct {
	Nation   string   `json:"nation"`
	Action   string   `json:"action"`
	Location string   `json:"location"`
	Units    []string `json:"units,omitempty"`
}

func (s *Service) stockAuthorityLocked(nation, action, loc string) StockAuthority {
	a := StockAuthority{Nation: nation, Action: action, Location: loc}
	l := s.led.locs[loc]
	if l == nil || l.Unit == "" {
		return a
	}
	for u := l.Unit; u != "" && len(a.Units) < 64 && !slices.Contains(a.Units, u); {
		a.Units = append(a.Units, u)
		pu := s.units[u]
		if pu == nil || pu.Nation != nation {
			break
		}
		u = pu.Parent
	}
	return a
}

// RequestTransfer records a transfer request made by either nation.
func (s *Service) RequestTransfer(ctx context.Context, p label.Principal, req TransferRequest) (TransferRecord, error) {
	if err := checkLabel(p, &req.Label); err != nil {
		return TransferRecord{}, err
	}
	if req.Quantity <= 0 || req.Quantity > maxQuantity {
		return TransferRecord{}, invalid("quantity %d out of range", req.Quantity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return TransferRecord{}, err
	}
	defer s.endLocked()
	from, to := s.led.locs[req.From], s.led.locs[req.To]
	fromN, toN, federated := "", "", false
	switch {
	case from != nil && to != nil:
		fromN, toN = from.Nation, to.Nation
	case from != nil && validID(req.To) && label.ValidNation(req.ToNation):
		fromN, toN, federated = from.Nation, req.ToNation, true
	case to != nil && validID(req.From) && label.ValidNation(req.FromNation):
		fromN, toN, federated = req.FromNation, to.Nation, true
	default:
		return TransferRecord{}, fmt.Errorf("%w: transfer locations %q and %q (name the nation of a location on an allied node)", ErrNotFound, req.From, req.To)
	}
	if fromN == toN {
		return TransferRecord{}, invalid("a transfer goes from one nation to another")
	}
	if p.Nation != fromN && p.Nation != toN {
		s.audit(ctx, p, "sustain.transfer.request", req.Item, "deny", "not a party")
		return TransferRecord{}, fmt.Errorf("%w: only %s or %s may request this transfer", ErrRefused, fromN, toN)
	}
	if federated && (p.Nation != s.cfg.Nation || (from != nil && from.Nation != s.cfg.Nation) || (to != nil && to.Nation != s.cfg.Nation)) {
		return TransferRecord{}, fmt.Errorf("%w: a transfer with an allied node is requested on the node of the requesting nation, from or to its own location", ErrRefused)
	}
	if !releasableToNation(fromN, req.Label) || !releasableToNation(toN, req.Label) {
		return TransferRecord{}, invalid("a transfer's label must release it to both nations")
	}
	if _, ok := s.led.items[req.Item]; !ok {
		return TransferRecord{}, invalid("unknown item %q", req.Item)
	}
	t := &TransferRecord{
		ID: newID("xfer"), Item: req.Item, Quantity: req.Quantity, Lot: req.Lot, Serials: slices.Clone(req.Serials),
		From: req.From, To: req.To, FromNation: fromN, ToNation: toN, Expected: req.Expected.UTC(),
		State: Requested, Label: req.Label, Federated: federated,
		History: []Step{{At: s.now(), By: p.String(), Action: "request", State: Requested}},
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "transfer", t.ID, t) }); err != nil {
		return TransferRecord{}, err
	}
	s.transfers[t.ID] = t
	if federated {
		s.markFed(t.ID)
	}
	s.audit(ctx, p, "sustain.transfer.request", t.ID, "allow", fmt.Sprintf("%d %s %s→%s", t.Quantity, t.Item, t.FromNation, t.ToNation))
	return cloneTransfer(t), nil
}

func cloneTransfer(t *TransferRecord) TransferRecord {
	c := *t
	c.History = slices.Clone(t.History)
	c.Serials = slices.Clone(t.Serials)
	for _, a := range []**Approval{&c.Export, &c.Receipt, &c.Ship, &c.Receive, &c.Reject} {
		if *a != nil {
			x := **a
			*a = &x
		}
	}
	return c
}

// TransferAction is one of approve, reject, ship, receive.
type TransferAction string

// The actions on a transfer.
const (
	ActApprove TransferAction = "approve"
	ActReject  TransferAction = "reject"
	ActShip    TransferAction = "ship"
	ActReceive TransferAction = "receive"
)

// Act applies an action of p to transfer id. Approve records p's nation's
// side (export licence for the sender, receipt for the receiver); the
// transfer is approved once both sides have. Ship moves the stock into
// transit; receive moves it to the destination and changes its owner,
// exactly once: a repeated receive answers the received transfer and
// records nothing.
func (s *Service) Act(ctx context.Context, p label.Principal, id string, act TransferAction, note string) (TransferRecord, error) {
	if len(note) > 500 {
		return TransferRecord{}, invalid("note too long")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return TransferRecord{}, err
	}
	defer s.endLocked()
	t := s.transfers[id]
	if t == nil || !label.Releasable(p, t.Label) {
		return TransferRecord{}, fmt.Errorf("%w: transfer %q", ErrNotFound, id)
	}
	refuse := func(err error) (TransferRecord, error) {
		s.audit(ctx, p, "sustain.transfer."+string(act), id, "deny", err.Error())
		return TransferRecord{}, err
	}
	next := cloneTransfer(t)
	now := s.now()
	// On a federated transfer this node speaks only for its own nation.
	if t.Federated && p.Nation != s.cfg.Nation {
		return refuse(fmt.Errorf("%w: %s acts on this transfer on its own node", ErrRefused, p.Nation))
	}
	fact := &Approval{Nation: p.Nation, By: p.String(), At: now, Kind: string(act)}
	var ms []Movement
	done := false // nothing to do: answer the transfer as it is
	var err error
	switch act {
	case ActApprove:
		done, err = s.actApprove(ctx, p, t, &next, now)
	case ActReject:
		err = s.actReject(ctx, p, t, &next, fact)
	case ActShip:
		ms, done, err = s.actShip(ctx, p, t, &next, fact)
	case ActReceive:
		ms, done, err = s.actReceive(ctx, p, t, &next, fact)
	default:
		return TransferRecord{}, invalid("unknown action %q", act)
	}
	if err != nil {
		return refuse(err)
	}
	if done {
		return cloneTransfer(t), nil
	}
	next.State = next.derive()
	next.History = append(next.History, Step{At: now, By: p.String(), Action: string(act), State: next.State, Note: note})
	if err := s.commitAct(ctx, t, &next, act, ms); err != nil {
		return refuse(err)
	}
	*t = next
	if t.Federated {
		s.markFed(t.ID)
	}
	s.audit(ctx, p, "sustain.transfer."+string(act), id, "allow", string(next.State))
	return cloneTransfer(t), nil
}

// actApprove records p's nation's side of transfer t in next: the export
// licence for the sender, the receipt for the receiver. done is true when
// that side had already approved.
func (s *Service) actApprove(ctx context.Context, p label.Principal, t, next *TransferRecord, now time.Time) (done bool, err error) {
	if t.State != Requested {
		return false, fmt.Errorf("%w: transfer is %s", ErrState, t.State)
	}
	var side **Approval
	kind, loc := "", ""
	switch p.Nation {
	case t.FromNation:
		side, kind, loc = &next.Export, "export-licence", t.From
	case t.ToNation:
		side, kind, loc = &next.Receipt, "receipt", t.To
	default:
		return false, fmt.Errorf("%w: %s is not a party to this transfer", ErrRefused, p.Nation)
	}
	if err := s.approver(ctx, p, p.Nation, kind, loc, t); err != nil {
		return false, err
	}
	if *side != nil {
		return true, nil // already approved by this side
	}
	*side = &Approval{Nation: p.Nation, By: p.String(), At: now, Kind: kind}
	return false, nil
}

// actReject records p's nation's rejection fact of transfer t in next.
func (s *Service) actReject(ctx context.Context, p label.Principal, t, next *TransferRecord, fact *Approval) error {
	if t.State != Requested && t.State != Approved {
		return fmt.Errorf("%w: transfer is %s", ErrState, t.State)
	}
	loc := t.To
	switch p.Nation {
	case t.FromNation:
		loc = t.From
	case t.ToNation:
	default:
		return fmt.Errorf("%w: %s is not a party to this transfer", ErrRefused, p.Nation)
	}
	if err := s.approver(ctx, p, p.Nation, "reject", loc, t); err != nil {
		return err
	}
	next.Reject = fact
	return nil
}

// actShip records the shipment fact of transfer t in next and returns
// the movement into transit. done is true when it had already shipped.
func (s *Service) actShip(ctx context.Context, p label.Principal, t, next *TransferRecord, fact *Approval) (ms []Movement, done bool, err error) {
	if err := s.approver(ctx, p, t.FromNation, "ship", t.From, t); err != nil {
		return nil, false, err
	}
	if t.State == Shipped || t.State == Received || t.Ship != nil {
		return nil, true, nil
	}
	if t.State != Approved {
		return nil, false, fmt.Errorf("%w: transfer is %s, not approved by both sides", ErrState, t.State)
	}
	next.Ship = fact
	ms = append(ms, Movement{Item: t.Item, From: t.From, To: transitID(t), FromOwner: t.FromNation, ToOwner: t.FromNation,
		Quantity: t.Quantity, Reason: Transfer, Lot: t.Lot, Serials: t.Serials, Ref: t.ID, Key: "transfer:" + t.ID + ":ship",
		Actor: p.String(), Label: t.Label})
	return ms, false, nil
}

// actReceive records the receipt fact of transfer t in next and returns
// the movement to the destination. done is true when it had already been
// received: exactly once.
func (s *Service) actReceive(ctx context.Context, p label.Principal, t, next *TransferRecord, fact *Approval) (ms []Movement, done bool, err error) {
	if err := s.approver(ctx, p, t.ToNation, "receive", t.To, t); err != nil {
		return nil, false, err
	}
	if t.State == Received {
		return nil, true, nil // exactly once
	}
	if t.State != Shipped {
		return nil, false, fmt.Errorf("%w: transfer is %s, not shipped", ErrState, t.State)
	}
	next.Receive = fact
	from := transitID(t)
	if t.Federated {
		// The shipment is in the sender's ledger on its node: this
		// ledger imports it; the sender's exports it when it learns of
		// the receipt.
		from = Import
	}
	ms = append(ms, Movement{Item: t.Item, From: from, To: t.To, FromOwner: t.FromNation, ToOwner: t.ToNation,
		Quantity: t.Quantity, Reason: Transfer, Lot: t.Lot, Serials: t.Serials, Ref: t.ID, Key: "transfer:" + t.ID + ":receive",
		Actor: p.String(), Label: t.Label})
	return ms, false, nil
}

// commitAct records the movements ms of action act on transfer t and the
// transfer's next state (s.mu held); a shipment first makes the transit
// location between the two nations if there is none.
func (s *Service) commitAct(ctx context.Context, t, next *TransferRecord, act TransferAction, ms []Movement) error {
	var transit *Location
	if act == ActShip {
		if transit = s.led.locs[transitID(t)]; transit == nil {
			transit = &Location{ID: transitID(t), Name: "In transit " + t.FromNation + "→" + t.ToNation,
				Kind: Transit, Nation: t.FromNation, Label: label.Label{Classification: label.Unclassified,
					Originator: t.FromNation, ReleasableTo: sortedPair(t.FromNation, t.ToNation)}}
			s.led.locs[transit.ID] = transit
		}
	}
	_, err := s.commitLocked(ctx, ms, func(tx *sql.Tx, staged []*Movement) error {
		if transit != nil {
			if err := s.putDoc(tx, "location", transit.ID, *transit); err != nil {
				return err
			}
		}
		if len(staged) == 1 {
			if act == ActShip {
				next.ShippedSeq = staged[0].Seq
				next.Serials = staged[0].Serials
			} else {
				next.RecvSeq = staged[0].Seq
			}
		}
		return s.putDoc(tx, "transfer", next.ID, *next)
	})
	return err
}

func transitID(t *TransferRecord) string { return "TRANSIT-" + t.FromNation + "-" + t.ToNation }

// Transfers returns the transfers p may see, newest first.
func (s *Service) Transfers(p label.Principal) []TransferRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []TransferRecord{}
	for _, t := range s.transfers {
		if label.Releasable(p, t.Label) {
			out = append(out, cloneTransfer(t))
		}
	}
	slices.SortFunc(out, func(a, b TransferRecord) int { return b.History[0].At.Compare(a.History[0].At) })
	return out
}

// Transfer returns one transfer p may see.
func (s *Service) Transfer(p label.Principal, id string) (TransferRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transfers[id]
	if t == nil || !label.Releasable(p, t.Label) {
		return TransferRecord{}, fmt.Errorf("%w: transfer %q", ErrNotFound, id)
	}
	return cloneTransfer(t), nil
}

func sortedPair(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}
