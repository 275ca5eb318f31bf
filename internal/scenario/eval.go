package scenario

import (
	"fmt"
	"math"
	"slices"
	"time"

	"kizuna/internal/feed"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
)

// Observable returns the truths that some sensor of the scenario can see
// now: ships with AIS, aircraft with ADS-B within 400 km of a receiver, and
// any target within a radar's coverage. The others cannot be tracked and
// are left out of the scores.
func (s *Scenario) Observable() []Truth {
	var out []Truth
	for _, tr := range s.Truth() {
		t := s.find(tr.Name)
		ok := t.AIS && hasKind(s.sensors, KindAIS)
		for _, sn := range s.sensors {
			d := distance(sn.Site.Lat, sn.Site.Lon, t.Lat, t.Lon)
			switch sn.Kind {
			case KindSBS, KindBeast:
				ok = ok || (t.ADSB && d <= 400_000)
			case KindASTERIX:
				lim := sn.MaxRangeSea
				if t.Air {
					lim = sn.MaxRangeAir
				}
				ok = ok || d < lim
			}
		}
		if ok {
			out = append(out, tr)
		}
	}
	return out
}

func hasKind(ss []Sensor, kind string) bool {
	for _, s := range ss {
		if s.Kind == kind {
			return true
		}
	}
	return false
}

func (s *Scenario) find(name string) *Target {
	for _, t := range s.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// SensorLabel parses a sensor's suggested label for the given node nation.
func SensorLabel(nation string, sn Sensor) (label.Label, error) {
	l := label.Label{Classification: label.Unclassified, Originator: nation, ReleasableTo: []string{nation}}
	if sn.Label == "" {
		return l, nil
	}
	cl, rel, _ := cutString(sn.Label, "/")
	c, err := label.ParseClassification(cl)
	if err != nil {
		return l, fmt.Errorf("sensor %s: %w", sn.Name, err)
	}
	l.Classification = c
	if rel != "" {
		r, err := label.ParseReleasableTo(rel)
		if err != nil {
			return l, fmt.Errorf("sensor %s: %w", sn.Name, err)
		}
		l.ReleasableTo = r
	}
	return l, nil
}

func cutString(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// EvalConfig configures an offline evaluation.
type EvalConfig struct {
	Scenario Config
	Nation   string        // the fusing node's nation (default JPN)
	Duration time.Duration // simulated time (default 10 min)
	Warmup   time.Duration // not scored (default 30 s)
	Every    time.Duration // scoring period (default 1 s)
	C        float64       // GOSPA cut-off, metres (default 1000)
	// Fusion overrides engine settings (Nation, NodeID and Sources are
	// filled in).
	Fusion fusion.Config
	// Only restricts the scored truths (nil: all observable).
	Only func(Truth) bool
	// OnStep, when set, sees every scored step.
	OnStep func(at time.Time, truth []Truth, tracks []fusion.Track, st Step)
}

// Evaluation is the outcome of Evaluate.
type Evaluation struct {
	Result   Result
	Engine   *fusion.Engine
	Scenario *Scenario
	// View is the index of the scored view: the one with every sensor, as
	// the node's own nation sees it at the highest clearance.
	View int
}

// defaults fills in the zero fields of cfg.
func (cfg *EvalConfig) defaults() {
	if cfg.Nation == "" {
		cfg.Nation = "JPN"
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Minute
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 30 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.C <= 0 {
		cfg.C = 1000
	}
}

// sensorParsers makes a feed parser for every sensor, labelled as nation's
// node would label it, and records each label in sources.
func sensorParsers(nation string, sensors []Sensor, sources map[string]label.Label) (map[string]*feed.Parser, error) {
	parsers := map[string]*feed.Parser{}
	for _, sn := range sensors {
		l, err := SensorLabel(nation, sn)
		if err != nil {
			return nil, err
		}
		sources[sn.Name] = l
		pc := feed.Config{Name: sn.Name, Kind: sn.Kind, Label: l}
		if sn.Kind != KindAIS {
			site := sn.Site
			pc.Site = &site
		}
		if sn.Kind == KindASTERIX {
			pc.Transport = feed.TransportUDP
			pc.RangeSigma, pc.AzimuthSigma = sn.RangeSigma, sn.AzSigma
		}
		p, err := feed.NewParser(pc)
		if err != nil {
			return nil, err
		}
		parsers[sn.Name] = p
	}
	return parsers, nil
}

// Evaluate plays a scenario offline, as fast as possible: every sensor's
// wire output goes through the feed decoders (feed.Parser) into a fusion
// engine driven in simulated time, and the confirmed tracks of the view
// with every sensor are scored against the truth.
func Evaluate(cfg EvalConfig) (*Evaluation, error) {
	cfg.defaults()
	s := New(cfg.Scenario)
	fc := cfg.Fusion
	fc.Nation, fc.NodeID = cfg.Nation, "eval"
	fc.Sources = map[string]label.Label{}
	parsers, err := sensorParsers(cfg.Nation, s.Sensors(), fc.Sources)
	if err != nil {
		return nil, err
	}
	eng, err := fusion.New(fc)
	if err != nil {
		return nil, err
	}
	full := len(eng.Views()) - 1
	ev := NewEvaluator(cfg.C)
	start := s.Now()
	for t := start.Add(cfg.Every); !t.After(start.Add(cfg.Duration)); t = t.Add(cfg.Every) {
		for _, m := range s.Step(t) {
			p := parsers[m.Sensor]
			var batches [][]fusion.Observation
			if m.Kind == KindASTERIX {
				batches = p.Datagram(m.Data, m.Time)
			} else {
				batches, err = p.Stream(m.Data, m.Time)
				if err != nil {
					return nil, fmt.Errorf("sensor %s: %w", m.Sensor, err)
				}
			}
			for _, b := range batches {
				eng.Process(b)
			}
		}
		eng.Tick(t)
		if t.Sub(start) < cfg.Warmup {
			continue
		}
		var tracks []fusion.Track
		for _, tr := range eng.Tracks() {
			if tr.View == full {
				tracks = append(tracks, tr)
			}
		}
		truth := s.Observable()
		if cfg.Only != nil {
			var keep []Truth
			for _, x := range truth {
				if cfg.Only(x) {
					keep = append(keep, x)
				}
			}
			// Score only the tracks nearer to a kept truth than to any
			// other, so that other objects' tracks do not count as false.
			tracks = nearest(tracks, keep, truth, 5*cfg.C)
			truth = keep
		}
		st := ev.Add(truth, Estimates(tracks, t))
		if cfg.OnStep != nil {
			cfg.OnStep(t, truth, tracks, st)
		}
	}
	return &Evaluation{Result: ev.Result(), Engine: eng, Scenario: s, View: full}, nil
}

func nearest(tracks []fusion.Track, keep, all []Truth, r float64) []fusion.Track {
	var out []fusion.Track
	for _, t := range tracks {
		best, kept := math.Inf(1), false
		for _, x := range all {
			if d := distance(t.Lat, t.Lon, x.Lat, x.Lon); d < best {
				best = d
				kept = slices.ContainsFunc(keep, func(k Truth) bool { return k.Name == x.Name })
			}
		}
		if kept && best < r {
			out = append(out, t)
		}
	}
	return out
}
