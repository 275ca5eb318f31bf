package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// Sentinel errors of Release.
var (
	ErrNotFound   = errors.New("taxii: no such object")
	ErrBadRelease = errors.New("taxii: release refused")
)

// Released is one object version a release stored.
type Released struct {
	ID      string      `json:"id"`
	Version string      `json:"version"`
	Label   label.Label `json:"label"`
	Marking string      `json:"marking"`
}

// Release widens the releasability of the last version of object id in
// coll that p's nation originated: it stores a new version (modified now)
// under the same classification, originator and caveat, releasable to the
// union of the old list and to. Only the originating nation may release
// (another nation's object with that id is another object, and not p's to
// release); the classification never goes down (no write-down); a NOFORN
// object is not released; an SCO (which has no versions) is not. The new
// version goes through Add, so OnAdd (effects, federation) sees it.
func (s *Server) Release(ctx context.Context, coll, id string, p label.Principal, to []string) ([]Released, error) {
	c, ok := s.colls[coll]
	if !ok {
		return nil, ErrNoCollection
	}
	if !allowed(c.Write, p.Nation) || !allowed(c.Read, p.Nation) {
		// The same answer for every id: the collection's permissions are
		// public to the principal, the ids in it are not.
		return nil, fmt.Errorf("%w: collection not writable", ErrForbidden)
	}
	if !stix.ValidID(id) {
		return nil, ErrNotFound
	}
	for _, n := range to {
		if !label.ValidNation(n) {
			return nil, fmt.Errorf("%w: %q is not a nation", ErrBadRelease, n)
		}
	}
	d, err := s.store()
	if err != nil {
		return nil, err
	}
	recs, _, err := d.find(ctx, p, query{coll: coll, ids: []string{id}, specs: []string{stix.SpecVersion}, versions: []string{"last"}, limit: MaxPage})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	recs = slices.DeleteFunc(recs, func(r record) bool { return r.lbl.Originator != p.Nation })
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: only the originating nation may release an object", ErrForbidden)
	}
	var out []Released
	for _, rec := range recs {
		if !label.Releasable(p, rec.lbl) {
			continue // never: find checks; kept as the policy's last word
		}
		if rec.version == "" {
			return nil, fmt.Errorf("%w: a cyber observable has no versions to release", ErrBadRelease)
		}
		if rec.lbl.Caveat != "" {
			return nil, fmt.Errorf("%w: caveat %s forbids release", ErrBadRelease, rec.lbl.Caveat)
		}
		nl := rec.lbl
		nl.ReleasableTo = slices.Clone(rec.lbl.ReleasableTo)
		for _, n := range to {
			if !slices.Contains(nl.ReleasableTo, n) {
				nl.ReleasableTo = append(nl.ReleasableTo, n)
			}
		}
		slices.Sort(nl.ReleasableTo)
		if slices.Equal(nl.ReleasableTo, rec.lbl.ReleasableTo) {
			continue // already released that widely
		}
		if !nl.Valid() || nl.Classification < rec.lbl.Classification {
			return nil, fmt.Errorf("%w: invalid label", ErrBadRelease)
		}
		body, ver, err := releasedBody(rec, nl, time.Now())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRelease, err)
		}
		st, err := s.Add(ctx, coll, p, []json.RawMessage{body}, &AddOptions{Label: &nl, Federated: true})
		if err != nil {
			return nil, err
		}
		if st.FailureCount > 0 {
			return nil, fmt.Errorf("%w: %s", ErrBadRelease, st.Failures[0].Message)
		}
		out = append(out, Released{ID: rec.id, Version: ver, Label: nl, Marking: nl.Marking()})
	}
	return out, nil
}

// releasedBody is the stored body of rec as a new version: modified
// later than the old one, and the old label's Kizuna marking removed from
// object_marking_refs (Add stamps the new one; TLP and other markings
// stay).
func releasedBody(rec record, nl label.Label, now time.Time) (json.RawMessage, string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.body, &m); err != nil {
		return nil, "", err
	}
	old, err := stix.ParseTimestamp(rec.version)
	if err != nil {
		return nil, "", err
	}
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(old) {
		t = old.Add(time.Millisecond)
	}
	ver := stix.FormatTimestamp(t)
	m["modified"], _ = json.Marshal(ver)
	var refs []string
	if raw, ok := m["object_marking_refs"]; ok {
		if err := json.Unmarshal(raw, &refs); err != nil {
			return nil, "", err
		}
	}
	oldMark := stix.MarkingID(rec.lbl)
	refs = slices.DeleteFunc(refs, func(r string) bool { return r == oldMark || r == stix.MarkingID(nl) })
	if len(refs) == 0 {
		delete(m, "object_marking_refs")
	} else {
		m["object_marking_refs"], _ = json.Marshal(refs)
	}
	b, err := json.Marshal(m)
	return b, ver, err
}

// DeleteFederated deletes version nver ("" for all) of id from coll, only
// in the namespace of l: the originating nation and classification of the
// object as its originator labelled it. A peer can therefore delete only
// objects of the nation that federation verified as the deletion's
// originator, never another nation's object with the same id. It returns
// how many versions it deleted.
func (s *Server) DeleteFederated(ctx context.Context, coll string, l label.Label, id, nver string) (int64, error) {
	if _, ok := s.colls[coll]; !ok {
		return 0, ErrNoCollection
	}
	if !stix.ValidID(id) || !l.Valid() {
		return 0, ErrNotFound
	}
	d, err := s.store()
	if err != nil {
		return 0, err
	}
	return d.deleteIn(ctx, coll, nsOf(l), id, nver)
}
