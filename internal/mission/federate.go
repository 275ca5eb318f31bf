package mission

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// FedType is the CoT type that carries one mission change between nodes.
// Its detail holds the mission's header and the change as JSON in a
// <kizunaMission> element; it is directed to no TAK recipient (a <dest>
// no client has), so only federation links carry it. Its label is the
// combination of the mission's and the item's labels, so every hop
// releases it only to a peer entitled to both; a withheld item never
// leaves the node.
const FedType = "t-x-k-mission"

const fedDest = "kizuna-mission-federation"

// ErrRemote: a federated change that cannot be applied.
var ErrRemote = errors.New("federated mission change refused")

type fedMission struct {
	Name        string      `json:"name"`
	GUID        string      `json:"guid"`
	Description string      `json:"description"`
	Tool        string      `json:"tool"`
	CreatorUID  string      `json:"creatorUid"`
	Label       label.Label `json:"label"`
	Created     time.Time   `json:"created"`
	Node        string      `json:"node"`
}

type fedMsg struct {
	Mission fedMission `json:"mission"`
	Change  Change     `json:"change"`
}

// federate sends a change of a mission made on this node to the allied
// nodes (through the publisher and the federation links). Replicas of
// other nodes' missions are not sent on: federation relays their
// origin's events itself.
func (s *Service) federate(ctx context.Context, m *Mission, c *Change) {
	if s.cfg.Publisher == nil || m.Origin != "" {
		return
	}
	var il *label.Label
	if c.Item != nil {
		il = &c.Label
	}
	l, ok := notifyLabel(m.Label, il)
	if !ok {
		return
	}
	body, err := json.Marshal(fedMsg{Mission: fedMission{Name: m.Name, GUID: m.GUID, Description: m.Description, Tool: m.Tool,
		CreatorUID: m.CreatorUID, Label: m.Label, Created: m.Created, Node: s.cfg.NodeID}, Change: *c})
	if err != nil {
		s.log.Warn("mission change not federated", "err", err)
		return
	}
	now := s.cfg.Now().UTC()
	doc := fmt.Sprintf(`<event version="2.0"%s%s how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><marti><dest%s/></marti><kizunaMission>%s</kizunaMission></detail></event>`,
		attr("uid", "kizuna-mission-"+newID()), attr("type", FedType), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano),
		now.Add(24*time.Hour).Format(time.RFC3339Nano), attr("callsign", fedDest), esc(string(body)))
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		s.log.Warn("mission change not federated", "err", err)
		return
	}
	ev.SetLabel(l)
	s.inject(ctx, ev, nil)
}

// ParseFederated reads the mission change a federated event carries.
func ParseFederated(detail []byte) (fedMsg, error) {
	var out fedMsg
	i := bytes.Index(detail, []byte("<kizunaMission>"))
	j := bytes.LastIndex(detail, []byte("</kizunaMission>"))
	if i < 0 || j < i {
		return out, fmt.Errorf("%w: no kizunaMission element", ErrRemote)
	}
	var txt struct {
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal(detail[i:j+len("</kizunaMission>")], &txt); err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	if err := json.Unmarshal([]byte(txt.Text), &out); err != nil {
		return out, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	if _, err := CheckName(out.Mission.Name); err != nil || out.Mission.GUID == "" || out.Mission.Node == "" || !out.Mission.Label.Valid() {
		return out, fmt.Errorf("%w: bad mission header", ErrRemote)
	}
	switch out.Change.Type {
	case "CREATE_MISSION", "DELETE_MISSION":
		out.Change.Item = nil
		out.Change.Label = out.Mission.Label
	case "ADD_CONTENT", "REMOVE_CONTENT":
		it := out.Change.Item
		if it == nil || (it.Kind != KindUID && it.Kind != KindHash) || it.Key == "" || len(it.Key) > 256 || !it.Label.Valid() {
			return out, fmt.Errorf("%w: bad item", ErrRemote)
		}
		out.Change.Label = it.Label
	default:
		return out, fmt.Errorf("%w: change type %q", ErrRemote, out.Change.Type)
	}
	return out, nil
}

// Remote applies a mission change that arrived from an allied node, with
// the event's authenticated label l. The mission becomes (or stays) a
// read-only replica of its origin's; local subscribers are notified as
// for a local change.
func (s *Service) Remote(ctx context.Context, ev *cot.Event, l label.Label) error {
	fm, err := ParseFederated(ev.Detail)
	if err != nil {
		return err
	}
	if fm.Mission.Node == s.cfg.NodeID {
		return nil // our own, come back round
	}
	// The labels inside must be the ones the event was released under:
	// its originator is the mission's or the item's.
	if l.Originator != fm.Mission.Label.Originator && (fm.Change.Item == nil || l.Originator != fm.Change.Item.Label.Originator) {
		return fmt.Errorf("%w: labels do not match the event's", ErrRemote)
	}
	c := fm.Change
	if c.At.IsZero() {
		c.At = s.cfg.Now().UTC()
	}
	s.mu.Lock()
	k := fm.Mission.GUID
	m, ok := s.missions[k]
	if ok && (m.GUID != fm.Mission.GUID || m.Origin == "") {
		s.mu.Unlock()
		return fmt.Errorf("%w: name %q is taken here", ErrRemote, fm.Mission.Name)
	}
	var cs []*Change
	if !ok {
		if c.Type == "DELETE_MISSION" || c.Type == "REMOVE_CONTENT" {
			s.mu.Unlock()
			return nil
		}
		fmh := fm.Mission
		m = &Mission{Name: fmh.Name, GUID: fmh.GUID, Description: fmh.Description, Tool: fmh.Tool, CreatorUID: fmh.CreatorUID,
			Origin: fmh.Node, Label: fmh.Label, Keywords: []string{}, Created: fmh.Created, Subs: map[string]*Subscription{}}
		if m.Tool == "" {
			m.Tool = "public"
		}
		cs = append(cs, &Change{Type: "CREATE_MISSION", Label: fmh.Label, CreatorUID: fmh.CreatorUID, At: fmh.Created})
	}
	next := *m
	next.Items = slices.Clone(m.Items)
	subs := subscribers(m)
	switch c.Type {
	case "DELETE_MISSION":
		if err := s.save(ctx, k, nil); err != nil {
			s.mu.Unlock()
			return err
		}
		delete(s.missions, k)
		delete(s.changes, k)
		s.mu.Unlock()
		s.notifyDelete(ctx, m, subs)
		return nil
	case "ADD_CONTENT":
		it := *c.Item
		if !slices.ContainsFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }) {
			next.Items = append(next.Items, it)
			cs = append(cs, &Change{Type: c.Type, Item: &it, Label: it.Label, CreatorUID: c.CreatorUID, At: c.At})
		}
	case "REMOVE_CONTENT":
		it := *c.Item
		if j := slices.IndexFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }); j >= 0 {
			next.Items = slices.Delete(next.Items, j, j+1)
			cs = append(cs, &Change{Type: c.Type, Item: &it, Label: it.Label, CreatorUID: c.CreatorUID, At: c.At})
		}
	}
	if len(cs) == 0 {
		s.mu.Unlock()
		return nil
	}
	if err := s.save(ctx, k, &next, cs...); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("saving federated change: %w", err)
	}
	*m = next
	s.missions[k] = m
	s.changes[k] = append(s.changes[k], cs...)
	mc := *m
	s.mu.Unlock()
	for _, ch := range cs {
		if ch.Type != "CREATE_MISSION" {
			s.notifyChange(ctx, &mc, subs, ch)
		}
	}
	return nil
}

type remoteChange struct {
	ev *cot.Event
	l  label.Label
}

// Enqueue hands a federated mission change to the service without
// blocking (for the node's publish tap); false when the queue is full.
func (s *Service) Enqueue(ev *cot.Event, l label.Label) bool {
	select {
	case s.remoteQ <- remoteChange{ev, l}:
		return true
	default:
		return false
	}
}

func (s *Service) applyRemote(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case rc := <-s.remoteQ:
			if err := s.Remote(ctx, rc.ev, rc.l); err != nil {
				s.log.Warn("federated mission change refused", "uid", rc.ev.UID, "err", err)
			}
		}
	}
}
