package command

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/seclog"
)

// Publisher injects a server-made event into the node's hub. The service
// sets the event's label and, for directed delivery, its Dests; the node
// still checks label.Releasable for every recipient.
type Publisher interface {
	Inject(ctx context.Context, ev *cot.Event) error
}

// Auditor appends a record to the audit log; the record is durable when
// Append returns.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Config configures a Service.
type Config struct {
	// DBPath is the SQLite file for units, grants and orders.
	DBPath string
	// Orbat is an optional order-of-battle JSON file. It seeds the units and
	// standing grants, and is applied again whenever its content changes.
	Orbat string
	// OrbatData is an order-of-battle document given in memory (for example
	// the demo's); used when Orbat is empty.
	OrbatData []byte
	// Nation is this node's nation.
	Nation string
	// NodeID is this node's id, stamped in the __origin of events it makes.
	NodeID string
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
	// Publisher delivers orders to TAK clients; nil disables TAK delivery.
	Publisher Publisher
	// Federated reports whether the node has links to allied nodes, so
	// that routed requests go to (and are decided at) the deciding
	// nation's node. Nil: the node federates whenever Publisher is set.
	Federated func() bool
	// Readiness gives the sustainment readiness of a unit for structured
	// readiness reports; nil when the node has no sustainment.
	Readiness ReadinessSource
	// Audit receives every decision and transition; required.
	Audit Auditor
	// Log is the service's logger; a discarding logger when nil.
	Log *slog.Logger
	// ExpiryInterval is how often Run looks for orders past their deadline
	// (default one second).
	ExpiryInterval time.Duration
	// Shared, when set, is the cluster's PostgreSQL, used instead of
	// DBPath (shared.go).
	Shared *sql.DB
}

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no such unit, grant or order, or not releasable to the
	// caller.
	ErrNotFound = errors.New("not found")
	// ErrNoPosition: the principal holds no position in the acting unit.
	ErrNoPosition = errors.New("no position")
	// ErrRefused: an order was refused for lack of authority (see
	// *AuthorityError).
	ErrRefused = errors.New("refused: missing authority")
	// ErrIllegalTransition: the order cannot move to that state.
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrInvalid: a request is malformed.
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the request conflicts with the current state (for
	// example a duplicate id).
	ErrConflict = errors.New("conflict")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("command service closed")
)

// AuthorityError is a refusal with the decision that explains it.
type AuthorityError struct {
	Decision Decision
}

func (e *AuthorityError) Error() string { return "refused: " + e.Decision.Reason }

// Is makes errors.Is(err, ErrRefused) true.
func (e *AuthorityError) Is(target error) bool { return target == ErrRefused }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// inbound is one TAK event queued by Observe.
type inbound struct {
	ev     *cot.Event
	from   label.Principal
	sender Sender
}

// Sender is the authenticated identity of the TAK device an event came
// from: the identity its connection is bound to (the uid and callsign of
// the connection's own position reports, owned by that connection), not
// what the event itself claims.
type Sender struct {
	UID      string
	Callsign string
}

// Service is the chain-of-command service.
type Service struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	db    *db

	inbox  chan inbound
	remote chan remoteMsg

	mu       sync.Mutex
	units    map[string]*Unit
	grants   []*Grant
	grantIdx map[string]*Grant
	orders   map[string]*Order
	order    []string          // order ids in creation order
	messages map[string]string // GeoChat messageId → order id
	nations  []string
	policies []PairPolicy
	subs     map[*subscriber]struct{}
	seq      int64 // grant sequence
	closed   bool

	closeOnce sync.Once
}

// New opens the database, loads the state and applies the order of battle.
func New(cfg Config) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	orbat, parsed, err := cfg.readOrbat()
	if err != nil {
		return nil, err
	}
	d, err := openStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	s := &Service{
		cfg:      cfg,
		log:      cfg.Log,
		clock:    cfg.Clock,
		db:       d,
		inbox:    make(chan inbound, 4096),
		remote:   make(chan remoteMsg, 1024),
		units:    map[string]*Unit{},
		grantIdx: map[string]*Grant{},
		orders:   map[string]*Order{},
		messages: map[string]string{},
		subs:     map[*subscriber]struct{}{},
	}
	ctx := context.Background()
	l, err := d.load(ctx)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("command: %w", err)
	}
	s.restore(l)
	if raw := l.meta["policies"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &s.policies); err != nil {
			d.close()
			return nil, fmt.Errorf("command: stored nation-pair policies: %w", err)
		}
	}
	if parsed != nil {
		sum := sha256.Sum256(orbat)
		hash := hex.EncodeToString(sum[:])
		if l.meta["orbat"] != hash {
			if err := s.applyOrbat(ctx, parsed, hash); err != nil {
				d.close()
				return nil, fmt.Errorf("command: applying order of battle: %w", err)
			}
		}
	}
	if err := s.revalidate(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("command: re-checking stored grants: %w", err)
	}
	return s, nil
}

// defaults checks the configuration New needs and fills in its defaults.
func (cfg *Config) defaults() error {
	if cfg.Audit == nil {
		return errors.New("command: an Auditor is required")
	}
	if cfg.DBPath == "" {
		return errors.New("command: DBPath is required")
	}
	if cfg.Nation != "" {
		n, err := label.ParseNation(cfg.Nation)
		if err != nil {
			return fmt.Errorf("command: %w", err)
		}
		cfg.Nation = n
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = time.Second
	}
	return nil
}

// readOrbat reads and parses the configured order of battle, from its file
// or its bytes; both are nil when none is configured.
func (cfg *Config) readOrbat() ([]byte, *Orbat, error) {
	var orbat []byte
	switch {
	case cfg.Orbat != "":
		b, err := os.ReadFile(cfg.Orbat)
		if err != nil {
			return nil, nil, fmt.Errorf("command: reading order of battle: %w", err)
		}
		orbat = b
	case len(cfg.OrbatData) > 0:
		orbat = cfg.OrbatData
	}
	if orbat == nil {
		return nil, nil, nil
	}
	o, err := ParseOrbat(bytes.NewReader(orbat))
	if err != nil {
		return nil, nil, fmt.Errorf("command: %w", err)
	}
	return orbat, o, nil
}

// restore fills a new Service's maps from what its database holds.
func (s *Service) restore(l *loaded) {
	for _, u := range l.units {
		s.units[u.ID] = u
	}
	for _, g := range l.grants {
		s.addGrantLocked(g)
	}
	for _, o := range l.orders {
		s.orders[o.ID] = o
		s.order = append(s.order, o.ID)
		for _, dl := range o.Deliveries {
			s.messages[dl.MessageID] = o.ID
		}
	}
	s.nations = nationsOf(s.units)
}

// applyOrbat upserts the ORBAT's units and grants (grants that exist are
// left as they are, so a revocation survives a restart).
func (s *Service) applyOrbat(ctx context.Context, o *Orbat, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	units := make(map[string]*Unit, len(s.units)+len(o.Units))
	for id, u := range s.units {
		units[id] = u
	}
	var w write
	for i := range o.Units {
		u := o.Units[i].clone()
		units[u.ID] = u
		w.units = append(w.units, u)
	}
	if err := checkTree(units); err != nil {
		return err
	}
	if err := validatePolicies(o.Policies, units); err != nil {
		return err
	}
	old, oldPolicies := s.units, s.policies
	s.units, s.policies = units, o.Policies
	wd := s.world()
	var added []*Grant
	for _, og := range o.Grants {
		if _, ok := s.grantIdx[og.ID]; ok {
			continue
		}
		g := &Grant{ID: og.ID, Kind: og.Kind, Support: strings.ToUpper(og.Support), Grantor: og.Grantor, Grantee: og.Grantee, Unit: og.Unit,
			From: og.From, Until: og.Until, Reason: og.Reason, Label: og.Label, Created: now, CreatedBy: "orbat",
			Decision: og.Decision, Directive: og.Directive, Function: og.Function}
		if g.From.IsZero() {
			g.From = now
		}
		if og.Duration != "" {
			dur, _ := time.ParseDuration(og.Duration)
			g.Until = g.From.Add(dur)
		}
		g.Clipped = wd.Clip(g, now)
		if err := wd.CheckGrant(g, now); err != nil {
			s.units, s.policies = old, oldPolicies
			return fmt.Errorf("grant %s: %w", g.ID, err)
		}
		if !g.Label.Classification.Valid() {
			g.Label = s.grantLabel(g, label.Unclassified)
		}
		wd.grants = append(wd.grants, g)
		added = append(added, g)
		w.grants = append(w.grants, g)
	}
	pol, err := json.Marshal(o.Policies)
	if err != nil {
		s.units, s.policies = old, oldPolicies
		return err
	}
	w.meta = map[string]string{"orbat": hash, "policies": string(pol)}
	seqs := map[*Grant]int64{}
	base := s.seq
	for i, g := range added {
		seqs[g] = base + int64(i) + 1
	}
	if err := s.db.commit(ctx, w, func(g *Grant) int64 { return seqs[g] }); err != nil {
		s.units, s.policies = old, oldPolicies
		return err
	}
	s.seq = base + int64(len(added))
	for _, g := range added {
		s.grants = append(s.grants, g)
		s.grantIdx[g.ID] = g
	}
	s.nations = nationsOf(s.units)
	for _, g := range added {
		s.auditNoLock(ctx, audit.Record{Actor: "orbat", Action: "grant.create", Object: g.ID, Decision: "allow",
			Reason: fmt.Sprintf("%s %s→%s over %s: %s", g.Kind, g.grantorName(s.units[g.Unit].Nation), g.Grantee, g.Unit, g.Reason)})
	}
	return nil
}

func (s *Service) addGrantLocked(g *Grant) {
	s.seq++
	s.grants = append(s.grants, g)
	s.grantIdx[g.ID] = g
}

// world returns the rules' view of the state; callers hold s.mu.
func (s *Service) world() *world {
	return &world{units: s.units, grants: s.grants, policies: s.policies}
}

// Run expires orders past their deadline and handles TAK receipts and
// replies queued by Observe. It returns when ctx is done.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.expireDue(ctx)
		case in := <-s.inbox:
			s.handleInbound(ctx, in)
		case rm := <-s.remote:
			if err := s.Remote(ctx, rm.ev, rm.l, rm.origin); err != nil {
				s.log.Warn("command: federated message refused", "uid", rm.ev.UID, "origin", rm.origin, "err", err)
			}
		}
	}
}

// Close closes the database and ends every order stream.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for sub := range s.subs {
			close(sub.ch)
			delete(s.subs, sub)
		}
		s.mu.Unlock()
		err = s.db.close()
	})
	return err
}

// Observe is called for an accepted event from a TAK client whose device
// identity is not known. Receipts and replies need the device and are
// refused; see ObserveFrom.
func (s *Service) Observe(ev *cot.Event, from label.Principal) {
	s.ObserveFrom(ev, from, Sender{})
}

// ObserveDevice is ObserveFrom for callers that carry the device identity
// as two strings (the node's DeviceObserver hook).
func (s *Service) ObserveDevice(ev *cot.Event, from label.Principal, uid, callsign string) {
	s.ObserveFrom(ev, from, Sender{UID: uid, Callsign: callsign})
}

// ObserveFrom is called by the node for every accepted event from a TAK
// client, with the connection's principal and authenticated device
// identity. It queues GeoChat messages and receipts for Run and returns
// at once for everything else.
func (s *Service) ObserveFrom(ev *cot.Event, from label.Principal, sender Sender) {
	if ev == nil || len(ev.Type) < 5 || ev.Type[:5] != typeChat {
		return
	}
	if ev.Type != typeChat && ev.Type != typeDelivered && ev.Type != typeRead {
		return
	}
	if strings.HasPrefix(ev.UID, "GeoChat.KIZUNA.") {
		return // our own message coming back
	}
	select {
	case s.inbox <- inbound{ev: ev, from: from, sender: sender}:
	default:
		s.log.Warn("command: inbound GeoChat queue full; dropping", "uid", ev.UID, "type", ev.Type)
	}
}

// audit appends r; the record is durable when it returns.
func (s *Service) auditNoLock(ctx context.Context, r audit.Record) error {
	if _, err := s.cfg.Audit.Append(context.WithoutCancel(ctx), r); err != nil {
		s.log.Error("command: audit append failed", seclog.Tag(seclog.Audit), "action", r.Action, "object", r.Object, "err", err)
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func decisionWord(ok bool) string {
	if ok {
		return "allow"
	}
	return "deny"
}

// ---- positions and acting units ----

// Positions lists the units where p holds a position.
func (s *Service) Positions(p label.Principal) []HeldPosition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.positionsLocked(p)
}

// HeldPosition is a position a principal holds.
type HeldPosition struct {
	Unit     string `json:"unit"`
	UnitName string `json:"unitName"`
	Title    string `json:"title,omitempty"`
	National bool   `json:"national,omitempty"`
}

func (s *Service) positionsLocked(p label.Principal) []HeldPosition {
	var out []HeldPosition
	for _, u := range s.units {
		for _, pos := range u.Positions {
			if pos.matches(u.Nation, p) {
				out = append(out, HeldPosition{Unit: u.ID, UnitName: u.Name, Title: pos.Title, National: pos.National})
			}
		}
	}
	slices.SortFunc(out, func(a, b HeldPosition) int { return strings.Compare(a.Unit, b.Unit) })
	return out
}

// acting resolves the unit p acts for. An empty as picks p's only unit.
func (s *Service) actingLocked(p label.Principal, as string) (*Unit, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("%w: unidentified principal", ErrNoPosition)
	}
	if as == "" {
		held := s.positionsLocked(p)
		var ids []string
		for _, h := range held {
			if !slices.Contains(ids, h.Unit) {
				ids = append(ids, h.Unit)
			}
		}
		switch len(ids) {
		case 0:
			return nil, fmt.Errorf("%w: %s holds no position in any unit", ErrNoPosition, p)
		case 1:
			return s.units[ids[0]], nil
		}
		return nil, invalid("%s holds positions in %d units; name the acting unit in \"as\"", p, len(ids))
	}
	u, ok := s.units[as]
	if !ok {
		return nil, fmt.Errorf("%w: unit %q", ErrNotFound, as)
	}
	for _, pos := range u.Positions {
		if pos.matches(u.Nation, p) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %s holds no position in %s", ErrNoPosition, p, as)
}

// nationalLocked reports whether p holds a national position of nation.
func (s *Service) nationalLocked(p label.Principal, nation string) bool {
	if !p.Valid() || p.Nation != nation {
		return false
	}
	for _, u := range s.units {
		if u.Nation != nation {
			continue
		}
		for _, pos := range u.Positions {
			if pos.National && pos.matches(u.Nation, p) {
				return true
			}
		}
	}
	return false
}

// ---- units ----

// unitLabel is the effective label of a unit record.
func (s *Service) unitLabel(u *Unit) label.Label {
	if u.Label != nil && u.Label.Classification.Valid() {
		l := *u.Label
		l.Originator = u.Nation
		return l
	}
	return label.Label{Classification: label.Unclassified, ReleasableTo: s.nations, Originator: u.Nation}
}

// Units lists the units p may see, sorted by id.
func (s *Service) Units(p label.Principal) []Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Unit
	for _, u := range s.units {
		if l := s.unitLabel(u); label.Releasable(p, l) {
			c := *u.clone()
			c.Label = &l
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Unit) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Unit returns one unit if p may see it.
func (s *Service) Unit(p label.Principal, id string) (Unit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[id]
	if !ok || !label.Releasable(p, s.unitLabel(u)) {
		return Unit{}, fmt.Errorf("%w: unit %q", ErrNotFound, id)
	}
	c := *u.clone()
	l := s.unitLabel(u)
	c.Label = &l
	return c, nil
}

// canEditUnitLocked: p must hold a position in the unit or one of its
// ancestors (acting as that unit), or a national position of its nation.
func (s *Service) canEditUnitLocked(p label.Principal, as string, nation string, parent string, id string) error {
	if s.nationalLocked(p, nation) && (as == "" || as == id) {
		return nil
	}
	au, err := s.actingLocked(p, as)
	if err != nil {
		return err
	}
	if au.Nation != nation {
		return fmt.Errorf("%w: %s (%s) cannot edit a %s unit", ErrNoPosition, au.ID, au.Nation, nation)
	}
	w := s.world()
	if au.ID == id || (parent != "" && w.within(parent, au.ID)) || (id != "" && s.units[id] != nil && w.within(id, au.ID)) {
		return nil
	}
	return fmt.Errorf("%w: %s may edit only itself and its subordinate units", ErrNoPosition, au.ID)
}

// PutUnit creates or replaces a unit. as is the acting unit.
func (s *Service) PutUnit(ctx context.Context, p label.Principal, as string, u Unit) (Unit, error) {
	if err := normalizeUnit(&u); err != nil {
		return Unit{}, invalid("%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Unit{}, ErrClosed
	}
	if err := s.canEditUnitLocked(p, as, u.Nation, u.Parent, u.ID); err != nil {
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "unit.put", Object: u.ID, Decision: "deny", Reason: err.Error()})
		return Unit{}, err
	}
	if old, ok := s.units[u.ID]; ok && old.Nation != u.Nation {
		return Unit{}, fmt.Errorf("%w: unit %s belongs to %s", ErrConflict, u.ID, old.Nation)
	}
	if u.Parent != "" {
		if par, ok := s.units[u.Parent]; !ok {
			return Unit{}, invalid("parent %q is not in the order of battle", u.Parent)
		} else if par.Nation != u.Nation && !(par.Kind == UnitCombined && slices.Contains(s.world().nationsOfUnit(par), u.Nation)) {
			return Unit{}, invalid("parent %s is a %s unit; a unit's parent is of its own nation", par.ID, par.Nation)
		}
	}
	units := make(map[string]*Unit, len(s.units)+1)
	for id, x := range s.units {
		units[id] = x
	}
	nu := u.clone()
	units[u.ID] = nu
	if err := checkTree(units); err != nil {
		return Unit{}, invalid("%v", err)
	}
	if err := validateMembers(units); err != nil {
		return Unit{}, invalid("%v", err)
	}
	if err := s.db.commit(ctx, write{units: []*Unit{nu}}, nil); err != nil {
		return Unit{}, err
	}
	s.units = units
	s.nations = nationsOf(s.units)
	s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "unit.put", Object: u.ID, Decision: "allow", Reason: fmt.Sprintf("%s %q (%s) under %q", u.Echelon, u.Name, u.Nation, u.Parent)})
	c := *nu.clone()
	l := s.unitLabel(nu)
	c.Label = &l
	return c, nil
}

// DeleteUnit removes a unit that has no subordinates, grants or open
// orders.
func (s *Service) DeleteUnit(ctx context.Context, p label.Principal, as, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[id]
	if !ok || !label.Releasable(p, s.unitLabel(u)) {
		return fmt.Errorf("%w: unit %q", ErrNotFound, id)
	}
	if err := s.canEditUnitLocked(p, as, u.Nation, u.Parent, id); err != nil {
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "unit.delete", Object: id, Decision: "deny", Reason: err.Error()})
		return err
	}
	for _, x := range s.units {
		if x.Parent == id {
			return fmt.Errorf("%w: unit %s has subordinate %s", ErrConflict, id, x.ID)
		}
	}
	for _, g := range s.grants {
		if g.Grantor == id || g.Grantee == id || g.Unit == id {
			return fmt.Errorf("%w: unit %s appears in grant %s", ErrConflict, id, g.ID)
		}
	}
	for _, o := range s.orders {
		if (o.IssuerUnit == id || o.Recipient == id) && !o.State.Terminal() {
			return fmt.Errorf("%w: unit %s has open order %s", ErrConflict, id, o.ID)
		}
	}
	if err := s.db.commit(ctx, write{deleteUnits: []string{id}}, nil); err != nil {
		return err
	}
	delete(s.units, id)
	s.nations = nationsOf(s.units)
	s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "unit.delete", Object: id, Decision: "allow"})
	return nil
}

// ---- grants ----

// GrantRequest asks for a grant. Grantor is the acting unit; National
// (with an empty Grantor) acts for the national command authority of the
// unit's nation.
type GrantRequest struct {
	Kind     Kind      `json:"kind"`
	Support  string    `json:"support,omitempty"`
	Grantor  string    `json:"grantor,omitempty"`
	National bool      `json:"national,omitempty"`
	Grantee  string    `json:"grantee"`
	Unit     string    `json:"unit"`
	From     time.Time `json:"from,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	// Duration bounds the grant from From when Until is not given, e.g. "72h".
	Duration string `json:"duration,omitempty"`
	Reason   string `json:"reason"`
	// Decision is the named national decision a grant placing forces under
	// another nation's or a combined command's control needs.
	Decision *NationalDecision `json:"decision,omitempty"`
	// Directive is the establishing directive of a SUPPORT relationship.
	Directive *SupportDirective `json:"directive,omitempty"`
	// Function is what a COORDINATING_AUTHORITY or DIRLAUTH covers.
	Function string `json:"function,omitempty"`
	// Supersedes names the COCOM grant a transfer between combatant
	// commands replaces (national authority only).
	Supersedes string `json:"supersedes,omitempty"`
	// Classification of the grant record; the caller's clearance when empty.
	Classification string `json:"classification,omitempty"`
}

func (s *Service) grantLabel(g *Grant, c label.Classification) label.Label {
	rel := []string{}
	for _, id := range []string{g.Grantor, g.Grantee, g.Unit} {
		if u, ok := s.units[id]; ok && !slices.Contains(rel, u.Nation) {
			rel = append(rel, u.Nation)
		}
	}
	slices.Sort(rel)
	orig := ""
	if u, ok := s.units[g.Unit]; ok {
		orig = u.Nation
	}
	if u, ok := s.units[g.Grantor]; ok {
		orig = u.Nation
	}
	return label.Label{Classification: c, ReleasableTo: rel, Originator: orig}
}

func newID(prefix string) string {
	var b [orderIDLen - 1]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	out := []byte(prefix)
	for _, c := range b {
		out = append(out, idAlphabet[c&31])
	}
	return string(out)
}

// Grant makes a grant after checking every rule. The error is a
// *RuleError for a rule violation, ErrNoPosition when p may not act for the
// grantor, or ErrInvalid.
func (s *Service) Grant(ctx context.Context, p label.Principal, req GrantRequest) (Grant, error) {
	now := s.clock()
	g, clearance, err := newGrant(p, req, now)
	if err != nil {
		return Grant{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Grant{}, ErrClosed
	}
	deny := func(err error) (Grant, error) {
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "grant.create", Object: fmt.Sprintf("%s %s→%s over %s", g.Kind, orNational(g.Grantor), g.Grantee, g.Unit), Decision: "deny", Reason: err.Error()})
		return Grant{}, err
	}
	if err := s.checkGrantorLocked(p, req, g); err != nil {
		return deny(err)
	}
	var superseded *Grant
	if g.Supersedes != "" {
		e, ok := s.grantIdx[g.Supersedes]
		if !ok || g.Kind != COCOM || e.Kind != COCOM || e.Unit != g.Unit || req.Grantor != "" || !e.RevokedAt.IsZero() {
			return deny(invalid("only a national COCOM grant may supersede an unrevoked COCOM grant over the same unit"))
		}
		superseded = e
	}
	w := s.world()
	g.Clipped = w.Clip(g, now)
	if err := w.CheckGrant(g, now); err != nil {
		return deny(err)
	}
	for {
		g.ID = newID("G")
		if _, dup := s.grantIdx[g.ID]; !dup {
			break
		}
	}
	g.Label = s.grantLabel(g, clearance)
	if err := s.commitGrantLocked(ctx, p, g, superseded, now); err != nil {
		return Grant{}, err
	}
	s.addGrantLocked(g)
	if err := s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "grant.create", Object: g.ID, Decision: "allow",
		Reason: fmt.Sprintf("%s %s→%s over %s from %s until %s: %s", g.Kind, g.grantorName(s.units[g.Unit].Nation), g.Grantee, g.Unit,
			g.From.UTC().Format(time.RFC3339), untilString(g.Until), g.Reason)}); err != nil {
		return *g, err
	}
	return *g, nil
}

// newGrant builds a grant from a request and checks it on its own, before
// any lookup; the clearance is the one its label is computed for.
func newGrant(p label.Principal, req GrantRequest, now time.Time) (*Grant, label.Classification, error) {
	kind, err := ParseKind(string(req.Kind))
	if err != nil {
		return nil, 0, invalid("%v", err)
	}
	g := &Grant{Kind: kind, Support: strings.ToUpper(strings.TrimSpace(req.Support)), Grantor: req.Grantor, Grantee: req.Grantee, Unit: req.Unit,
		From: req.From, Until: req.Until, Reason: strings.TrimSpace(req.Reason), Created: now, CreatedBy: p.String(),
		Decision: req.Decision, Directive: req.Directive, Function: strings.TrimSpace(req.Function), Supersedes: req.Supersedes}
	if g.From.IsZero() {
		g.From = now
	}
	if req.Duration != "" {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return nil, 0, invalid("bad duration %q", req.Duration)
		}
		if !g.Until.IsZero() {
			return nil, 0, invalid("give until or duration, not both")
		}
		g.Until = g.From.Add(d)
	}
	if g.Reason == "" {
		return nil, 0, invalid("a grant needs a reason")
	}
	clearance := p.Clearance
	if req.Classification != "" {
		c, err := label.ParseClassification(req.Classification)
		if err != nil {
			return nil, 0, invalid("%v", err)
		}
		if err := label.CheckSubmit(p, label.Label{Classification: c}); err != nil {
			return nil, 0, invalid("%v", err)
		}
		clearance = c
	}
	return g, clearance, nil
}

// checkGrantorLocked checks who is acting for a grant: the grantor unit, or
// the national authority. s.mu is held.
func (s *Service) checkGrantorLocked(p label.Principal, req GrantRequest, g *Grant) error {
	if req.Grantor != "" {
		_, err := s.actingLocked(p, req.Grantor)
		return err
	}
	if !req.National {
		return invalid("name the grantor (the acting unit), or set national for the national command authority")
	}
	u, ok := s.units[g.Unit]
	if !ok {
		return ruleErr(RuleUnknownUnit, "unit %q is not in the order of battle", g.Unit)
	}
	if !s.nationalLocked(p, u.Nation) {
		return fmt.Errorf("%w: %s does not hold a national position of %s", ErrNoPosition, p, u.Nation)
	}
	return nil
}

// commitGrantLocked stores a new grant together with the end of the grant
// it supersedes, if any, and audits that revocation. s.mu is held.
func (s *Service) commitGrantLocked(ctx context.Context, p label.Principal, g, superseded *Grant, now time.Time) error {
	seq := s.seq + 1
	wr := write{grants: []*Grant{g}}
	var ended Grant
	if superseded != nil {
		ended = *superseded
		ended.RevokedAt, ended.RevokedBy, ended.RevokeReason = latest(g.From, now), p.String()+" for national", "superseded by the transfer to "+g.Grantee
		wr.grants = append(wr.grants, &ended)
	}
	if err := s.db.commit(ctx, wr, func(x *Grant) int64 {
		if x == g {
			return seq
		}
		return 0
	}); err != nil {
		return err
	}
	if superseded != nil {
		*superseded = ended
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "grant.revoke", Object: ended.ID, Decision: "allow", Reason: ended.RevokeReason})
	}
	return nil
}

func orNational(id string) string {
	if id == "" {
		return "national"
	}
	return id
}

func untilString(t time.Time) string {
	if t.IsZero() {
		return "further notice"
	}
	return t.UTC().Format(time.RFC3339)
}

// Revoke revokes a grant at once. as is the acting unit ("" with national
// true for the national command authority).
func (s *Service) Revoke(ctx context.Context, p label.Principal, as string, national bool, id, reason string) (Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Grant{}, ErrClosed
	}
	g, ok := s.grantIdx[id]
	if !ok || !label.Releasable(p, g.Label) {
		return Grant{}, fmt.Errorf("%w: grant %q", ErrNotFound, id)
	}
	deny := func(err error) (Grant, error) {
		s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "grant.revoke", Object: id, Decision: "deny", Reason: err.Error()})
		return Grant{}, err
	}
	now := s.clock()
	if !g.RevokedAt.IsZero() {
		return deny(fmt.Errorf("%w: grant %s was already revoked at %s", ErrConflict, id, g.RevokedAt.UTC().Format(time.RFC3339)))
	}
	actNation := ""
	if national && as == "" {
		u := s.units[g.Unit]
		if u == nil || !s.nationalLocked(p, u.Nation) {
			return deny(fmt.Errorf("%w: %s does not hold a national position of the unit's nation", ErrNoPosition, p))
		}
		actNation = u.Nation
	} else {
		au, err := s.actingLocked(p, as)
		if err != nil {
			return deny(err)
		}
		as = au.ID
		actNation = au.Nation
		national = false
	}
	if err := s.world().CheckRevoke(g, as, actNation, national, now); err != nil {
		return deny(err)
	}
	ng := *g
	ng.RevokedAt, ng.RevokedBy, ng.RevokeReason = now, p.String()+" for "+orNational(as), strings.TrimSpace(reason)
	if err := s.db.commit(ctx, write{grants: []*Grant{&ng}}, func(*Grant) int64 { return 0 }); err != nil {
		return Grant{}, err
	}
	*g = ng
	if err := s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "grant.revoke", Object: id, Decision: "allow",
		Reason: fmt.Sprintf("%s %s→%s over %s revoked by %s: %s", g.Kind, g.grantorName(s.units[g.Unit].Nation), g.Grantee, g.Unit, orNational(as), g.RevokeReason)}); err != nil {
		return ng, err
	}
	return ng, nil
}

// Grants lists the grants p may see, optionally only those over unit (or
// one of its ancestors) or involving it, in creation order.
func (s *Service) Grants(p label.Principal, unit string) []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.world()
	var scope []string
	if unit != "" {
		scope = w.ancestorsOrSelf(unit)
	}
	var out []Grant
	for _, g := range s.grants {
		if !label.Releasable(p, g.Label) {
			continue
		}
		if unit != "" && !slices.Contains(scope, g.Unit) && g.Grantee != unit && g.Grantor != unit {
			continue
		}
		out = append(out, *g)
	}
	return out
}

// GetGrant returns one grant if p may see it.
func (s *Service) GetGrant(p label.Principal, id string) (Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grantIdx[id]
	if !ok || !label.Releasable(p, g.Label) {
		return Grant{}, fmt.Errorf("%w: grant %q", ErrNotFound, id)
	}
	return *g, nil
}

// AuthorityAnswer answers "who may order unit X right now, and why".
type AuthorityAnswer struct {
	Unit string    `json:"unit"`
	At   time.Time `json:"at"`
	// Holders lists every unit holding a relationship over Unit, strongest
	// first, with the chain of grants and the order types it allows.
	Holders []Holder `json:"holders"`
}

// Holder is one unit's authority over another.
type Holder struct {
	Basis
	HolderName string      `json:"holderName"`
	MayIssue   []OrderType `json:"mayIssue"`
}

// Authority answers who may order unit at instant at (now when zero). A
// holder whose chain includes a grant p may not see is left out.
func (s *Service) Authority(ctx context.Context, p label.Principal, unit string, at time.Time) (AuthorityAnswer, error) {
	if at.IsZero() {
		at = s.clock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[unit]
	if !ok || !label.Releasable(p, s.unitLabel(u)) {
		return AuthorityAnswer{}, fmt.Errorf("%w: unit %q", ErrNotFound, unit)
	}
	ans := AuthorityAnswer{Unit: unit, At: at, Holders: []Holder{}}
	for _, b := range s.world().holders(unit, at) {
		visible := true
		for _, g := range b.Chain {
			if !label.Releasable(p, g.Label) {
				visible = false
			}
		}
		if !visible {
			continue
		}
		h := Holder{Basis: b}
		if hu := s.units[b.Holder]; hu != nil {
			h.HolderName = hu.Name
		}
		for _, t := range []OrderType{Movement, Task, ReportRequest} {
			if Needed(t).has(b.Kind) {
				h.MayIssue = append(h.MayIssue, t)
			}
		}
		h.MayIssue = append(h.MayIssue, SupportRequest)
		ans.Holders = append(ans.Holders, h)
	}
	return ans, nil
}

// Check decides, without issuing, whether the acting unit may give an order
// of type t to unit now. The decision is audited.
func (s *Service) Check(ctx context.Context, p label.Principal, as string, t OrderType, unit string) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	au, err := s.actingLocked(p, as)
	if err != nil {
		return Decision{}, err
	}
	ru, ok := s.units[unit]
	if !ok || !label.Releasable(p, s.unitLabel(ru)) {
		return Decision{}, fmt.Errorf("%w: unit %q", ErrNotFound, unit)
	}
	d := s.world().OrderAuthority(t, au.ID, unit, s.clock())
	s.auditNoLock(ctx, audit.Record{Actor: p.String(), Action: "authority.check", Object: fmt.Sprintf("%s %s→%s", t, au.ID, unit), Decision: decisionWord(d.Allowed), Reason: d.Reason})
	return d, nil
}
