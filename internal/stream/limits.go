package stream

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/reject"
	"kizuna/internal/seclog"
)

// Connection hardening: the per-event deadline (slowloris), the
// rate-limit offence bookkeeping and the connection caps with their
// refusal reports.

// DefaultEventTimeout is the longest one event may take to arrive once
// its first byte is in: a client that trickles a partial event (a byte
// every few minutes keeps the idle timer from firing) is disconnected.
const DefaultEventTimeout = time.Minute

// refuseReportWindow is how long refusals of the same kind from one host
// are reported once: the first refusal is reported at once, the others
// within the window are counted and reported with the next refusal after
// it (or at shutdown). Metrics count every refusal.
const refuseReportWindow = 10 * time.Second

// ErrEventTimeout closes a connection whose incomplete event took longer
// than Config.EventTimeout to arrive.
var ErrEventTimeout = errors.New("incomplete event not finished in time")

// ErrConnCap refuses a connection over the per-IP or per-principal cap.
var ErrConnCap = errors.New("connection cap reached")

// eventTimer bounds how long one event may take to arrive.
type eventTimer struct {
	since time.Time // when the incomplete event buffered now began; zero if none
	docs  uint64    // documents completed so far
	seen  uint64    // docs at the last update
}

// update is called after every read with the bytes still buffered: it
// starts the clock when an incomplete event first shows up and restarts it
// whenever a document completed (the partial tail then belongs to a new
// event).
func (t *eventTimer) update(now time.Time, buffered int) {
	progress := t.docs != t.seen
	t.seen = t.docs
	switch {
	case buffered == 0:
		t.since = time.Time{}
	case t.since.IsZero() || progress:
		t.since = now
	}
}

// readDeadline returns the read deadline: the idle timeout from now,
// earlier if an incomplete event's time runs out first. The bool reports
// whether the event deadline is the one that applies. A zero time means
// no deadline.
func (c *Conn) readDeadline(now time.Time) (time.Time, bool) {
	var d time.Time
	if idle := c.srv.cfg.IdleTimeout; idle > 0 {
		d = now.Add(idle)
	}
	t := &c.limits.timer
	if lim := c.srv.cfg.EventTimeout; lim > 0 && !t.since.IsZero() {
		if ed := t.since.Add(lim); d.IsZero() || ed.Before(d) {
			return ed, true
		}
	}
	return d, false
}

// armReadDeadline sets the read deadline before each read.
func (c *Conn) armReadDeadline(now time.Time) {
	d, ev := c.readDeadline(now)
	c.limits.eventDue = time.Time{}
	if ev {
		c.limits.eventDue = d
	}
	switch {
	case !d.IsZero():
		c.Conn.SetReadDeadline(d)
		c.limits.armed = true
	case c.limits.armed:
		// An event deadline set earlier no longer applies.
		c.Conn.SetReadDeadline(time.Time{})
		c.limits.armed = false
	}
}

// eventTimedOut reports whether a read failed because the event deadline
// passed (rather than the idle timeout or a shutdown).
func (c *Conn) eventTimedOut(err error) bool {
	due := c.limits.eventDue
	return !due.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(due)
}

// connLimits is the per-connection hardening state (read loop only).
type connLimits struct {
	timer    eventTimer
	armed    bool              // a read deadline is set
	eventDue time.Time         // the event deadline, when it is the read deadline
	drops    map[string]uint64 // events dropped, by reason
}

// Reject drops one event for a reason decided above the stream layer (a
// label above clearance, another nation's object): it is counted, and
// only the first of each reason per connection is logged and reported to
// the Reject hook, like every other drop.
func (c *Conn) Reject(reason string, err error) { c.srv.reject(c, reason, err) }

// rateLimited drops one event over the rate limit.
func (c *Conn) rateLimited() {
	c.srv.reject(c, "rate_limited", fmt.Errorf("%w (%d events/s)", errRateLimited, c.srv.cfg.EventRate))
}

// noteDrop counts a dropped event by reason and reports whether it is
// the first of that reason on this connection. Every drop is counted in
// the metrics; only the first of each reason is logged at Info and
// reported to the Reject hook (which audits), and the rest are summed up
// when the connection ends (dropSummary): a flood of bad or excess events
// cannot flood the log, the security log or the audit chain.
func (c *Conn) noteDrop(reason string) bool {
	if c.limits.drops == nil {
		c.limits.drops = make(map[string]uint64, 2)
	}
	c.limits.drops[reason]++
	return c.limits.drops[reason] == 1
}

// dropSummary reports, per reason, how many events were dropped on this
// connection when more than the one already reported.
func (c *Conn) dropSummary() {
	reasons := make([]string, 0, len(c.limits.drops))
	for r, n := range c.limits.drops {
		if n > 1 {
			reasons = append(reasons, r)
		}
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		n := c.limits.drops[r]
		c.log.Warn("events dropped", append(reject.Reason(r).LogAttrs(), "dropped", n)...)
		if c.srv.Reject != nil {
			c.srv.Reject(c, r, fmt.Errorf("%d events dropped on this connection in total (%s)", n, r))
		}
	}
}

// caps tracks concurrent connections per client IP and per certificate
// principal, and reports refusals without letting a flood of them flood
// the log and the audit chain.
type caps struct {
	mu       sync.Mutex
	perIP    map[string]int
	perPrin  map[string]int
	reported map[string]*refusals // host + reason → recent refusals
}

type refusals struct {
	first      time.Time // start of the reporting window
	suppressed int       // refusals since then not yet reported
	listener   string
	remote     string
	err        error
}

func newCaps() *caps {
	return &caps{perIP: map[string]int{}, perPrin: map[string]int{}, reported: map[string]*refusals{}}
}

func principalKey(p label.Principal) string {
	if p.Name == "" {
		return ""
	}
	return p.Nation + "/" + p.Name
}

// admitIP takes a connection slot for host, before any TLS handshake, so
// that handshakes in flight count against the cap too.
func (s *Server) admitIP(host string) bool {
	s.caps.mu.Lock()
	defer s.caps.mu.Unlock()
	if s.MaxConnsPerIP > 0 && s.caps.perIP[host] >= s.MaxConnsPerIP {
		return false
	}
	s.caps.perIP[host]++
	return true
}

func (s *Server) releaseIP(host string) {
	s.caps.mu.Lock()
	defer s.caps.mu.Unlock()
	if s.caps.perIP[host]--; s.caps.perIP[host] <= 0 {
		delete(s.caps.perIP, host)
	}
}

// admitPrincipal takes a connection slot for an identified principal.
// Principals without a name (plain listeners) are not capped: the per-IP
// cap covers them.
func (s *Server) admitPrincipal(p label.Principal) bool {
	k := principalKey(p)
	if k == "" {
		return true
	}
	s.caps.mu.Lock()
	defer s.caps.mu.Unlock()
	if s.MaxConnsPerPrincipal > 0 && s.caps.perPrin[k] >= s.MaxConnsPerPrincipal {
		return false
	}
	s.caps.perPrin[k]++
	return true
}

func (s *Server) releasePrincipal(p label.Principal) {
	k := principalKey(p)
	if k == "" {
		return
	}
	s.caps.mu.Lock()
	defer s.caps.mu.Unlock()
	if s.caps.perPrin[k]--; s.caps.perPrin[k] <= 0 {
		delete(s.caps.perPrin, k)
	}
}

// refuse counts, logs and reports a refused connection. The metric counts
// every refusal; the log line and the Refuse hook (audit) see the first
// refusal of a kind from one host in each window, and the next report
// carries the number suppressed meanwhile.
func (s *Server) refuse(nc net.Conn, listener, reason string, p label.Principal, err error) {
	s.metrics.Refused.WithLabelValues(reason).Inc()
	remote := nc.RemoteAddr().String()
	host, _, _ := net.SplitHostPort(remote)
	now := time.Now()
	key := host + "|" + reason
	s.caps.mu.Lock()
	r := s.caps.reported[key]
	if r != nil && now.Sub(r.first) < refuseReportWindow {
		r.suppressed++
		r.listener, r.remote, r.err = listener, remote, err
		s.caps.mu.Unlock()
		return
	}
	suppressed := 0
	if r != nil {
		suppressed = r.suppressed
	}
	s.caps.reported[key] = &refusals{first: now}
	var due []*refusals
	if len(s.caps.reported) > 4096 {
		due = s.sweepRefusalsLocked(now)
	}
	s.caps.mu.Unlock()
	s.reportSuppressed(due)
	if suppressed > 0 {
		err = fmt.Errorf("%w (and %d more refused from %s in the last %s)", err, suppressed, host, refuseReportWindow)
	}
	attrs := []any{seclog.Tag(seclog.Connection), "listener", listener, "remote", remote, "reason", reason, "err", err}
	if p.Valid() {
		attrs = append(attrs, "principal", p.String())
	}
	s.log.Warn("connection refused", attrs...)
	if s.Refuse != nil {
		s.Refuse(remote, listener, err)
	}
}

// sweepRefusalsLocked forgets finished windows and returns those that
// suppressed refusals, for the caller to report once it released the lock.
func (s *Server) sweepRefusalsLocked(now time.Time) []*refusals {
	var due []*refusals
	for k, r := range s.caps.reported {
		if now.Sub(r.first) >= refuseReportWindow {
			delete(s.caps.reported, k)
			if r.suppressed > 0 {
				due = append(due, r)
			}
		}
	}
	return due
}

// flushRefusals reports every window that suppressed refusals (at
// shutdown, so that no count is lost).
func (s *Server) flushRefusals() {
	s.caps.mu.Lock()
	var due []*refusals
	for k, r := range s.caps.reported {
		delete(s.caps.reported, k)
		if r.suppressed > 0 {
			due = append(due, r)
		}
	}
	s.caps.mu.Unlock()
	s.reportSuppressed(due)
}

func (s *Server) reportSuppressed(due []*refusals) {
	for _, r := range due {
		err := fmt.Errorf("%w (%d similar refusals not reported one by one)", r.err, r.suppressed)
		s.log.Warn("connection refused", seclog.Tag(seclog.Connection), "listener", r.listener, "remote", r.remote, "err", err, "suppressed", r.suppressed)
		if s.Refuse != nil {
			s.Refuse(r.remote, r.listener, err)
		}
	}
}

// shuttingDown reports whether Shutdown began: its read deadline is not an
// idle timeout.
func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}
