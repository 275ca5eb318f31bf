package feed

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"kizuna/internal/ais"
	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/fusion"
	"kizuna/internal/modes"
)

const (
	knot = 1852.0 / 3600 // m/s
	foot = 0.3048        // m
)

// decoder is the feed-level decoding state, kept across connections.
type decoder struct {
	f       *Feed
	ais     *ais.Decoder
	tracker *modes.Tracker
}

func newDecoder(f *Feed) *decoder {
	d := &decoder{f: f}
	switch f.cfg.Kind {
	case KindAIS:
		d.ais = ais.NewDecoder(ais.Config{})
	case KindSBS, KindBeast:
		tc := modes.TrackerConfig{}
		if s := f.cfg.Site; s != nil {
			tc.HasReceiver, tc.ReceiverLat, tc.ReceiverLon = true, s.Lat, s.Lon
		}
		d.tracker = modes.NewTracker(tc)
	}
	return d
}

// framer is the per-connection framing state.
type framer struct {
	f        *Feed
	line     []byte
	overlong bool
	beast    *modes.BeastReader
	blocks   []byte
	split    *cot.Splitter
	batch    []fusion.Observation
	records  []asterix.Record
}

func newFramer(f *Feed) *framer {
	fr := &framer{f: f}
	switch f.cfg.Kind {
	case KindBeast:
		fr.beast = modes.NewBeastReader(0)
	case KindCoT:
		fr.split = cot.NewSplitter(cot.MaxEventSize)
	}
	return fr
}

// errTooLarge ends a TCP connection whose framing cannot recover.
var errTooLarge = errors.New("frame over the size limit")

// stream handles bytes of a TCP stream.
func (fr *framer) stream(ctx context.Context, p []byte, now time.Time) error {
	defer fr.flush(now)
	switch fr.f.cfg.Kind {
	case KindAIS, KindSBS:
		fr.lines(p, now)
	case KindBeast:
		fr.beastBytes(p, now)
	case KindASTERIX:
		fr.blocks = append(fr.blocks, p...)
		for {
			adv, tok, err := asterix.ScanBlocks(fr.blocks, false)
			if err != nil {
				fr.f.count("asterix", -1)
				fr.f.errorf("bad_length", err)
				return err
			}
			if adv == 0 {
				if len(fr.blocks) > 1<<17 {
					return errTooLarge
				}
				break
			}
			fr.asterix(tok, now)
			fr.flush(now) // one block, one association batch
			fr.blocks = fr.blocks[adv:]
		}
		fr.blocks = append(fr.blocks[:0:0], fr.blocks...)
	case KindCoT:
		fr.split.Feed(p)
		for {
			doc, err := fr.split.Next()
			if err != nil {
				fr.f.count("cot", -1)
				fr.f.errorf(cot.Reason(err), err)
				if errors.Is(err, cot.ErrTooLarge) {
					return err
				}
				continue
			}
			if doc == nil {
				break
			}
			fr.cotEvent(ctx, doc, now)
		}
	}
	return nil
}

// datagram handles one UDP datagram.
func (fr *framer) datagram(ctx context.Context, p []byte, now time.Time) {
	defer fr.flush(now)
	switch fr.f.cfg.Kind {
	case KindAIS, KindSBS:
		fr.lines(p, now)
		if len(fr.line) > 0 && !fr.overlong { // a datagram ends its last line
			fr.oneLine(fr.line, now)
		}
		fr.line, fr.overlong = fr.line[:0], false
	case KindBeast:
		fr.beastBytes(p, now)
	case KindASTERIX:
		fr.asterix(p, now)
	case KindCoT:
		fr.cotEvent(ctx, p, now)
	}
}

func (fr *framer) flush(now time.Time) {
	if len(fr.batch) == 0 {
		return
	}
	b := fr.batch
	fr.batch = nil
	fr.f.st.observations.Add(uint64(len(b)))
	if !fr.f.cfg.Sink(b) {
		fr.f.st.dropped.Add(uint64(len(b)))
	}
}

func (fr *framer) lines(p []byte, now time.Time) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			fr.appendLine(p)
			return
		}
		fr.appendLine(p[:i])
		if !fr.overlong && len(fr.line) > 0 {
			fr.oneLine(fr.line, now)
		}
		fr.line, fr.overlong = fr.line[:0], false
		p = p[i+1:]
	}
}

func (fr *framer) appendLine(p []byte) {
	if fr.overlong {
		return
	}
	if len(fr.line)+len(p) > fr.f.cfg.MaxLine {
		fr.overlong = true
		fr.line = fr.line[:0]
		fr.f.count(fr.f.cfg.Kind, -1)
		fr.f.errorf("line_too_long", errTooLarge)
		return
	}
	fr.line = append(fr.line, p...)
}

func (fr *framer) oneLine(line []byte, now time.Time) {
	line = bytes.TrimRight(line, "\r \t\x00")
	if len(line) == 0 {
		return
	}
	if fr.f.cfg.Kind == KindAIS {
		fr.aisLine(line, now)
	} else {
		fr.sbsLine(line, now)
	}
}

func (fr *framer) obs(now, at time.Time) fusion.Observation {
	return fusion.Observation{Source: fr.f.cfg.Name, Label: fr.f.cfg.Label, Time: at, Received: now}
}

// --- AIS ---

func (fr *framer) aisLine(line []byte, now time.Time) {
	d := fr.f.dec
	fr.f.decMu.Lock()
	m, err := d.ais.Line(line, now)
	fr.f.decMu.Unlock()
	if err != nil {
		fr.f.count("ais", -1)
		fr.f.errorf(ais.Reason(err), err)
		return
	}
	if m == nil {
		return // a fragment
	}
	at := now
	lagKnown := false
	if m.Second < 60 {
		// The report's UTC second: the instant with that second nearest now.
		s := now.Truncate(time.Minute).Add(time.Duration(m.Second) * time.Second)
		if d := s.Sub(now); d > 30*time.Second {
			s = s.Add(-time.Minute)
		} else if d < -30*time.Second {
			s = s.Add(time.Minute)
		}
		if s.Before(now) {
			at, lagKnown = s, true
		}
	}
	lag := time.Duration(-1)
	if lagKnown {
		lag = now.Sub(at)
	}
	fr.f.count("ais", lag)
	o := fr.obs(now, at)
	o.ID = fusion.Key{Kind: fusion.IDMMSI, ID: uint64(m.MMSI)}
	o.Domain = fusion.DomainSea
	o.Name, o.Callsign = m.Name, m.Callsign
	o.Military = m.ShipType == 35
	switch m.Type {
	case 1, 2, 3, 18, 19, 27:
		if !m.HasPosition {
			return
		}
		o.Lat, o.Lon = m.Lat, m.Lon
		if m.HasCOG && m.HasSOG {
			o.HasVel, o.Course, o.Speed = true, m.COG, m.SOG*knot
		}
		s := 30.0
		if m.Accuracy {
			s = 10
		}
		if m.Type == 27 {
			s = 100 // 1/10 minute resolution
		}
		o.Cov = [3]float64{s * s, 0, s * s}
	case 5, 24:
		if o.Name == "" && o.Callsign == "" {
			return
		}
		o.Static = true
		o.Time = now
	default:
		return // base stations, aids to navigation, …: not tracks
	}
	fr.batch = append(fr.batch, o)
}

// --- Mode S ---

func (fr *framer) sbsLine(line []byte, now time.Time) {
	s, err := modes.ParseSBS(line)
	if err != nil {
		if errors.Is(err, modes.ErrUnsupported) {
			fr.f.count("sbs_other", -1) // SEL, ID, AIR, STA, CLK lines: not errors
			return
		}
		fr.f.count("sbs", -1)
		fr.f.errorf(modes.Reason(err), err)
		return
	}
	fr.f.count("sbs", -1)
	fr.f.decMu.Lock()
	a, ok := fr.f.dec.tracker.UpdateSBS(&s, now)
	fr.f.decMu.Unlock()
	if !ok {
		return
	}
	switch {
	case s.HasPosition && a.HasPosition:
		fr.aircraft(a, now, false)
	case s.Callsign != "":
		fr.aircraft(a, now, true)
	}
}

func (fr *framer) beastBytes(p []byte, now time.Time) {
	r := fr.beast
	before := r.Skipped()
	r.Feed(p)
	for {
		bf, ok := r.Next()
		if !ok {
			break
		}
		if bf.Type == modes.BeastModeAC {
			fr.f.count("modeac", -1)
			continue
		}
		m, err := modes.Decode(bf.Data)
		if err != nil {
			fr.f.count("modes", -1)
			fr.f.errorf(modes.Reason(err), err)
			continue
		}
		fr.f.count("modes", -1)
		fr.f.decMu.Lock()
		a, ok := fr.f.dec.tracker.Update(m, now)
		fr.f.decMu.Unlock()
		if !ok {
			continue
		}
		switch {
		case m.HasCPR && a.HasPosition && a.PositionTime.Equal(now):
			fr.aircraft(a, now, false)
		case m.Callsign != "":
			fr.aircraft(a, now, true)
		}
	}
	if sk := r.Skipped(); sk > before {
		fr.f.errorf("resync", errors.New("beast bytes skipped"))
	}
}

func (fr *framer) aircraft(a modes.Aircraft, now time.Time, static bool) {
	o := fr.obs(now, now)
	o.ID = fusion.Key{Kind: fusion.IDICAO, ID: uint64(a.ICAO)}
	o.Domain = fusion.DomainAir
	if a.HasOnGround && a.OnGround {
		o.Domain = fusion.DomainGround
	}
	o.Callsign = a.Callsign
	if static {
		o.Static = true
		fr.batch = append(fr.batch, o)
		return
	}
	o.Lat, o.Lon = a.Lat, a.Lon
	if a.HasAltitude {
		o.HasAlt, o.Alt = true, float64(a.Altitude)*foot
	}
	if a.HasGroundSpeed && a.HasTrack && now.Sub(a.LastSeen) < 10*time.Second {
		o.HasVel, o.Course, o.Speed = true, a.Track, a.GroundSpeed*knot
	}
	fr.batch = append(fr.batch, o)
}

// --- ASTERIX ---

func (fr *framer) asterix(p []byte, now time.Time) {
	recs, err := asterix.DecodeAppend(fr.records[:0], p)
	fr.records = recs[:0]
	if err != nil {
		fr.f.count("asterix", -1)
		fr.f.errorf(asterixReason(err), err)
	}
	site := fr.f.cfg.Site
	for i := range recs {
		r := &recs[i]
		at, ok := r.Time(now)
		lag := time.Duration(-1)
		if ok {
			lag = now.Sub(at)
		} else {
			at = now
		}
		fr.f.count("asterix", lag)
		if r.Category == 48 && (r.TargetReport.Type == 0 || r.TargetReport.Test || r.TargetReport.FieldMonitor || r.TargetReport.Simulated) {
			continue
		}
		lat, lon, ok := r.Position(site)
		if !ok {
			if r.Has(asterix.FieldPolar) && site == nil {
				fr.f.errorf("no_site", errors.New("CAT048 polar plot on a feed without a radar site"))
			}
			continue
		}
		o := fr.obs(now, at)
		o.Lat, o.Lon = lat, lon
		switch {
		case r.Has(asterix.FieldFlightLevel) && !r.FlightLevelSuspect:
			o.HasAlt, o.Alt, o.Domain = true, r.FlightLevel*100*foot, fusion.DomainAir
		case r.Has(asterix.FieldBaroAltitude):
			o.HasAlt, o.Alt, o.Domain = true, r.BaroAltitude*100*foot, fusion.DomainAir
		case r.Has(asterix.FieldGeoAltitude):
			o.HasAlt, o.Alt, o.Domain = true, r.GeoAltitude*foot, fusion.DomainAir
		}
		if r.Has(asterix.FieldAircraftAddress) {
			o.ID = fusion.Key{Kind: fusion.IDICAO, ID: uint64(r.AircraftAddress)}
			o.Domain = fusion.DomainAir
		}
		if r.Has(asterix.FieldCallsign) {
			o.Callsign = r.Callsign
		}
		if r.Category == 62 {
			if spd, trk, ok := r.Velocity(); ok {
				o.HasVel, o.Course, o.Speed = true, trk, spd*knot
				o.VelVar = 4
			}
			o.Cov = [3]float64{100 * 100, 0, 100 * 100}
		} else if site != nil {
			o.Cov = fr.polarCov(r, lat, lon)
		}
		fr.batch = append(fr.batch, o)
	}
}

// polarCov is the east/north covariance of a polar measurement: the range
// accuracy along the line of sight and the azimuth accuracy times the
// ground range across it.
func (fr *framer) polarCov(r *asterix.Record, lat, lon float64) [3]float64 {
	site := fr.f.cfg.Site
	gr := fusion.Distance(site.Lat, site.Lon, lat, lon)
	sr := fr.f.cfg.RangeSigma
	sc := math.Max(gr*fr.f.cfg.AzimuthSigma*math.Pi/180, 1)
	s, c := math.Sincos(r.Theta * math.Pi / 180)
	// Along-range unit vector (s, c), cross-range (c, -s) in (east, north).
	ee := sr*sr*s*s + sc*sc*c*c
	en := sr*sr*s*c - sc*sc*s*c
	nn := sr*sr*c*c + sc*sc*s*s
	return [3]float64{ee, en, nn}
}

func asterixReason(err error) string {
	switch {
	case errors.Is(err, asterix.ErrTruncated):
		return "truncated"
	case errors.Is(err, asterix.ErrBadLength):
		return "bad_length"
	case errors.Is(err, asterix.ErrUnknownCategory):
		return "unknown_category"
	case errors.Is(err, asterix.ErrUnknownItem):
		return "unknown_item"
	case errors.Is(err, asterix.ErrMalformed):
		return "malformed"
	}
	return "other"
}

// --- CoT ---

func (fr *framer) cotEvent(ctx context.Context, doc []byte, now time.Time) {
	ev, err := cot.Decode(doc)
	if err != nil {
		fr.f.count("cot", -1)
		fr.f.errorf(cot.Reason(err), err)
		return
	}
	lag := time.Duration(-1)
	if !ev.Time.IsZero() && ev.Time.Before(now) {
		lag = now.Sub(ev.Time)
	}
	fr.f.count("cot", lag)
	if ev.IsControl() || ev.IsPing() || ev.IsDelete() {
		return
	}
	// The feed's label decides who sees what it reports, whatever the
	// event claims; the node stamps the origin.
	ev.Origin = cot.Origin{}
	ev.SetLabel(fr.f.cfg.Label)
	if o, ok := fr.cotObservation(ev, now); ok {
		fr.batch = append(fr.batch, o)
	}
	if err := fr.f.cfg.CoT(ctx, ev); err != nil {
		fr.f.errorf("inject", err)
	}
}

// cotObservation extracts a fusion observation from a CoT event whose uid
// names an ICAO address or an MMSI, as ADS-B and AIS gateways write them
// (ICAO-A1B2C3, MMSI-123456789).
func (fr *framer) cotObservation(ev *cot.Event, now time.Time) (fusion.Observation, bool) {
	var key fusion.Key
	uid := strings.ToUpper(ev.UID)
	switch {
	case strings.HasPrefix(uid, "ICAO-"):
		v, err := strconv.ParseUint(uid[5:], 16, 24)
		if err != nil {
			return fusion.Observation{}, false
		}
		key = fusion.Key{Kind: fusion.IDICAO, ID: v}
	case strings.HasPrefix(uid, "MMSI-"):
		v, err := strconv.ParseUint(uid[5:], 10, 30)
		if err != nil {
			return fusion.Observation{}, false
		}
		key = fusion.Key{Kind: fusion.IDMMSI, ID: v}
	default:
		return fusion.Observation{}, false
	}
	at := ev.Time
	if at.IsZero() || at.After(now) {
		at = now
	}
	o := fr.obs(now, at)
	o.ID = key
	o.Lat, o.Lon = ev.Point.Lat, ev.Point.Lon
	if ev.Point.HAE != cot.Unknown && !math.IsNaN(ev.Point.HAE) {
		o.HasAlt, o.Alt = true, ev.Point.HAE
	}
	if ce := ev.Point.CE; ce > 0 && ce < 1e5 && ce != cot.Unknown {
		s := ce / 2.146
		o.Cov = [3]float64{s * s, 0, s * s}
	}
	if !math.IsNaN(ev.Course) && !math.IsNaN(ev.Speed) {
		o.HasVel, o.Course, o.Speed = true, ev.Course, ev.Speed
	}
	o.Callsign = ev.Callsign
	if a := strings.Split(ev.Type, "-"); len(a) >= 3 && a[0] == "a" {
		if len(a[1]) == 1 {
			o.Affiliation = a[1][0]
		}
		switch a[2] {
		case "A":
			o.Domain = fusion.DomainAir
		case "S":
			o.Domain = fusion.DomainSea
		case "G":
			o.Domain = fusion.DomainGround
		}
	}
	if key.Kind == fusion.IDMMSI && o.Domain == fusion.DomainUnknown {
		o.Domain = fusion.DomainSea
	}
	return o, true
}
