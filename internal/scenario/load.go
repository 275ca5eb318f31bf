package scenario

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"kizuna/internal/asterix"
)

// LoadConfig configures a load: many ships and aircraft and many radars
// at the rates of a national picture, to measure whether a node keeps up.
type LoadConfig struct {
	Seed       uint64
	AISRate    int           // AIS messages per second (default 20,000)
	AISPeriod  time.Duration // report period of one ship (default 3 s)
	ModeSRate  int           // Mode S frames per second (default 10,000)
	Radars     int           // default 10
	ScanPeriod time.Duration // default 5 s
	Duration   time.Duration // default 15 s
	// Start is when the first message is due (default: 3 s after NewLoad
	// returns, rounded up to a second).
	Start time.Time
}

// Load is a pre-generated load, played in real time by Serve.
type Load struct {
	cfg    LoadConfig
	msgs   []Message // time-ordered
	ships  int
	planes int
	radars []Sensor
	counts map[string]int
}

// Start returns when the first message is due.
func (l *Load) Start() time.Time { return l.cfg.Start }

// Ships and Aircraft return the number of objects.
func (l *Load) Ships() int    { return l.ships }
func (l *Load) Aircraft() int { return l.planes }

// Counts returns the number of messages (AIS sentences, Mode S frames,
// radar plots) per sensor.
func (l *Load) Counts() map[string]int { return l.counts }

// Radars returns the radar sensors (names, sites, suggested labels: the
// even ones SECRET/JPN,USA, the odd ones SECRET/JPN).
func (l *Load) Radars() []Sensor { return l.radars }

// NewLoad generates a load. Ships sail and aircraft fly in straight lines
// over 30–40°N, 125–140°E; radars stand on a grid over the same area and
// report, every scan, the ships within 60 km and the aircraft within
// 250 km (Pd 0.9, 60 m / 0.08° noise, five clutter plots per scan).
func NewLoad(cfg LoadConfig) *Load {
	cfg.defaults()
	r := rand.New(rand.NewPCG(cfg.Seed, 77))
	l := &Load{cfg: cfg, counts: map[string]int{}}
	l.ships = int(float64(cfg.AISRate) * cfg.AISPeriod.Seconds())
	// Each aircraft sends 2 positions, 1 velocity and 0.2 identifications
	// per second.
	l.planes = int(float64(cfg.ModeSRate) / 3.2)
	objs := loadObjects(r, l.ships, l.planes)
	dur := cfg.Duration.Seconds()
	ais := aisStamps(r, cfg, objs[:l.ships], dur)
	beast := beastStamps(r, objs[l.ships:], dur)
	l.counts["ais"] = len(ais)
	l.chunk("ais", KindAIS, ais)
	for _, b := range beast {
		l.counts["beast"] += beastRecords(b.data)
	}
	l.chunk("beast", KindBeast, beast)
	// Radars on a grid.
	cols := int(math.Ceil(math.Sqrt(float64(cfg.Radars))))
	for i := range cfg.Radars {
		sn := gridRadar(cfg, i, cols)
		l.radars = append(l.radars, sn)
		phase := r.Float64() * cfg.ScanPeriod.Seconds()
		for scan := phase; scan < dur; scan += cfg.ScanPeriod.Seconds() {
			l.radarScan(r, sn, objs, scan, dur)
		}
	}
	slices.SortStableFunc(l.msgs, func(a, b Message) int { return a.Time.Compare(b.Time) })
	return l
}

// defaults fills in the zero fields of a load configuration.
func (cfg *LoadConfig) defaults() {
	if cfg.AISRate <= 0 {
		cfg.AISRate = 20_000
	}
	if cfg.AISPeriod <= 0 {
		cfg.AISPeriod = 3 * time.Second
	}
	if cfg.ModeSRate <= 0 {
		cfg.ModeSRate = 10_000
	}
	if cfg.Radars <= 0 {
		cfg.Radars = 10
	}
	if cfg.ScanPeriod <= 0 {
		cfg.ScanPeriod = 5 * time.Second
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 15 * time.Second
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	}
}

// loadObj is one ship or aircraft of a load, moving in a straight line.
type loadObj struct {
	lat, lon, course, speed, alt float64
	id                           uint32
	air                          bool
}

// at is where o is s seconds after the start.
func (o loadObj) at(s float64) (float64, float64) {
	return move(o.lat, o.lon, o.course, o.speed*s)
}

// loadObjects places the ships, then the aircraft.
func loadObjects(r *rand.Rand, ships, planes int) []loadObj {
	var objs []loadObj
	for i := range ships {
		objs = append(objs, loadObj{lat: 30 + 10*r.Float64(), lon: 125 + 15*r.Float64(), course: r.Float64() * 360,
			speed: (4 + 14*r.Float64()) * 0.514444, id: uint32(200_000_000 + i)})
	}
	for i := range planes {
		objs = append(objs, loadObj{lat: 30 + 10*r.Float64(), lon: 125 + 15*r.Float64(), course: r.Float64() * 360,
			speed: 230, alt: float64(25000+r.IntN(15)*1000) * 0.3048, id: uint32(0x100000 + i), air: true})
	}
	return objs
}

// stamped is one feed message s seconds after the start.
type stamped struct {
	t    float64
	data []byte
}

// aisStamps reports each ship once per period, at a random phase.
func aisStamps(r *rand.Rand, cfg LoadConfig, ships []loadObj, dur float64) []stamped {
	period := cfg.AISPeriod.Seconds()
	var ais []stamped
	for _, o := range ships {
		for s := r.Float64() * period; s < dur; s += period {
			lat, lon := o.at(s)
			line := EncodeAISPosition(o.id, lat, lon, o.speed/0.514444, o.course, int(o.course)%360, cfg.Start.Add(secs(s)), 'A')[0]
			ais = append(ais, stamped{s, []byte(line)})
		}
	}
	return ais
}

// beastStamps reports each aircraft's position twice a second, its
// velocity every second and its identification every five.
func beastStamps(r *rand.Rand, planes []loadObj, dur float64) []stamped {
	var beast []stamped
	for _, o := range planes {
		ph := r.Float64() * 0.5
		n := 0
		for s := ph; s < dur; s += 0.5 {
			lat, lon := o.at(s)
			ts := uint64(s*12e6) & (1<<48 - 1)
			f := Beast(ModeSPosition(o.id, lat, lon, int(o.alt/0.3048), n%2 == 1), ts, 0x80)
			if n%2 == 0 {
				f = append(f, Beast(ModeSVelocity(o.id, o.speed/0.514444, o.course, 0), ts+1000, 0x80)...)
			}
			if n%10 == 0 {
				f = append(f, Beast(ModeSIdentification(o.id, fmt.Sprintf("LD%05d", o.id%100000)), ts+2000, 0x80)...)
			}
			beast = append(beast, stamped{s, f})
			n++
		}
	}
	return beast
}

// chunk sorts in by time and appends it to the load in 10 ms chunks.
func (l *Load) chunk(name, kind string, in []stamped) {
	slices.SortFunc(in, func(a, b stamped) int {
		if a.t < b.t {
			return -1
		}
		if a.t > b.t {
			return 1
		}
		return 0
	})
	var cur []byte
	var curT float64
	for i, m := range in {
		if len(cur) > 0 && m.t-curT >= 0.01 {
			l.msgs = append(l.msgs, Message{Sensor: name, Kind: kind, Time: l.cfg.Start.Add(secs(curT)), Data: cur})
			cur = nil
		}
		if len(cur) == 0 {
			curT = m.t
		}
		cur = append(cur, m.data...)
		if i == len(in)-1 {
			l.msgs = append(l.msgs, Message{Sensor: name, Kind: kind, Time: l.cfg.Start.Add(secs(curT)), Data: cur})
		}
	}
}

// gridRadar is radar i of a grid with cols columns over the load's area.
func gridRadar(cfg LoadConfig, i, cols int) Sensor {
	row, col := i/cols, i%cols
	rows := (cfg.Radars + cols - 1) / cols
	lbl := "SECRET/JPN,USA"
	if i%2 == 1 {
		lbl = "SECRET/JPN"
	}
	return Sensor{Name: fmt.Sprintf("radar-%02d", i+1), Kind: KindASTERIX, Label: lbl,
		Site: asterix.Site{Lat: 30 + 10*(float64(row)+0.5)/float64(rows), Lon: 125 + 15*(float64(col)+0.5)/float64(cols), Height: 50},
		SAC:  50, SIC: uint8(i + 1), ScanPeriod: cfg.ScanPeriod, Pd: 0.9, RangeSigma: 60, AzSigma: 0.08, Clutter: 5,
		MaxRangeSea: 60_000, MaxRangeAir: 250_000, Latency: 300 * time.Millisecond}
}

// radarScan appends the CAT048 datagrams of one scan of sn that starts at
// scan seconds: a datagram per 45° sector, sent when the sector is swept.
func (l *Load) radarScan(r *rand.Rand, sn Sensor, objs []loadObj, scan, dur float64) {
	cfg := l.cfg
	var recs [8][]asterix.Record
	add := func(lat, lon, alt float64, s float64, o *loadObj) {
		rho, theta := polar(sn.Site, lat, lon, alt)
		rec := asterix.Record{SAC: sn.SAC, SIC: sn.SIC, Rho: (rho + r.NormFloat64()*60) / 1852,
			Theta: math.Mod(theta+r.NormFloat64()*0.08+360, 360), TimeOfDay: timeOfDay(cfg.Start.Add(secs(s))),
			TargetReport: asterix.TargetReport{Type: 1}}
		for _, f := range []asterix.Field{asterix.FieldSource, asterix.FieldTimeOfDay, asterix.FieldTargetReport, asterix.FieldPolar} {
			rec.Set(f)
		}
		if o != nil && o.air {
			rec.TargetReport.Type = 3
			rec.FlightLevel = math.Round(alt/0.3048/25) / 4
			rec.Set(asterix.FieldFlightLevel)
		}
		k := int(rec.Theta/45) % 8
		recs[k] = append(recs[k], rec)
	}
	for oi := range objs {
		o := &objs[oi]
		lim := sn.MaxRangeSea
		if o.air {
			lim = sn.MaxRangeAir
		}
		if math.Abs(o.lat-sn.Site.Lat) > lim/100_000+0.2 || r.Float64() > sn.Pd {
			continue
		}
		if distance(o.lat, o.lon, sn.Site.Lat, sn.Site.Lon) > lim {
			continue
		}
		_, theta := polar(sn.Site, o.lat, o.lon, o.alt)
		s := scan + theta/360*cfg.ScanPeriod.Seconds()
		lat, lon := o.at(s)
		add(lat, lon, o.alt, s, o)
	}
	for range poisson(r, sn.Clutter) {
		th := r.Float64() * 360
		lat, lon := move(sn.Site.Lat, sn.Site.Lon, th, sn.MaxRangeSea*math.Sqrt(r.Float64()))
		add(lat, lon, 0, scan+th/360*cfg.ScanPeriod.Seconds(), nil)
	}
	for k := range 8 {
		if len(recs[k]) == 0 {
			continue
		}
		end := scan + float64(k+1)/8*cfg.ScanPeriod.Seconds() + sn.Latency.Seconds()
		if end >= dur {
			continue
		}
		l.counts[sn.Name] += len(recs[k])
		dgs, err := asterix.EncodeDatagrams(48, recs[k], 1472)
		if err != nil {
			panic(fmt.Sprintf("scenario: encoding CAT048: %v", err))
		}
		for _, d := range dgs {
			l.msgs = append(l.msgs, Message{Sensor: sn.Name, Kind: KindASTERIX, Time: cfg.Start.Add(secs(end)), Data: d})
		}
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// beastRecords counts the records in a buffer of whole Beast records: a
// record starts at a 0x1a that is not doubled (an escaped 0x1a in a body
// is).
func beastRecords(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1a {
			if i+1 < len(b) && b[i+1] == 0x1a {
				i++
				continue
			}
			n++
		}
	}
	return n
}

// LoadServer plays a Load on loopback: AIS and Beast TCP servers (a feed
// dials them) and one UDP sender per radar.
type LoadServer struct {
	l      *Load
	eps    []Endpoint
	conns  map[string]chan net.Conn
	dest   map[string]*net.UDPAddr
	udp    *net.UDPConn
	lns    []net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// Late is the largest delay of a message behind its due time.
	late time.Duration
	mu   sync.Mutex
}

// Serve opens the endpoints and starts playing at the load's start time;
// the AIS and Beast streams wait for their feed to connect.
func (l *Load) Serve(ctx context.Context) (*LoadServer, error) {
	s := &LoadServer{l: l, conns: map[string]chan net.Conn{}, dest: map[string]*net.UDPAddr{}}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	s.udp = udp
	ctx, s.cancel = context.WithCancel(ctx)
	for _, k := range []struct{ name, kind string }{{"ais", KindAIS}, {"beast", KindBeast}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.lns = append(s.lns, ln)
		ch := make(chan net.Conn, 1)
		s.conns[k.name] = ch
		s.eps = append(s.eps, Endpoint{Name: k.name, Kind: k.kind, Transport: "tcp", Addr: ln.Addr().String(), Label: "UNCLASSIFIED/USA,JPN,KOR"})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}()
	}
	for _, sn := range l.radars {
		a, err := freeUDP()
		if err != nil {
			s.Close()
			return nil, err
		}
		s.dest[sn.Name] = a
		site := sn.Site
		s.eps = append(s.eps, Endpoint{Name: sn.Name, Kind: KindASTERIX, Transport: "udp", Addr: a.String(), Label: sn.Label, Site: &site})
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.play(ctx)
	}()
	return s, nil
}

// Endpoints lists the sensors' endpoints.
func (s *LoadServer) Endpoints() []Endpoint { return s.eps }

// Late returns how far the player fell behind the schedule at worst.
func (s *LoadServer) Late() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.late
}

// Close stops playing and closes everything.
func (s *LoadServer) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	for _, ln := range s.lns {
		ln.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
	s.wg.Wait()
	return nil
}

func (s *LoadServer) play(ctx context.Context) {
	out := map[string]net.Conn{}
	defer func() {
		for _, c := range out {
			c.Close()
		}
	}()
	get := func(name string) net.Conn {
		if c, ok := out[name]; ok {
			return c
		}
		select {
		case c := <-s.conns[name]:
			out[name] = c
			return c
		default:
			return nil
		}
	}
	for _, m := range s.l.msgs {
		if d := time.Until(m.Time); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if late := -d; late > s.Late() {
			s.mu.Lock()
			s.late = late
			s.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		if a, ok := s.dest[m.Sensor]; ok {
			s.udp.WriteToUDP(m.Data, a)
			continue
		}
		if c := get(m.Sensor); c != nil {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write(m.Data)
		}
	}
}
