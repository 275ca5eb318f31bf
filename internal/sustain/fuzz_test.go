package sustain

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// FuzzRemote feeds allied reports to Remote: it never panics, and what it
// keeps carries the report's label unchanged.
func FuzzRemote(f *testing.F) {
	f.Add(TypeStock, `<__sustain kind="stock" item="PAC-3 MSE" location="usa-btry" owner="USA" quantity="12"/>`)
	f.Add(TypeReadiness, `<__readiness unit="btry" name="B" nation="USA" parent="bde" colour="RED" assigned="2" available="1" alert="true"><munition item="PAC-3 MSE" onHand="3" required="16"/></__readiness>`)
	f.Add(TypeStock, `<__sustain quantity="-1"/>`)
	f.Add(TypeStock, `<!DOCTYPE x [<!ENTITY a "b">]><__sustain item="&a;"/>`)
	s := newService(f, Config{})
	l := relTo("USA", "JPN")
	f.Fuzz(func(t *testing.T, typ, detail string) {
		ev := &cot.Event{UID: "r", Type: typ, Detail: []byte(detail), Origin: cot.Origin{Nation: "USA", Node: "peer"}, Time: time.Now(), Stale: time.Now().Add(time.Hour)}
		_ = s.Remote(ev, l)
		for _, st := range s.Stocks(jpnP, "", "") {
			if !st.Label.Equal(l) && st.Node != "" {
				t.Fatalf("remote stock with label %+v", st.Label)
			}
		}
		if len(s.Stocks(korP, "", "")) != 0 || len(s.Readiness(korP)) != 0 {
			t.Fatal("a USA/JPN report reached KOR")
		}
	})
}

// FuzzCatalogue: ParseCatalogue accepts only well-formed catalogues.
func FuzzCatalogue(f *testing.F) {
	f.Add(`[{"name":"Mk-48","serialised":true}]`)
	f.Add(`[{"name":"=cmd()"}]`)
	f.Add(`[{"name":""}]`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		items, err := ParseCatalogue(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, it := range items {
			if checkName("item", it.Name) != nil {
				t.Fatalf("accepted item %q", it.Name)
			}
		}
	})
}

// FuzzMovementsAPI posts arbitrary bodies to the movements endpoint as
// KOR: nothing panics, conservation holds, and no answer carries the USA
// stock that KOR may not see.
func FuzzMovementsAPI(f *testing.F) {
	f.Add(`{"item":"SM-6","from":"PRODUCTION","to":"kor-d","quantity":3,"reason":"production-acceptance"}`)
	f.Add(`{"movements":[{"item":"SM-6","from":"usa-d","to":"kor-d","quantity":1,"reason":"transfer","fromOwner":"USA","toOwner":"KOR"}]}`)
	f.Add(`{"item":"SM-6","from":"kor-d","to":"EXPENDED","quantity":99999999999,"reason":"expenditure"}`)
	f.Add(`{"label":{"classification":"TOP SECRET","originator":"USA"}}`)
	s := newService(f, Config{})
	ctx := context.Background()
	mustLoc(f, s, usaP, "usa-d", Depot, relTo("USA"))
	mustLoc(f, s, korP, "kor-d", Depot, relTo("KOR"))
	if _, err := s.Record(ctx, usaP, Movement{Item: "SM-6", From: Source, To: "usa-d", Quantity: 4242, Reason: Production, Label: relTo("USA")}); err != nil {
		f.Fatal(err)
	}
	h := s.Handler(func(*http.Request) label.Principal { return korP })
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/sustainment/movements", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if bytes.Contains(rec.Body.Bytes(), []byte("4242")) || bytes.Contains(rec.Body.Bytes(), []byte("usa-d\",\"owner")) {
			t.Fatalf("answer leaks USA stock: %s", rec.Body)
		}
		if rec.Code == http.StatusCreated {
			var out struct{ Movements []Movement }
			json.Unmarshal(rec.Body.Bytes(), &out)
			for _, m := range out.Movements {
				if m.Label.Originator != "KOR" || m.FromOwner != "KOR" || m.ToOwner != "KOR" {
					t.Fatalf("KOR recorded %+v", m)
				}
			}
		}
		s.mu.Lock()
		err := s.led.conservation()
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Balance(usaP, "SM-6", "usa-d", "USA"); st.Quantity != 4242 {
			t.Fatalf("USA stock changed to %d", st.Quantity)
		}
	})
}

// TestRemoteStale: an allied report is shown until it goes stale.
func TestRemoteStale(t *testing.T) {
	s := newService(t, Config{})
	d := []byte(`<__sustain kind="stock" item="SM-6" location="ship-1" owner="USA" quantity="7"/>`)
	for _, c := range []struct {
		uid   string
		stale time.Duration
		want  int
	}{{"old", -time.Minute, 0}, {"new", time.Hour, 1}} {
		ev := &cot.Event{UID: c.uid, Type: TypeStock, Detail: d, Origin: cot.Origin{Nation: "USA", Node: "peer-" + c.uid}, Stale: time.Now().Add(c.stale)}
		if err := s.Remote(ev, relTo("USA", "JPN")); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, st := range s.Stocks(jpnP, "SM-6", "") {
			if st.Node == "peer-"+c.uid {
				n++
			}
		}
		if n != c.want {
			t.Errorf("%s report: %d shown, want %d", c.uid, n, c.want)
		}
	}
}

// FuzzParseFed: a federated transfer's detail from a peer never panics
// and what it accepts is a well-formed transfer between two nations.
func FuzzParseFed(f *testing.F) {
	f.Add([]byte(`<kizunaSustain>{"node":"usa-node","nation":"USA","transfer":{"id":"xfer-1","item":"PAC-3 MSE","quantity":2,"from":"usa-depot","to":"jpn-btry","fromNation":"USA","toNation":"JPN","state":"requested","history":[{"at":"2026-01-01T00:00:00Z","by":"USA:SECRET","action":"request","state":"requested"}],"label":{"classification":"SECRET","originator":"USA","releasableTo":["JPN"]}}}</kizunaSustain>`))
	f.Add([]byte(`<kizunaSustain>{&amp;}</kizunaSustain>`))
	f.Add([]byte(`<marti/><kizunaSustain></kizunaSustain>`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		m, err := parseFed(detail)
		if err != nil {
			return
		}
		tr := m.Transfer
		if tr.FromNation == tr.ToNation || tr.Quantity <= 0 || !validID(tr.ID) || !tr.Label.Valid() || len(tr.History) == 0 {
			t.Fatalf("accepted %+v", m)
		}
	})
}
