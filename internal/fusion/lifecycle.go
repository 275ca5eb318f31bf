package fusion

import (
	"kizuna/internal/cot"
	"math"
	"slices"
	"time"
)

// Track lifecycle on each tick: expiry, confirmation (M of N), merging of
// duplicate tracks, and publishing the CoT events of changed tracks.

// Tick expires, confirms and merges tracks as of now, and returns the CoT
// events due: updates of confirmed tracks not published for their publish
// interval, and deletions. It examines every track, so the queue of
// changed tracks that PublishChanged reads is emptied.
func (e *Engine) Tick(now time.Time) []*cot.Event {
	out := e.tick(now, true, 0, 1, 0)
	e.mu.Lock()
	e.forgetTouched()
	e.mu.Unlock()
	return out
}

// quietAfter is how long a track has had no observation before Run's tick
// publishes its pending change (a change not yet due, or a merge) with the
// track's last state: a track still reporting is published by its next
// observation instead, with a newer state. An airliner reports twice a
// second, a ship every 2–10 s (AIS), so that a drifting ship is published
// by the tick within a second or so of becoming due.
const quietAfter = time.Second

// tickParts is how many ticks of Run examine every track once: each tick
// takes its share of every view, so that no tick holds the engine for
// long (at 190,000 tracks a whole pass takes tens of milliseconds, and
// observations wait behind it).
const tickParts = 25

// tick examines part k of parts of every view's tracks: expiry,
// confirmation, merging and, when publish is set, publication. With quiet
// set (Run), a changed track is confirmed, merged and published by
// PublishChanged as its observations arrive, so tick only expires tracks,
// and merges and publishes those that have had no observation for quiet
// (an anonymous track whose plots now join an identity track is one).
func (e *Engine) tick(now time.Time, publish bool, k, parts int, quiet time.Duration) []*cot.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*cot.Event
	window := time.Duration(e.cfg.ConfirmN) * e.cfg.ScanPeriod
	share := func(v *view) []*track {
		n := len(v.tracks)
		return v.tracks[k*n/parts : (k+1)*n/parts]
	}
	for _, v := range e.views {
		for _, t := range share(v) {
			if t.removed {
				continue
			}
			age := now.Sub(t.t)
			switch {
			case !t.confirmed && t.hits >= e.cfg.ConfirmM && t.t.Sub(t.born) <= window:
				t.confirmed = true
				e.stats.conf.Add(1)
			case !t.confirmed && now.Sub(t.born) > window:
				e.drop(v, t)
				continue
			case t.confirmed && age > e.timeout(t):
				if t.published {
					out = append(out, e.deleteEvent(t, now))
				}
				e.drop(v, t)
				e.stats.del.Add(1)
				continue
			}
			if t.confirmed && t.key.Kind == IDNone && (quiet == 0 || now.Sub(t.seen) >= quiet) {
				out = e.merge(v, t, now, out)
			}
		}
	}
	if publish {
		for _, v := range e.views {
			for _, t := range share(v) {
				if quiet > 0 && now.Sub(t.seen) < quiet {
					continue
				}
				out = e.publish(v, t, now, out)
			}
		}
	}
	for _, v := range e.views {
		if v.removed > 0 && (parts == 1 || v.removed > len(v.tracks)/8) {
			v.compact()
		}
	}
	return out
}

// publish appends t's event when it is due.
func (e *Engine) publish(v *view, t *track, now time.Time, out []*cot.Event) []*cot.Event {
	if !t.confirmed || t.removed || !t.dirty {
		return out
	}
	if now.Sub(t.lastPub) < e.cfg.PublishInterval {
		e.hold(t)
		return out
	}
	if !e.due(t, now) {
		return out
	}
	if e.duplicate(v, t) {
		e.stats.supp.Add(1)
		t.dirty = false
		if t.published {
			out = append(out, e.deleteEvent(t, now))
			t.published = false
		}
		return out
	}
	ev, err := e.event(v, t, now)
	if err != nil {
		e.cfg.Log.Error("building track event", "uid", t.uid, "err", err)
		t.dirty = false
		return out
	}
	t.lastPub, t.dirty, t.published, t.changed = now, false, true, false
	t.pubLat, t.pubLon = ev.Point.Lat, ev.Point.Lon
	t.pubCallsign, t.pubName, t.pubType = t.callsign, t.name, ev.Type
	return append(out, ev)
}

// compact removes the dropped tracks from the view's list; a pointer is
// rewritten only after a removal.
func (v *view) compact() {
	n := 0
	for i, t := range v.tracks {
		if t.removed {
			continue
		}
		if n != i {
			v.tracks[n] = t
		}
		n++
	}
	clear(v.tracks[n:])
	v.tracks = v.tracks[:n]
	v.removed = 0
}

// due reports whether a track's picture needs refreshing (see
// PublishDistance).
func (e *Engine) due(t *track, now time.Time) bool {
	if !t.published || t.changed || t.callsign != t.pubCallsign || t.name != t.pubName || e.cotType(t) != t.pubType {
		return true
	}
	if now.Sub(t.lastPub) >= min(e.cfg.Heartbeat, e.timeout(t)/2) {
		return true
	}
	// Where the track is now relative to where it was published, in the
	// track's plane: its offset from the plane's origin plus the origin's
	// offset from the published point (equirectangular: within 1 % here).
	dt := now.Sub(t.t).Seconds()
	const mPerDeg = 111_320.0
	de := t.x[0] + t.x[2]*dt + (t.f.lon-t.pubLon)*mPerDeg*t.f.cosLat
	dn := t.x[1] + t.x[3]*dt + (t.f.lat-t.pubLat)*mPerDeg
	return de*de+dn*dn > e.cfg.PublishDistance*e.cfg.PublishDistance
}

func (e *Engine) drop(v *view, t *track) {
	t.removed = true
	v.removed++
	v.unindex(t)
	if t.key.Kind != IDNone && v.byKey[t.key] == t {
		delete(v.byKey, t.key)
	}
}

// duplicate reports whether an earlier view holds a track of the same
// object built from exactly the same sources: that one is published and
// this one would repeat it under the same label.
func (e *Engine) duplicate(v *view, t *track) bool {
	for _, w := range e.views[:v.idx] {
		var o *track
		if t.key.Kind != IDNone {
			o = w.byKey[t.key]
		} else {
			o = w.findBirth(t)
		}
		if o != nil && o.confirmed && !o.removed && slices.Equal(o.sources, t.sources) {
			return true
		}
	}
	return false
}

// findBirth finds the anonymous track born from the same plot.
func (v *view) findBirth(t *track) *track {
	var found *track
	v.near(t.lat(), t.lon(), func(o *track) {
		if o.key == t.key {
			found = o
		}
	})
	return found
}

// merge folds a confirmed anonymous track that lies on an identity track
// into it.
func (e *Engine) merge(v *view, t *track, now time.Time, out []*cot.Event) []*cot.Event {
	{
		var best *track
		bestD := e.cfg.Gate
		v.near(t.lat(), t.lon(), func(o *track) {
			if o.removed || o.key.Kind == IDNone {
				return
			}
			// Cheap rejection before any geometry: more than about 5 km
			// apart in latitude or longitude.
			if math.Abs(o.lat()-t.lat()) > 0.05 || math.Abs(o.lon()-t.lon()) > 0.07 {
				return
			}
			at := t.t
			if o.t.After(at) {
				at = o.t
			}
			xa, pa := t.predicted(at, e.q(t.domain))
			xb, pb := o.predicted(at, e.q(o.domain))
			ae, an := t.f.fromENU(xa[0], xa[1])
			de, dn := o.f.toENU(ae, an)
			de -= xb[0]
			dn -= xb[1]
			_, d2, ok := innovation(&pb, [3]float64{pa[0][0], pa[0][1], pa[1][1]}, de, dn)
			if !ok || d2 > bestD {
				return
			}
			dv := math.Hypot(xa[2]-xb[2], xa[3]-xb[3])
			sv := math.Sqrt(pa[2][2] + pa[3][3] + pb[2][2] + pb[3][3])
			if dv > 3*sv+2 {
				return
			}
			best, bestD = o, d2
		})
		if best == nil {
			return out
		}
		for _, s := range t.sources {
			best.addSource(s)
		}
		best.hits += t.hits
		if t.recv.After(best.recv) {
			best.recv = t.recv
		}
		// Published with best's next observation or, when it has gone
		// quiet, by the tick.
		best.dirty = true
		if t.published {
			out = append(out, e.deleteEvent(t, now))
		}
		e.drop(v, t)
		e.stats.merged.Add(1)
	}
	return out
}
