package mission

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestMissionKeywordsInvitesLogs: keywords, the invitation flow (the
// invitee's t-x-m-i and its role on subscribing) and log entries (own
// label, author-only delete, 404 to whom the label withholds).
func TestMissionKeywordsInvitesLogs(t *testing.T) {
	f := newFixture(t, "")
	f.must(jpn, "PUT", "/Marti/api/missions/kw?creatorUid=jpn-1&access=SECRET&releasableTo=KOR", nil, http.StatusCreated)
	v := decode[missionsResp](t, f.must(jpn, "PUT", "/Marti/api/missions/kw/keywords", []string{"alpha", "bravo", "alpha"}, http.StatusOK)).Data[0]
	if !slices.Equal(v.Keywords, []string{"alpha", "bravo"}) {
		t.Fatalf("keywords %v", v.Keywords)
	}
	v = decode[missionsResp](t, f.must(jpn, "DELETE", "/Marti/api/missions/kw/keywords/alpha", nil, http.StatusOK)).Data[0]
	if !slices.Equal(v.Keywords, []string{"bravo"}) {
		t.Fatalf("keywords after delete %v", v.Keywords)
	}
	// Not subscribed: KOR may read but not write.
	f.must(kor, "PUT", "/Marti/api/missions/kw/keywords", []string{"x"}, http.StatusForbidden)

	f.sink.take()
	f.must(jpn, "PUT", "/Marti/api/missions/kw/invite/clientUid/kor-1?role=MISSION_READONLY_SUBSCRIBER", nil, http.StatusOK)
	evs := f.sink.take()
	if len(evs) != 1 || evs[0].Type != TypeInvite || evs[0].Dests[0].UID != "kor-1" {
		t.Fatalf("invitation notices %+v", evs)
	}
	var invs struct{ Data []string }
	json.Unmarshal(f.must(kor, "GET", "/Marti/api/missions/invitations?clientUid=kor-1", nil, http.StatusOK), &invs)
	if !slices.Equal(invs.Data, []string{"kw"}) {
		t.Fatalf("invitations %v", invs.Data)
	}
	if b := f.must(usa, "GET", "/Marti/api/missions/invitations?clientUid=kor-1", nil, http.StatusOK); string(b) == "" || slices.Contains(decode[struct{ Data []string }](t, b).Data, "kw") {
		t.Fatalf("USA learns of the invitation: %s", b)
	}
	var sub struct{ Data SubscriptionView }
	json.Unmarshal(f.must(kor, "PUT", "/Marti/api/missions/kw/subscription?uid=kor-1", nil, http.StatusCreated), &sub)
	if sub.Data.Role.Type != RoleReadOnly || sub.Data.Token == "" {
		t.Fatalf("invited subscription %+v", sub.Data)
	}

	var entry struct{ Data LogView }
	json.Unmarshal(f.must(jpn, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"kw"}, "content": "jpn only"}, http.StatusCreated), &entry)
	id := entry.Data.ID
	f.must(jpn, "GET", "/Marti/api/missions/logs/entries/"+id, nil, http.StatusOK)
	f.must(kor, "GET", "/Marti/api/missions/logs/entries/"+id, nil, http.StatusNotFound)
	f.must(kor, "DELETE", "/Marti/api/missions/logs/entries/"+id, nil, http.StatusNotFound)
	f.must(kor, "POST", "/Marti/api/missions/logs/entries", map[string]any{"missionNames": []string{"kw"}, "content": "read-only"}, http.StatusForbidden)
	f.must(jpn, "DELETE", "/Marti/api/missions/logs/entries/"+id, nil, http.StatusOK)
	f.must(jpn, "GET", "/Marti/api/missions/logs/entries/"+id, nil, http.StatusNotFound)
}
