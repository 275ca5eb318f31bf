package mission

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/files"
	"kizuna/internal/label"
	"kizuna/internal/store"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no such mission (or item), or none the caller may see.
	ErrNotFound = errors.New("mission not found")
	// ErrForbidden: the caller sees the mission but its role does not
	// allow the act.
	ErrForbidden = errors.New("not permitted by the caller's mission role")
	// ErrExists: the name is taken.
	ErrExists = errors.New("mission name not available")
	// ErrInvalid: a malformed request (name, label, role, body).
	ErrInvalid = errors.New("invalid mission request")
	// ErrConfig: an invalid configuration.
	ErrConfig = errors.New("invalid mission configuration")
	// ErrConflict: in cluster mode, the shared store moved under a write
	// that did not hold the cluster's write lock; nothing was written.
	ErrConflict = errors.New("mission store changed by another instance")
)

// Role is a subscriber's role in a mission, as TAK Server names it.
type Role string

// The roles of TAK Server's Mission API.
const (
	RoleOwner      Role = "MISSION_OWNER"
	RoleSubscriber Role = "MISSION_SUBSCRIBER"
	RoleReadOnly   Role = "MISSION_READONLY_SUBSCRIBER"
)

// ParseRole accepts a TAK role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToUpper(strings.TrimSpace(s))); r {
	case RoleOwner, RoleSubscriber, RoleReadOnly:
		return r, nil
	}
	return "", fmt.Errorf("%w: role %q", ErrInvalid, s)
}

// permissions lists what a role may do, in TAK Server's words.
func (r Role) permissions() []string {
	switch r {
	case RoleOwner:
		return []string{"MISSION_WRITE", "MISSION_READ", "MISSION_DELETE", "MISSION_SET_ROLE", "MISSION_SET_PASSWORD", "MISSION_UPDATE_GROUPS", "MISSION_MANAGE_FEEDS", "MISSION_MANAGE_LAYERS"}
	case RoleSubscriber:
		return []string{"MISSION_WRITE", "MISSION_READ"}
	}
	return []string{"MISSION_READ"}
}

func (r Role) canWrite() bool { return r == RoleOwner || r == RoleSubscriber }

// Item kinds.
const (
	KindUID  = "uid"
	KindHash = "hash"
)

// Item is one thing filed in a mission, with its own label.
type Item struct {
	Kind       string      `json:"kind"`
	Key        string      `json:"key"` // uid or SHA-256
	Label      label.Label `json:"label"`
	CreatorUID string      `json:"creatorUid,omitempty"`
	Added      time.Time   `json:"added"`
	// Of a CoT object, as the adder saw it.
	Type     string  `json:"type,omitempty"`
	Callsign string  `json:"callsign,omitempty"`
	Lat      float64 `json:"lat,omitempty"`
	Lon      float64 `json:"lon,omitempty"`
	// Of a file.
	Name      string `json:"name,omitempty"`
	MIME      string `json:"mimeType,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Submitter string `json:"submitter,omitempty"`
}

// Subscription is one client subscribed to a mission.
type Subscription struct {
	ClientUID string          `json:"clientUid"`
	Principal label.Principal `json:"principal"`
	Owner     string          `json:"owner"` // files.OwnerOf(Principal)
	Role      Role            `json:"role"`
	Created   time.Time       `json:"created"`
	Token     string          `json:"token"`
}

// Invitation invites a client uid to a mission.
type Invitation struct {
	Type    string    `json:"type"`
	Invitee string    `json:"invitee"`
	Role    Role      `json:"role"`
	By      string    `json:"by"`
	Created time.Time `json:"created"`
}

// Mission is one mission's state.
type Mission struct {
	Name        string                   `json:"name"`
	GUID        string                   `json:"guid"`
	Description string                   `json:"description"`
	Tool        string                   `json:"tool"`
	CreatorUID  string                   `json:"creatorUid"`
	Owner       string                   `json:"owner"`
	Label       label.Label              `json:"label"`
	Keywords    []string                 `json:"keywords"`
	Created     time.Time                `json:"created"`
	Items       []Item                   `json:"items"`
	Subs        map[string]*Subscription `json:"subscriptions"`
	Invites     []Invitation             `json:"invitations,omitempty"`
	// Roles is the role of each principal (files.OwnerOf) that ever
	// subscribed or was given one: it outlives the subscription, so
	// unsubscribing and subscribing again does not reset it.
	Roles map[string]Role `json:"roles,omitempty"`
	// PasswordHash is the bcrypt hash of the mission's password ("" for
	// none). It is never shown.
	PasswordHash string `json:"passwordHash,omitempty"`
	// Layers are the mission's layers (TAK Server's MissionLayer).
	Layers []Layer `json:"layers,omitempty"`
	// Origin is the node a federated replica came from ("" for a mission
	// of this node). A replica is read-only here.
	Origin string `json:"origin,omitempty"`
}

// Change is one entry of a mission's change log.
type Change struct {
	id         int64
	Type       string      `json:"type"` // CREATE_MISSION, ADD_CONTENT, REMOVE_CONTENT
	Item       *Item       `json:"item,omitempty"`
	Label      label.Label `json:"label"`
	CreatorUID string      `json:"creatorUid,omitempty"`
	At         time.Time   `json:"at"`
}

// LogEntry is one mission log entry, with its own label.
type LogEntry struct {
	ID         string      `json:"id"`
	Missions   []string    `json:"missionNames"`
	Content    string      `json:"content"`
	CreatorUID string      `json:"creatorUid"`
	Owner      string      `json:"owner"`
	Label      label.Label `json:"label"`
	DTG        time.Time   `json:"dtg"`
	Created    time.Time   `json:"created"`
	Keywords   []string    `json:"keywords"`
	Hashes     []string    `json:"contentHashes"`
	// GUIDs are the missions the entry belongs to (Missions holds their
	// names as written).
	GUIDs []string `json:"missionGuids,omitempty"`
	// Origin is the node a federated entry comes from ("" for this node's).
	Origin string `json:"origin,omitempty"`
}

// Object is the latest report of a CoT uid, as the node's picture holds it.
type Object struct {
	Type     string
	Callsign string
	Lat, Lon float64
	Label    label.Label
	XML      []byte
}

// Objects looks up the latest report of a uid (the node's picture).
type Objects interface {
	Latest(uid string) (Object, bool)
}

// Files looks up a file as a principal sees it (package files).
type Files interface {
	Stat(p label.Principal, hash string) (files.Meta, error)
}

// Publisher injects a server-made event; the node labels-checks every
// delivery again (Node.Inject).
type Publisher interface {
	Inject(ctx context.Context, ev *cot.Event) error
}

// Config configures a Service.
type Config struct {
	// DBPath is the SQLite database of missions.
	DBPath string
	// Shared returns, when Start runs, the cluster's PostgreSQL (cluster
	// mode: the tables of package pgstore's migrations, shared by every
	// instance of the node; see shared.go); nil, or a nil result, keeps
	// the missions in the SQLite file DBPath. The service closes it.
	Shared func() *sql.DB
	// Poll is how often, in cluster mode, the shared version is read to
	// learn of other instances' changes (default 250 ms).
	Poll time.Duration

	NodeID string
	// Nation is the node's nation, and Nations the nations it trusts: a
	// request to send missions whole is releasable to them.
	Nation    string
	Nations   func() []string
	Objects   Objects   // nil: no CoT uid can be added
	Files     Files     // nil: no file can be added
	Store     FileStore // nil: no mission packages
	Publisher Publisher // nil: no notifications
	// Notify, if set, delivers the change notices (t-x-m-*) to this
	// instance's own clients, and Publisher carries federation messages
	// only. In cluster mode each instance notifies its own clients of
	// every change (see shared.go), so a notice must not also cross to
	// the other instances.
	Notify Publisher
	// Clients returns the authenticated principals of the live TAK
	// streams that announced uid (nil: no check). A client uid may be
	// subscribed only by its own principal, and a notice goes to a uid
	// only while every stream holding it is the subscription's principal.
	Clients func(uid string) []label.Principal
	// Audit records security-relevant acts (creations, deletions, role
	// changes, refusals); the node passes its audit log.
	Audit func(ctx context.Context, actor, action, object, decision, reason string)
	Log   *slog.Logger
	Now   func() time.Time
}

// Service holds the missions.
type Service struct {
	cfg Config
	log *slog.Logger
	db  *sql.DB
	pg  bool // db is the cluster's PostgreSQL
	tbl *strings.Replacer

	// mu guards the state below; in cluster mode a writer takes it with
	// lockW, which also holds the cluster's write lock until Unlock.
	mu wmutex
	// seen is, in cluster mode, the shared version the state reflects.
	seen int64

	missions map[string]*Mission  // guid → mission
	changes  map[string][]*Change // guid → log, oldest first
	logs     map[string]*LogEntry // id → entry

	remoteQ chan remoteChange
	syncs   map[string]*pendingSync // guid → a replica being sent whole

	resyncC     chan struct{}
	needRequest atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New checks cfg and returns a service; Start opens its database.
func New(cfg Config) (*Service, error) {
	if cfg.DBPath == "" {
		return nil, fmt.Errorf("%w: no database path", ErrConfig)
	}
	if cfg.NodeID == "" {
		return nil, fmt.Errorf("%w: no node id", ErrConfig)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Audit == nil {
		cfg.Audit = func(context.Context, string, string, string, string, string) {}
	}
	return &Service{cfg: cfg, log: cfg.Log, tbl: sqliteTables, remoteQ: make(chan remoteChange, 4096), syncs: map[string]*pendingSync{}, resyncC: make(chan struct{}, 1)}, nil
}

const schema = `
CREATE TABLE IF NOT EXISTS missions (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY AUTOINCREMENT, mission TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_mission ON changes(mission, id);
CREATE TABLE IF NOT EXISTS logs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
`

// Start opens the database and loads every mission, change and log entry.
func (s *Service) Start(ctx context.Context) error {
	var db *sql.DB
	if s.cfg.Shared != nil {
		db = s.cfg.Shared()
	}
	if db != nil {
		s.db, s.pg, s.tbl = db, true, pgTables
		if err := s.refresh(ctx); err != nil {
			db.Close()
			s.db = nil
			return fmt.Errorf("missions: loading from the cluster's store: %w", err)
		}
	} else {
		db, err := store.OpenSQLite(s.cfg.DBPath)
		if err != nil {
			return fmt.Errorf("missions: %w", err)
		}
		if _, err := db.ExecContext(ctx, schema); err != nil {
			db.Close()
			return fmt.Errorf("missions: schema: %w", err)
		}
		s.db = db
		if err := s.load(ctx); err != nil {
			db.Close()
			s.db = nil
			return fmt.Errorf("missions: loading: %w", err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.wg.Add(2)
	go s.applyRemote(wctx)
	go s.resyncLoop(wctx)
	if s.pg {
		s.wg.Add(1)
		go s.watchShared(wctx)
	}
	return nil
}

// Stop closes the database.
func (s *Service) Stop(context.Context) error {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func (s *Service) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rekey, err := s.readState(ctx, s.db)
	if err != nil {
		return err
	}
	if err := s.rekey(ctx, rekey); err != nil {
		return fmt.Errorf("re-keying missions by guid: %w", err)
	}
	s.missions, s.changes, s.logs = st.missions, st.changes, st.logs
	return nil
}

// state is the whole of the missions as the database holds it (and, in
// cluster mode, the shared version it was read at).
type state struct {
	missions map[string]*Mission  // guid → mission
	changes  map[string][]*Change // guid → log, oldest first
	logs     map[string]*LogEntry // id → entry
	version  int64
}

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readState reads every mission, change and log entry through q, under
// the missions' guids (rekey: see loadMissions).
func (s *Service) readState(ctx context.Context, q querier) (*state, map[string]string, error) {
	st := &state{missions: map[string]*Mission{}, changes: map[string][]*Change{}, logs: map[string]*LogEntry{}}
	rekey, err := s.loadMissions(ctx, q, st)
	if err != nil {
		return nil, nil, err
	}
	if err := s.loadChanges(ctx, q, st, rekey); err != nil {
		return nil, nil, err
	}
	if err := s.loadLogs(ctx, q, st); err != nil {
		return nil, nil, err
	}
	return st, rekey, nil
}

// loadMissions reads the missions table into st. Missions were once
// keyed by their lower-cased name; they are keyed by guid now (two
// missions under different labels may share a name): rekey maps each old
// key still in the table to its mission's guid.
func (s *Service) loadMissions(ctx context.Context, q querier, st *state) (rekey map[string]string, err error) {
	rekey = map[string]string{}
	rows, err := q.QueryContext(ctx, s.q("SELECT key, doc FROM {missions}"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, doc string
		if err := rows.Scan(&k, &doc); err != nil {
			return nil, err
		}
		m := &Mission{}
		if err := json.Unmarshal([]byte(doc), m); err != nil {
			return nil, fmt.Errorf("mission %s: %w", k, err)
		}
		if m.Subs == nil {
			m.Subs = map[string]*Subscription{}
		}
		if m.GUID == "" {
			return nil, fmt.Errorf("mission %s: no guid", k)
		}
		if k != m.GUID {
			rekey[k] = m.GUID
		}
		st.missions[m.GUID] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return rekey, nil
}

// loadChanges reads the change logs into st, under the missions' guids.
func (s *Service) loadChanges(ctx context.Context, q querier, st *state, rekey map[string]string) error {
	rows, err := q.QueryContext(ctx, s.q("SELECT id, mission, doc FROM {changes} ORDER BY id"))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var k, doc string
		if err := rows.Scan(&id, &k, &doc); err != nil {
			return err
		}
		c := &Change{id: id}
		if err := json.Unmarshal([]byte(doc), c); err != nil {
			return fmt.Errorf("change %d: %w", id, err)
		}
		if g, ok := rekey[k]; ok {
			k = g
		}
		st.changes[k] = append(st.changes[k], c)
	}
	rows.Close()
	return rows.Err()
}

// loadLogs reads the log entries into st (missions loaded); an entry
// stored before guids names its missions by name.
func (s *Service) loadLogs(ctx context.Context, q querier, st *state) error {
	rows, err := q.QueryContext(ctx, s.q("SELECT id, doc FROM {logs}"))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return err
		}
		e := &LogEntry{}
		if err := json.Unmarshal([]byte(doc), e); err != nil {
			return fmt.Errorf("log %s: %w", id, err)
		}
		if len(e.GUIDs) == 0 {
			for _, n := range e.Missions {
				for _, m := range st.missions {
					if key(m.Name) == key(n) {
						e.GUIDs = append(e.GUIDs, m.GUID)
					}
				}
			}
		}
		st.logs[id] = e
	}
	return rows.Err()
}

// rekey moves rows keyed by an old key to the mission's guid.
func (s *Service) rekey(ctx context.Context, m map[string]string) error {
	if len(m) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for old, g := range m {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE {missions} SET key = ? WHERE key = ?"), g, old); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE {changes} SET mission = ? WHERE mission = ?"), g, old); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// save writes a mission and the given new changes in one transaction
// (m nil deletes the mission and its changes). Called with s.mu held.
func (s *Service) save(ctx context.Context, k string, m *Mission, cs ...*Change) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.saveTx(ctx, tx, k, m, false, cs) })
}

// saveTx writes a mission and its new changes in tx; replace first
// deletes the mission's change log.
func (s *Service) saveTx(ctx context.Context, tx *sql.Tx, k string, m *Mission, replace bool, cs []*Change) error {
	if m == nil || replace {
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM {changes} WHERE mission = ?"), k); err != nil {
			return err
		}
	}
	if m == nil {
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM {missions} WHERE key = ?"), k); err != nil {
			return err
		}
	} else {
		doc, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO {missions}(key, doc) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET doc = excluded.doc"), k, string(doc)); err != nil {
			return err
		}
	}
	for _, c := range cs {
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if c.id, err = s.insertChange(ctx, tx, k, string(doc)); err != nil {
			return err
		}
	}
	return nil
}

// insertChange appends a change-log row and returns its id.
func (s *Service) insertChange(ctx context.Context, tx *sql.Tx, k, doc string) (int64, error) {
	if s.pg {
		var id int64
		err := tx.QueryRowContext(ctx, s.q("INSERT INTO {changes}(mission, doc) VALUES(?, ?) RETURNING id"), k, doc).Scan(&id)
		return id, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO changes(mission, doc) VALUES(?, ?)", k, doc)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// write runs f in a transaction (s.mu held). In cluster mode the same
// transaction moves the shared version on from the one the state
// reflects: if another instance moved it first, nothing is written and
// the answer is ErrConflict (lockW makes that impossible for a writer
// that holds the cluster's write lock).
func (s *Service) write(ctx context.Context, f func(*sql.Tx) error) error {
	if s.db == nil {
		return errors.New("missions: not started")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.pg {
		if err := s.bumpVersion(ctx, tx); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.pg {
		s.seen++
	}
	return nil
}

func (s *Service) saveLog(ctx context.Context, e *LogEntry, del bool) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if del {
			_, err := tx.ExecContext(ctx, s.q("DELETE FROM {logs} WHERE id = ?"), e.ID)
			return err
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q("INSERT INTO {logs}(id, doc) VALUES(?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"), e.ID, string(doc))
		return err
	})
}

// key is the lookup key of a mission name: TAK Server treats names
// case-insensitively.
func key(name string) string { return strings.ToLower(name) }

// reserved names would be shadowed by fixed routes.
var reserved = []string{"logs", "invitations", "guid", "all"}

// CheckName validates a mission name.
func CheckName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 128 || slices.Contains(reserved, key(n)) {
		return "", fmt.Errorf("%w: name %q", ErrInvalid, name)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '<' || r == '>' || r == '&' || r == '"' {
			return "", fmt.Errorf("%w: name %q", ErrInvalid, name)
		}
	}
	return n, nil
}

// LabelFor returns the label principal p may give: the requested one with
// p's nation as originator (and releasable to it), checked against p's
// clearance; label.Default(p) when none is requested.
func LabelFor(p label.Principal, req *label.Label) (label.Label, error) {
	if req == nil {
		return label.Default(p), nil
	}
	l := *req
	l.Originator = p.Nation
	if !l.Classification.Valid() {
		return label.Label{}, fmt.Errorf("%w: label without classification", ErrInvalid)
	}
	if err := label.CheckSubmit(p, l); err != nil {
		return label.Label{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if l.Caveat != "" {
		c, err := label.ParseCaveat(l.Caveat)
		if err != nil {
			return label.Label{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		l.Caveat = c
	}
	rel := []string{p.Nation}
	for _, n := range l.ReleasableTo {
		if !label.ValidNation(n) {
			return label.Label{}, fmt.Errorf("%w: nation %q", ErrInvalid, n)
		}
		rel = append(rel, n)
	}
	slices.Sort(rel)
	l.ReleasableTo = slices.Compact(rel)
	return l, nil
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// guidMark starts a reference to a mission by guid (a name never holds
// a control character, see CheckName).
const guidMark = "\x00guid:"

// GUIDRef is the reference to the mission with that guid, for the
// methods that take a mission name (the /missions/guid/{guid} routes).
func GUIDRef(guid string) string { return guidMark + guid }

// visible returns the mission ref names (a name, or GUIDRef) if p may see
// it. Names are not unique across labels: missions under labels that do
// not release each other to the same principals may share a name, so a
// name means, for p, the one p holds a role in, else the oldest p sees.
func (s *Service) visible(p label.Principal, ref string) (*Mission, bool) {
	if g, ok := strings.CutPrefix(ref, guidMark); ok {
		m, ok := s.missions[g]
		if !ok || !label.Releasable(p, m.Label) {
			return nil, false
		}
		return m, true
	}
	k := key(ref)
	var best *Mission
	bestRole := false
	for _, m := range s.missions {
		if key(m.Name) != k || !label.Releasable(p, m.Label) {
			continue
		}
		role := roleOf(m, p) != ""
		switch {
		case best == nil,
			role && !bestRole,
			role == bestRole && (m.Created.Before(best.Created) || (m.Created.Equal(best.Created) && m.GUID < best.GUID)):
			best, bestRole = m, role
		}
	}
	return best, best != nil
}

// roleOf is p's role in m: owner for the creator, else, while p holds a
// subscription, the role recorded for p (or the best of its
// subscriptions' for missions stored before roles were kept per
// principal); "" when p holds none.
func roleOf(m *Mission, p label.Principal) Role {
	who := files.OwnerOf(p)
	if who == m.Owner {
		return RoleOwner
	}
	var best Role
	for _, sub := range m.Subs {
		if sub.Owner != who {
			continue
		}
		if r, ok := m.Roles[who]; ok {
			return r
		}
		switch {
		case sub.Role == RoleOwner:
			return RoleOwner
		case sub.Role == RoleSubscriber:
			best = RoleSubscriber
		case best == "":
			best = sub.Role
		}
	}
	return best
}

// CreateRequest describes a new mission.
type CreateRequest struct {
	Name        string
	Description string
	Tool        string
	CreatorUID  string
	Keywords    []string
	Label       *label.Label
	// Password, if set, is required to subscribe (kept as a bcrypt hash).
	Password string
}

// Create makes a mission owned by p. Creating a mission that p may see
// returns it unchanged (TAK clients re-create on reconnect). A name taken
// only by missions p may not see is no obstacle: the new mission is
// another one under the same name (and its own guid), so the answer never
// tells p that a hidden mission exists.
func (s *Service) Create(ctx context.Context, p label.Principal, req CreateRequest) (*View, bool, error) {
	name, err := CheckName(req.Name)
	if err != nil {
		return nil, false, err
	}
	if !p.Valid() {
		return nil, false, fmt.Errorf("%w: no principal", ErrForbidden)
	}
	l, err := LabelFor(p, req.Label)
	if err != nil {
		return nil, false, err
	}
	tool := req.Tool
	if tool == "" {
		tool = "public"
	}
	var hash string
	if req.Password != "" {
		if hash, err = hashPassword(req.Password); err != nil {
			return nil, false, err
		}
	}
	if err := s.lockW(ctx); err != nil {
		return nil, false, err
	}
	if m, ok := s.visible(p, name); ok {
		defer s.mu.Unlock()
		return s.view(p, m, ViewOptions{}), false, nil
	}
	now := s.cfg.Now().UTC()
	m := &Mission{
		Name: name, GUID: newID(), Description: req.Description, Tool: tool,
		CreatorUID: req.CreatorUID, Owner: files.OwnerOf(p), Label: l,
		Keywords: cleanKeywords(req.Keywords), Created: now, Subs: map[string]*Subscription{},
		PasswordHash: hash,
	}
	if req.CreatorUID != "" {
		m.Subs[req.CreatorUID] = &Subscription{ClientUID: req.CreatorUID, Principal: p, Owner: m.Owner, Role: RoleOwner, Created: now, Token: newID()}
	}
	c := &Change{Type: "CREATE_MISSION", Label: l, CreatorUID: req.CreatorUID, At: now}
	if err := s.save(ctx, m.GUID, m, c); err != nil {
		s.mu.Unlock()
		return nil, false, fmt.Errorf("saving mission: %w", err)
	}
	s.missions[m.GUID] = m
	s.changes[m.GUID] = []*Change{c}
	v := s.view(p, m, ViewOptions{})
	mc := *m
	s.mu.Unlock()
	s.federate(ctx, &mc, c)
	return v, true, nil
}

func cleanKeywords(kws []string) []string {
	out := []string{}
	for _, k := range kws {
		k = strings.TrimSpace(k)
		if k != "" && len(k) <= 256 && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// Delete removes a mission; only its owner may.
func (s *Service) Delete(ctx context.Context, p label.Principal, name string) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	m, ok := s.visible(p, name)
	if !ok {
		s.mu.Unlock()
		return ErrNotFound
	}
	if roleOf(m, p) != RoleOwner {
		s.mu.Unlock()
		return ErrForbidden
	}
	if err := s.save(ctx, m.GUID, nil); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("deleting mission: %w", err)
	}
	delete(s.missions, m.GUID)
	delete(s.changes, m.GUID)
	subs := subscribers(m)
	s.mu.Unlock()
	s.notifyDelete(ctx, m, subs)
	s.federate(ctx, m, &Change{Type: "DELETE_MISSION", Label: m.Label, At: s.cfg.Now().UTC()})
	return nil
}

func subscribers(m *Mission) []Subscription {
	out := make([]Subscription, 0, len(m.Subs))
	for _, sub := range m.Subs {
		out = append(out, *sub)
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ClientUID, b.ClientUID) })
	return out
}

// writable returns the mission if p may see it and write in it.
func (s *Service) writable(p label.Principal, name string) (*Mission, error) {
	m, ok := s.visible(p, name)
	if !ok {
		return nil, ErrNotFound
	}
	if m.Origin != "" || !roleOf(m, p).canWrite() {
		return nil, ErrForbidden
	}
	return m, nil
}

// AddContents files CoT uids and file hashes in a mission. Each item
// takes the label of the object or file as p sees it; a uid or hash p
// may not see answers ErrNotFound, as one that does not exist.
func (s *Service) AddContents(ctx context.Context, p label.Principal, name, creatorUID string, uids, hashes []string) (*View, error) {
	now := s.cfg.Now().UTC()
	var items []Item
	for _, uid := range uids {
		if uid == "" || len(uid) > 256 {
			return nil, fmt.Errorf("%w: uid %q", ErrInvalid, uid)
		}
		if s.cfg.Objects == nil {
			return nil, fmt.Errorf("object %s: %w", uid, ErrNotFound)
		}
		o, ok := s.cfg.Objects.Latest(uid)
		if !ok || !label.Releasable(p, o.Label) {
			return nil, fmt.Errorf("object %s: %w", uid, ErrNotFound)
		}
		items = append(items, Item{Kind: KindUID, Key: uid, Label: o.Label, CreatorUID: creatorUID, Added: now,
			Type: o.Type, Callsign: o.Callsign, Lat: o.Lat, Lon: o.Lon})
	}
	for _, h := range hashes {
		h = strings.ToLower(strings.TrimSpace(h))
		if s.cfg.Files == nil {
			return nil, fmt.Errorf("file %s: %w", h, ErrNotFound)
		}
		meta, err := s.cfg.Files.Stat(p, h)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", h, ErrNotFound)
		}
		items = append(items, Item{Kind: KindHash, Key: h, Label: meta.Label, CreatorUID: creatorUID, Added: now,
			Name: meta.Name, MIME: meta.ContentType, Size: meta.Size, Submitter: meta.Owner})
	}
	m, next, err := s.editContents(ctx, p, name)
	if err != nil {
		return nil, err
	}
	var cs []*Change
	for i := range items {
		it := items[i]
		if j := slices.IndexFunc(next.Items, func(x Item) bool { return x.Kind == it.Kind && x.Key == it.Key }); j >= 0 {
			// Re-filing keeps the first label: a later adder cannot
			// relabel what others filed.
			continue
		}
		next.Items = append(next.Items, it)
		cs = append(cs, &Change{Type: "ADD_CONTENT", Item: &it, Label: it.Label, CreatorUID: creatorUID, At: now})
	}
	return s.commitContents(ctx, p, m, next, cs)
}

// editContents locks s and returns mission name, which p may write, and a
// copy of it whose items may change. On error s is unlocked.
func (s *Service) editContents(ctx context.Context, p label.Principal, name string) (m, next *Mission, err error) {
	if err := s.lockW(ctx); err != nil {
		return nil, nil, err
	}
	m, err = s.writable(p, name)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	c := *m
	c.Items = slices.Clone(m.Items)
	return m, &c, nil
}

// commitContents saves the content changes cs that turn m into next,
// then tells subscribers and peers. It is called with s.mu held and
// releases it.
func (s *Service) commitContents(ctx context.Context, p label.Principal, m, next *Mission, cs []*Change) (*View, error) {
	if len(cs) > 0 {
		k := m.GUID
		if err := s.save(ctx, k, next, cs...); err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("saving mission: %w", err)
		}
		*m = *next
		s.changes[k] = append(s.changes[k], cs...)
	}
	v := s.view(p, m, ViewOptions{})
	subs := subscribers(m)
	mc := *m
	s.mu.Unlock()
	for _, c := range cs {
		s.notifyChange(ctx, &mc, subs, c)
		s.federate(ctx, &mc, c)
	}
	return v, nil
}

// RemoveContents takes uids and hashes out of a mission. An item p may not
// see answers ErrNotFound.
func (s *Service) RemoveContents(ctx context.Context, p label.Principal, name, creatorUID string, uids, hashes []string) (*View, error) {
	now := s.cfg.Now().UTC()
	m, next, err := s.editContents(ctx, p, name)
	if err != nil {
		return nil, err
	}
	var cs []*Change
	remove := func(kind, kk string) error {
		j := slices.IndexFunc(next.Items, func(x Item) bool { return x.Kind == kind && x.Key == kk })
		if j < 0 || !label.Releasable(p, next.Items[j].Label) {
			return fmt.Errorf("%s %s: %w", kind, kk, ErrNotFound)
		}
		it := next.Items[j]
		next.Items = slices.Delete(next.Items, j, j+1)
		cs = append(cs, &Change{Type: "REMOVE_CONTENT", Item: &it, Label: it.Label, CreatorUID: creatorUID, At: now})
		return nil
	}
	for _, u := range uids {
		if err := remove(KindUID, u); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	for _, h := range hashes {
		if err := remove(KindHash, strings.ToLower(h)); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	return s.commitContents(ctx, p, m, next, cs)
}

// Subscribe subscribes clientUID, for principal p, to a mission. p may
// subscribe only its own clients: a uid that a live stream of another
// principal announced is refused. The role is the one recorded for p
// (roles outlive subscriptions), else an invitation's, else
// MISSION_SUBSCRIBER. A password-protected mission needs its password,
// except from its owner and principals it already gave a role.
func (s *Service) Subscribe(ctx context.Context, p label.Principal, name, clientUID, password string) (Subscription, error) {
	if clientUID == "" || len(clientUID) > 256 {
		return Subscription{}, fmt.Errorf("%w: no client uid", ErrInvalid)
	}
	who := files.OwnerOf(p)
	if !s.ownsClient(who, clientUID) {
		return Subscription{}, fmt.Errorf("%w: client uid %q is another principal's", ErrForbidden, clientUID)
	}
	if err := s.lockW(ctx); err != nil {
		return Subscription{}, err
	}
	defer s.mu.Unlock()
	m, ok := s.visible(p, name)
	if !ok {
		return Subscription{}, ErrNotFound
	}
	role, held := m.Roles[who]
	if who == m.Owner {
		role, held = RoleOwner, true
	}
	if !held {
		if role = roleOf(m, p); role != "" {
			held = true
		}
	}
	if m.PasswordHash != "" && !held && !checkPassword(m.PasswordHash, password) {
		return Subscription{}, fmt.Errorf("%w: wrong or missing mission password", ErrForbidden)
	}
	if role == "" {
		role = RoleSubscriber
		for _, inv := range m.Invites {
			if inv.Type == "clientUid" && inv.Invitee == clientUID {
				role = inv.Role
			}
		}
	}
	next := *m
	next.Subs = map[string]*Subscription{}
	for k, v := range m.Subs {
		next.Subs[k] = v
	}
	next.Roles = map[string]Role{}
	for k, v := range m.Roles {
		next.Roles[k] = v
	}
	if who != m.Owner {
		next.Roles[who] = role
	}
	sub := &Subscription{ClientUID: clientUID, Principal: p, Owner: who, Role: role, Created: s.cfg.Now().UTC(), Token: newID()}
	if old, ok := m.Subs[clientUID]; ok {
		if old.Owner != sub.Owner {
			// Another principal's client: taking its uid over would
			// redirect (and re-filter) that client's notices.
			return Subscription{}, fmt.Errorf("%w: client uid subscribed by another principal", ErrForbidden)
		}
		sub.Created, sub.Token = old.Created, old.Token
	}
	next.Subs[clientUID] = sub
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return Subscription{}, fmt.Errorf("saving subscription: %w", err)
	}
	*m = next
	return *sub, nil
}

// Unsubscribe removes clientUID's subscription; only the principal that
// made it, or the mission's owner, may.
func (s *Service) Unsubscribe(ctx context.Context, p label.Principal, name, clientUID string) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, ok := s.visible(p, name)
	if !ok {
		return ErrNotFound
	}
	sub, ok := m.Subs[clientUID]
	if !ok {
		return fmt.Errorf("subscription: %w", ErrNotFound)
	}
	if sub.Owner != files.OwnerOf(p) && roleOf(m, p) != RoleOwner {
		return ErrForbidden
	}
	next := *m
	next.Subs = map[string]*Subscription{}
	for k, v := range m.Subs {
		if k != clientUID {
			next.Subs[k] = v
		}
	}
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving subscription: %w", err)
	}
	*m = next
	return nil
}

// SetRole sets a subscriber's role; only the owner may.
func (s *Service) SetRole(ctx context.Context, p label.Principal, name, clientUID string, role Role) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, ok := s.visible(p, name)
	if !ok {
		return ErrNotFound
	}
	if roleOf(m, p) != RoleOwner {
		return ErrForbidden
	}
	sub, ok := m.Subs[clientUID]
	if !ok {
		return fmt.Errorf("subscription: %w", ErrNotFound)
	}
	if sub.Owner == m.Owner {
		return fmt.Errorf("%w: the creator's role cannot change", ErrForbidden)
	}
	// The role belongs to the subscription's principal, for all its
	// clients and for later subscriptions.
	next := *m
	next.Subs = map[string]*Subscription{}
	for k, v := range m.Subs {
		if v.Owner == sub.Owner {
			ns := *v
			ns.Role = role
			v = &ns
		}
		next.Subs[k] = v
	}
	next.Roles = map[string]Role{}
	for k, v := range m.Roles {
		next.Roles[k] = v
	}
	next.Roles[sub.Owner] = role
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving role: %w", err)
	}
	*m = next
	return nil
}

// Subscriptions returns the subscriptions of a mission p may see, and
// p's own role.
func (s *Service) Subscriptions(p label.Principal, name string) ([]Subscription, Role, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, name)
	if !ok {
		return nil, "", ErrNotFound
	}
	return subscribers(m), roleOf(m, p), nil
}

// SetKeywords replaces the mission's keywords (they carry its label).
func (s *Service) SetKeywords(ctx context.Context, p label.Principal, name string, kws []string, remove string) (*View, error) {
	if err := s.lockW(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	m, err := s.writable(p, name)
	if err != nil {
		return nil, err
	}
	next := *m
	if remove != "" {
		next.Keywords = slices.DeleteFunc(slices.Clone(m.Keywords), func(k string) bool { return k == remove })
	} else {
		next.Keywords = cleanKeywords(kws)
	}
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return nil, fmt.Errorf("saving keywords: %w", err)
	}
	*m = next
	mc := *m
	s.federate(ctx, &mc, &Change{Type: fedUpdate, Label: m.Label, At: s.cfg.Now().UTC()})
	return s.view(p, m, ViewOptions{}), nil
}

// Invite invites a client uid to a mission with a role; subscribers that
// may write may invite, and the invitee gets a t-x-m-i.
func (s *Service) Invite(ctx context.Context, p label.Principal, name, typ, invitee string, role Role) error {
	if typ != "clientUid" || invitee == "" || len(invitee) > 256 {
		return fmt.Errorf("%w: only clientUid invitations are supported", ErrInvalid)
	}
	if role == "" {
		role = RoleSubscriber
	}
	if err := s.lockW(ctx); err != nil {
		return err
	}
	m, err := s.writable(p, name)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if role == RoleOwner && roleOf(m, p) != RoleOwner {
		s.mu.Unlock()
		return ErrForbidden
	}
	next := *m
	next.Invites = slices.DeleteFunc(slices.Clone(m.Invites), func(i Invitation) bool { return i.Invitee == invitee })
	next.Invites = append(next.Invites, Invitation{Type: typ, Invitee: invitee, Role: role, By: files.OwnerOf(p), Created: s.cfg.Now().UTC()})
	if err := s.save(ctx, m.GUID, &next); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("saving invitation: %w", err)
	}
	*m = next
	mc := *m
	s.mu.Unlock()
	s.notifyInvite(ctx, &mc, invitee, role)
	return nil
}

// Invitations lists the missions p may see to which clientUID is invited.
func (s *Service) Invitations(p label.Principal, clientUID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, m := range s.missions {
		if !label.Releasable(p, m.Label) {
			continue
		}
		for _, inv := range m.Invites {
			if inv.Invitee == clientUID {
				out = append(out, m.Name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// LogRequest is a new log entry.
type LogRequest struct {
	Missions   []string
	Content    string
	CreatorUID string
	DTG        time.Time
	Keywords   []string
	Hashes     []string
	Label      *label.Label
}

// AddLog records a log entry in each named mission (p must be able to
// write in all of them).
func (s *Service) AddLog(ctx context.Context, p label.Principal, req LogRequest) (*LogEntry, error) {
	if len(req.Missions) == 0 || len(req.Content) > 64<<10 {
		return nil, fmt.Errorf("%w: a log entry needs missionNames and at most 64 KiB of content", ErrInvalid)
	}
	l, err := LabelFor(p, req.Label)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	if req.DTG.IsZero() {
		req.DTG = now
	}
	e := &LogEntry{ID: newID(), Content: req.Content, CreatorUID: req.CreatorUID, Owner: files.OwnerOf(p), Label: l,
		DTG: req.DTG.UTC(), Created: now, Keywords: cleanKeywords(req.Keywords), Hashes: cleanKeywords(req.Hashes)}
	if err := s.lockW(ctx); err != nil {
		return nil, err
	}
	var ms []Mission
	var subs [][]Subscription
	for _, n := range req.Missions {
		m, err := s.writable(p, n)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		e.Missions = append(e.Missions, m.Name)
		e.GUIDs = append(e.GUIDs, m.GUID)
		ms = append(ms, *m)
		subs = append(subs, subscribers(m))
	}
	if err := s.saveLog(ctx, e, false); err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("saving log entry: %w", err)
	}
	s.logs[e.ID] = e
	s.mu.Unlock()
	for i := range ms {
		s.notifyLog(ctx, &ms[i], subs[i], e)
		s.federateLog(ctx, &ms[i], &Change{Type: fedAddLog, At: now}, e)
	}
	return e, nil
}

// DeleteLog deletes a log entry; only its author may.
func (s *Service) DeleteLog(ctx context.Context, p label.Principal, id string) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	e, ok := s.logs[id]
	if !ok || !label.Releasable(p, e.Label) || !s.anyVisible(p, e.GUIDs) {
		return ErrNotFound
	}
	if e.Owner != files.OwnerOf(p) || e.Origin != "" {
		return ErrForbidden
	}
	if err := s.saveLog(ctx, e, true); err != nil {
		return fmt.Errorf("deleting log entry: %w", err)
	}
	delete(s.logs, id)
	for _, g := range e.GUIDs {
		if m, ok := s.missions[g]; ok {
			mc := *m
			s.federateLog(ctx, &mc, &Change{Type: fedDeleteLog, At: s.cfg.Now().UTC()}, e)
		}
	}
	return nil
}

// Log returns one log entry p may see.
func (s *Service) Log(p label.Principal, id string) (LogEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.logs[id]
	if !ok || !label.Releasable(p, e.Label) || !s.anyVisible(p, e.GUIDs) {
		return LogEntry{}, ErrNotFound
	}
	return s.logView(p, e), nil
}

func (s *Service) anyVisible(p label.Principal, guids []string) bool {
	for _, g := range guids {
		if m, ok := s.visible(p, GUIDRef(g)); ok && mayRead(m, p) {
			return true
		}
	}
	return false
}

// logView is e as p sees it: only the missions p may see are named.
func (s *Service) logView(p label.Principal, e *LogEntry) LogEntry {
	v := *e
	v.Missions = nil
	for _, g := range e.GUIDs {
		if m, ok := s.visible(p, GUIDRef(g)); ok {
			v.Missions = append(v.Missions, m.Name)
		}
	}
	v.GUIDs = nil
	return v
}

// Latest returns, for a mission p may see, the latest reports of its uids
// that both the item's and the report's labels release to p.
func (s *Service) Latest(p label.Principal, name string) ([][]byte, error) {
	s.mu.RLock()
	m, ok := s.visible(p, name)
	if !ok {
		s.mu.RUnlock()
		return nil, ErrNotFound
	}
	var uids []string
	for _, it := range m.Items {
		if it.Kind == KindUID && mayRead(m, p) && label.Releasable(p, it.Label) {
			uids = append(uids, it.Key)
		}
	}
	s.mu.RUnlock()
	var out [][]byte
	if s.cfg.Objects == nil {
		return out, nil
	}
	for _, u := range uids {
		if o, ok := s.cfg.Objects.Latest(u); ok && label.Releasable(p, o.Label) && len(o.XML) > 0 {
			out = append(out, o.XML)
		}
	}
	return out, nil
}

// Uninvite withdraws an invitation; subscribers that may write may.
func (s *Service) Uninvite(ctx context.Context, p label.Principal, name, invitee string) error {
	if err := s.lockW(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err := s.writable(p, name)
	if err != nil {
		return err
	}
	next := *m
	next.Invites = slices.DeleteFunc(slices.Clone(m.Invites), func(i Invitation) bool { return i.Invitee == invitee })
	if err := s.save(ctx, m.GUID, &next); err != nil {
		return fmt.Errorf("saving invitation: %w", err)
	}
	*m = next
	return nil
}

// InvitationView is an invitation as TAK Server reports it.
type InvitationView struct {
	MissionName string    `json:"missionName"`
	MissionGUID string    `json:"missionGuid"`
	Invitee     string    `json:"invitee"`
	Type        string    `json:"type"`
	CreateTime  string    `json:"createTime"`
	Role        *RoleView `json:"role"`
}

// MissionInvitations lists a mission's invitations.
func (s *Service) MissionInvitations(p label.Principal, name string) ([]InvitationView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.visible(p, name)
	if !ok {
		return nil, ErrNotFound
	}
	out := []InvitationView{}
	for _, inv := range m.Invites {
		out = append(out, InvitationView{MissionName: m.Name, MissionGUID: m.GUID, Invitee: inv.Invitee, Type: inv.Type, CreateTime: ts(inv.Created), Role: roleView(inv.Role)})
	}
	return out, nil
}
