package fusion

// Measurement update of one track by one observation, and identity
// merging (the same ship or aircraft reported under one identity).

// measure applies o to t (predict to o's time, update position and
// velocity) and records the contribution. It returns false when the
// measurement could not be used.
func (e *Engine) measure(t *track, o *Observation) bool {
	q := e.q(t.domain)
	dt := o.Time.Sub(t.t).Seconds()
	r := o.cov()
	de, dn := t.f.toENU(o.Lat, o.Lon)
	if dt >= 0 {
		predict(&t.x, &t.p, dt, q)
		t.t = o.Time
	} else {
		// Out of order: carry the measurement to the track's time along the
		// track's velocity, and widen it by the process noise over |dt|.
		de -= t.x[2] * dt
		dn -= t.x[3] * dt
		a := -dt
		r[0] += q * a * a * a / 3
		r[2] += q * a * a * a / 3
	}
	de -= t.x[0]
	dn -= t.x[1]
	if !updatePos(&t.x, &t.p, r, de, dn) {
		return false
	}
	if o.HasVel && dt >= -1 {
		ve, vn := velocityENU(o.Course, o.Speed)
		updateVel(&t.x, &t.p, o.velVar(), ve, vn)
		t.vel = true
	}
	t.recentre()
	if o.HasAlt {
		t.hasAlt, t.alt = true, o.Alt
		if o.ID.Kind == IDNone {
			t.plotAir = true
		}
	}
	if o.Callsign != "" {
		t.callsign = o.Callsign
	}
	if o.Name != "" {
		t.name = o.Name
	}
	if o.Affiliation != 0 {
		t.aff = o.Affiliation
	}
	t.military = t.military || o.Military
	if t.domain == DomainUnknown && o.Domain != DomainUnknown {
		t.domain = o.Domain
	}
	t.addSource(o.Source)
	t.hits++
	e.touch(t, o)
	return true
}

// identity applies an observation that names its object.
func (e *Engine) identity(v *view, o *Observation) {
	t := v.byKey[o.ID]
	if o.Static {
		if t != nil {
			t.callsign = cmpOr(o.Callsign, t.callsign)
			t.name = cmpOr(o.Name, t.name)
			t.military = t.military || o.Military
			t.addSource(o.Source)
			e.touch(t, o)
			return
		}
		if len(v.static) > 100_000 {
			clear(v.static)
		}
		s := v.static[o.ID]
		v.static[o.ID] = staticInfo{callsign: cmpOr(o.Callsign, s.callsign), name: cmpOr(o.Name, s.name), military: s.military || o.Military}
		return
	}
	if t == nil {
		if len(v.tracks) >= e.cfg.MaxTracks {
			return
		}
		t = e.newTrack(v, o.ID, o)
		if s, ok := v.static[o.ID]; ok {
			t.callsign, t.name, t.military = s.callsign, s.name, s.military
			delete(v.static, o.ID)
		}
		e.measureFirst(t, o)
		v.index(t)
		return
	}
	// A report far outside the track's uncertainty (a stale track, or a
	// reused identity) restarts the kinematics.
	x, p := t.predicted(o.Time, e.q(t.domain))
	de, dn := t.f.toENU(o.Lat, o.Lon)
	if _, d2, ok := innovation(&p, o.cov(), de-x[0], dn-x[1]); !ok || d2 > 1e4 {
		if o.Time.After(t.t) {
			initState(t, o)
			e.measureFirst(t, o)
			v.index(t)
		}
		return
	}
	if e.measure(t, o) {
		v.index(t)
	}
}

// measureFirst records the first observation of a new track (its state is
// already o).
func (e *Engine) measureFirst(t *track, o *Observation) {
	if o.HasAlt {
		t.hasAlt, t.alt = true, o.Alt
		t.plotAir = o.ID.Kind == IDNone
	}
	t.callsign = cmpOr(o.Callsign, t.callsign)
	t.name = cmpOr(o.Name, t.name)
	if o.Affiliation != 0 {
		t.aff = o.Affiliation
	}
	t.military = t.military || o.Military
	t.addSource(o.Source)
	t.hits++
	e.touch(t, o)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
