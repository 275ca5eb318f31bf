package sustain

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"kizuna/internal/audit"
	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/store"
)

// Publisher injects a server-made event (readiness, stock reports) into
// the node's hub, which releases it per recipient and federates it.
type Publisher interface {
	Inject(ctx context.Context, ev *cot.Event) error
}

// Auditor appends a record to the audit log; durable when Append returns.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Authorizer decides whether p may approve, reject, ship or receive a
// transfer for the stocks a names: on a node, the chain of command's
// authority rules (the principals acting for the commands with authority
// over the stock). It runs after the package's own nation and clearance
// check; without one, the ApproverRoles decide.
type Authorizer func(ctx context.Context, p label.Principal, a StockAuthority) error

// Config configures a Service.
type Config struct {
	// DBPath is the SQLite file (for example DATA/sustain.db); required
	// unless Shared is set.
	DBPath string
	// Shared, in cluster mode, is the cluster's PostgreSQL (its tables made
	// by package pgstore's migrations), shared by every instance of the
	// node (see shared.go); the caller closes it after Stop.
	Shared *sql.DB
	// Nation and NodeID are the node's.
	Nation string
	NodeID string
	// Catalogue adds items to the built-in catalogue.
	Catalogue []Item
	// CatalogueFile, if set, is a JSON array of items read at New.
	CatalogueFile string
	// ApproverRoles are the certificate roles that may approve, ship and
	// receive transfers for their nation (default commander and admin).
	ApproverRoles []string
	// Authorize is an optional extra approval check.
	Authorize Authorizer
	// Publisher receives readiness and stock events; nil disables them.
	Publisher Publisher
	// Reporter, if set, says whether this instance publishes the stock
	// and readiness reports now (cluster mode: one instance of the node
	// does, so that they are not published once per instance). Alerts
	// and federated transfers do not depend on it.
	Reporter func() bool
	// Audit records every decision; nil disables auditing (tests).
	Audit Auditor
	// Cyber, if set, lowers the readiness of units with an active cyber
	// effect (see CyberStatus).
	Cyber CyberStatus
	// CheckpointEvery is how many movements after the last checkpoint
	// trigger a new one (default DefaultCheckpointEvery; negative: only
	// when the service stops).
	CheckpointEvery int
	// RateWindow is the window of the recent expenditure rate (default 7 days).
	RateWindow time.Duration
	// Now returns the current time (tests); time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

// Service is the sustainment service of one node.
type Service struct {
	cfg Config
	log *slog.Logger
	db  *sql.DB

	mu        sync.Mutex
	led       *ledger
	transfers map[string]*TransferRecord
	orders    map[string]*WorkOrder
	units     map[string]*Unit
	schedules map[string]*Scheduled
	engages   []Engagement
	remote    map[string]Stock // node|item|loc|owner → reported stock
	remoteRdy map[string]Readiness
	staleAt   map[string]time.Time // remote report key → when it goes stale
	alerts    []Alert
	fedDirty  map[string]bool // federated transfers to send to the peer
	fedIn     chan fedIn      // federated transfer facts to merge
	cpSeq     int64           // sequence number of the last checkpoint
	baseItems []Item          // the catalogue before the stored items

	// Cluster mode (shared.go): the shared version this instance has
	// applied, and the write transaction of the request holding s.mu.
	pg      bool
	version int64
	wtx     *sql.Tx
	wver    int64
	wcancel context.CancelFunc

	events chan struct{}
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

const schema = `
CREATE TABLE IF NOT EXISTS sustain_movements (
	seq INTEGER PRIMARY KEY NOT NULL,
	idem TEXT UNIQUE,
	doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sustain_docs (
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	doc  BLOB NOT NULL,
	PRIMARY KEY (kind, id)
);
`

// New opens the database and replays the ledger.
func New(cfg Config) (*Service, error) {
	if cfg.DBPath == "" && cfg.Shared == nil {
		return nil, errors.New("sustain: DBPath is required")
	}
	if !label.ValidNation(cfg.Nation) {
		return nil, fmt.Errorf("sustain: nation %q: %w", cfg.Nation, label.ErrNation)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = 7 * 24 * time.Hour
	}
	if len(cfg.ApproverRoles) == 0 {
		cfg.ApproverRoles = []string{"commander", "admin"}
	}
	items := append(DefaultCatalogue(), cfg.Catalogue...)
	if cfg.CatalogueFile != "" {
		f, err := os.Open(cfg.CatalogueFile)
		if err != nil {
			return nil, fmt.Errorf("sustain: catalogue: %w", err)
		}
		extra, err := ParseCatalogue(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("sustain: catalogue %s: %w", cfg.CatalogueFile, err)
		}
		items = append(items, extra...)
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	db := cfg.Shared
	if db == nil {
		var err error
		if db, err = store.OpenSQLite(cfg.DBPath); err != nil {
			return nil, fmt.Errorf("sustain: %w", err)
		}
		if _, err := db.Exec(schema + checkpointSchema); err != nil {
			db.Close()
			return nil, fmt.Errorf("sustain: creating tables: %w", err)
		}
	}
	s := &Service{
		cfg: cfg, log: cfg.Log, db: db, pg: cfg.Shared != nil, baseItems: items,
		transfers: map[string]*TransferRecord{},
		orders:    map[string]*WorkOrder{},
		units:     map[string]*Unit{},
		schedules: map[string]*Scheduled{},
		remote:    map[string]Stock{},
		remoteRdy: map[string]Readiness{},
		staleAt:   map[string]time.Time{},
		events:    make(chan struct{}, 1),
		fedDirty:  map[string]bool{},
		fedIn:     make(chan fedIn, 4096),
	}
	s.led = newLedger(items)
	if err := s.load(); err != nil {
		s.closeDB()
		return nil, err
	}
	return s, nil
}

// closeDB closes the database unless it is the cluster's.
func (s *Service) closeDB() error {
	if s.pg {
		return nil
	}
	return s.db.Close()
}

// load reads every document and replays every movement; in cluster mode
// in one snapshot, whose version it records.
func (s *Service) load() error {
	ctx := context.Background()
	if !s.pg {
		return s.loadFrom(ctx, s.db)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sustain: loading: %w", err)
	}
	defer tx.Rollback()
	v, err := s.sharedVersion(ctx, tx)
	if err != nil {
		return err
	}
	if err := s.loadFrom(ctx, tx); err != nil {
		return err
	}
	s.version = v
	return nil
}

// loadFrom reads every document and replays every movement into the
// empty state.
func (s *Service) loadFrom(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx, `SELECT kind, doc FROM sustain_docs`)
	if err != nil {
		return fmt.Errorf("sustain: loading: %w", err)
	}
	if err := s.scanDocs(rows, false); err != nil {
		return err
	}
	return s.loadLedger(ctx, q)
}

// scanDocs applies the documents of rows (kind, doc) and closes rows;
// replace is set when they update a loaded state.
func (s *Service) scanDocs(rows *sql.Rows, replace bool) error {
	var docErr error
	for rows.Next() {
		var kind string
		var doc []byte
		if err := rows.Scan(&kind, &doc); err != nil {
			rows.Close()
			return fmt.Errorf("sustain: loading: %w", err)
		}
		switch kind {
		case "item":
			var it Item
			docErr = errors.Join(docErr, json.Unmarshal(doc, &it))
			s.led.items[it.Name] = it
		case "location":
			var l Location
			docErr = errors.Join(docErr, json.Unmarshal(doc, &l))
			s.led.locs[l.ID] = &l
		case "transfer":
			var t TransferRecord
			docErr = errors.Join(docErr, json.Unmarshal(doc, &t))
			s.transfers[t.ID] = &t
		case "workorder":
			var w WorkOrder
			docErr = errors.Join(docErr, json.Unmarshal(doc, &w))
			s.orders[w.ID] = &w
		case "unit":
			var u Unit
			docErr = errors.Join(docErr, json.Unmarshal(doc, &u))
			s.units[u.ID] = &u
		case "schedule":
			var p Scheduled
			docErr = errors.Join(docErr, json.Unmarshal(doc, &p))
			s.schedules[p.ID] = &p
		case "engagement":
			var e Engagement
			docErr = errors.Join(docErr, json.Unmarshal(doc, &e))
			s.putEngagement(e, replace)
		}
	}
	rows.Close()
	if docErr != nil {
		return fmt.Errorf("sustain: loading documents: %w", docErr)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sustain: loading: %w", err)
	}
	return nil
}

// loadLedger builds the ledger: the checkpoint, then the movements
// recorded after it (every movement without a usable checkpoint).
func (s *Service) loadLedger(ctx context.Context, q querier) error {
	seq, doc, err := s.loadCheckpoint(ctx, q)
	if err != nil {
		return err
	}
	items, locs := s.led.items, s.led.locs
	if doc != nil {
		l := newLedger(nil)
		l.items, l.locs = items, locs
		if err := l.restore(doc); err != nil {
			s.log.Error("sustain: unreadable checkpoint; replaying every movement", "seq", seq, "err", err)
		} else if err := s.replayInto(ctx, q, l, seq); err == nil {
			s.led, s.cpSeq = l, seq
			return nil
		} else {
			s.log.Error("sustain: the movements after the checkpoint do not apply; replaying every movement", "seq", seq, "err", err)
		}
	}
	led, err := s.replay(ctx, q, items, locs)
	if err != nil {
		return err
	}
	s.led = led
	return nil
}

// replay builds a fresh ledger from every stored movement.
func (s *Service) replay(ctx context.Context, q querier, items map[string]Item, locs map[string]*Location) (*ledger, error) {
	l := newLedger(nil)
	l.items = items
	l.locs = locs
	return l, s.replayInto(ctx, q, l, 0)
}

// replayInto applies to l every stored movement after sequence number after.
func (s *Service) replayInto(ctx context.Context, q querier, l *ledger, after int64) error {
	rows, err := q.QueryContext(ctx, s.q(`SELECT doc FROM sustain_movements WHERE seq > ? ORDER BY seq`), after)
	if err != nil {
		return fmt.Errorf("sustain: replaying: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return fmt.Errorf("sustain: replaying: %w", err)
		}
		var m Movement
		if err := json.Unmarshal(doc, &m); err != nil {
			return fmt.Errorf("sustain: replaying: %w", err)
		}
		if err := l.check(&m); err != nil {
			return fmt.Errorf("sustain: replaying movement %d: %w", m.Seq, err)
		}
		l.apply(&m)
	}
	return rows.Err()
}

// Start runs the event publisher until Stop.
func (s *Service) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.stop = cancel
	// Every federated transfer is sent again at start: a change committed
	// just before a crash may not have reached the federation's queue.
	s.mu.Lock()
	for id, t := range s.transfers {
		if t.Federated {
			s.fedDirty[id] = true
		}
	}
	s.mu.Unlock()
	if s.pg {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.followLoop(ctx)
		}()
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.publishLoop(ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.mergeLoop(ctx)
	}()
	s.kick()
	return nil
}

// Stop ends the publisher and closes the database.
func (s *Service) Stop(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	s.mu.Lock()
	err := s.checkpointLocked()
	s.mu.Unlock()
	if err != nil {
		s.log.Error("sustain: checkpoint at stop", "err", err)
	}
	return s.closeDB()
}

// Verify proves conservation and compares the live balances with a
// replay of every stored movement from scratch (in cluster mode after
// catching up, in the same snapshot as the replay).
func (s *Service) Verify() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	if !s.pg {
		return s.verifyLocked(ctx, s.db)
	}
	return s.snapshotLocked(ctx, func(tx *sql.Tx) error { return s.verifyLocked(ctx, tx) })
}

func (s *Service) verifyLocked(ctx context.Context, q querier) error {
	if err := s.led.conservation(); err != nil {
		return fmt.Errorf("conservation: %w", err)
	}
	fresh, err := s.replay(ctx, q, s.led.items, s.led.locs)
	if err != nil {
		return err
	}
	if err := fresh.conservation(); err != nil {
		return fmt.Errorf("replay conservation: %w", err)
	}
	return s.led.equal(fresh)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func newID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

func (s *Service) audit(ctx context.Context, p label.Principal, action, object, decision, reason string) {
	if s.cfg.Audit == nil {
		return
	}
	if _, err := s.cfg.Audit.Append(context.WithoutCancel(ctx), audit.Record{Actor: p.String(), Action: action, Object: object, Decision: decision, Reason: reason}); err != nil {
		s.log.Error("sustain: audit append failed", "action", action, "err", err)
	}
}

// tx runs f in one write transaction and commits it: in cluster mode
// the one beginLocked opened.
func (s *Service) tx(ctx context.Context, f func(*sql.Tx) error) error {
	if s.pg {
		if s.wtx == nil {
			return errors.New("sustain: write without the ledger lock")
		}
		return s.commitShared(f)
	}
	tx, err := s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("sustain: begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sustain: commit: %w", err)
	}
	return nil
}

func (s *Service) putMovement(tx *sql.Tx, stmt *sql.Stmt, m *Movement) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var idem any
	if m.Key != "" {
		idem = m.Key
	}
	if stmt != nil {
		_, err = tx.Stmt(stmt).Exec(m.Seq, idem, b)
	} else {
		_, err = tx.Exec(s.q(`INSERT INTO sustain_movements(seq, idem, doc) VALUES(?,?,?)`), m.Seq, idem, b)
	}
	if err != nil {
		return fmt.Errorf("sustain: storing movement %d: %w", m.Seq, err)
	}
	return nil
}

// stageLocked checks and applies movements to the live ledger in order,
// assigning sequence numbers. Movements whose idempotency key is known
// come back as the recorded one and are not staged. On error nothing
// stays applied; the returned undo takes the staged ones back if the
// commit fails.
func (s *Service) stageLocked(ms []Movement) (staged []*Movement, out []Movement, u *undo, err error) {
	out = make([]Movement, len(ms))
	u = newUndo(s.led)
	for i := range ms {
		m := ms[i]
		if m.Key != "" {
			if j := slices.IndexFunc(staged, func(x *Movement) bool { return x.Key == m.Key }); j >= 0 {
				out[i] = *staged[j]
				continue
			}
			if seq, ok := s.led.keys[m.Key]; ok {
				old, gerr := s.movement(seq)
				if gerr != nil {
					u.restore(s.led)
					return nil, nil, nil, gerr
				}
				out[i] = old
				continue
			}
		}
		if m.Time.IsZero() {
			m.Time = s.now()
		}
		s.led.fillSerials(&m)
		if err := s.led.check(&m); err != nil {
			u.restore(s.led)
			return nil, nil, nil, err
		}
		m.Seq = s.led.lastSeq + 1
		u.save(s.led, &m)
		s.led.apply(&m)
		out[i] = m
		staged = append(staged, &out[i])
	}
	return staged, out, u, nil
}

func (s *Service) movement(seq int64) (Movement, error) {
	var doc []byte
	if err := s.reader().QueryRowContext(context.Background(), s.q(`SELECT doc FROM sustain_movements WHERE seq=?`), seq).Scan(&doc); err != nil {
		return Movement{}, fmt.Errorf("sustain: movement %d: %w", seq, err)
	}
	var m Movement
	return m, json.Unmarshal(doc, &m)
}

// Record checks and durably records movements (one transaction for the
// batch) on behalf of p, whose nation becomes each label's originator.
// A movement whose idempotency key was recorded before returns the first
// recording and changes nothing.
func (s *Service) Record(ctx context.Context, p label.Principal, ms ...Movement) ([]Movement, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("%w: unidentified principal", ErrRefused)
	}
	for i := range ms {
		if err := checkLabel(p, &ms[i].Label); err != nil {
			return nil, err
		}
		if ms[i].Key != "" {
			if err := checkName("idempotency key", ms[i].Key); err != nil {
				return nil, err
			}
			ms[i].Key = p.Nation + ":" + ms[i].Key
		}
		ms[i].Actor = p.String()
		ms[i].Time = time.Time{}
		if ms[i].Reason == Transfer && ms[i].FromOwner != ms[i].ToOwner {
			return nil, fmt.Errorf("%w: ownership changes only through a received transfer", ErrRefused)
		}
		if err := s.ownsMovement(p, &ms[i]); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return nil, err
	}
	defer s.endLocked()
	return s.commitLocked(ctx, ms, nil)
}

// ownsMovement: a principal records movements only of its own nation's
// stock (owner nation on both sides).
func (s *Service) ownsMovement(p label.Principal, m *Movement) error {
	if m.FromOwner == "" {
		m.FromOwner = p.Nation
	}
	if m.ToOwner == "" {
		m.ToOwner = m.FromOwner
	}
	if m.FromOwner != p.Nation || m.ToOwner != p.Nation {
		return fmt.Errorf("%w: %s may move only %s-owned stock", ErrRefused, p.Nation, p.Nation)
	}
	return nil
}

// commitLocked stages ms and commits them together with docs.
func (s *Service) commitLocked(ctx context.Context, ms []Movement, docs func(*sql.Tx, []*Movement) error) ([]Movement, error) {
	staged, out, u, err := s.stageLocked(ms)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var stmt *sql.Stmt
		if len(staged) > 8 {
			st, err := tx.Prepare(s.q(`INSERT INTO sustain_movements(seq, idem, doc) VALUES(?,?,?)`))
			if err != nil {
				return err
			}
			defer st.Close()
			stmt = st
		}
		for _, m := range staged {
			if err := s.putMovement(tx, stmt, m); err != nil {
				return err
			}
		}
		if docs != nil {
			return docs(tx, staged)
		}
		return nil
	})
	if err != nil {
		u.restore(s.led)
		return nil, err
	}
	if len(staged) > 0 {
		s.kick()
		if s.cfg.CheckpointEvery > 0 && s.led.lastSeq-s.cpSeq >= int64(s.cfg.CheckpointEvery) {
			if err := s.checkpointLocked(); err != nil {
				s.log.Error("sustain: checkpoint", "err", err)
			}
		}
	}
	return out, nil
}

// kick asks the publisher to look for readiness changes.
func (s *Service) kick() {
	select {
	case s.events <- struct{}{}:
	default:
	}
}

// PutItem adds an item to the catalogue.
func (s *Service) PutItem(ctx context.Context, p label.Principal, it Item) error {
	if err := checkName("item", it.Name); err != nil {
		return err
	}
	if p.Nation != s.cfg.Nation || !p.Valid() {
		return fmt.Errorf("%w: only the node's own nation edits its catalogue", ErrRefused)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return err
	}
	defer s.endLocked()
	if old, ok := s.led.items[it.Name]; ok && old.Serialised != it.Serialised {
		return invalid("item %q exists with another serialisation", it.Name)
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "item", it.Name, it) }); err != nil {
		return err
	}
	s.led.items[it.Name] = it
	s.audit(ctx, p, "sustain.item", it.Name, "allow", "")
	return nil
}

// Items returns the catalogue.
func (s *Service) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.led.items))
	for _, it := range s.led.items {
		out = append(out, it)
	}
	sortBy(out, func(i Item) string { return i.Name })
	return out
}

// PutLocation creates or replaces a location of p's nation.
func (s *Service) PutLocation(ctx context.Context, p label.Principal, l Location) (Location, error) {
	if !validID(l.ID) || l.ID == Source || l.ID == Sink {
		return Location{}, invalid("location id %q", l.ID)
	}
	if l.Name == "" {
		l.Name = l.ID
	}
	if err := checkName("location", l.Name); err != nil {
		return Location{}, err
	}
	if !l.Kind.valid() {
		return Location{}, invalid("location kind %q", l.Kind)
	}
	if l.Nation == "" {
		l.Nation = p.Nation
	}
	if l.Nation != p.Nation {
		return Location{}, fmt.Errorf("%w: %s may define only %s locations", ErrRefused, p.Nation, p.Nation)
	}
	if l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180 {
		return Location{}, invalid("location coordinates out of range")
	}
	if err := checkLabel(p, &l.Label); err != nil {
		return Location{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(ctx); err != nil {
		return Location{}, err
	}
	defer s.endLocked()
	if old, ok := s.led.locs[l.ID]; ok && old.Nation != p.Nation {
		return Location{}, fmt.Errorf("%w: location %s belongs to %s", ErrRefused, l.ID, old.Nation)
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.putDoc(tx, "location", l.ID, l) }); err != nil {
		return Location{}, err
	}
	cp := l
	s.led.locs[l.ID] = &cp
	s.audit(ctx, p, "sustain.location", l.ID, "allow", string(l.Kind))
	return l, nil
}

// Locations returns the locations p may see.
func (s *Service) Locations(p label.Principal) []Location {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Location
	for _, l := range s.led.locs {
		if label.Releasable(p, l.Label) {
			out = append(out, *l)
		}
	}
	sortBy(out, func(l Location) string { return l.ID })
	return out
}

// Stocks returns the balances p may see, local and reported by allied
// nodes, optionally only of one item or location.
func (s *Service) Stocks(p label.Principal, item, loc string) []Stock {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Stock{}
	for _, st := range s.led.stocks() {
		if (item == "" || st.Item == item) && (loc == "" || st.Location == loc) && label.Releasable(p, st.Label) {
			out = append(out, st)
		}
	}
	var rem []Stock
	now := s.now()
	for k, st := range s.remote {
		if now.After(s.staleAt["s|"+k]) {
			continue
		}
		if st.Quantity != 0 && (item == "" || st.Item == item) && (loc == "" || st.Location == loc) && label.Releasable(p, st.Label) {
			rem = append(rem, st)
		}
	}
	sortBy(rem, func(st Stock) string { return st.Node + "|" + st.Item + "|" + st.Location + "|" + st.Owner })
	return append(out, rem...)
}

// Balance returns one balance if p may see it.
func (s *Service) Balance(p label.Principal, item, loc, owner string) (Stock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, l, ok := s.led.onHand(item, loc, owner)
	if !ok || !label.Releasable(p, l) {
		return Stock{}, fmt.Errorf("%w: no visible balance", ErrNotFound)
	}
	return Stock{Item: item, Location: loc, Owner: owner, Quantity: q, Label: l}, nil
}

// Total is the sum of the visible balances of one item.
type Total struct {
	Item     string      `json:"item"`
	Quantity int64       `json:"quantity"`
	Entries  int         `json:"entries"`
	Label    label.Label `json:"label"`
}

// Totals sums per item only the balances p may see; the label of a total
// combines those of its entries.
func (s *Service) Totals(p label.Principal) []Total {
	byItem := map[string]*Total{}
	var labels = map[string][]label.Label{}
	for _, st := range s.Stocks(p, "", "") {
		t := byItem[st.Item]
		if t == nil {
			t = &Total{Item: st.Item}
			byItem[st.Item] = t
		}
		t.Quantity += st.Quantity
		t.Entries++
		labels[st.Item] = append(labels[st.Item], st.Label)
	}
	out := []Total{}
	for item, t := range byItem {
		// The total is the principal's own aggregate of what it may see.
		t.Label = label.Combine(p.Nation, labels[item]...)
		out = append(out, *t)
	}
	sortBy(out, func(t Total) string { return t.Item })
	return out
}

// Movements returns movements p may see, newest first, at most limit,
// optionally only of one item or touching one location.
func (s *Service) Movements(ctx context.Context, p label.Principal, item, loc string, limit int) ([]Movement, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM sustain_movements ORDER BY seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("sustain: movements: %w", err)
	}
	defer rows.Close()
	out := []Movement{}
	for rows.Next() && len(out) < limit {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var m Movement
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if (item == "" || m.Item == item) && (loc == "" || m.From == loc || m.To == loc) && label.Releasable(p, m.Label) {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}

// Serial is where one serialised round is.
type Serial struct {
	Item     string      `json:"item"`
	Serial   string      `json:"serial"`
	Lot      string      `json:"lot,omitempty"`
	Location string      `json:"location"`
	Owner    string      `json:"owner"`
	Label    label.Label `json:"label"`
}

// Serials lists the serials of item p may see (where the balance holding
// them is releasable to p); expended rounds are left out.
func (s *Service) Serials(p label.Principal, item string) []Serial {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Serial{}
	for ser, pos := range s.led.serials[item] {
		if pos.expended {
			continue
		}
		b := s.led.bal[key{item, pos.loc, pos.owner}]
		if b == nil || !label.Releasable(p, b.label) {
			continue
		}
		out = append(out, Serial{Item: item, Serial: ser, Lot: pos.lot, Location: pos.loc, Owner: pos.owner, Label: b.label})
	}
	sortBy(out, func(x Serial) string { return x.Serial })
	return out
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
