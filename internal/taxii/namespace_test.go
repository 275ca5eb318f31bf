package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

func indicatorJSON(id, modified, extra string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00.000Z","modified":"%s","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"%s}`, id, modified, extra))
}

// shape is a status with the identifiers of this request taken out: what
// a poster could compare between two answers.
func shape(st *Status) string {
	s := *st
	s.ID, s.RequestTimestamp = "", ""
	clean := func(ds []StatusDetail) []StatusDetail {
		out := slices.Clone(ds)
		for i := range out {
			out[i].ID = ""
		}
		return out
	}
	s.Successes, s.Failures = clean(s.Successes), clean(s.Failures)
	b, _ := json.Marshal(s)
	return string(b)
}

// TestIDNamespaces: posting an id that an object the poster may not see
// already holds (another nation's, or its own nation's above its
// clearance) is answered exactly as posting a fresh id, and stores the
// poster's own object, which neither reader confuses with the other.
func TestIDNamespaces(t *testing.T) {
	s, hs := newTestServer(t)
	ctx := context.Background()
	jpnTS := label.Principal{Nation: "JPN", Clearance: label.TopSecret}
	jpnS := label.Principal{Nation: "JPN", Clearance: label.Secret}
	usaS := label.Principal{Nation: "USA", Clearance: label.Secret}
	taken := "indicator--0d0d0d0d-0d0d-4d0d-8d0d-0d0d0d0d0d0d"
	ts := label.Label{Classification: label.TopSecret, ReleasableTo: []string{"JPN"}}
	st, err := s.Add(ctx, "c1", jpnTS, []json.RawMessage{
		json.RawMessage(stix.MarkingDefinition(ts)),
		indicatorJSON(taken, "2026-01-01T00:00:00.000Z", `,"object_marking_refs":["`+stix.MarkingID(ts)+`"]`),
	}, nil)
	if err != nil || st.FailureCount != 0 {
		t.Fatalf("%v %+v", err, st)
	}
	for i, p := range []label.Principal{jpnS, usaS} {
		t.Run(p.String(), func(t *testing.T) {
			fresh := fmt.Sprintf("indicator--0e0e0e0e-0e0e-4e0e-8e0e-%012x", i)
			for _, ver := range []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"} { // same version as the hidden one, and another
				a, err := s.Add(ctx, "c1", p, []json.RawMessage{indicatorJSON(taken, ver, "")}, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := s.Add(ctx, "c1", p, []json.RawMessage{indicatorJSON(fresh, ver, "")}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if shape(a) != shape(b) || a.SuccessCount != 1 {
					t.Fatalf("taken id answered %s, fresh id %s", shape(a), shape(b))
				}
			}
			// Reposting either is answered alike too.
			a, _ := s.Add(ctx, "c1", p, []json.RawMessage{indicatorJSON(taken, "2026-01-01T00:00:00.000Z", "")}, nil)
			b, _ := s.Add(ctx, "c1", p, []json.RawMessage{indicatorJSON(fresh, "2026-01-01T00:00:00.000Z", "")}, nil)
			if shape(a) != shape(b) || !strings.Contains(shape(a), "already present") {
				t.Fatalf("repost: %s vs %s", shape(a), shape(b))
			}
			// The poster reads its own object, both versions, and nothing
			// of the hidden one.
			for _, id := range []string{taken, fresh} {
				code, body := get(t, hs, p, "/taxii2/kizuna/collections/c1/objects/"+id+"/versions/")
				var v struct{ Versions []string }
				json.Unmarshal(body, &v)
				if code != 200 || !slices.Equal(v.Versions, []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"}) {
					t.Fatalf("%s versions: %d %s", id, code, body)
				}
			}
			if _, body := get(t, hs, p, "/taxii2/kizuna/collections/c1/objects/"+taken+"/?match[version]=all"); strings.Contains(string(body), stix.MarkingID(label.Label{Classification: label.TopSecret, ReleasableTo: []string{"JPN"}, Originator: "JPN"})) {
				t.Fatalf("the hidden object shows: %s", body)
			}
		})
	}
	// The TOP SECRET object is untouched: one version, its own.
	code, body := get(t, hs, jpnTS, "/taxii2/kizuna/collections/c1/objects/"+taken+"/?match[version]=all")
	var env struct{ Objects []map[string]any }
	json.Unmarshal(body, &env)
	ts.Originator = "JPN"
	tsVersions := 0
	for _, o := range env.Objects {
		if slices.Contains(anyList(o["object_marking_refs"]), stix.MarkingID(ts)) {
			tsVersions++
		}
	}
	if code != 200 || tsVersions != 1 {
		t.Fatalf("TOP SECRET object after the others' posts: %d %s", code, body)
	}
}

func anyList(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestRelease widens a national object's releasability with a new
// version, only for its originating nation, never below its
// classification, and answers an id the caller cannot see as unknown.
func TestRelease(t *testing.T) {
	var added []label.Label
	s, hs := newTestServer(t)
	s.cfg.OnAdd = func(_ string, o *stix.Object, l label.Label) {
		if o.Type == "sighting" {
			added = append(added, l)
		}
	}
	ctx := context.Background()
	jpn := label.Principal{Nation: "JPN", Clearance: label.Secret}
	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	kor := label.Principal{Nation: "KOR", Clearance: label.Secret}
	id := "sighting--5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e"
	sighting := json.RawMessage(`{"type":"sighting","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","sighting_of_ref":"indicator--3f7c2a0e-9d41-4d8b-8f0a-6b2e4c9d1a55","object_marking_refs":["` + stix.TLPMarkingID(stix.TLPGreen) + `"]}`)
	national := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}}
	if st, err := s.Add(ctx, "c1", jpn, []json.RawMessage{sighting}, &AddOptions{Label: &national}); err != nil || st.FailureCount != 0 {
		t.Fatalf("%v %+v", err, st)
	}
	if code, _ := get(t, hs, usa, "/taxii2/kizuna/collections/c1/objects/"+id+"/"); code != 404 {
		t.Fatalf("USA sees the national sighting: %d", code)
	}
	// Unknown and invisible ids are answered alike.
	for _, p := range []label.Principal{usa, jpn} {
		other := "sighting--6e6e6e6e-6e6e-4e6e-8e6e-6e6e6e6e6e6e"
		want := id
		if p == jpn {
			want = other
		}
		if _, err := s.Release(ctx, "c1", want, p, []string{"USA"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s releases %s: %v, want not found", p, want, err)
		}
	}
	if _, err := s.Release(ctx, "c1", id, jpn, []string{"U$A"}); !errors.Is(err, ErrBadRelease) {
		t.Fatalf("bad nation: %v", err)
	}
	out, err := s.Release(ctx, "c1", id, jpn, []string{"USA"})
	if err != nil || len(out) != 1 || out[0].Label.Classification != label.Secret || !slices.Equal(out[0].Label.ReleasableTo, []string{"JPN", "USA"}) || out[0].Label.Originator != "JPN" {
		t.Fatalf("release: %+v %v", out, err)
	}
	if len(added) != 2 || !slices.Equal(added[1].ReleasableTo, []string{"JPN", "USA"}) {
		t.Fatalf("OnAdd saw %+v", added)
	}
	code, body := get(t, hs, usa, "/taxii2/kizuna/collections/c1/objects/"+id+"/")
	if code != 200 || !strings.Contains(string(body), stix.MarkingID(out[0].Label)) || !strings.Contains(string(body), stix.TLPMarkingID(stix.TLPGreen)) ||
		strings.Contains(string(body), stix.MarkingID(label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}, Originator: "JPN"})) {
		t.Fatalf("USA after the release: %d %s", code, body)
	}
	// USA may now see it, but it is not USA's to release; KOR still
	// cannot see it at all.
	if _, err := s.Release(ctx, "c1", id, usa, []string{"KOR"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("USA releases JPN's sighting: %v", err)
	}
	if _, err := s.Release(ctx, "c1", id, kor, []string{"KOR"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KOR releases: %v", err)
	}
	// Releasing again to the same nations changes nothing.
	if out, err := s.Release(ctx, "c1", id, jpn, []string{"USA"}); err != nil || len(out) != 0 {
		t.Fatalf("second release: %+v %v", out, err)
	}
	if code, _ := get(t, hs, kor, "/taxii2/kizuna/collections/c1/objects/"+id+"/"); code != 404 {
		t.Fatalf("KOR sees it: %d", code)
	}
	// A collection the caller may not write: refused whatever the id.
	s.colls["c1"].Write = []string{"USA"}
	defer func() { s.colls["c1"].Write = []string{"*"} }()
	if _, err := s.Release(ctx, "c1", id, jpn, []string{"KOR"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("release in a collection JPN may not write: %v", err)
	}
}

// TestDeleteFederated: a deletion applies only in the namespace of the
// label it came with, so a peer cannot delete another nation's object.
func TestDeleteFederated(t *testing.T) {
	s, hs := newTestServer(t)
	ctx := context.Background()
	id := "indicator--7e7e7e7e-7e7e-4e7e-8e7e-7e7e7e7e7e7e"
	jl := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}
	jpn := label.Principal{Nation: "JPN", Clearance: label.TopSecret}
	for _, v := range []string{"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"} {
		if st, err := s.Add(ctx, "c1", jpn, []json.RawMessage{indicatorJSON(id, v, "")}, &AddOptions{Label: &jl, Federated: true}); err != nil || st.FailureCount != 0 {
			t.Fatalf("%v %+v", err, st)
		}
	}
	usa := label.Principal{Nation: "USA", Clearance: label.Secret}
	versions := func() []string {
		_, body := get(t, hs, usa, "/taxii2/kizuna/collections/c1/objects/"+id+"/versions/")
		var v struct{ Versions []string }
		json.Unmarshal(body, &v)
		return v.Versions
	}
	forged := jl
	forged.Originator = "KOR"
	if n, err := s.DeleteFederated(ctx, "c1", forged, id, ""); err != nil || n != 0 {
		t.Fatalf("KOR's deletion of JPN's object: %d %v", n, err)
	}
	lower := jl
	lower.Classification = label.Unclassified
	if n, _ := s.DeleteFederated(ctx, "c1", lower, id, ""); n != 0 {
		t.Fatalf("a deletion in another namespace deleted %d", n)
	}
	if got := versions(); len(got) != 2 {
		t.Fatalf("versions after refused deletions: %v", got)
	}
	if n, err := s.DeleteFederated(ctx, "c1", jl, id, stix.NormVersion("2026-01-02T00:00:00.000Z")); err != nil || n != 1 {
		t.Fatalf("JPN's deletion of one version: %d %v", n, err)
	}
	// The remaining version is the last one again.
	code, body := get(t, hs, usa, "/taxii2/kizuna/collections/c1/objects/"+id+"/")
	if got := versions(); code != 200 || !slices.Equal(got, []string{"2026-01-01T00:00:00.000Z"}) || !strings.Contains(string(body), "2026-01-01T00:00:00.000Z") {
		t.Fatalf("after deleting the last version: %v %d %s", got, code, body)
	}
	if n, _ := s.DeleteFederated(ctx, "c1", jl, id, ""); n != 1 {
		t.Fatalf("deleting the rest: %d", n)
	}
	if code, _ := get(t, hs, usa, "/taxii2/kizuna/collections/c1/objects/"+id+"/"); code != 404 {
		t.Fatalf("deleted object: %d", code)
	}
}
