package mission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// FedType is the CoT type that carries one mission message between nodes.
// Its detail holds the mission's header and the message as JSON in a
// <kizunaMission> element; it is directed to no TAK recipient (a <dest>
// no client has), so only federation links carry it. Its label is the
// combination of the mission's and the item's (or log entry's) labels, so
// every hop releases it only to a peer entitled to both; a withheld item
// never leaves the node.
//
// Live messages follow each change made here: CREATE_MISSION,
// ADD_CONTENT, REMOVE_CONTENT, DELETE_MISSION, ADD_LOG, DELETE_LOG and
// UPDATE_MISSION (keywords, description, password). When a federation
// link comes up, each end sends SYNC_REQUEST (to the nodes beyond too),
// and every node answers it, and its own link-up, by sending each of its
// missions whole: SYNC_BEGIN, a SYNC_CHANGE per change of its change log
// and a SYNC_LOG per log entry (each labelled as its live message), then
// SYNC_END. A replica replaces its change log, items and log entries with
// what arrived between SYNC_BEGIN and SYNC_END, so a node that joined
// late, or missed changes, catches up, and each hop still withholds what
// its peer may not see.
const FedType = "t-x-k-mission"

const fedDest = "kizuna-mission-federation"

// ErrRemote: a federated change that cannot be applied.
var ErrRemote = errors.New("federated mission change refused")

type fedMission struct {
	Name         string      `json:"name"`
	GUID         string      `json:"guid"`
	Description  string      `json:"description"`
	Tool         string      `json:"tool"`
	CreatorUID   string      `json:"creatorUid"`
	Label        label.Label `json:"label"`
	Created      time.Time   `json:"created"`
	Node         string      `json:"node"`
	Keywords     []string    `json:"keywords,omitempty"`
	PasswordHash string      `json:"passwordHash,omitempty"`
}

type fedMsg struct {
	Mission fedMission `json:"mission"`
	Change  Change     `json:"change"`
	Log     *LogEntry  `json:"log,omitempty"`
	// Record is the change-log entry a SYNC_CHANGE carries.
	Record *Change `json:"record,omitempty"`
	Sync   string  `json:"sync,omitempty"`
}

// Message types beyond the change log's.
const (
	fedUpdate    = "UPDATE_MISSION"
	fedAddLog    = "ADD_LOG"
	fedDeleteLog = "DELETE_LOG"
	fedRequest   = "SYNC_REQUEST"
	fedBegin     = "SYNC_BEGIN"
	fedChange    = "SYNC_CHANGE"
	fedLog       = "SYNC_LOG"
	fedEnd       = "SYNC_END"
)

func (s *Service) header(m *Mission) fedMission {
	return fedMission{Name: m.Name, GUID: m.GUID, Description: m.Description, Tool: m.Tool, CreatorUID: m.CreatorUID,
		Label: m.Label, Created: m.Created, Node: s.cfg.NodeID, Keywords: slices.Clone(m.Keywords), PasswordHash: m.PasswordHash}
}

// fedOut is one message ready to send, with its label.
type fedOut struct {
	msg fedMsg
	l   label.Label
}

// fedFor builds the message of a change of m; false when no label
// releases it to anyone.
func (s *Service) fedFor(m *Mission, c *Change, e *LogEntry) (fedOut, bool) {
	var il *label.Label
	switch {
	case e != nil:
		il = &e.Label
	case c.Item != nil:
		il = &c.Label
	}
	l, ok := notifyLabel(m.Label, il)
	if !ok {
		return fedOut{}, false
	}
	msg := fedMsg{Mission: s.header(m), Change: *c}
	if !msg.Change.Label.Valid() {
		msg.Change.Label = m.Label
	}
	if e != nil {
		le := *e
		le.Missions, le.GUIDs, le.Origin = []string{m.Name}, []string{m.GUID}, ""
		msg.Log = &le
	}
	return fedOut{msg: msg, l: l}, true
}

// federate sends a change of a mission made on this node to the allied
// nodes (through the publisher and the federation links). Replicas of
// other nodes' missions are not sent on: federation relays their
// origin's events itself.
func (s *Service) federate(ctx context.Context, m *Mission, c *Change) {
	s.federateLog(ctx, m, c, nil)
}

func (s *Service) federateLog(ctx context.Context, m *Mission, c *Change, e *LogEntry) {
	if s.cfg.Publisher == nil || m.Origin != "" {
		return
	}
	if o, ok := s.fedFor(m, c, e); ok {
		s.sendFed(ctx, o, 24*time.Hour)
	}
}

func (s *Service) sendFed(ctx context.Context, o fedOut, stale time.Duration) {
	body, err := json.Marshal(o.msg)
	if err != nil {
		s.log.Warn("mission change not federated", "err", err)
		return
	}
	now := s.cfg.Now().UTC()
	doc := fmt.Sprintf(`<event version="2.0"%s%s how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest%s/></marti><kizunaMission>%s</kizunaMission></detail></event>`,
		attr("uid", "kizuna-mission-"+newID()), attr("type", FedType), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano),
		now.Add(stale).Format(time.RFC3339Nano), attr("callsign", fedDest), esc(string(body)))
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		s.log.Warn("mission change not federated", "err", err)
		return
	}
	ev.SetLabel(o.l)
	if err := s.cfg.Publisher.Inject(ctx, ev); err != nil {
		s.log.Warn("mission change not federated", "err", err)
	}
}

// ParseFederated reads the mission message a federated event carries.
func ParseFederated(detail []byte) (fedMsg, error) {
	var out fedMsg
	txt, err := cot.DetailText(detail, "kizunaMission")
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	if err := json.Unmarshal(txt, &out); err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	if out.Change.Type == fedRequest {
		if out.Mission.Node == "" || len(out.Mission.Node) > 256 {
			return out, fmt.Errorf("%w: bad sync request", ErrRemote)
		}
		return out, nil
	}
	if _, err := CheckName(out.Mission.Name); err != nil || out.Mission.GUID == "" || len(out.Mission.GUID) > 64 || out.Mission.Node == "" || !out.Mission.Label.Valid() {
		return out, fmt.Errorf("%w: bad mission header", ErrRemote)
	}
	out.Mission.Keywords = cleanKeywords(out.Mission.Keywords)
	if len(out.Mission.Keywords) > maxItems || len(out.Sync) > 64 {
		return out, fmt.Errorf("%w: bad mission header", ErrRemote)
	}
	err = out.checkChange()
	return out, err
}

// validFedItem reports whether an item of a federated change is well formed.
func validFedItem(it *Item) bool {
	return it != nil && (it.Kind == KindUID || it.Kind == KindHash) && it.Key != "" && len(it.Key) <= 256 && it.Label.Valid()
}

// checkChange checks the change of a federated message by its type and
// sets its label (and clears the parts its type does not carry).
func (out *fedMsg) checkChange() error {
	if out.Change.Type != fedChange {
		out.Record = nil
	}
	switch out.Change.Type {
	case "CREATE_MISSION", "DELETE_MISSION", fedUpdate, fedBegin, fedEnd:
		out.Change.Item = nil
		out.Change.Label = out.Mission.Label
		out.Log = nil
	case "ADD_CONTENT", "REMOVE_CONTENT":
		out.Log = nil
		it := out.Change.Item
		if !validFedItem(it) {
			return fmt.Errorf("%w: bad item", ErrRemote)
		}
		out.Change.Label = it.Label
	case fedChange:
		out.Log = nil
		out.Change.Item = nil
		out.Change.Label = out.Mission.Label
		return out.checkRecord()
	case fedAddLog, fedDeleteLog, fedLog:
		e := out.Log
		if e == nil || e.ID == "" || len(e.ID) > 64 || !e.Label.Valid() || len(e.Content) > 64<<10 || len(e.Keywords) > maxItems || len(e.Hashes) > maxItems {
			return fmt.Errorf("%w: bad log entry", ErrRemote)
		}
		out.Change.Item = nil
		out.Change.Label = e.Label
	default:
		return fmt.Errorf("%w: change type %q", ErrRemote, out.Change.Type)
	}
	return nil
}

// checkRecord checks the change-log entry a SYNC_CHANGE carries and sets
// its label and the message's.
func (out *fedMsg) checkRecord() error {
	r := out.Record
	if r == nil {
		return fmt.Errorf("%w: sync change without a record", ErrRemote)
	}
	switch r.Type {
	case "CREATE_MISSION":
		r.Item = nil
		r.Label = out.Mission.Label
	case "ADD_CONTENT", "REMOVE_CONTENT":
		it := r.Item
		if !validFedItem(it) {
			return fmt.Errorf("%w: bad item", ErrRemote)
		}
		r.Label = it.Label
		out.Change.Label = it.Label
	default:
		return fmt.Errorf("%w: recorded change type %q", ErrRemote, r.Type)
	}
	return nil
}
