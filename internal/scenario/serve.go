package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"kizuna/internal/asterix"
)

// Endpoint is where a served sensor can be read, as a feed would be
// configured to read it.
type Endpoint struct {
	Name      string
	Kind      string // ais, sbs, beast, asterix
	Transport string // tcp (the feed dials this address) or udp (the feed listens on it)
	Addr      string
	Label     string        // suggested CLASSIFICATION/NATION,NATION
	Site      *asterix.Site // radar or receiver position (radars need it)
}

// FeedFlag renders the endpoint as a --feed value:
// NAME=KIND:TRANSPORT:HOST:PORT[@LABEL].
func (e Endpoint) FeedFlag() string {
	s := fmt.Sprintf("%s=%s:%s:%s", e.Name, e.Kind, e.Transport, e.Addr)
	if e.Label != "" {
		s += "@" + e.Label
	}
	return s
}

// Server plays a scenario in real time on loopback: a TCP server per AIS,
// SBS and Beast sensor (like an AIS gateway or dump1090's ports 30003 and
// 30005: every connected client gets the stream), and a UDP sender per
// radar that sends its ASTERIX datagrams to an address a feed listens on.
type Server struct {
	sc   *Scenario
	log  *slog.Logger
	eps  []Endpoint
	mu   sync.Mutex
	dest map[string][]*net.UDPAddr
	subs map[string]map[*subscriber]struct{}
	lns  []net.Listener
	udp  *net.UDPConn

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type subscriber struct {
	ch chan []byte
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// Tick is how often the scenario advances (default 100 ms).
	Tick time.Duration
	Log  *slog.Logger
}

// Serve starts playing sc in real time (its clock is moved to now) on
// 127.0.0.1. The radar destinations are reserved free UDP ports on
// 127.0.0.1 (see Endpoints); SetDest changes one. Close stops it.
func Serve(ctx context.Context, sc *Scenario, cfg ServeConfig) (*Server, error) {
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{sc: sc, log: cfg.Log, dest: map[string][]*net.UDPAddr{}, subs: map[string]map[*subscriber]struct{}{}}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("scenario: udp sender: %w", err)
	}
	s.udp = udp
	ctx, s.cancel = context.WithCancel(ctx)
	var accepts []func()
	for _, sn := range sc.Sensors() {
		ep := Endpoint{Name: sn.Name, Kind: sn.Kind, Label: sn.Label}
		if sn.Kind != KindAIS {
			site := sn.Site
			ep.Site = &site
		}
		if sn.Kind == KindASTERIX {
			addr, err := freeUDP()
			if err != nil {
				s.Close()
				return nil, err
			}
			ep.Transport, ep.Addr = "udp", addr.String()
			s.dest[sn.Name] = []*net.UDPAddr{addr}
		} else {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("scenario: listening for %s: %w", sn.Name, err)
			}
			s.lns = append(s.lns, ln)
			ep.Transport, ep.Addr = "tcp", ln.Addr().String()
			s.subs[sn.Name] = map[*subscriber]struct{}{}
			accepts = append(accepts, func() { s.accept(ctx, sn.Name, ln) })
		}
		s.eps = append(s.eps, ep)
	}
	for _, a := range accepts {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			a()
		}()
	}
	sc.rebase(time.Now())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.play(ctx, cfg.Tick)
	}()
	return s, nil
}

// freeUDP reserves a free loopback UDP port (bound, then released for
// the feed to take).
func freeUDP() (*net.UDPAddr, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("scenario: reserving a udp port: %w", err)
	}
	a := c.LocalAddr().(*net.UDPAddr)
	c.Close()
	return a, nil
}

// Endpoints lists where each sensor can be read.
func (s *Server) Endpoints() []Endpoint { return append([]Endpoint(nil), s.eps...) }

// SetDest makes a radar send its datagrams to addr only (for a feed that
// is already listening on a port of its own choosing).
func (s *Server) SetDest(sensor, addr string) error { return s.dests(sensor, addr, false) }

// AddDest makes a radar also send its datagrams to addr: several nodes
// can each receive the same radar.
func (s *Server) AddDest(sensor, addr string) error { return s.dests(sensor, addr, true) }

func (s *Server) dests(sensor, addr string, add bool) error {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	if !a.IP.IsLoopback() {
		return errors.New("scenario: radar destinations must be on loopback")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dest[sensor]; !ok {
		return fmt.Errorf("scenario: no radar %q", sensor)
	}
	if add {
		s.dest[sensor] = append(s.dest[sensor], a)
		return nil
	}
	s.dest[sensor] = []*net.UDPAddr{a}
	for i := range s.eps {
		if s.eps[i].Name == sensor {
			s.eps[i].Addr = a.String()
		}
	}
	return nil
}

// Truth returns the current truth (safe while playing).
func (s *Server) Truth() []Truth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sc.Truth()
}

// Close stops playing and closes every socket and connection.
func (s *Server) Close() error {
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

func (s *Server) accept(ctx context.Context, sensor string, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sub := &subscriber{ch: make(chan []byte, 1024)}
		s.mu.Lock()
		s.subs[sensor][sub] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			defer func() {
				s.mu.Lock()
				delete(s.subs[sensor], sub)
				s.mu.Unlock()
			}()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			for {
				select {
				case <-ctx.Done():
					return
				case b := <-sub.ch:
					c.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}
		}()
	}
}

func (s *Server) play(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			msgs := s.sc.Step(now)
			s.mu.Unlock()
			for _, m := range msgs {
				s.send(m)
			}
		}
	}
}

func (s *Server) send(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if as, ok := s.dest[m.Sensor]; ok {
		for _, a := range as {
			if _, err := s.udp.WriteToUDP(m.Data, a); err != nil {
				s.log.Debug("scenario: udp send", "sensor", m.Sensor, "err", err)
			}
		}
		return
	}
	for sub := range s.subs[m.Sensor] {
		select {
		case sub.ch <- m.Data:
		default: // a slow reader loses data, as from a real receiver
		}
	}
}

// rebase moves the scenario's clock to start (before any step): every
// pending time shifts with it.
func (s *Scenario) rebase(start time.Time) {
	d := start.Sub(s.now)
	s.now = start
	s.cfg.Start = s.cfg.Start.Add(d)
	for _, t := range s.targets {
		t.nextAIS = t.nextAIS.Add(d)
		t.nextStatic = t.nextStatic.Add(d)
		t.nextADSB = t.nextADSB.Add(d)
	}
	for i := range s.queue {
		s.queue[i].Time = s.queue[i].Time.Add(d)
	}
}
