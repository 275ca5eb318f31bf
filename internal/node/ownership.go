package node

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"kizuna/internal/cop"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/reject"
)

// The write rules of ingest, one for every uid-bearing event whatever its
// type (see README, "Security model"):
//
//   - ownership: a uid belongs to the nation that first used it, for as
//     long as it is in use (its latest stale time plus the claim
//     retention); only that nation may write or delete it;
//   - node namespaces: uids a node generates (fused tracks
//     NODE-ID.…, orders and their senders KIZUNA.…, the chat those send
//     GeoChat.KIZUNA.…), of this node or of a declared peer, are never
//     written or deleted by a client, and a peer never writes or deletes
//     this node's NODE-ID.… uids;
//   - no write-down: an update or delete of an object classified above
//     the submitter's clearance is refused;
//   - a delete names only uids someone owns.

// Sentinel errors of the write rules.
var (
	ErrWriteDown  = errors.New("object classified above the submitter's clearance")
	ErrReserved   = errors.New("uid in a node's namespace")
	ErrNodeType   = errors.New("type only nodes send")
	ErrUnknownUID = errors.New("delete of a uid nobody owns")
)

// claimRetention is how long a uid stays claimed after its latest stale
// time: the history retention, or cop.DefaultClaimRetention when history
// is kept forever.
func (n *Node) claimRetention() time.Duration {
	if r := time.Duration(n.cfg.HistoryRetention); r > 0 {
		return r
	}
	return cop.DefaultClaimRetention
}

// claimUntil is when a claim made by an event stale at stale lapses.
func (n *Node) claimUntil(stale time.Time) time.Time {
	now := time.Now()
	if stale.Before(now) {
		stale = now
	}
	return stale.Add(n.claimRetention())
}

// reservedPrefixes are the uid prefixes only nodes generate.
func (n *Node) reservedPrefixes() []string {
	n.reservedOnce.Do(func() {
		ps := []string{"KIZUNA.", "GeoChat.KIZUNA."}
		if n.cfg.NodeID != "" {
			ps = append(ps, n.cfg.NodeID+".")
		}
		for _, p := range n.cfg.Peers {
			if p.Name != "" {
				ps = append(ps, p.Name+".")
			}
		}
		n.reserved = ps
	})
	return n.reserved
}

// reservedUID reports whether uid lies in a node's namespace.
func (n *Node) reservedUID(uid string) bool {
	for _, p := range n.reservedPrefixes() {
		if strings.HasPrefix(uid, p) {
			return true
		}
	}
	return false
}

// checkClientUIDs refuses a client event of a node-to-node type
// (cot.NodeTypePrefix), or one that names a node's uid: as its
// own uid, or as a target of a delete.
func (n *Node) checkClientUIDs(ev *cot.Event) error {
	if strings.HasPrefix(ev.Type, cot.NodeTypePrefix) {
		// A client's event of this type would leave for allied nodes
		// signed by this node, as if the node had said it.
		return fmt.Errorf("event %s of type %s: %w", ev.UID, ev.Type, ErrNodeType)
	}
	if n.reservedUID(ev.UID) {
		return fmt.Errorf("event %s: %w", ev.UID, ErrReserved)
	}
	if ev.IsDelete() {
		for _, lk := range ev.Links {
			if n.reservedUID(lk.UID) {
				return fmt.Errorf("delete of %s: %w", lk.UID, ErrReserved)
			}
		}
	}
	return nil
}

// ownNamespace reports whether ev names a uid of this node's own
// namespace (its fused tracks): no peer may write or delete those.
func (n *Node) ownNamespace(ev *cot.Event) bool {
	if n.cfg.NodeID == "" {
		return false
	}
	own := n.cfg.NodeID + "."
	if strings.HasPrefix(ev.UID, own) {
		return true
	}
	if ev.IsDelete() {
		for _, lk := range ev.Links {
			if strings.HasPrefix(lk.UID, own) {
				return true
			}
		}
	}
	return false
}

// checkWriteDown refuses a change to uid's live object when it is
// classified above clearance (label.Invalid: not checked, for the node's
// own events and federation, whose labels are checked at the link).
func (n *Node) checkWriteDown(uid string, clearance label.Classification) error {
	if clearance == label.Invalid {
		return nil
	}
	if old, ok := n.picture.Get(uid); ok && old.Label.Classification > clearance {
		return fmt.Errorf("change of %s: %w: %s above %s", uid, ErrWriteDown, old.Label.Classification, clearance)
	}
	return nil
}

// reasonOf maps an error of the ingest pipeline to its reason.
func reasonOf(err error) reject.Reason {
	switch {
	case errors.Is(err, ErrNotOwner):
		return reject.NotOwner
	case errors.Is(err, ErrWriteDown):
		return reject.WriteDown
	case errors.Is(err, ErrReserved):
		return reject.Reserved
	case errors.Is(err, ErrNodeType):
		return reject.ReservedType
	case errors.Is(err, ErrUnknownUID):
		return reject.UnknownUID
	case errors.Is(err, ErrUnavailable):
		return reject.Unavailable
	case errors.Is(err, ErrAboveClearance):
		return reject.AboveClearance
	case errors.Is(err, label.ErrCaveat):
		return reject.Caveat
	case errors.Is(err, cot.ErrLabel), errors.Is(err, label.ErrClassification), errors.Is(err, label.ErrNation):
		return reject.Label
	}
	return reject.Rejected
}

// expireClaims releases lapsed claims now and then (every claimSweep).
const claimSweep = 10 * time.Second
