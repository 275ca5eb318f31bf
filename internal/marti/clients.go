package marti

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// Clients remembers the TAK clients seen on the node's streams: each
// client's latest self-report (a position report with <takv> or a contact
// endpoint, not a marker) as its presence, with that report's label.
// It is a node Observer: Observe runs on the ingest path and only takes a
// lock and updates a map entry.
type Clients struct {
	max int
	now func() time.Time
	// online, when set, returns the uids of the clients whose stream is
	// open now; they are Connected, every other is Disconnected.
	online func() map[string]bool

	mu sync.Mutex
	m  map[string]*client
}

type client struct {
	uid, callsign, username string
	last, stale             time.Time
	label                   label.Label
}

// Endpoint is one client as the caller sees it in clientEndPoints.
type Endpoint struct {
	UID           string `json:"uid"`
	Callsign      string `json:"callsign"`
	Username      string `json:"username,omitempty"`
	LastEventTime string `json:"lastEventTime"`
	LastStatus    string `json:"lastStatus"`
}

// NewClients returns an empty registry holding at most max clients (the
// least recently seen are forgotten first; default 10,000).
func NewClients(max int) *Clients {
	if max <= 0 {
		max = 10000
	}
	return &Clients{max: max, now: time.Now, m: map[string]*client{}}
}

// Observe records the presence of the client that sent ev: a position
// report with a callsign. The label is the one the node gave the event.
func (c *Clients) Observe(ev *cot.Event, from label.Principal) {
	if ev.IsDelete() {
		// The node accepted the delete, so the sender owns these uids.
		for _, lk := range ev.Links {
			c.Forget(lk.UID)
		}
		if len(ev.Links) == 0 {
			c.Forget(ev.UID)
		}
		return
	}
	if !ev.IsPosition() || ev.Callsign == "" || !isSelfReport(ev) {
		return
	}
	l, present, err := ev.ParseLabel()
	if err != nil || !present || !l.Valid() {
		return
	}
	// One shared copy per releasability list: the registry holds one
	// entry per client on the node.
	l = label.Intern(l)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[ev.UID]
	if e == nil {
		if len(c.m) >= c.max {
			c.evictOldest()
		}
		e = &client{uid: ev.UID}
		c.m[ev.UID] = e
	}
	e.callsign, e.username, e.last, e.stale, e.label = ev.Callsign, from.Name, now, ev.Stale, l
}

// SetOnline gives the registry the node's live connection state (the uids
// announced on open streams). Without it, Connected means a fresh report.
func (c *Clients) SetOnline(f func() map[string]bool) { c.online = f }

// Forget drops a client (after a t-x-d-d of its uid, for example).
func (c *Clients) Forget(uid string) {
	c.mu.Lock()
	delete(c.m, uid)
	c.mu.Unlock()
}

func (c *Clients) evictOldest() {
	var oldest *client
	for _, e := range c.m {
		if oldest == nil || e.last.Before(oldest.last) {
			oldest = e
		}
	}
	if oldest != nil {
		delete(c.m, oldest.uid)
	}
}

// ConnectedWithin is how recent a report must be for a client to count as
// Connected (and its report must not be stale) when the registry has no
// live connection state (SetOnline).
const ConnectedWithin = 10 * time.Minute

// Visible returns the clients seen within since (0: all remembered) whose
// presence label.Releasable releases to p, newest first.
func (c *Clients) Visible(p label.Principal, since time.Duration) []Endpoint {
	now := c.now()
	c.mu.Lock()
	var picked []*client
	for _, e := range c.m {
		if since > 0 && now.Sub(e.last) > since {
			continue
		}
		if !label.Releasable(p, e.label) {
			continue
		}
		cp := *e
		picked = append(picked, &cp)
	}
	c.mu.Unlock()
	out := make([]Endpoint, 0, len(picked))
	sortByLast(picked)
	var online map[string]bool
	if c.online != nil && len(picked) > 0 {
		online = c.online()
	}
	for _, e := range picked {
		status := "Disconnected"
		switch {
		case online != nil:
			if online[e.uid] {
				status = "Connected"
			}
		case now.Sub(e.last) <= ConnectedWithin && now.Before(e.stale):
			status = "Connected"
		}
		out = append(out, Endpoint{
			UID: e.uid, Callsign: e.callsign, Username: e.username,
			LastEventTime: e.last.UTC().Format("2006-01-02T15:04:05.000Z"), LastStatus: status,
		})
	}
	return out
}

func sortByLast(cs []*client) {
	slices.SortFunc(cs, func(a, b *client) int {
		if c := b.last.Compare(a.last); c != 0 {
			return c
		}
		return strings.Compare(a.uid, b.uid)
	})
}

// isSelfReport tells a device's own position report from a marker it
// placed: TAK clients put <takv> (client and version) and a contact
// endpoint only in their self-report.
func isSelfReport(ev *cot.Event) bool {
	return bytes.Contains(ev.Detail, []byte("<takv")) || bytes.Contains(ev.Detail, []byte("endpoint="))
}
