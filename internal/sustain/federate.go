package sustain

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Transfers between nodes.
//
// A transfer whose two parties' stocks are on two national nodes (a US
// depot on the USA node, a Japanese unit on the JPN node) is federated:
// each node holds a copy of the record and records in its own ledger only
// its own side. Every change a node makes to such a transfer sends the
// whole record to the allied nodes as a CoT event of type FedType (its
// detail carries the record as JSON in <kizunaSustain>; it is directed to
// no TAK recipient, so only federation links carry it), labelled with the
// transfer's label under this node's nation as originator, so that
// federation signs it as this node's word and releases it only to peers
// the label allows.
//
// A node takes from a peer's copy only the facts of the peer's own nation,
// and only when the federation authenticated the event as that nation's
// (the label's originator is the nation of the origin node's
// certificate): the sender's export licence and shipment, the receiver's
// receipt approval and receipt, either side's rejection. A peer never
// speaks for this node's nation, nor for a transfer it is not a party to.
//
// The stock moves in each ledger exactly once, by idempotency key: the
// sender ships (its location → its in-transit location), the receiver
// receives (IMPORTED → its location, the owner changing), and the sender,
// on learning of the receipt, delivers (in transit → EXPORTED). A sender
// that learns of a rejection after it shipped returns the shipment to its
// location. Records are sent again at start and every republish interval
// until settled, and every merge is idempotent, so a link cut, a restart
// or a duplicate changes nothing twice.

// FedType is the CoT type that carries a federated transfer.
const FedType = "t-x-k-sustain"

const fedDest = "kizuna-sustain-federation"

type fedMsg struct {
	Node     string         `json:"node"`
	Nation   string         `json:"nation"`
	Transfer TransferRecord `json:"transfer"`
}

type fedIn struct {
	ev   *cot.Event
	l    label.Label
	node string
}

// markFed queues a federated transfer to be sent. Caller holds s.mu.
func (s *Service) markFed(id string) {
	s.fedDirty[id] = true
	s.kick()
}

// markUnsettled queues every federated transfer not yet final on both
// sides to be sent again.
func (s *Service) markUnsettled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.transfers {
		if !t.Federated {
			continue
		}
		switch {
		case t.State == Received && (t.ToNation == s.cfg.Nation || t.Settled):
		case t.State == Rejected && (t.Ship == nil || t.Settled):
		default:
			s.fedDirty[id] = true
		}
	}
}

// ResendTransfers sends every federated transfer again (as at start).
func (s *Service) ResendTransfers() {
	s.mu.Lock()
	for id, t := range s.transfers {
		if t.Federated {
			s.fedDirty[id] = true
		}
	}
	s.mu.Unlock()
	s.kick()
}

// fedEvents builds the events of the queued federated transfers.
func (s *Service) fedEvents() []*cot.Event {
	s.mu.Lock()
	var recs []TransferRecord
	for id := range s.fedDirty {
		if t := s.transfers[id]; t != nil {
			recs = append(recs, cloneTransfer(t))
		}
	}
	clear(s.fedDirty)
	s.mu.Unlock()
	var evs []*cot.Event
	for i := range recs {
		ev, err := s.fedEvent(&recs[i])
		if err != nil {
			s.log.Warn("sustain: transfer not federated", "transfer", recs[i].ID, "err", err)
			continue
		}
		evs = append(evs, ev)
	}
	return evs
}

// fedLabel is the label a node sends a transfer under: the transfer's
// releasability (which names both parties) with this node's nation as
// originator.
func fedLabel(l label.Label, nation string) label.Label {
	out := label.Label{Classification: l.Classification, Caveat: l.Caveat, Originator: nation}
	rel := append(slices.Clone(l.ReleasableTo), l.Originator)
	slices.Sort(rel)
	for _, n := range slices.Compact(rel) {
		if n != nation {
			out.ReleasableTo = append(out.ReleasableTo, n)
		}
	}
	return out
}

func (s *Service) fedEvent(t *TransferRecord) (*cot.Event, error) {
	body, err := json.Marshal(fedMsg{Node: s.cfg.NodeID, Nation: s.cfg.Nation, Transfer: *t})
	if err != nil {
		return nil, err
	}
	now := s.now()
	ts := now.Format(time.RFC3339Nano)
	doc := fmt.Sprintf(`<event version="2.0" uid="kizuna-sustain-%s-%s" type="%s" how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest callsign="%s"/></marti><kizunaSustain>%s</kizunaSustain></detail></event>`,
		safeUID(s.cfg.NodeID), safeUID(t.ID), FedType, ts, ts, now.Add(24*time.Hour).Format(time.RFC3339Nano), fedDest, esc(string(body)))
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		return nil, err
	}
	l := fedLabel(t.Label, s.cfg.Nation)
	ev.Origin.Nation = l.Originator
	ev.SetLabel(l)
	return ev, nil
}

// Enqueue takes a federated transfer event as federation delivered it: l
// is its authenticated label, node its origin node. It does not block;
// false means the queue is full (the sender sends it again).
func (s *Service) Enqueue(ev *cot.Event, l label.Label, node string) bool {
	select {
	case s.fedIn <- fedIn{ev: ev, l: l, node: node}:
		return true
	default:
		return false
	}
}

func (s *Service) mergeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-s.fedIn:
			if err := s.RemoteTransfer(ctx, in.ev, in.l, in.node); err != nil {
				s.log.Warn("sustain: federated transfer refused", "uid", in.ev.UID, "node", in.node, "err", err)
			}
		}
	}
}

// parseFed reads the record a federated transfer event carries.
func parseFed(detail []byte) (fedMsg, error) {
	var out fedMsg
	if len(detail) > 256<<10 {
		return out, invalid("federated transfer too large")
	}
	txt, err := cot.DetailText(detail, "kizunaSustain")
	if err != nil {
		return out, invalid("federated transfer: %v", err)
	}
	jd := json.NewDecoder(bytes.NewReader(txt))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&out); err != nil {
		return out, invalid("federated transfer: %v", err)
	}
	t := &out.Transfer
	switch {
	case !validID(t.ID) || !validID(t.From) || !validID(t.To):
		return out, invalid("federated transfer: ids")
	case !label.ValidNation(t.FromNation) || !label.ValidNation(t.ToNation) || t.FromNation == t.ToNation || !label.ValidNation(out.Nation):
		return out, invalid("federated transfer: nations")
	case t.Quantity <= 0 || t.Quantity > maxQuantity || int64(len(t.Serials)) > t.Quantity:
		return out, invalid("federated transfer: quantity")
	case checkName("item", t.Item) != nil || !t.Label.Valid() || out.Node == "":
		return out, invalid("federated transfer: item, label or node")
	case !releasableToNation(t.FromNation, t.Label) || !releasableToNation(t.ToNation, t.Label):
		return out, invalid("federated transfer: its label does not release it to both nations")
	case len(t.History) == 0 || len(t.History) > 1000:
		return out, invalid("federated transfer: history")
	}
	for _, sr := range t.Serials {
		if checkName("serial", sr) != nil {
			return out, invalid("federated transfer: serial")
		}
	}
	if t.Lot != "" && checkName("lot", t.Lot) != nil {
		return out, invalid("federated transfer: lot")
	}
	return out, nil
}

// RemoteTransfer merges a federated transfer event that arrived from an
// allied node: l is its label as federation authenticated it (its
// originator is the nation of the origin node's certificate) and node
// the origin node. Only the facts of that nation are taken, and only on a
// transfer this node's nation is a party to.
func (s *Service) RemoteTransfer(ctx context.Context, ev *cot.Event, l label.Label, node string) error {
	if ev.Type != FedType {
		return nil
	}
	fm, err := parseFed(ev.Detail)
	if err != nil {
		return err
	}
	in := &fm.Transfer
	peer, mine := l.Originator, s.cfg.Nation
	if take, err := s.fromPeer(&fm, peer, node); !take || err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return err
	}
	defer s.endLocked()
	t, newReject, err := s.remoteTransferLocked(in, node)
	if err != nil {
		return err
	}
	next := cloneTransfer(t)
	var steps []Step
	if newReject != nil {
		next.Reject = newReject
		steps = append(steps, Step{At: newReject.At, By: newReject.By, Action: "reject", Note: newReject.Kind})
	}
	taken, err := takePeerFacts(&next, in, peer, mine, node)
	if err != nil {
		return err
	}
	steps = append(steps, taken...)
	ms, settled := s.settleSender(&next)
	steps = append(steps, settled...)
	if len(steps) == 0 && s.transfers[in.ID] != nil {
		return nil // nothing new
	}
	next.State = next.derive()
	for i := range steps {
		steps[i].State = next.State
	}
	next.History = append(next.History, steps...)
	_, err = s.commitLocked(ctx, ms, func(tx *sql.Tx, staged []*Movement) error {
		return s.putDoc(tx, "transfer", next.ID, next)
	})
	if err != nil {
		return err
	}
	cp := next
	s.transfers[next.ID] = &cp
	if newReject != nil || len(ms) > 0 {
		s.markFed(next.ID) // tell the peer what this side did
	}
	s.audit(ctx, label.Principal{Nation: peer, Clearance: label.TopSecret, Name: "federation:" + node}, "sustain.transfer.federated", next.ID, "allow", string(next.State))
	return nil
}

// fromPeer checks who speaks in a federated transfer message fm that
// came from node, whose certificate's nation is peer. take is false when
// the message is to be ignored: this node's own, come back round, or a
// transfer not between the two nations.
func (s *Service) fromPeer(fm *fedMsg, peer, node string) (take bool, err error) {
	in, mine := &fm.Transfer, s.cfg.Nation
	if node == s.cfg.NodeID || fm.Node == s.cfg.NodeID {
		return false, nil // our own, come back round
	}
	if fm.Nation != peer || fm.Node != node {
		return false, fmt.Errorf("%w: %s on node %s speaks as %s of %s", ErrRefused, peer, node, fm.Nation, fm.Node)
	}
	if peer == mine {
		return false, fmt.Errorf("%w: node %s speaks for %s, this node's nation", ErrRefused, node, mine)
	}
	if (in.FromNation != mine && in.ToNation != mine) || (in.FromNation != peer && in.ToNation != peer) {
		return false, nil // not between the two of us: nothing to record here
	}
	return true, nil
}

// remoteTransferLocked finds the local record of a federated transfer
// (s.mu held), or makes a new one from what node sent. A new one this
// node cannot take (its location is not this nation's, or the item is
// unknown) comes with this nation's rejection; a known one must agree
// with what was sent.
func (s *Service) remoteTransferLocked(in *TransferRecord, node string) (t *TransferRecord, newReject *Approval, err error) {
	mine := s.cfg.Nation
	t = s.transfers[in.ID]
	if t != nil {
		if !t.Federated || t.Item != in.Item || t.Quantity != in.Quantity || t.From != in.From || t.To != in.To ||
			t.FromNation != in.FromNation || t.ToNation != in.ToNation || t.Lot != in.Lot {
			return nil, nil, fmt.Errorf("%w: transfer %s from %s does not match this node's", ErrRefused, in.ID, node)
		}
		return t, nil, nil
	}
	first := in.History[0]
	t = &TransferRecord{ID: in.ID, Item: in.Item, Quantity: in.Quantity, Lot: in.Lot, From: in.From, To: in.To,
		FromNation: in.FromNation, ToNation: in.ToNation, Expected: in.Expected.UTC(), State: Requested, Label: in.Label,
		Federated: true, History: []Step{{At: first.At, By: first.By, Action: "request", State: Requested, Note: "from " + node}}}
	own := in.To
	if mine == in.FromNation {
		own = in.From
	}
	loc := s.led.locs[own]
	_, known := s.led.items[in.Item]
	switch {
	case loc == nil || loc.Nation != mine:
		newReject = &Approval{Nation: mine, By: "node:" + s.cfg.NodeID, At: s.now(), Kind: "no such " + mine + " location " + own}
	case !known:
		newReject = &Approval{Nation: mine, By: "node:" + s.cfg.NodeID, At: s.now(), Kind: "unknown item " + in.Item}
	}
	return t, newReject, nil
}

// takePeerFacts copies into next the facts of the peer's nation that in
// (sent by node) holds and next does not, and returns the steps they add.
// A shipment or receipt the other side's facts do not allow is refused.
func takePeerFacts(next, in *TransferRecord, peer, mine, node string) ([]Step, error) {
	var steps []Step
	take := func(dst **Approval, src *Approval, action string) bool {
		if *dst != nil || src == nil || src.Nation != peer {
			return false
		}
		c := *src
		*dst = &c
		steps = append(steps, Step{At: c.At, By: c.By, Action: action, Note: "from " + node})
		return true
	}
	if peer == in.FromNation {
		take(&next.Export, in.Export, "approve")
		if next.Ship == nil && in.Ship != nil {
			if next.Receipt == nil {
				return nil, fmt.Errorf("%w: %s claims a shipment %s never approved", ErrRefused, node, mine)
			}
			if take(&next.Ship, in.Ship, "ship") {
				next.Serials = slices.Clone(in.Serials)
			}
		}
	} else {
		take(&next.Receipt, in.Receipt, "approve")
		if next.Receive == nil && in.Receive != nil {
			if next.Ship == nil {
				return nil, fmt.Errorf("%w: %s claims the receipt of a transfer %s never shipped", ErrRefused, node, mine)
			}
			take(&next.Receive, in.Receive, "receive")
		}
	}
	if next.Receive == nil && next.Ship == nil || peer == in.ToNation {
		take(&next.Reject, in.Reject, "reject")
	}
	return steps, nil
}

// settleSender decides the sender's ledger movement of a federated
// transfer, when this node is the sender: deliver once received, return
// once rejected after shipping.
func (s *Service) settleSender(next *TransferRecord) ([]Movement, []Step) {
	mine := s.cfg.Nation
	if mine != next.FromNation || next.Ship == nil || next.Settled {
		return nil, nil
	}
	m := Movement{Item: next.Item, From: transitID(next), FromOwner: mine, Quantity: next.Quantity, Reason: Transfer,
		Lot: next.Lot, Serials: next.Serials, Ref: next.ID, Actor: "node:" + s.cfg.NodeID, Label: next.Label}
	switch {
	case next.Receive != nil:
		m.To, m.ToOwner, m.Key = Export, next.ToNation, "transfer:"+next.ID+":deliver"
		next.Settled = true
		return []Movement{m}, []Step{{At: s.now(), By: "node:" + s.cfg.NodeID, Action: "deliver", Note: "delivered to " + next.ToNation}}
	case next.Reject != nil:
		m.To, m.ToOwner, m.Reason, m.Key = next.From, mine, Return, "transfer:"+next.ID+":return"
		next.Settled, next.Returned = true, true
		return []Movement{m}, []Step{{At: s.now(), By: "node:" + s.cfg.NodeID, Action: "return", Note: "rejected after shipment: returned"}}
	}
	return nil, nil
}
