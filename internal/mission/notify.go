package mission

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Notification types TAK clients listen for.
const (
	TypeChange = "t-x-m-c"   // contents changed
	TypeLog    = "t-x-m-c-l" // a log entry was added
	TypeDelete = "t-x-m-d"   // the mission was deleted
	TypeInvite = "t-x-m-i"   // an invitation
)

// notifyLabel is the label of a notice about an item of a mission: it
// must release the notice only to who may see both. Combine gives the
// intersection; it is tried with either originator, and a combination
// releasable to no one (for example another nation's NOFORN item) means
// no notice.
func notifyLabel(ml label.Label, il *label.Label) (label.Label, bool) {
	if il == nil {
		return ml, ml.Valid()
	}
	for _, o := range []string{ml.Originator, il.Originator} {
		l := label.Combine(o, ml, *il)
		if l.Valid() {
			return l, true
		}
	}
	return label.Label{}, false
}

// recipients are the subscribers entitled to both labels, by client uid,
// whose uid is held by their own principal's streams only.
func (s *Service) recipients(subs []Subscription, ml label.Label, il *label.Label) []string {
	var out []string
	for _, sub := range subs {
		if !label.Releasable(sub.Principal, ml) || (il != nil && !label.Releasable(sub.Principal, *il)) || !s.deliverable(sub) {
			continue
		}
		out = append(out, sub.ClientUID)
	}
	return out
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func attr(name, v string) string { return " " + name + `="` + esc(v) + `"` }

func flt(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// changeXML renders one change as TAK Server's <MissionChange>.
func changeXML(m *Mission, c *Change) string {
	var b bytes.Buffer
	b.WriteString("<MissionChange>")
	if it := c.Item; it != nil && it.Kind == KindUID {
		fmt.Fprintf(&b, "<contentUid>%s</contentUid>", esc(it.Key))
	}
	fmt.Fprintf(&b, "<creatorUid>%s</creatorUid><isFederatedChange>false</isFederatedChange><missionName>%s</missionName><missionGuid>%s</missionGuid><timestamp>%s</timestamp><type>%s</type>",
		esc(c.CreatorUID), esc(m.Name), esc(m.GUID), ts(c.At), esc(c.Type))
	if it := c.Item; it != nil {
		switch it.Kind {
		case KindUID:
			fmt.Fprintf(&b, `<details%s%s><location lat="%s" lon="%s"/></details>`, attr("type", it.Type), attr("callsign", it.Callsign), flt(it.Lat), flt(it.Lon))
		case KindHash:
			fmt.Fprintf(&b, "<contentResource><filename>%s</filename><hash>%s</hash><mimeType>%s</mimeType><name>%s</name><size>%d</size><submissionTime>%s</submissionTime><submitter>%s</submitter><uid>%s</uid></contentResource>",
				esc(it.Name), esc(it.Key), esc(it.MIME), esc(it.Name), it.Size, ts(it.Added), esc(it.Submitter), esc(it.Key))
		}
	}
	b.WriteString("</MissionChange>")
	return b.String()
}

// event builds a notice of type typ with the given <mission> content,
// directed to uids and labelled l.
func (s *Service) event(m *Mission, typ, missionType, author, inner string, uids []string, l label.Label) (*cot.Event, error) {
	now := s.cfg.Now().UTC()
	var d bytes.Buffer
	fmt.Fprintf(&d, `<mission%s%s%s%s%s>%s</mission><marti>`, attr("type", missionType), attr("tool", m.Tool), attr("name", m.Name), attr("guid", m.GUID), attr("authorUid", author), inner)
	for _, u := range uids {
		fmt.Fprintf(&d, `<dest%s/>`, attr("uid", u))
	}
	d.WriteString("</marti>")
	doc := fmt.Sprintf(`<event version="2.0"%s%s how="h-g-i-g-o" time="%s" start="%s" stale="%s"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail>%s</detail></event>`,
		attr("uid", newID()), attr("type", typ), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Add(20*time.Second).Format(time.RFC3339Nano), d.String())
	ev, err := cot.Decode([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("mission notice: %w", err)
	}
	ev.SetLabel(l)
	return ev, nil
}

// notifier is the publisher of notices: Config.Notify, else Publisher.
func (s *Service) notifier() Publisher {
	if s.cfg.Notify != nil {
		return s.cfg.Notify
	}
	return s.cfg.Publisher
}

// inject sends a notice (made with error err).
func (s *Service) inject(ctx context.Context, ev *cot.Event, err error) {
	if err == nil {
		err = s.notifier().Inject(ctx, ev)
	}
	if err != nil {
		s.log.Warn("mission notice not sent", "err", err)
	}
}

// notifyChange sends one change to the subscribers entitled to it.
func (s *Service) notifyChange(ctx context.Context, m *Mission, subs []Subscription, c *Change) {
	if s.notifier() == nil {
		return
	}
	var il *label.Label
	if c.Item != nil {
		il = &c.Label
	}
	l, ok := notifyLabel(m.Label, il)
	uids := s.recipients(subs, m.Label, il)
	if !ok || len(uids) == 0 {
		return
	}
	ev, err := s.event(m, TypeChange, "CHANGE", c.CreatorUID, "<MissionChanges>"+changeXML(m, c)+"</MissionChanges>", uids, l)
	s.inject(ctx, ev, err)
}

// notifyLog tells the entitled subscribers of a new log entry.
func (s *Service) notifyLog(ctx context.Context, m *Mission, subs []Subscription, e *LogEntry) {
	if s.notifier() == nil {
		return
	}
	l, ok := notifyLabel(m.Label, &e.Label)
	uids := s.recipients(subs, m.Label, &e.Label)
	if !ok || len(uids) == 0 {
		return
	}
	ev, err := s.event(m, TypeLog, "CHANGE", e.CreatorUID, fmt.Sprintf("<missionLog><id>%s</id></missionLog>", esc(e.ID)), uids, l)
	s.inject(ctx, ev, err)
}

// notifyDelete tells the subscribers that may see the mission that it is gone.
func (s *Service) notifyDelete(ctx context.Context, m *Mission, subs []Subscription) {
	if s.notifier() == nil {
		return
	}
	uids := s.recipients(subs, m.Label, nil)
	if len(uids) == 0 {
		return
	}
	ev, err := s.event(m, TypeDelete, "DELETE", m.CreatorUID, "", uids, m.Label)
	s.inject(ctx, ev, err)
}

// notifyInvite sends an invitation to a client uid, labelled with the
// mission's label (the hub delivers it only if that releases the mission
// to the invitee's connection).
func (s *Service) notifyInvite(ctx context.Context, m *Mission, invitee string, role Role) {
	if s.notifier() == nil {
		return
	}
	ev, err := s.event(m, TypeInvite, "INVITE", m.CreatorUID, fmt.Sprintf(`<role type="%s"/>`, esc(string(role))), []string{invitee}, m.Label)
	s.inject(ctx, ev, err)
}
