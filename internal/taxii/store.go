package taxii

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/store"
)

// record is one stored version of one STIX object.
type record struct {
	seq     int64
	coll    string
	id      string
	typ     string
	spec    string
	version string // as the object states it ("" for an SCO)
	nver    string // normalised version, ordered as text
	added   int64  // date_added, Unix microseconds, unique in the store
	lbl     label.Label
	body    []byte
}

// db is the durable store of a TAXII server: one SQLite file, or the
// PostgreSQL that the instances of a cluster share (pg; see shared.go).
type db struct {
	sql *sql.DB
	pg  bool

	mu        sync.Mutex
	lastAdded int64

	// Group commit (see group).
	gmu   sync.Mutex
	queue []*job
	busy  bool
}

// groupCommit is off only in the benchmark that compares both ways.
var groupCommit = true

// job is one writer's part of a group commit.
type job struct {
	run  func(*writer) error
	done chan error    // the job's outcome, once its group committed
	lead chan struct{} // closed when this job's goroutine is to lead the next group
}

// group runs run in a write transaction shared with every other job
// waiting at the time, and returns once that transaction is durable (or
// failed): one commit, one sync for all of them. A job that fails is
// rolled back to its savepoint alone. There is no committer goroutine:
// the first caller leads; when its group is done, it hands the lead to the
// first job that queued meanwhile.
func (d *db) group(run func(*writer) error) error {
	j := &job{run: run, done: make(chan error, 1), lead: make(chan struct{})}
	if !groupCommit {
		d.runGroup([]*job{j})
		return <-j.done
	}
	d.gmu.Lock()
	d.queue = append(d.queue, j)
	lead := !d.busy
	d.busy = true
	d.gmu.Unlock()
	if !lead {
		select {
		case err := <-j.done:
			return err
		case <-j.lead:
		}
	}
	d.gmu.Lock()
	batch := d.queue
	d.queue = nil
	d.gmu.Unlock()
	d.runGroup(batch)
	d.gmu.Lock()
	if len(d.queue) > 0 {
		close(d.queue[0].lead)
	} else {
		d.busy = false
	}
	d.gmu.Unlock()
	return <-j.done
}

func (d *db) runGroup(batch []*job) {
	ctx := context.Background()
	fail := func(err error) {
		for _, j := range batch {
			j.done <- err
		}
	}
	w, err := d.begin(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer w.rollback()
	errs := make([]error, len(batch))
	for i, j := range batch {
		if _, err := w.tx.ExecContext(ctx, `SAVEPOINT job`); err != nil {
			fail(fmt.Errorf("taxii: savepoint: %w", err))
			return
		}
		if errs[i] = j.run(w); errs[i] == nil {
			errs[i] = w.flush(ctx)
		}
		if errs[i] != nil {
			w.pending = nil
			if _, err := w.tx.ExecContext(ctx, `ROLLBACK TO job`); err != nil {
				fail(fmt.Errorf("taxii: rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := w.tx.ExecContext(ctx, `RELEASE job`); err != nil {
			fail(fmt.Errorf("taxii: release savepoint: %w", err))
			return
		}
	}
	if err := d.saveClock(ctx, w.tx); err != nil {
		fail(err)
		return
	}
	if err := w.commit(); err != nil {
		fail(err)
		return
	}
	for i, j := range batch {
		j.done <- errs[i]
	}
}

// The objects table is keyed by namespace as well as by STIX id: the
// originating nation and the classification of the label (orig, cls). An
// id is one object per namespace, so a poster only ever meets versions it
// may see itself (its own nation, at or below its clearance), and posting
// an id that an object it cannot see already holds is answered exactly
// as posting a fresh id: nobody learns that an id is taken. A reader who
// may see two namespaces sees two objects with the same id.
const schemaVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS taxii_objects (
	seq     INTEGER PRIMARY KEY,
	coll    TEXT NOT NULL,
	id      TEXT NOT NULL,
	type    TEXT NOT NULL,
	spec    TEXT NOT NULL,
	version TEXT NOT NULL,
	nver    TEXT NOT NULL,
	added   INTEGER NOT NULL,
	cls     INTEGER NOT NULL,
	orig    TEXT NOT NULL,
	rel     TEXT NOT NULL,
	caveat  TEXT NOT NULL,
	body    BLOB NOT NULL,
	-- superseded is 1 when a later version of the id is stored in the
	-- same namespace: a row with 0 is the last version for every principal
	-- who may see it, so only superseded rows need the per-principal
	-- "last visible version" check.
	superseded INTEGER NOT NULL DEFAULT 0,
	UNIQUE (coll, orig, cls, id, nver)
);
CREATE INDEX IF NOT EXISTS taxii_objects_added ON taxii_objects (coll, added);
CREATE INDEX IF NOT EXISTS taxii_objects_id ON taxii_objects (coll, id, nver);
-- taxii_vis lists, per nation that the releasability part of the rule
-- lets see a stored version (its originator and every nation of its
-- releasability list), that version's date_added and classification. A
-- listing walks the principal's nation's rows in date_added order and
-- never reads a row withheld from that nation; label.Releasable still
-- decides on every row it returns (the table only narrows).
CREATE TABLE IF NOT EXISTS taxii_vis (
	nation TEXT NOT NULL,
	coll   TEXT NOT NULL,
	added  INTEGER NOT NULL,
	cls    INTEGER NOT NULL,
	seq    INTEGER NOT NULL,
	PRIMARY KEY (nation, coll, added)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS taxii_status (
	id      TEXT PRIMARY KEY,
	owner   TEXT NOT NULL,
	created INTEGER NOT NULL,
	body    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS taxii_markings (
	id     TEXT PRIMARY KEY,
	cls    INTEGER NOT NULL,
	rel    TEXT NOT NULL,
	orig   TEXT NOT NULL,
	caveat TEXT NOT NULL
);`

// migrate brings a store of schema version 1 (objects keyed by id alone)
// to version 2 (keyed by namespace and id).
func migrate(s *sql.DB) error {
	var v int
	if err := s.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v >= schemaVersion {
		return nil
	}
	var n int
	if err := s.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'taxii_objects'`).Scan(&n); err != nil {
		return err
	}
	tx, err := s.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if n > 0 {
		for _, q := range []string{
			`ALTER TABLE taxii_objects RENAME TO taxii_objects_v1`,
			`DROP INDEX IF EXISTS taxii_objects_added`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec(schema); err != nil {
		return err
	}
	if n > 0 {
		for _, q := range []string{
			`INSERT INTO taxii_objects (seq, coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body, superseded)
			 SELECT seq, coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body, 0 FROM taxii_objects_v1`,
			`DROP TABLE taxii_objects_v1`,
			`UPDATE taxii_objects SET superseded = 1 WHERE EXISTS (SELECT 1 FROM taxii_objects o2 WHERE o2.coll = taxii_objects.coll
			 AND o2.orig = taxii_objects.orig AND o2.cls = taxii_objects.cls AND o2.id = taxii_objects.id AND o2.nver > taxii_objects.nver)`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
	}
	if n > 0 {
		if err := fillVis(tx); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// fillVis builds taxii_vis for every stored version.
func fillVis(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT seq, coll, added, cls, orig, rel FROM taxii_objects`)
	if err != nil {
		return err
	}
	type row struct {
		seq, added int64
		cls        int
		coll       string
		nations    []string
	}
	var all []row
	for rows.Next() {
		var r row
		var orig, rel string
		if err := rows.Scan(&r.seq, &r.coll, &r.added, &r.cls, &orig, &rel); err != nil {
			rows.Close()
			return err
		}
		r.nations = visNations(orig, relFromColumn(rel))
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		for _, nat := range r.nations {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO taxii_vis (nation, coll, added, cls, seq) VALUES (?,?,?,?,?)`, nat, r.coll, r.added, r.cls, r.seq); err != nil {
				return err
			}
		}
	}
	return nil
}

// visNations are the nations the releasability part of the rule admits
// for a label: the originator and every listed nation, once each. (A
// caveat only ever narrows further, which label.Releasable decides.)
func visNations(orig string, rel []string) []string {
	out := make([]string, 0, len(rel)+1)
	out = append(out, orig)
	for _, n := range rel {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func openDB(path string) (*db, error) {
	s, err := store.OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	if err := migrate(s); err != nil {
		s.Close()
		return nil, fmt.Errorf("taxii: creating schema: %w", err)
	}
	d := &db{sql: s}
	if err := s.QueryRow(`SELECT COALESCE(MAX(added), 0) FROM taxii_objects`).Scan(&d.lastAdded); err != nil {
		s.Close()
		return nil, fmt.Errorf("taxii: reading the store: %w", err)
	}
	return d, nil
}

func (d *db) close() error { return d.sql.Close() }

// nextAdded returns a date_added later than every one before it, so that
// date_added orders the store totally and a client resuming with
// added_after neither skips nor repeats an object.
func (d *db) nextAdded(now time.Time) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := now.UnixMicro()
	if t <= d.lastAdded {
		t = d.lastAdded + 1
	}
	d.lastAdded = t
	return t
}

// relColumn renders a releasability list for the rel column: codes
// between spaces, so that instr(rel, ' USA ') finds one.
func relColumn(rel []string) string {
	if len(rel) == 0 {
		return " "
	}
	return " " + strings.Join(rel, " ") + " "
}

func relFromColumn(s string) []string { return strings.Fields(s) }

// visSQL is the releasability rule as a SQL predicate over an alias: the
// same formula as label.Releasable (clearance at or above the
// classification, and the principal's nation the originator or listed).
// It narrows what the database reads; every row it lets through is still
// checked with label.Releasable before it leaves.
func (d *db) visSQL(alias string) string {
	if d.pg {
		return fmt.Sprintf("(%[1]s.cls <= ? AND (%[1]s.orig = ? OR strpos(%[1]s.rel, ?) > 0))", alias)
	}
	return fmt.Sprintf("(%[1]s.cls <= ? AND (%[1]s.orig = ? OR instr(%[1]s.rel, ?) > 0))", alias)
}

func visArgs(p label.Principal) []any {
	return []any{int(p.Clearance), p.Nation, " " + p.Nation + " "}
}

// query selects object versions.
type query struct {
	coll     string
	after    int64 // added > after
	ids      []string
	types    []string
	specs    []string
	versions []string // "first", "last", "all" or normalised timestamps
	limit    int
}

func inList(col string, n int) string {
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
}

// find returns up to q.limit versions visible to p, in date_added order,
// and whether more exist. Rows the SQL predicate lets through but
// label.Releasable refuses are skipped without a trace.
func (d *db) find(ctx context.Context, p label.Principal, q query) ([]record, bool, error) {
	var out []record
	after := q.after
	for {
		want := q.limit + 1 - len(out)
		rows, err := d.findRaw(ctx, p, q, after, want)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rows {
			after = r.added
			if label.Releasable(p, r.lbl) {
				out = append(out, r)
			}
		}
		if len(out) > q.limit {
			return out[:q.limit], true, nil
		}
		if len(rows) < want {
			return out, false, nil
		}
	}
}

func (d *db) findRaw(ctx context.Context, p label.Principal, q query, after int64, limit int) ([]record, error) {
	var sb strings.Builder
	args := []any{q.coll, after}
	const cols = `SELECT o.seq, o.id, o.type, o.spec, o.version, o.nver, o.added, o.cls, o.orig, o.rel, o.caveat, o.body`
	order := " ORDER BY o.added LIMIT ?"
	if len(q.ids) == 0 {
		// A listing: walk the nation's visibility rows in date_added
		// order (CROSS JOIN keeps taxii_vis the outer loop).
		join := " CROSS JOIN "
		if d.pg {
			join = " JOIN " // PostgreSQL has no CROSS JOIN … ON; its planner needs no hint
		}
		sb.WriteString(cols + ` FROM taxii_vis v` + join + `taxii_objects o ON o.seq = v.seq WHERE v.nation = ? AND v.coll = ? AND v.added > ? AND v.cls <= ? AND `)
		args = []any{p.Nation, q.coll, after, int(p.Clearance)}
		order = " ORDER BY v.added LIMIT ?"
	} else {
		// Given ids: the (coll, id, nver) index.
		sb.WriteString(cols + ` FROM taxii_objects o WHERE o.coll = ? AND o.added > ? AND `)
	}
	sb.WriteString(d.visSQL("o"))
	args = append(args, visArgs(p)...)
	if len(q.ids) > 0 {
		sb.WriteString(" AND " + inList("o.id", len(q.ids)))
		for _, v := range q.ids {
			args = append(args, v)
		}
	}
	if len(q.types) > 0 {
		sb.WriteString(" AND " + inList("o.type", len(q.types)))
		for _, v := range q.types {
			args = append(args, v)
		}
	}
	specFilter := func(alias string) {
		if len(q.specs) > 0 {
			sb.WriteString(" AND " + inList(alias+".spec", len(q.specs)))
			for _, v := range q.specs {
				args = append(args, v)
			}
		}
	}
	specFilter("o")
	vconds, vargs := d.versionConds(p, q)
	if len(vconds) > 0 {
		sb.WriteString(" AND (" + strings.Join(vconds, " OR ") + ")")
		for _, a := range vargs {
			args = append(args, a...)
		}
	}
	sb.WriteString(order)
	args = append(args, limit)
	rows, err := d.sql.QueryContext(ctx, d.rebind(sb.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("taxii: querying objects: %w", err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		var cls int
		var rel string
		if err := rows.Scan(&r.seq, &r.id, &r.typ, &r.spec, &r.version, &r.nver, &r.added, &cls, &r.lbl.Originator, &rel, &r.lbl.Caveat, &r.body); err != nil {
			return nil, fmt.Errorf("taxii: reading objects: %w", err)
		}
		r.coll = q.coll
		r.lbl.Classification = label.Classification(cls)
		r.lbl.ReleasableTo = relFromColumn(rel)
		out = append(out, r)
	}
	return out, rows.Err()
}

// versionConds are the SQL conditions (alternatives) and their arguments
// for the query's match[version] values; none when "all" is among them.
func (d *db) versionConds(p label.Principal, q query) ([]string, [][]any) {
	var vconds []string
	var vargs [][]any
	for _, v := range q.versions {
		switch v {
		case "all":
			return nil, nil
		case "last", "first":
			cmp := ">"
			if v == "first" {
				cmp = "<"
			}
			var b strings.Builder
			if v == "last" {
				b.WriteString("o.superseded = 0 OR ")
			}
			b.WriteString("NOT EXISTS (SELECT 1 FROM taxii_objects o2 WHERE o2.coll = o.coll AND o2.orig = o.orig AND o2.cls = o.cls AND o2.id = o.id AND o2.nver " + cmp + " o.nver AND " + d.visSQL("o2"))
			a := visArgs(p)
			if len(q.specs) > 0 {
				b.WriteString(" AND " + inList("o2.spec", len(q.specs)))
				for _, s := range q.specs {
					a = append(a, s)
				}
			}
			b.WriteString(")")
			vconds = append(vconds, "("+b.String()+")")
			vargs = append(vargs, a)
		default:
			vconds = append(vconds, "o.nver = ?")
			vargs = append(vargs, []any{v})
		}
	}
	return vconds, vargs
}

// writer is one write transaction with its prepared statements.
type writer struct {
	d               *db
	tx              *sql.Tx
	ins, super, vis *sql.Stmt
	pending         []pendingRow // PostgreSQL: rows the job's flush inserts
}

func (d *db) begin(ctx context.Context) (*writer, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("taxii: begin: %w", err)
	}
	if err := d.lockClock(ctx, tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	w := &writer{d: d, tx: tx}
	if !d.pg { // PostgreSQL inserts in multi-row statements (flush)
		w.ins, err = tx.PrepareContext(ctx, `INSERT INTO taxii_objects (coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body, superseded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	}
	if err == nil {
		w.super, err = tx.PrepareContext(ctx, d.rebind(`UPDATE taxii_objects SET superseded = 1 WHERE coll = ? AND orig = ? AND cls = ? AND id = ? AND nver < ? AND superseded = 0`))
	}
	if err == nil && !d.pg {
		w.vis, err = tx.PrepareContext(ctx, `INSERT INTO taxii_vis (nation, coll, added, cls, seq) VALUES (?,?,?,?,?)`)
	}
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("taxii: preparing: %w", err)
	}
	return w, nil
}

func (w *writer) rollback() { w.tx.Rollback() }
func (w *writer) commit() error {
	if err := w.flush(context.Background()); err != nil {
		return err
	}
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("taxii: commit: %w", err)
	}
	return nil
}

// nsKey names one namespace of ids: the originating nation and the
// classification of the label.
type nsKey struct {
	orig string
	cls  label.Classification
}

func nsOf(l label.Label) nsKey { return nsKey{l.Originator, l.Classification} }

// versionsIn returns the normalised versions stored for each of ids in one
// namespace of coll, in a few queries whatever the number of ids. Every
// version in the poster's own namespace is one it may see: this is for
// duplicate and ordering checks on write, never for egress.
func (w *writer) versionsIn(ctx context.Context, coll string, ns nsKey, ids []string) (map[string][]string, error) {
	out := make(map[string][]string)
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, 0, len(part)+3)
		args = append(args, coll, ns.orig, int(ns.cls))
		for _, id := range part {
			args = append(args, id)
		}
		rows, err := w.tx.QueryContext(ctx, w.d.rebind(`SELECT id, nver FROM taxii_objects WHERE coll = ? AND orig = ? AND cls = ? AND `+inList("id", len(part))), args...)
		if err != nil {
			return nil, fmt.Errorf("taxii: reading versions: %w", err)
		}
		for rows.Next() {
			var id, nver string
			if err := rows.Scan(&id, &nver); err != nil {
				rows.Close()
				return nil, fmt.Errorf("taxii: reading versions: %w", err)
			}
			out[id] = append(out[id], nver)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("taxii: reading versions: %w", err)
		}
	}
	return out, nil
}

// insert stores r; later is whether a later version of r's id is stored
// in its namespace, earlier whether an earlier one is (which r then
// supersedes).
func (w *writer) insert(ctx context.Context, r *record, later, earlier bool) error {
	sup := 0
	if later {
		sup = 1
	}
	if w.d.pg {
		w.pending = append(w.pending, pendingRow{r: r, sup: sup, supersede: !later && earlier})
		return nil
	}
	seq, err := w.insertRow(ctx, r, sup)
	if err != nil {
		return err
	}
	for _, nat := range visNations(r.lbl.Originator, r.lbl.ReleasableTo) {
		if _, err := w.vis.ExecContext(ctx, nat, r.coll, r.added, int(r.lbl.Classification), seq); err != nil {
			return fmt.Errorf("taxii: storing %s: %w", r.id, err)
		}
	}
	if !later && earlier {
		if _, err := w.super.ExecContext(ctx, r.coll, r.lbl.Originator, int(r.lbl.Classification), r.id, r.nver); err != nil {
			return fmt.Errorf("taxii: storing %s: %w", r.id, err)
		}
	}
	return nil
}

// insertRow inserts r's row (SQLite) and returns its seq.
func (w *writer) insertRow(ctx context.Context, r *record, sup int) (int64, error) {
	res, err := w.ins.ExecContext(ctx, r.coll, r.id, r.typ, r.spec, r.version, r.nver, r.added, int(r.lbl.Classification), r.lbl.Originator, relColumn(r.lbl.ReleasableTo), r.lbl.Caveat, r.body, sup)
	if err != nil {
		return 0, fmt.Errorf("taxii: storing %s: %w", r.id, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("taxii: storing %s: %w", r.id, err)
	}
	return seq, nil
}

// marking returns the label a stored Kizuna marking definition carries.
func (d *db) marking(ctx context.Context, id string) (label.Label, bool, error) {
	var l label.Label
	var cls int
	var rel string
	err := d.sql.QueryRowContext(ctx, d.rebind(`SELECT cls, rel, orig, caveat FROM taxii_markings WHERE id = ?`), id).Scan(&cls, &rel, &l.Originator, &l.Caveat)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("taxii: reading marking %s: %w", id, err)
	}
	l.Classification = label.Classification(cls)
	l.ReleasableTo = relFromColumn(rel)
	return l, true, nil
}

func (d *db) putMarking(ctx context.Context, tx *sql.Tx, id string, l label.Label) error {
	q := `INSERT OR IGNORE INTO taxii_markings (id, cls, rel, orig, caveat) VALUES (?,?,?,?,?)`
	if d.pg {
		q = `INSERT INTO taxii_markings (id, cls, rel, orig, caveat) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (id) DO NOTHING`
	}
	_, err := tx.ExecContext(ctx, q,
		id, int(l.Classification), relColumn(l.ReleasableTo), l.Originator, l.Caveat)
	return err
}

func (d *db) putStatus(ctx context.Context, tx *sql.Tx, id, owner string, body []byte) error {
	_, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO taxii_status (id, owner, created, body) VALUES (?,?,?,?)`), id, owner, time.Now().Unix(), body)
	return err
}

func (d *db) status(ctx context.Context, id, owner string) ([]byte, bool, error) {
	var b []byte
	err := d.sql.QueryRowContext(ctx, d.rebind(`SELECT body FROM taxii_status WHERE id = ? AND owner = ?`), id, owner).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// Deleted is one object version a deletion removed.
type Deleted struct {
	ID      string
	Version string // normalised
	Label   label.Label
}

// deleteVersions deletes the given versions (by seq) and returns what it
// deleted.
func (d *db) deleteVersions(ctx context.Context, seqs []int64) ([]Deleted, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := d.lockClock(ctx, tx); err != nil {
		return nil, err
	}
	out, err := d.deleteSeqs(ctx, tx, seqs)
	if err != nil {
		return nil, err
	}
	if err := d.countDeletion(ctx, tx, len(out)); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// deleteSeqs deletes versions by seq, with their visibility rows, and
// marks the latest remaining version of each id as superseded by nothing.
func (d *db) deleteSeqs(ctx context.Context, tx *sql.Tx, seqs []int64) ([]Deleted, error) {
	var out []Deleted
	for _, s := range seqs {
		var coll, rel string
		var cls int
		var added int64
		var del Deleted
		if err := tx.QueryRowContext(ctx, d.rebind(`SELECT coll, id, nver, added, cls, orig, rel, caveat FROM taxii_objects WHERE seq = ?`), s).
			Scan(&coll, &del.ID, &del.Version, &added, &cls, &del.Label.Originator, &rel, &del.Label.Caveat); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			return nil, err
		}
		del.Label.Classification = label.Classification(cls)
		del.Label.ReleasableTo = relFromColumn(rel)
		res, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM taxii_objects WHERE seq = ?`), s)
		if err != nil {
			return nil, err
		}
		if k, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if k == 0 {
			continue // deleted meanwhile by another writer, which reports it
		}
		for _, nat := range visNations(del.Label.Originator, del.Label.ReleasableTo) {
			if _, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM taxii_vis WHERE nation = ? AND coll = ? AND added = ?`), nat, coll, added); err != nil {
				return nil, err
			}
		}
		if err := d.unsupersede(ctx, tx, coll, nsOf(del.Label), del.ID); err != nil {
			return nil, err
		}
		out = append(out, del)
	}
	return out, nil
}

// unsupersede marks the latest remaining version of an id in a namespace
// as superseded by nothing.
func (d *db) unsupersede(ctx context.Context, tx *sql.Tx, coll string, ns nsKey, id string) error {
	_, err := tx.ExecContext(ctx, d.rebind(`UPDATE taxii_objects SET superseded = 0 WHERE coll = ? AND orig = ? AND cls = ? AND id = ? AND nver = (SELECT MAX(nver) FROM taxii_objects WHERE coll = ? AND orig = ? AND cls = ? AND id = ?)`),
		coll, ns.orig, int(ns.cls), id, coll, ns.orig, int(ns.cls), id)
	return err
}

// deleteIn deletes version nver ("" for every version) of id in one
// namespace of coll, and returns how many versions it deleted.
func (d *db) deleteIn(ctx context.Context, coll string, ns nsKey, id, nver string) (int64, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := d.lockClock(ctx, tx); err != nil {
		return 0, err
	}
	q := `SELECT seq FROM taxii_objects WHERE coll = ? AND orig = ? AND cls = ? AND id = ?`
	args := []any{coll, ns.orig, int(ns.cls), id}
	if nver != "" {
		q += ` AND nver = ?`
		args = append(args, nver)
	}
	rows, err := tx.QueryContext(ctx, d.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	var seqs []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, err
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	gone, err := d.deleteSeqs(ctx, tx, seqs)
	if err != nil {
		return 0, err
	}
	if err := d.countDeletion(ctx, tx, len(gone)); err != nil {
		return 0, err
	}
	n := int64(len(gone))
	return n, tx.Commit()
}

// each calls f on every stored version of the given types added after
// after, in date_added order. It is for rebuilding in-memory state at
// start (and, in a cluster, following other instances), not for egress.
func (d *db) each(ctx context.Context, types []string, after int64, f func(coll string, r record)) error {
	args := make([]any, 0, len(types)+1)
	args = append(args, after)
	for _, t := range types {
		args = append(args, t)
	}
	rows, err := d.sql.QueryContext(ctx, d.rebind(`SELECT coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body FROM taxii_objects WHERE added > ? AND `+inList("type", len(types))+` ORDER BY added`), args...)
	if err != nil {
		return fmt.Errorf("taxii: replay: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r record
		var cls int
		var rel string
		if err := rows.Scan(&r.coll, &r.id, &r.typ, &r.spec, &r.version, &r.nver, &r.added, &cls, &r.lbl.Originator, &rel, &r.lbl.Caveat, &r.body); err != nil {
			return err
		}
		r.lbl.Classification = label.Classification(cls)
		r.lbl.ReleasableTo = relFromColumn(rel)
		f(r.coll, r)
	}
	return rows.Err()
}
