package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// AddOptions changes how Add labels objects.
type AddOptions struct {
	// Label, if set, replaces the poster's default label as the base of
	// every object's label (markings on the objects still apply). Its
	// originator is ignored: the poster's nation always originates.
	Label *label.Label
	// Federated marks objects arriving from an allied node: their
	// markings were resolved at the origin, so the label is taken as is.
	Federated bool
}

type pending struct {
	o   *stix.Object
	lbl label.Label
}

// Add validates objs and stores the valid ones in collection coll as
// principal p, in one transaction committed before it returns. A bad
// object is refused with a precise message in the returned status; the
// rest are kept. The error is for failures of the store alone.
func (s *Server) Add(ctx context.Context, coll string, p label.Principal, objs []json.RawMessage, opt *AddOptions) (*Status, error) {
	if _, ok := s.colls[coll]; !ok {
		return nil, ErrNoCollection
	}
	d, err := s.store()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	st := &Status{ID: newUUID(), Status: "complete", RequestTimestamp: FormatDateAdded(now.UnixMicro()), TotalCount: len(objs)}
	base := label.Default(p)
	if opt != nil && opt.Label != nil {
		base = *opt.Label
		base.Originator = p.Nation
		base.ReleasableTo = slices.Clone(base.ReleasableTo)
	}
	valid, envMarks := st.readEnvelope(objs)
	todo := s.labelAll(ctx, d, p, base, opt != nil && opt.Federated, valid, envMarks, st)

	// The writes run in a group commit: one transaction, one sync, for
	// every Add waiting at the time (see db.group).
	nSucc := len(st.Successes)
	var stored []pending
	err = d.group(func(w *writer) error {
		st.Successes = st.Successes[:nSucc]
		stored = stored[:0]
		// Kizuna marking definitions the envelope brings are remembered for
		// later envelopes when their id is the one derived from their content
		// (stix.MarkingID), so that nobody can bind a well-known id to another
		// label. Others serve this envelope only.
		for id, l := range envMarks {
			if stix.MarkingID(l) == id {
				if err := d.putMarking(ctx, w.tx, id, l); err != nil {
					return fmt.Errorf("taxii: storing marking: %w", err)
				}
			}
		}
		var err error
		if stored, err = s.insertAll(ctx, d, w, coll, todo, st, now, stored); err != nil {
			return err
		}
		st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
		sb, _ := json.Marshal(st)
		if err := d.putStatus(ctx, w.tx, st.ID, p.String(), sb); err != nil {
			return fmt.Errorf("taxii: storing status: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.OnAdd != nil {
		for _, pd := range stored {
			s.cfg.OnAdd(coll, pd.o, pd.lbl)
		}
	}
	return st, nil
}

// fail records the failure of one object of an envelope, named by the
// parsed object when there is one, else by what its raw JSON says.
func (st *Status) fail(raw []byte, o *stix.Object, err error) {
	var id, ver string
	if o != nil {
		id, ver = o.ID, o.Version()
	} else {
		id, ver = rawIDVersion(raw)
	}
	st.Failures = append(st.Failures, StatusDetail{ID: id, Version: ver, Message: err.Error()})
}

// readEnvelope validates an envelope's objects and learns the Kizuna
// marking definitions it brings; it returns the other valid objects.
func (st *Status) readEnvelope(objs []json.RawMessage) ([]*stix.Object, map[string]label.Label) {
	valid := make([]*stix.Object, 0, len(objs))
	envMarks := map[string]label.Label{}
	validated := validateAll(objs)
	for i, raw := range objs {
		o, err := validated[i].o, validated[i].err
		if err != nil {
			st.fail(raw, nil, err)
			continue
		}
		if l, ok, err := stix.KizunaLabelOf(o); err != nil {
			st.fail(raw, o, err)
			continue
		} else if ok {
			envMarks[o.ID] = l
			st.Successes = append(st.Successes, StatusDetail{ID: o.ID, Version: o.Version(), Message: "Kizuna marking definition read"})
			continue
		}
		valid = append(valid, o)
	}
	return valid, envMarks
}

// labelAll decides each valid object's label and stamps its marking refs:
// a federated object takes the base label, others the label their markings
// give (labelOf).
func (s *Server) labelAll(ctx context.Context, d *db, p label.Principal, base label.Label, federated bool, valid []*stix.Object, envMarks map[string]label.Label, st *Status) []pending {
	var todo []pending
	for _, o := range valid {
		if federated {
			refs := slices.DeleteFunc(slices.Clone(o.MarkingRefs), func(r string) bool { return r == stix.MarkingID(base) })
			if err := stamp(o, append(refs, stix.MarkingID(base))); err != nil {
				st.fail(nil, o, err)
				continue
			}
			todo = append(todo, pending{o, base})
			continue
		}
		l, refs, err := s.labelOf(ctx, d, p, base, o, envMarks)
		if err != nil {
			st.fail(nil, o, err)
			continue
		}
		if err := stamp(o, refs); err != nil {
			st.fail(nil, o, err)
			continue
		}
		todo = append(todo, pending{o, l})
	}
	return todo
}

// insertAll writes the objects not already stored, in one transaction,
// with the marking definition of each label met, and appends them to
// stored.
func (s *Server) insertAll(ctx context.Context, d *db, w *writer, coll string, todo []pending, st *Status, now time.Time, stored []pending) ([]pending, error) {
	// The versions already stored, read per namespace in a few queries.
	// A namespace is the label's originator and classification: the
	// poster's own nation at or below its clearance, so every version met
	// here is one the poster may see (see the schema).
	ids := map[nsKey][]string{}
	for _, pd := range todo {
		k := nsOf(pd.lbl)
		ids[k] = append(ids[k], pd.o.ID)
	}
	have := make(map[nsKey]map[string][]string, len(ids))
	for k, list := range ids {
		var err error
		if have[k], err = w.versionsIn(ctx, coll, k, list); err != nil {
			return stored, err
		}
	}
	marksDone := map[string]bool{}
	for _, pd := range todo {
		o := pd.o
		k := nsOf(pd.lbl)
		nver := stix.NormVersion(o.Version())
		vers := have[k][o.ID]
		if slices.Contains(vers, nver) {
			st.Successes = append(st.Successes, StatusDetail{ID: o.ID, Version: o.Version(), Message: "already present"})
			continue
		}
		later, earlier := false, false
		for _, v := range vers {
			later = later || v > nver
			earlier = earlier || v < nver
		}
		r := &record{coll: coll, id: o.ID, typ: o.Type, spec: o.SpecVersion, version: o.Version(), nver: nver,
			added: d.nextAdded(now), lbl: pd.lbl, body: o.Raw}
		if err := w.insert(ctx, r, later, earlier); err != nil {
			return stored, err
		}
		have[k][o.ID] = append(vers, nver)
		mid := stix.MarkingID(pd.lbl)
		if !marksDone[mid] {
			marksDone[mid] = true
			if err := s.storeMarking(ctx, d, w, coll, pd.lbl, now); err != nil {
				return stored, err
			}
		}
		stored = append(stored, pd)
		st.Successes = append(st.Successes, StatusDetail{ID: o.ID, Version: o.Version()})
	}
	return stored, nil
}

// storeMarking stores the marking definition of l in coll, once, labelled
// with l itself: whoever may see an object carrying it may see it.
func (s *Server) storeMarking(ctx context.Context, d *db, w *writer, coll string, l label.Label, now time.Time) error {
	id := stix.MarkingID(l)
	if err := d.putMarking(ctx, w.tx, id, l); err != nil {
		return fmt.Errorf("taxii: storing marking: %w", err)
	}
	var n int
	if err := w.tx.QueryRowContext(ctx, d.rebind(`SELECT COUNT(*) FROM taxii_objects WHERE coll = ? AND orig = ? AND cls = ? AND id = ?`), coll, l.Originator, int(l.Classification), id).Scan(&n); err != nil {
		return fmt.Errorf("taxii: reading marking: %w", err)
	}
	if n > 0 {
		return nil
	}
	body := stix.MarkingDefinition(l)
	o, err := stix.Validate(body)
	if err != nil {
		return fmt.Errorf("taxii: own marking definition invalid: %w", err)
	}
	return w.insert(ctx, &record{coll: coll, id: id, typ: o.Type, spec: o.SpecVersion, version: o.Version(),
		nver: stix.NormVersion(o.Version()), added: d.nextAdded(now), lbl: l, body: o.Raw}, false, false)
}

// labelOf computes an object's label from the base label and its markings,
// and the marking refs the stored object carries.
func (s *Server) labelOf(ctx context.Context, d *db, p label.Principal, base label.Label, o *stix.Object, envMarks map[string]label.Label) (label.Label, []string, error) {
	l := base
	l.Originator = p.Nation
	tlp := stix.TLPNone
	var kept []string
	var marked []label.Label
	for _, ref := range o.MarkingRefs {
		if t, ok := stix.TLPOf(ref); ok {
			tlp = max(tlp, t)
			kept = append(kept, ref)
			continue
		}
		if ml, ok := envMarks[ref]; ok {
			marked = append(marked, ml)
			continue
		}
		ml, ok, err := d.marking(ctx, ref)
		if err != nil {
			return l, nil, err
		}
		if ok {
			marked = append(marked, ml)
			continue
		}
		kept = append(kept, ref)
	}
	if len(marked) > 0 {
		// Several Kizuna markings combine: the highest classification and
		// the intersection of the releasabilities.
		l = label.Label{Classification: marked[0].Classification, ReleasableTo: slices.Clone(marked[0].ReleasableTo), Caveat: marked[0].Caveat, Originator: p.Nation}
		for _, m := range marked[1:] {
			l.Classification = max(l.Classification, m.Classification)
			l.ReleasableTo = slices.DeleteFunc(l.ReleasableTo, func(n string) bool { return !slices.Contains(m.ReleasableTo, n) })
			if m.Caveat != "" {
				l.Caveat = m.Caveat
			}
		}
	}
	switch l.Caveat {
	case "":
	case "NOFORN":
		l.ReleasableTo = []string{p.Nation}
	default:
		return l, nil, fmt.Errorf("unknown caveat %q", l.Caveat)
	}
	l = stix.ApplyTLP(l, tlp)
	if !slices.Contains(l.ReleasableTo, p.Nation) {
		l.ReleasableTo = append(l.ReleasableTo, p.Nation)
	}
	slices.Sort(l.ReleasableTo)
	l.ReleasableTo = slices.Compact(l.ReleasableTo)
	if err := label.CheckSubmit(p, l); err != nil {
		return l, nil, errAboveClearnce
	}
	if !l.Valid() {
		return l, nil, fmt.Errorf("no valid label")
	}
	mid := stix.MarkingID(l)
	kept = slices.DeleteFunc(kept, func(r string) bool { return r == mid })
	return l, append(kept, mid), nil
}

// stamp rewrites the object's object_marking_refs to refs, if they differ.
func stamp(o *stix.Object, refs []string) error {
	if slices.Equal(o.MarkingRefs, refs) {
		return nil
	}
	b, _ := json.Marshal(refs)
	if len(o.MarkingRefs) == 0 && !bytes.Contains(o.Raw, []byte(`"object_marking_refs"`)) {
		// The common case, an object without markings: splice the
		// property in after the opening brace.
		raw := bytes.TrimSpace(o.Raw)
		out := make([]byte, 0, len(raw)+len(b)+24)
		out = append(out, `{"object_marking_refs":`...)
		out = append(out, b...)
		rest := bytes.TrimSpace(raw[1:])
		if len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
		}
		out = append(out, rest...)
		o.Raw = out
		o.MarkingRefs = refs
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(o.Raw, &m); err != nil {
		return err
	}
	m["object_marking_refs"] = b
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return err
	}
	o.Raw = bytes.TrimSpace(buf.Bytes())
	o.MarkingRefs = refs
	return nil
}

// Replay calls f on every stored version of the given types, oldest
// first, so that in-memory views (effects on the picture) survive a
// restart.
func (s *Server) Replay(ctx context.Context, types []string, f func(coll string, o *stix.Object, l label.Label)) error {
	d, err := s.store()
	if err != nil {
		return err
	}
	return d.each(ctx, types, 0, func(coll string, r record) {
		if o, err := stix.Validate(r.body); err == nil {
			f(coll, o, r.lbl)
		}
	})
}

type validation struct {
	o   *stix.Object
	err error
}

// validateAll validates objs, in parallel on large envelopes: validation
// is pure and most of the cost of ingest.
func validateAll(objs []json.RawMessage) []validation {
	out := make([]validation, len(objs))
	workers := runtime.GOMAXPROCS(0)
	if len(objs) < 256 || workers < 2 {
		for i, raw := range objs {
			out[i].o, out[i].err = stix.Validate(raw)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(objs) + workers - 1) / workers
	for start := 0; start < len(objs); start += chunk {
		end := min(start+chunk, len(objs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				out[i].o, out[i].err = stix.Validate(objs[i])
			}
		}()
	}
	wg.Wait()
	return out
}
