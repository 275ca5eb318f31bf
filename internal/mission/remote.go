package mission

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// pendingSync collects a mission sent whole, between SYNC_BEGIN and
// SYNC_END.
type pendingSync struct {
	id      string
	changes []*Change
	logs    []*LogEntry
}

func sameChange(a, b *Change) bool {
	if a.Type != b.Type || !a.At.Equal(b.At) || a.CreatorUID != b.CreatorUID || (a.Item == nil) != (b.Item == nil) {
		return false
	}
	return a.Item == nil || (a.Item.Kind == b.Item.Kind && a.Item.Key == b.Item.Key)
}

// replay derives the items from a change log.
func replay(cs []*Change) []Item {
	var items []Item
	for _, c := range cs {
		if c.Item == nil {
			continue
		}
		j := slices.IndexFunc(items, func(x Item) bool { return x.Kind == c.Item.Kind && x.Key == c.Item.Key })
		switch c.Type {
		case "ADD_CONTENT":
			if j < 0 {
				items = append(items, *c.Item)
			}
		case "REMOVE_CONTENT":
			if j >= 0 {
				items = slices.Delete(items, j, j+1)
			}
		}
	}
	return items
}

// Remote applies a mission message that arrived from an allied node, with
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
	if fm.Change.Type == fedRequest {
		s.kickResync(false)
		return nil
	}
	if !fm.releasedUnder(l) {
		return fmt.Errorf("%w: labels do not match the event's", ErrRemote)
	}
	c := fm.Change
	if c.At.IsZero() {
		c.At = s.cfg.Now().UTC()
	}
	hdr := fm.Mission
	if err := s.lockW(ctx); err != nil {
		return err
	}
	k := hdr.GUID
	m, cs, ok, err := s.remoteMission(hdr, c.Type)
	if err != nil || !ok {
		s.mu.Unlock()
		return err
	}
	subs := subscribers(m)
	if c.Type == "DELETE_MISSION" {
		return s.remoteDelete(ctx, m, subs) // unlocks s.mu
	}
	next := *m
	next.Items = slices.Clone(m.Items)
	next.Description, next.Keywords, next.PasswordHash = hdr.Description, hdr.Keywords, hdr.PasswordHash
	if next.Keywords == nil {
		next.Keywords = []string{}
	}
	if next.Tool = hdr.Tool; next.Tool == "" {
		next.Tool = "public"
	}
	a := remoteApply{fm: &fm, c: &c, old: m, next: &next, cs: cs, pend: s.syncs[k]}
	s.decideRemote(&a)
	if err := s.commitRemote(ctx, k, m, &next, a.cs, a.replace); err != nil {
		s.mu.Unlock()
		return err
	}
	mc := *m
	s.mu.Unlock()
	for _, ch := range a.notices {
		s.notifyChange(ctx, &mc, subs, ch)
	}
	if a.logNote != nil {
		s.notifyLog(ctx, &mc, subs, a.logNote)
	}
	return nil
}

// releasedUnder reports whether the labels inside the message are the
// ones the event was released under (label l): its originator is the
// mission's or the item's (or log entry's).
func (fm *fedMsg) releasedUnder(l label.Label) bool {
	okOrig := l.Originator == fm.Mission.Label.Originator
	if it := fm.Change.Item; it != nil && l.Originator == it.Label.Originator {
		okOrig = true
	}
	if r := fm.Record; r != nil && r.Item != nil && l.Originator == r.Item.Label.Originator {
		okOrig = true
	}
	if e := fm.Log; e != nil && l.Originator == e.Label.Originator {
		okOrig = true
	}
	return okOrig
}

// remoteMission finds the replica a federated message of type typ is for
// (s.mu held). A mission not yet known is made from the header, with its
// CREATE_MISSION change in cs, unless the message cannot start one: then
// ok is false and the message is ignored. A mission of another origin is
// an error.
func (s *Service) remoteMission(hdr fedMission, typ string) (m *Mission, cs []*Change, ok bool, err error) {
	k := hdr.GUID
	m, ok = s.missions[k]
	if ok && m.Origin != hdr.Node {
		return nil, nil, false, fmt.Errorf("%w: mission %s is not %s's here", ErrRemote, k, hdr.Node)
	}
	if ok {
		return m, nil, true, nil
	}
	switch typ {
	case "DELETE_MISSION", "REMOVE_CONTENT", fedDeleteLog, fedChange, fedLog, fedEnd:
		return nil, nil, false, nil
	}
	m = &Mission{Name: hdr.Name, GUID: hdr.GUID, CreatorUID: hdr.CreatorUID, Origin: hdr.Node, Label: hdr.Label,
		Created: hdr.Created, Subs: map[string]*Subscription{}}
	cs = append(cs, &Change{Type: "CREATE_MISSION", Label: hdr.Label, CreatorUID: hdr.CreatorUID, At: hdr.Created})
	return m, cs, true, nil
}

// remoteDelete deletes a replica at its origin's word. It is called with
// s.mu held and releases it.
func (s *Service) remoteDelete(ctx context.Context, m *Mission, subs []Subscription) error {
	k := m.GUID
	if err := s.save(ctx, k, nil); err != nil {
		s.mu.Unlock()
		return err
	}
	delete(s.missions, k)
	delete(s.changes, k)
	delete(s.syncs, k)
	s.dropRemoteLogs(k, nil)
	s.mu.Unlock()
	s.notifyDelete(ctx, m, subs)
	return nil
}

// remoteApply is one federated message being applied to a replica: the
// message, the mission before (old) and after (next), and what applying
// it produced.
type remoteApply struct {
	fm   *fedMsg
	c    *Change
	old  *Mission
	next *Mission
	pend *pendingSync

	cs      []*Change // changes to record
	replace bool      // the change log is replaced by cs (SYNC_END)
	notices []*Change // changes to tell local subscribers of
	logNote *LogEntry // a log entry to tell them of
}

// decideRemote decides what a federated message changes in a replica
// (s.mu held).
func (s *Service) decideRemote(a *remoteApply) {
	fm, c, next, pend := a.fm, a.c, a.next, a.pend
	hdr := fm.Mission
	k := hdr.GUID
	switch c.Type {
	case "ADD_CONTENT":
		it := *c.Item
		if !slices.ContainsFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }) {
			next.Items = append(next.Items, it)
			ch := &Change{Type: c.Type, Item: &it, Label: it.Label, CreatorUID: c.CreatorUID, At: c.At}
			a.cs = append(a.cs, ch)
			a.notices = append(a.notices, ch)
		}
	case "REMOVE_CONTENT":
		it := *c.Item
		if j := slices.IndexFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }); j >= 0 {
			next.Items = slices.Delete(next.Items, j, j+1)
			ch := &Change{Type: c.Type, Item: &it, Label: it.Label, CreatorUID: c.CreatorUID, At: c.At}
			a.cs = append(a.cs, ch)
			a.notices = append(a.notices, ch)
		}
	case fedAddLog:
		a.logNote = s.putRemoteLog(k, next.Name, hdr.Node, fm.Log)
		if pend != nil {
			pend.logs = append(pend.logs, fm.Log)
		}
	case fedDeleteLog:
		s.dropRemoteLogs(k, []string{fm.Log.ID})
	case fedBegin:
		s.syncs[k] = &pendingSync{id: fm.Sync}
	case fedChange:
		if pend != nil && pend.id == fm.Sync {
			r := *fm.Record
			pend.changes = append(pend.changes, &r)
		}
	case fedLog:
		if pend != nil && pend.id == fm.Sync {
			pend.logs = append(pend.logs, fm.Log)
		}
	case fedEnd:
		if pend != nil && pend.id == fm.Sync {
			s.endSync(a)
		}
	}
	// A live change that arrives while a mission is being sent whole
	// belongs to the result, whether or not the sender's copy held it.
	if pend != nil && pend.id != "" && (c.Type == "ADD_CONTENT" || c.Type == "REMOVE_CONTENT") {
		for _, ch := range a.cs {
			if ch.Item != nil && !slices.ContainsFunc(pend.changes, func(x *Change) bool { return sameChange(x, ch) }) {
				pend.changes = append(pend.changes, ch)
			}
		}
	}
}

// endSync finishes a mission sent whole (SYNC_END of the pending sync,
// s.mu held): the collected change log replaces the replica's, its items
// are replayed from it, and its log entries replace the replica's.
func (s *Service) endSync(a *remoteApply) {
	hdr, c, m, next, pend := a.fm.Mission, a.c, a.old, a.next, a.pend
	k := hdr.GUID
	delete(s.syncs, k)
	cs := pend.changes
	a.replace = true
	if len(cs) == 0 || cs[0].Type != "CREATE_MISSION" {
		cs = append([]*Change{{Type: "CREATE_MISSION", Label: hdr.Label, CreatorUID: hdr.CreatorUID, At: hdr.Created}}, cs...)
	}
	a.cs = cs
	next.Items = replay(cs)
	// Tell local subscribers what the catch-up changed.
	for _, it := range next.Items {
		if !slices.ContainsFunc(m.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }) {
			a.notices = append(a.notices, &Change{Type: "ADD_CONTENT", Item: &it, Label: it.Label, At: c.At})
		}
	}
	for _, it := range m.Items {
		if !slices.ContainsFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }) {
			a.notices = append(a.notices, &Change{Type: "REMOVE_CONTENT", Item: &it, Label: it.Label, At: c.At})
		}
	}
	var keep []string
	for _, e := range pend.logs {
		s.putRemoteLog(k, next.Name, hdr.Node, e)
		keep = append(keep, e.ID)
	}
	s.dropRemoteLogsExcept(k, keep)
}

// commitRemote saves a replica's new state and change log (s.mu held),
// then installs them in memory: m becomes next.
func (s *Service) commitRemote(ctx context.Context, k string, m, next *Mission, cs []*Change, replace bool) error {
	var err error
	if replace {
		err = s.saveReplace(ctx, k, next, cs)
	} else {
		err = s.save(ctx, k, next, cs...)
	}
	if err != nil {
		return fmt.Errorf("saving federated change: %w", err)
	}
	*m = *next
	s.missions[k] = m
	if replace {
		s.changes[k] = cs
	} else {
		s.changes[k] = append(s.changes[k], cs...)
	}
	return nil
}

// putRemoteLog stores a log entry of a replica (s.mu held); nil when it
// would overwrite one of this node's entries or another node's.
func (s *Service) putRemoteLog(guid, name, node string, in *LogEntry) *LogEntry {
	e := *in
	if old, ok := s.logs[e.ID]; ok {
		if old.Origin != node {
			return nil
		}
		e.GUIDs, e.Missions = slices.Clone(old.GUIDs), slices.Clone(old.Missions)
	} else {
		e.GUIDs, e.Missions = nil, nil
	}
	if !slices.Contains(e.GUIDs, guid) {
		e.GUIDs = append(e.GUIDs, guid)
		e.Missions = append(e.Missions, name)
	}
	e.Origin = node
	if err := s.saveLog(context.Background(), &e, false); err != nil {
		s.log.Warn("federated log entry not saved", "err", err)
		return nil
	}
	s.logs[e.ID] = &e
	return &e
}

// dropRemoteLogs takes the replica guid out of the federated entries ids
// (all when ids is nil); an entry left in no mission is deleted.
func (s *Service) dropRemoteLogs(guid string, ids []string) {
	for id, e := range s.logs {
		if e.Origin == "" || !slices.Contains(e.GUIDs, guid) || (ids != nil && !slices.Contains(ids, id)) {
			continue
		}
		s.unlinkLog(e, guid)
	}
}

func (s *Service) dropRemoteLogsExcept(guid string, keep []string) {
	for id, e := range s.logs {
		if e.Origin != "" && slices.Contains(e.GUIDs, guid) && !slices.Contains(keep, id) {
			s.unlinkLog(e, guid)
		}
	}
}

func (s *Service) unlinkLog(e *LogEntry, guid string) {
	n := *e
	i := slices.Index(n.GUIDs, guid)
	n.GUIDs = slices.Delete(slices.Clone(n.GUIDs), i, i+1)
	if i < len(n.Missions) {
		n.Missions = slices.Delete(slices.Clone(n.Missions), i, i+1)
	}
	del := len(n.GUIDs) == 0
	if err := s.saveLog(context.Background(), &n, del); err != nil {
		s.log.Warn("federated log entry not saved", "err", err)
		return
	}
	if del {
		delete(s.logs, n.ID)
	} else {
		s.logs[n.ID] = &n
	}
}

// saveReplace writes a mission and replaces its change log (s.mu held).
func (s *Service) saveReplace(ctx context.Context, k string, m *Mission, cs []*Change) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.saveTx(ctx, tx, k, m, true, cs) })
}

type remoteChange struct {
	ev *cot.Event
	l  label.Label
}

// Enqueue hands a federated mission message to the service without
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

// LinkUp is called when a federation link comes up: this node sends its
// missions whole and asks the others, through the links, to send theirs.
func (s *Service) LinkUp() { s.kickResync(true) }

func (s *Service) kickResync(request bool) {
	if request {
		s.needRequest.Store(true)
	}
	select {
	case s.resyncC <- struct{}{}:
	default:
	}
}

// resyncCoalesce gathers the link-ups and requests of a moment into one
// sending; resyncGap is the least time between two sendings, so that a
// peer repeating SYNC_REQUEST cannot make this node send without pause.
const (
	resyncCoalesce = 200 * time.Millisecond
	resyncGap      = 2 * time.Second
)

func (s *Service) resyncLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.resyncC:
		}
		t := time.NewTimer(resyncCoalesce)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case <-s.resyncC:
		default:
		}
		if s.needRequest.Swap(false) {
			s.sendRequest(ctx)
		}
		s.sendAll(ctx)
		gap := time.NewTimer(resyncGap)
		select {
		case <-ctx.Done():
			gap.Stop()
			return
		case <-gap.C:
		}
	}
}

// sendRequest asks the allied nodes to send their missions whole. It
// names no mission; it is releasable to every nation this node trusts.
func (s *Service) sendRequest(ctx context.Context) {
	if s.cfg.Publisher == nil || s.cfg.Nation == "" {
		return
	}
	rel := []string{s.cfg.Nation}
	if s.cfg.Nations != nil {
		rel = append(rel, s.cfg.Nations()...)
	}
	slices.Sort(rel)
	l := label.Label{Classification: label.Unclassified, ReleasableTo: slices.Compact(rel), Originator: s.cfg.Nation}
	s.sendFed(ctx, fedOut{msg: fedMsg{Mission: fedMission{Node: s.cfg.NodeID}, Change: Change{Type: fedRequest, At: s.cfg.Now().UTC()}}, l: l}, 10*time.Minute)
}

// sendAll sends each of this node's missions whole.
func (s *Service) sendAll(ctx context.Context) {
	if s.cfg.Publisher == nil {
		return
	}
	now := s.cfg.Now().UTC()
	var out []fedOut
	s.mu.RLock()
	for _, m := range s.missions {
		if m.Origin != "" {
			continue
		}
		id := newID()
		mark := func(typ string) {
			if o, ok := s.fedFor(m, &Change{Type: typ, Label: m.Label, At: now}, nil); ok {
				o.msg.Sync = id
				out = append(out, o)
			}
		}
		mark(fedBegin)
		for _, c := range s.changes[m.GUID] {
			if o, ok := s.fedFor(m, c, nil); ok {
				r := *c
				o.msg.Change = Change{Type: fedChange, Label: c.Label, At: now}
				o.msg.Record, o.msg.Sync = &r, id
				out = append(out, o)
			}
		}
		for _, e := range s.logs {
			if e.Origin != "" || !slices.Contains(e.GUIDs, m.GUID) {
				continue
			}
			if o, ok := s.fedFor(m, &Change{Type: fedLog, At: now}, e); ok {
				o.msg.Sync = id
				out = append(out, o)
			}
		}
		mark(fedEnd)
	}
	s.mu.RUnlock()
	for _, o := range out {
		s.sendFed(ctx, o, 10*time.Minute)
	}
}
