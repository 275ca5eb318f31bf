// Package scenario owns the evaluation harness of fusion: a deterministic
// (seeded) generator of ships and aircraft around Japan and Korea, seen by
// simulated sensors that speak the real wire formats (AIS NMEA !AIVDM
// types 1 and 5, ADS-B as SBS-1 lines and Beast frames with DF17
// identification, CPR position and velocity, and radars sending ASTERIX
// CAT048 plots with noise, missed detections, clutter and latency), the
// ground truth, and the metrics that score fused tracks against it (GOSPA,
// completeness, spuriousness, ID swaps, position error). Serve plays a
// scenario in real time on loopback sockets, so a node ingests it through
// its ordinary --feed inputs.
package scenario

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"kizuna/internal/asterix"
)

// Places used to lay out the scenario.
var (
	Incheon  = [2]float64{37.46, 126.44}
	Gimpo    = [2]float64{37.56, 126.80}
	Busan    = [2]float64{35.18, 128.94}
	Fukuoka  = [2]float64{33.59, 130.45}
	Tokyo    = [2]float64{35.55, 139.78}
	Osaka    = [2]float64{34.43, 135.23}
	Tsushima = [2]float64{34.42, 129.33}
)

// CrossingTime is when the crossing ships meet, in seconds after Start.
const CrossingTime = 300.0

// Sensor kinds, as feed kinds.
const (
	KindAIS     = "ais"
	KindSBS     = "sbs"
	KindBeast   = "beast"
	KindASTERIX = "asterix"
)

// Sensor is one simulated sensor.
type Sensor struct {
	Name string
	Kind string
	// Label is a suggested feed label, CLASSIFICATION/NATION,NATION.
	Label string
	Site  asterix.Site
	// Radar parameters (asterix only).
	SAC, SIC    uint8
	ScanPeriod  time.Duration
	Pd          float64 // probability of detection per scan
	RangeSigma  float64 // m
	AzSigma     float64 // degrees
	Clutter     float64 // mean false plots per scan
	MaxRangeSea float64 // m: surface targets beyond are not seen
	MaxRangeAir float64 // m
	Latency     time.Duration
	ModeS       bool // reports the aircraft address of Mode S targets
	phase       time.Duration
}

// Target is one simulated object.
type Target struct {
	Name     string
	Air      bool
	MMSI     uint32 // ships with AIS
	AIS      bool   // transmits AIS
	ICAO     uint32 // aircraft
	ADSB     bool   // transmits ADS-B
	Callsign string
	Lat, Lon float64
	Alt      float64 // metres (aircraft)
	Course   float64 // degrees
	Speed    float64 // m/s
	// TurnRate in degrees per second, applied until Course reaches
	// TurnTo; ships wander by picking new courses now and then.
	TurnRate, TurnTo float64
	dest             [2]float64
	wander           bool
	nextAIS          time.Time
	nextStatic       time.Time
	nextADSB         time.Time
	adsbOdd          bool
	adsbN            int
}

// Truth is one target's true state.
type Truth struct {
	Name     string
	Air      bool
	MMSI     uint32
	ICAO     uint32
	Lat, Lon float64
	Alt      float64
	Course   float64
	Speed    float64
}

// Config configures a scenario.
type Config struct {
	Seed     uint64
	Start    time.Time
	Ships    int // random ships in the Korea Strait (default 12)
	Aircraft int // random aircraft between Seoul, Busan, Fukuoka, Osaka and Tokyo (default 8)
	// Dark ships (no AIS) among Ships (default 2).
	Dark int
	// Crossing adds two dark ships ("CROSS A" and "CROSS B") crossing at
	// 45° near Tsushima CrossingTime seconds after Start.
	Crossing bool
	// CrossingAngle is the angle between the crossing ships' courses in
	// degrees (default 90).
	CrossingAngle float64
	// Sensors; nil takes DefaultSensors.
	Sensors []Sensor
	// AIS: report period per ship (default 6 s) and the probability that
	// a report is received (default 0.95). ADS-B: probability a squitter is
	// received (default 0.9).
	AISPeriod time.Duration
	AISPd     float64
	ADSBPd    float64
	// Noise: AIS and ADS-B position noise standard deviation (m).
	AISSigma, ADSBSigma float64
	// Step is the simulation step (default 100 ms).
	Step time.Duration
}

// DefaultSensors are an AIS receiver network, two ADS-B receivers (one SBS,
// one Beast) and three radars: Busan (released to KOR and USA),
// Tsushima (JPN only) and Fukuoka (released to USA and JPN).
func DefaultSensors() []Sensor {
	r := func(name string, site [2]float64, sac, sic uint8, lbl string, modeS bool, phase time.Duration) Sensor {
		return Sensor{Name: name, Kind: KindASTERIX, Label: lbl, Site: asterix.Site{Lat: site[0], Lon: site[1], Height: 60},
			SAC: sac, SIC: sic, ScanPeriod: 5 * time.Second, Pd: 0.9, RangeSigma: 60, AzSigma: 0.08, Clutter: 4,
			MaxRangeSea: 60_000, MaxRangeAir: 250_000, Latency: 400 * time.Millisecond, ModeS: modeS, phase: phase}
	}
	return []Sensor{
		{Name: "ais", Kind: KindAIS, Label: "UNCLASSIFIED/USA,JPN,KOR"},
		{Name: "adsb-sbs", Kind: KindSBS, Label: "UNCLASSIFIED/USA,JPN,KOR", Site: asterix.Site{Lat: Busan[0], Lon: Busan[1]}},
		{Name: "adsb-beast", Kind: KindBeast, Label: "UNCLASSIFIED/USA,JPN,KOR", Site: asterix.Site{Lat: Fukuoka[0], Lon: Fukuoka[1]}},
		r("radar-busan", [2]float64{35.10, 129.04}, 10, 1, "SECRET/USA,KOR", false, 0),
		r("radar-tsushima", [2]float64{34.20, 129.29}, 20, 1, "SECRET/JPN", false, 1700*time.Millisecond),
		r("radar-fukuoka", [2]float64{33.68, 130.40}, 20, 2, "SECRET/USA,JPN", true, 3300*time.Millisecond),
	}
}

// Message is one unit of sensor output: a TCP chunk (NMEA or SBS lines, a
// Beast record) or a UDP datagram (ASTERIX).
type Message struct {
	Sensor string
	Kind   string
	Time   time.Time // when it leaves the sensor
	Data   []byte
}

type msgHeap []Message

func (h msgHeap) Len() int           { return len(h) }
func (h msgHeap) Less(i, j int) bool { return h[i].Time.Before(h[j].Time) }
func (h msgHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *msgHeap) Push(x any)        { *h = append(*h, x.(Message)) }
func (h *msgHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	*h = old[:len(old)-1]
	return m
}

// Scenario is a running simulation. Not safe for concurrent use.
type Scenario struct {
	cfg     Config
	rng     *rand.Rand
	now     time.Time
	targets []*Target
	sensors []Sensor
	queue   msgHeap
	scan    []int // next scan number per sensor
	aisSeq  int
}

// New builds a scenario.
func New(cfg Config) *Scenario {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	}
	if cfg.Ships == 0 {
		cfg.Ships = 12
	}
	if cfg.Aircraft == 0 {
		cfg.Aircraft = 8
	}
	if cfg.CrossingAngle <= 0 {
		cfg.CrossingAngle = 90
	}
	if cfg.Dark == 0 {
		cfg.Dark = 2
	}
	if cfg.Sensors == nil {
		cfg.Sensors = DefaultSensors()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.AISPeriod, 6*time.Second)
	def(&cfg.Step, 100*time.Millisecond)
	if cfg.AISPd <= 0 {
		cfg.AISPd = 0.95
	}
	if cfg.ADSBPd <= 0 {
		cfg.ADSBPd = 0.9
	}
	if cfg.AISSigma <= 0 {
		cfg.AISSigma = 5
	}
	if cfg.ADSBSigma <= 0 {
		cfg.ADSBSigma = 15
	}
	s := &Scenario{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), now: cfg.Start, sensors: cfg.Sensors}
	s.scan = make([]int, len(s.sensors))
	s.populate()
	return s
}

// Sensors returns the scenario's sensors.
func (s *Scenario) Sensors() []Sensor { return s.sensors }

// Now returns the simulation time.
func (s *Scenario) Now() time.Time { return s.now }

// Targets returns the targets (for inspection; do not modify).
func (s *Scenario) Targets() []*Target { return s.targets }

func (s *Scenario) populate() {
	r := s.rng
	for i := range s.cfg.Ships {
		// The Korea Strait between Busan, Tsushima and Fukuoka.
		t := &Target{
			Name: fmt.Sprintf("SHIP %02d", i+1), MMSI: uint32(440100000 + i*1013), AIS: i >= s.cfg.Dark,
			Lat: 33.9 + r.Float64()*1.1, Lon: 128.9 + r.Float64()*1.3,
			Course: r.Float64() * 360, Speed: (6 + r.Float64()*14) * 0.514444, wander: true,
		}
		if i%3 == 1 {
			t.MMSI = uint32(431200000 + i*1013) // a Japanese MMSI
		}
		t.TurnTo = t.Course
		s.targets = append(s.targets, t)
	}
	if s.cfg.Crossing {
		s.targets = append(s.targets, crossingPair(s.cfg.CrossingAngle)...)
	}
	airports := [][2]float64{Incheon, Gimpo, Busan, Fukuoka, Osaka, Tokyo}
	airlines := []string{"KAL", "AAR", "JAL", "ANA", "JJA", "APJ"}
	for i := range s.cfg.Aircraft {
		from := airports[r.IntN(len(airports))]
		to := airports[r.IntN(len(airports))]
		for to == from {
			to = airports[r.IntN(len(airports))]
		}
		f := 0.2 + 0.6*r.Float64() // somewhere along the route
		lat := from[0] + f*(to[0]-from[0])
		lon := from[1] + f*(to[1]-from[1])
		t := &Target{
			Name: fmt.Sprintf("%s%d", airlines[i%len(airlines)], 100+i*7), Air: true,
			ICAO: uint32(0x71C000 + i*0x111), ADSB: true, Lat: lat, Lon: lon,
			Alt: (28000 + float64(r.IntN(10))*1000) * 0.3048, Speed: (420 + r.Float64()*60) * 0.514444, dest: to,
		}
		if strAt(airlines[i%len(airlines)], "JAL", "ANA", "APJ") {
			t.ICAO = uint32(0x840000 + i*0x111)
		}
		t.Callsign = t.Name
		t.Course = bearing(lat, lon, to[0], to[1])
		t.TurnTo = t.Course
		s.targets = append(s.targets, t)
	}
	// Stagger the first reports.
	for _, t := range s.targets {
		t.nextAIS = s.now.Add(time.Duration(r.Float64() * float64(s.cfg.AISPeriod)))
		t.nextStatic = t.nextAIS
		t.nextADSB = s.now.Add(time.Duration(r.Float64() * float64(500*time.Millisecond)))
	}
}

func strAt(s string, opts ...string) bool {
	for _, o := range opts {
		if s == o {
			return true
		}
	}
	return false
}

// crossingPair is two dark ships (no AIS), 12 kt each, whose tracks cross
// at the given angle near Tsushima CrossingTime after start, both heading
// east: at 90° they start 2.6 km apart and are closer than 200 m for 23 s.
func crossingPair(angle float64) []*Target {
	const meet = CrossingTime // seconds
	v := 12 * 0.514444
	cLat, cLon := 34.55, 129.55
	mk := func(name string, course float64) *Target {
		// Start where the ship will be at the meeting point after 120 s.
		lat, lon := move(cLat, cLon, course+180, v*meet)
		return &Target{Name: name, Lat: lat, Lon: lon, Course: course, TurnTo: course, Speed: v}
	}
	return []*Target{mk("CROSS A", 90-angle/2), mk("CROSS B", 90+angle/2)}
}

// Truth returns every target's true state at the current time.
func (s *Scenario) Truth() []Truth {
	out := make([]Truth, 0, len(s.targets))
	for _, t := range s.targets {
		out = append(out, Truth{Name: t.Name, Air: t.Air, MMSI: t.MMSI, ICAO: t.ICAO, Lat: t.Lat, Lon: t.Lon, Alt: t.Alt, Course: t.Course, Speed: t.Speed})
	}
	return out
}

// Step advances the simulation to `to` and returns the messages sensors
// send up to then, in time order.
func (s *Scenario) Step(to time.Time) []Message {
	for s.now.Before(to) {
		next := s.now.Add(s.cfg.Step)
		if next.After(to) {
			next = to
		}
		dt := next.Sub(s.now).Seconds()
		s.now = next
		for _, t := range s.targets {
			s.moveTarget(t, dt)
		}
		s.emit()
	}
	var out []Message
	for len(s.queue) > 0 && !s.queue[0].Time.After(to) {
		out = append(out, heap.Pop(&s.queue).(Message))
	}
	return out
}

func (s *Scenario) moveTarget(t *Target, dt float64) {
	if t.dest != ([2]float64{}) {
		if distance(t.Lat, t.Lon, t.dest[0], t.dest[1]) < 20_000 {
			// Arrived: turn around toward another airport.
			airports := [][2]float64{Incheon, Busan, Fukuoka, Osaka, Tokyo}
			nd := airports[s.rng.IntN(len(airports))]
			if nd == t.dest {
				nd = airports[(s.rng.IntN(len(airports)-1)+1)%len(airports)]
			}
			t.dest = nd
		}
		t.TurnTo = bearing(t.Lat, t.Lon, t.dest[0], t.dest[1])
		t.TurnRate = 1.5
	} else if t.wander && s.rng.Float64() < dt/300 {
		// Now and then a ship alters course by up to 40°.
		t.TurnTo = math.Mod(t.Course+(s.rng.Float64()-0.5)*80+360, 360)
		t.TurnRate = 0.5
	}
	if d := angleDiff(t.TurnTo, t.Course); math.Abs(d) > 1e-6 && t.TurnRate > 0 {
		step := math.Copysign(math.Min(math.Abs(d), t.TurnRate*dt), d)
		t.Course = math.Mod(t.Course+step+360, 360)
	}
	t.Lat, t.Lon = move(t.Lat, t.Lon, t.Course, t.Speed*dt)
}

func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b+540, 360) - 180
	return d
}

func (s *Scenario) push(m Message) { heap.Push(&s.queue, m) }

func (s *Scenario) emit() {
	now := s.now
	for si := range s.sensors {
		sn := &s.sensors[si]
		switch sn.Kind {
		case KindAIS:
			s.emitAIS(sn, now)
		case KindSBS, KindBeast:
			// handled per target below
		case KindASTERIX:
			start := s.cfg.Start.Add(sn.phase).Add(time.Duration(s.scan[si]) * sn.ScanPeriod)
			if !now.Before(start) {
				s.radarScan(sn, start)
				s.scan[si]++
			}
		}
	}
	s.emitADSB(now)
}

func (s *Scenario) noise(sigma float64) (de, dn float64) {
	return s.rng.NormFloat64() * sigma, s.rng.NormFloat64() * sigma
}

func (s *Scenario) emitAIS(sn *Sensor, now time.Time) {
	for _, t := range s.targets {
		if !t.AIS || t.Air || now.Before(t.nextAIS) {
			continue
		}
		t.nextAIS = t.nextAIS.Add(s.cfg.AISPeriod)
		ch := byte('A' + s.rng.IntN(2))
		if !now.Before(t.nextStatic) {
			t.nextStatic = now.Add(time.Minute)
			s.aisSeq++
			lines := EncodeAISStatic(t.MMSI, 9000000+t.MMSI%1000000, fmt.Sprintf("DS%04d", t.MMSI%10000), t.Name, 70, "BUSAN", s.aisSeq, ch)
			s.push(Message{Sensor: sn.Name, Kind: sn.Kind, Time: now.Add(s.latency(0.5, 1.5)), Data: []byte(lines[0] + lines[1])})
		}
		if s.rng.Float64() > s.cfg.AISPd {
			continue
		}
		de, dn := s.noise(s.cfg.AISSigma)
		lat, lon := offset(t.Lat, t.Lon, de, dn)
		lines := EncodeAISPosition(t.MMSI, lat, lon, t.Speed/0.514444, t.Course, int(math.Round(t.Course))%360, now, ch)
		s.push(Message{Sensor: sn.Name, Kind: sn.Kind, Time: now.Add(s.latency(0.2, 1.0)), Data: []byte(lines[0])})
	}
}

// latency draws a uniform delay between lo and hi seconds.
func (s *Scenario) latency(lo, hi float64) time.Duration {
	return time.Duration((lo + s.rng.Float64()*(hi-lo)) * float64(time.Second))
}

func (s *Scenario) emitADSB(now time.Time) {
	var sbs, beast []*Sensor
	for i := range s.sensors {
		switch s.sensors[i].Kind {
		case KindSBS:
			sbs = append(sbs, &s.sensors[i])
		case KindBeast:
			beast = append(beast, &s.sensors[i])
		}
	}
	if len(sbs)+len(beast) == 0 {
		return
	}
	for _, t := range s.targets {
		if !t.ADSB || now.Before(t.nextADSB) {
			continue
		}
		t.nextADSB = t.nextADSB.Add(500 * time.Millisecond)
		t.adsbN++
		t.adsbOdd = !t.adsbOdd
		de, dn := s.noise(s.cfg.ADSBSigma)
		lat, lon := offset(t.Lat, t.Lon, de, dn)
		altFt := int(math.Round(t.Alt/0.3048/25) * 25)
		kt := t.Speed / 0.514444
		for _, sn := range beast {
			if distance(sn.Site.Lat, sn.Site.Lon, t.Lat, t.Lon) > 400_000 {
				continue
			}
			ts := uint64(now.Sub(s.cfg.Start).Seconds()*12e6) & (1<<48 - 1)
			var data []byte
			if s.rng.Float64() < s.cfg.ADSBPd {
				data = append(data, Beast(ModeSPosition(t.ICAO, lat, lon, altFt, t.adsbOdd), ts, 0x80)...)
			}
			if t.adsbN%2 == 0 && s.rng.Float64() < s.cfg.ADSBPd {
				data = append(data, Beast(ModeSVelocity(t.ICAO, kt, t.Course, 0), ts+6000, 0x80)...)
			}
			if t.adsbN%10 == 1 && s.rng.Float64() < s.cfg.ADSBPd {
				data = append(data, Beast(ModeSIdentification(t.ICAO, t.Callsign), ts+12000, 0x80)...)
			}
			if len(data) > 0 {
				s.push(Message{Sensor: sn.Name, Kind: sn.Kind, Time: now.Add(s.latency(0.05, 0.3)), Data: data})
			}
		}
		for _, sn := range sbs {
			// dump1090 writes one MSG,3 per decoded position; a 1 Hz feed.
			if t.adsbN%2 != 0 || distance(sn.Site.Lat, sn.Site.Lon, t.Lat, t.Lon) > 400_000 {
				continue
			}
			var data string
			if s.rng.Float64() < s.cfg.ADSBPd {
				data += SBSPosition(t.ICAO, lat, lon, altFt, now)
				data += SBSVelocity(t.ICAO, kt, t.Course, 0, now)
			}
			if t.adsbN%10 == 2 {
				data += SBSIdentification(t.ICAO, t.Callsign, now)
			}
			if data != "" {
				s.push(Message{Sensor: sn.Name, Kind: sn.Kind, Time: now.Add(s.latency(0.1, 0.5)), Data: []byte(data)})
			}
		}
	}
}

// radarScan produces one antenna revolution starting at start: each
// target is seen when the beam crosses its azimuth; plots are sent per
// 45° sector, one datagram each, after the radar's latency.
func (s *Scenario) radarScan(sn *Sensor, start time.Time) {
	const sectors = 8
	var recs [sectors][]asterix.Record
	period := sn.ScanPeriod.Seconds()
	plot := func(lat, lon, altM float64, at time.Time, tgt *Target) {
		rho, theta := polar(sn.Site, lat, lon, altM)
		rho += s.rng.NormFloat64() * sn.RangeSigma
		theta = math.Mod(theta+s.rng.NormFloat64()*sn.AzSigma+360, 360)
		r := asterix.Record{SAC: sn.SAC, SIC: sn.SIC, Rho: rho / 1852, Theta: theta}
		r.Set(asterix.FieldSource)
		r.Set(asterix.FieldTimeOfDay)
		r.Set(asterix.FieldTargetReport)
		r.Set(asterix.FieldPolar)
		r.TimeOfDay = timeOfDay(at)
		r.TargetReport.Type = 1 // PSR
		if tgt != nil && tgt.Air {
			r.TargetReport.Type = 3 // SSR + PSR
			r.FlightLevel = math.Round(tgt.Alt/0.3048/25) / 4
			r.Set(asterix.FieldFlightLevel)
			if sn.ModeS {
				r.TargetReport.Type = 7 // Mode S roll-call + PSR
				r.AircraftAddress = tgt.ICAO
				r.Set(asterix.FieldAircraftAddress)
			}
		}
		k := int(theta/360*sectors) % sectors
		recs[k] = append(recs[k], r)
	}
	for _, t := range s.targets {
		rho, theta := polar(sn.Site, t.Lat, t.Lon, t.Alt)
		limit := sn.MaxRangeSea
		if t.Air {
			limit = sn.MaxRangeAir
		}
		if rho > limit || s.rng.Float64() > sn.Pd {
			continue
		}
		dt := theta / 360 * period
		at := start.Add(time.Duration(dt * float64(time.Second)))
		// Where the target is when the beam crosses it.
		lat, lon := move(t.Lat, t.Lon, t.Course, t.Speed*at.Sub(s.now).Seconds())
		plot(lat, lon, t.Alt, at, t)
	}
	// Clutter: a Poisson number of false plots, uniform over the surface
	// coverage.
	for range poisson(s.rng, sn.Clutter) {
		theta := s.rng.Float64() * 360
		rg := sn.MaxRangeSea * math.Sqrt(s.rng.Float64())
		lat, lon := move(sn.Site.Lat, sn.Site.Lon, theta, rg)
		at := start.Add(time.Duration(theta / 360 * period * float64(time.Second)))
		plot(lat, lon, 0, at, nil)
	}
	for k := range sectors {
		if len(recs[k]) == 0 {
			continue
		}
		end := start.Add(time.Duration(float64(k+1) / sectors * period * float64(time.Second)))
		dgs, err := asterix.EncodeDatagrams(48, recs[k], 1472)
		if err != nil {
			panic(fmt.Sprintf("scenario: encoding CAT048: %v", err)) // our own records: a bug
		}
		for _, d := range dgs {
			s.push(Message{Sensor: sn.Name, Kind: sn.Kind, Time: end.Add(sn.Latency), Data: d})
		}
	}
}

func timeOfDay(t time.Time) time.Duration {
	t = t.UTC()
	y, m, d := t.Date()
	return t.Sub(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

func poisson(r *rand.Rand, lambda float64) int {
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
