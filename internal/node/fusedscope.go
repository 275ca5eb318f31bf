package node

import (
	"bytes"
	"net"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/hub"
	"kizuna/internal/stream"
)

// The fused ISR picture at TAK clients. A fusion engine publishes about a
// track per second per aircraft and one per 10 s per moving ship: at the
// ISR issue's load (60,000 ships, 3,000 aircraft) some 13,000 track
// events a second, which no handheld can draw and which, sent to every
// client, would cost the node a delivery per client and track event.
// Each TAK listener therefore says what its clients receive of it
// (ListenerConfig.FusedTracks, default Config.FusedTracks): the tracks
// within FusedRadiusKm of the client's own last reported position
// ("area", the default), every track ("all") or none ("none"). The label
// policy decides every delivery as before; the scope only removes more.
// A queued track update is replaced by a newer one of the same track
// (hub.Message.Latest), so a client that falls behind gets fresh
// positions rather than a backlog.

// fusedStoreInterval is how often at most a fused track is written to
// storage (object and history row), against every publication for other
// objects, and how long after its first publication it is first written:
// fused tracks are derived state, rebuilt from the feeds within seconds of
// a restart, and at the ISR issue's load their storage would take a large
// share of the node's CPU. The picture in memory, which clients and the
// API read, always holds the latest state.
const fusedStoreInterval = 30 * time.Second

// Defaults of the fused picture at TAK clients.
const (
	DefaultFusedTracks   = "area"
	DefaultFusedRadiusKm = 100
)

// isFusedTrack reports whether ev is a fused system track (ours or a
// partner node's): made by fusion ("m-f") with its <__fusion> detail.
func isFusedTrack(ev *cot.Event) bool {
	return ev.How == "m-f" && bytes.Contains(ev.Detail, []byte("<__fusion "))
}

// markFused flags the message of a fused track for scoped, latest-state
// delivery.
func markFused(m *hub.Message) {
	if m.Event != nil && isFusedTrack(m.Event) {
		m.Regional, m.Latest = true, true
	}
}

// fusedScope returns the scope and radius (metres) of listener l.
func (c *Config) fusedScope(l ListenerConfig) (hub.Scope, float64) {
	name, km := c.FusedTracks, c.FusedRadiusKm
	if l.FusedTracks != "" {
		name = l.FusedTracks
	}
	if l.FusedRadiusKm > 0 {
		km = l.FusedRadiusKm
	}
	if name == "" {
		name = DefaultFusedTracks
	}
	if km <= 0 {
		km = DefaultFusedRadiusKm
	}
	s, _ := hub.ParseScope(name) // checked by Validate
	return s, km * 1000
}

// scopeConn sets a new TAK connection's fused-picture scope from the
// listener it arrived on, before the picture is replayed to it.
func (n *Node) scopeConn(c *stream.Conn) {
	if c.Sub == nil {
		return
	}
	i := n.listenerOf(c.Kind, c.Conn.LocalAddr())
	if i < 0 {
		return
	}
	if s, r := n.cfg.fusedScope(n.cfg.Listeners[i]); s != hub.ScopeAll {
		c.Sub.SetScope(s, r)
	}
}

// listenerOf returns the index of the configured listener of kind whose
// bound address accepted a connection at local, or -1.
func (n *Node) listenerOf(kind string, local net.Addr) int {
	la, ok := local.(*net.TCPAddr)
	if !ok {
		return -1
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	found := -1
	for i, l := range n.listeners {
		if l.Kind != kind {
			continue
		}
		ba, err := net.ResolveTCPAddr("tcp", l.Addr)
		if err != nil || ba.Port != la.Port {
			continue
		}
		if ba.IP.Equal(la.IP) {
			return i
		}
		if ba.IP == nil || ba.IP.IsUnspecified() {
			found = i
		}
	}
	return found
}

// followClient moves a scoped client's area of interest to its own
// position report; on its first, the fused tracks already in the new area
// are queued for it (label policy and scope applied as in any replay).
func (n *Node) followClient(c *stream.Conn, ev *cot.Event) {
	if c.Sub == nil || !ev.IsPosition() {
		return
	}
	id := c.Sub.Identity()
	if id.UID != ev.UID && (id.UID != "" || ev.Callsign == "") {
		return // not the client's own position
	}
	if !c.Sub.SetCentre(ev.Point.Lat, ev.Point.Lon) {
		return
	}
	var fused []*hub.Message
	for _, m := range n.picture.Visible(c.Principal, time.Now()) {
		if m.Regional {
			fused = append(fused, m)
		}
	}
	c.Sub.EnqueueReplay(fused)
}

// HubStats are the counters of the node's fan-out.
type HubStats struct {
	Published, Enqueued, Denied, Superseded, SlowDrops uint64
	// OutOfScope counts fused tracks not delivered to a client because
	// they lay outside its scope; Replaced queued track updates replaced
	// by a newer state of the same track.
	OutOfScope, Replaced uint64
}

// HubStats returns the fan-out counters.
func (n *Node) HubStats() HubStats {
	s := &n.hub.Stats
	return HubStats{Published: s.Published.Load(), Enqueued: s.Enqueued.Load(), Denied: s.Denied.Load(),
		Superseded: s.Superseded.Load(), SlowDrops: s.SlowDrops.Load(), OutOfScope: s.OutOfScope.Load(), Replaced: s.Replaced.Load()}
}
