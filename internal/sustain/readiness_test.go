package sustain

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kizuna/internal/label"
)

func TestRate(t *testing.T) {
	cases := []struct {
		e, m, d float64
		want    Colour
	}{
		{1, 1, 100, Green},
		{0.9, 0.9, 7, Green},
		{0.89, 1, 100, Amber},
		{1, 0.6, 3, Amber},
		{1, 1, 2.9, Red},
		{0.5, 1, 100, Red},
		{1, 0.5, 100, Red},
	}
	for _, c := range cases {
		if got := Rate(c.e, c.m, c.d); got != c.want {
			t.Errorf("Rate(%v,%v,%v) = %s, want %s", c.e, c.m, c.d, got, c.want)
		}
	}
}

// battery sets up a USA Patriot battery with 12 PAC-3 MSE (required 12,
// safety 8) under a USA brigade, and a destroyer under the brigade.
func battery(t *testing.T, s *Service) {
	t.Helper()
	ctx := context.Background()
	mustLoc(t, s, usaP, "usa-btry", Battery, relTo("USA", "JPN"))
	if _, err := s.Record(ctx, usaP, Movement{Item: "PAC-3 MSE", From: Source, To: "usa-btry", Quantity: 12, Reason: Production, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []Unit{
		{ID: "bde", Name: "ADA Brigade", Label: relTo("USA", "JPN", "KOR")},
		{ID: "btry", Parent: "bde", Name: "Patriot Bty", Location: "usa-btry", Assets: []Asset{{ID: "ls-1"}, {ID: "ls-2"}},
			Required: map[string]int64{"PAC-3 MSE": 12}, Safety: map[string]int64{"PAC-3 MSE": 8}, AlertBelow: Amber, Label: relTo("USA", "JPN", "KOR")},
		{ID: "ddg", Parent: "bde", Name: "USS Example", Assets: []Asset{{ID: "DDG-99", UID: "ddg-99-uid"}}, Label: relTo("USA", "JPN", "KOR")},
	} {
		if _, err := s.PutUnit(ctx, usaP, u); err != nil {
			t.Fatal(err)
		}
	}
}

func find(rs []Readiness, unit string) *Readiness {
	for i := range rs {
		if rs[i].Unit == unit {
			return &rs[i]
		}
	}
	return nil
}

// TestEngagementReadiness: an engagement is an expenditure; the battery's
// stock, readiness and forecast change at once; a work order takes a
// ship out of service; roll-up follows the parent chain; KOR sees the
// brigade but never the battery's interceptor count.
func TestEngagementReadiness(t *testing.T) {
	now := time.Now()
	s := newService(t, Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	battery(t, s)
	rs := s.Readiness(usaP)
	if b := find(rs, "btry"); b == nil || b.Colour != Green || b.Munitions[0].OnHand != 12 {
		t.Fatalf("battery before: %+v", b)
	}
	e, err := s.Engage(ctx, usaP, Engagement{Unit: "btry", Item: "PAC-3 MSE", Quantity: 6, Track: "MW-001", Label: relTo("USA", "JPN")})
	if err != nil || e.Location != "usa-btry" || len(e.Serials) != 6 {
		t.Fatalf("engage: %+v %v", e, err)
	}
	rs = s.Readiness(usaP)
	b := find(rs, "btry")
	if b.Munitions[0].OnHand != 6 || b.Colour != Red || !b.Alert || b.Munitions[0].DaysOfSupply == nil {
		t.Fatalf("battery after: %+v", b)
	}
	if bde := find(rs, "bde"); bde.Rollup != Red || bde.RollupUnits != 3 || bde.Colour != Green {
		t.Fatalf("brigade roll-up: %+v", bde)
	}
	// The destroyer inducted for repair is unavailable.
	wo, err := s.OpenWorkOrder(ctx, usaP, WorkOrder{Asset: "DDG-99", UID: "ddg-99-uid", Unit: "ddg", Facility: "JMU Yokohama", Type: "hull repair",
		Planned: now.Add(30 * 24 * time.Hour), Label: relTo("USA", "JPN")})
	if err != nil {
		t.Fatal(err)
	}
	if d := find(s.Readiness(usaP), "ddg"); d.Available != 1 {
		t.Fatalf("planned work took the ship out: %+v", d)
	}
	if _, err := s.SetWorkStatus(ctx, korP, wo.ID, Inducted, ""); err == nil {
		t.Fatal("KOR changed a USA work order")
	}
	if _, err := s.SetWorkStatus(ctx, usaP, wo.ID, Complete+"x", ""); err == nil {
		t.Fatal("bad status accepted")
	}
	if wo, err = s.SetWorkStatus(ctx, usaP, wo.ID, Inducted, "in dock"); err != nil {
		t.Fatal(err)
	}
	d := find(s.Readiness(usaP), "ddg")
	if d.Available != 0 || d.Colour != Red || len(d.InWork) != 1 {
		t.Fatalf("inducted ship: %+v", d)
	}
	// KOR: the units are releasable to KOR but their readiness combines
	// USA/JPN-only stock and work orders, so KOR sees none of it.
	for _, r := range s.Readiness(korP) {
		if r.Unit != "bde" {
			t.Errorf("KOR sees readiness of %s: %+v", r.Unit, r)
		}
		if r.RollupUnits != 1 || r.Rollup != Green {
			t.Errorf("KOR's roll-up includes hidden units: %+v", r)
		}
	}
	// Forecast: 6 on hand, 6 expended in the 7-day window → 6/7 a day;
	// below the safety level of 8 at once.
	f, err := s.Forecast(usaP, "PAC-3 MSE", "usa-btry", "USA", 10, -1)
	if err != nil || f.Safety != 8 || f.BelowSafety == nil || f.Points[7].Quantity != 0 {
		t.Fatalf("forecast: %+v %v", f, err)
	}
	if _, err := s.Forecast(korP, "PAC-3 MSE", "usa-btry", "USA", 10, -1); err == nil {
		t.Fatal("KOR got a USA forecast")
	}
	// Scheduled production lifts the forecast on its day.
	if _, err := s.Schedule(ctx, usaP, Scheduled{Item: "PAC-3 MSE", Location: "usa-btry", Date: now.Add(72 * time.Hour), Quantity: 10, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	f2, _ := s.Forecast(usaP, "PAC-3 MSE", "usa-btry", "USA", 10, -1)
	if f2.Points[3].Quantity <= f.Points[3].Quantity {
		t.Fatalf("schedule ignored: %v vs %v", f2.Points[3], f.Points[3])
	}
}

// TestEgressLabels drives the REST API as USA, JPN and KOR: KOR never
// learns a USA-only or USA/JPN stock level, not in JSON, CSV, totals,
// forecast or readiness.
func TestEgressLabels(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	battery(t, s)
	mustLoc(t, s, usaP, "usa-secret", Depot, relTo("USA"))
	if _, err := s.Record(ctx, usaP, Movement{Item: "SM-6", From: Source, To: "usa-secret", Quantity: 77, Reason: Production, Label: relTo("USA")}); err != nil {
		t.Fatal(err)
	}
	mustLoc(t, s, korP, "kor-depot", Depot, relTo("KOR", "USA", "JPN"))
	if _, err := s.Record(ctx, korP, Movement{Item: "SM-6", From: Source, To: "kor-depot", Quantity: 5, Reason: Production, Label: relTo("KOR", "USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	principals := map[string]label.Principal{"USA": usaP, "JPN": jpnP, "KOR": korP}
	srv := httptest.NewServer(s.Handler(func(r *http.Request) label.Principal { return principals[r.Header.Get("X-Test-Nation")] }))
	t.Cleanup(srv.Close)
	get := func(nation, path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-Test-Nation", nation)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	paths := []string{"/api/v1/sustainment/stocks", "/api/v1/sustainment/stocks?format=csv", "/api/v1/sustainment/totals",
		"/api/v1/sustainment/movements", "/api/v1/sustainment/movements?format=csv", "/api/v1/sustainment/readiness",
		"/api/v1/sustainment/readiness?format=csv", "/api/v1/sustainment/serials?item=PAC-3+MSE", "/api/v1/sustainment/locations",
		"/api/v1/sustainment/forecast?item=PAC-3+MSE&location=usa-btry&owner=USA",
		"/api/v1/sustainment/forecast?item=PAC-3+MSE&location=usa-btry&owner=USA&format=csv",
		"/api/v1/sustainment/forecast?item=SM-6&location=usa-secret&owner=USA"}
	for _, p := range paths {
		kor := get("KOR", p)
		for _, secret := range []string{"usa-btry", "usa-secret", "\"quantity\":77", ",77,", "PAC-3 MSE\",\"location", "\"quantity\":12", "\"quantity\":82", "SN-78", "-78"} {
			if strings.Contains(kor, secret) {
				t.Errorf("KOR %s leaks %q: %s", p, secret, kor)
			}
		}
		jpn := get("JPN", p)
		if strings.Contains(jpn, "usa-secret") || strings.Contains(jpn, "\"quantity\":77") || strings.Contains(jpn, ",77,") {
			t.Errorf("JPN %s leaks USA-only stock: %s", p, jpn)
		}
	}
	var stocks struct {
		Stocks []Stock `json:"stocks"`
	}
	json.Unmarshal([]byte(get("JPN", "/api/v1/sustainment/stocks")), &stocks)
	if len(stocks.Stocks) != 2 {
		t.Fatalf("JPN stocks: %+v", stocks)
	}
	if body := get("KOR", "/api/v1/sustainment/totals"); !strings.Contains(body, `"quantity":5`) {
		t.Fatalf("KOR totals: %s", body)
	}
	if body := get("USA", "/api/v1/sustainment/totals"); !strings.Contains(body, `"quantity":82`) {
		t.Fatalf("USA totals: %s", body)
	}
	if body := get("JPN", "/api/v1/sustainment/forecast?item=PAC-3+MSE&location=usa-btry&owner=USA&format=csv"); !strings.HasPrefix(body, "day,date,quantity") {
		t.Fatalf("JPN forecast CSV: %s", body)
	}
	// Bodies are JSON only; unknown fields refused; the originator is
	// the caller's nation whatever the body says.
	post := func(nation, path, ctype, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-Test-Nation", nation)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post("USA", "/api/v1/sustainment/movements", "text/plain", `{}`); code != http.StatusBadRequest {
		t.Errorf("text/plain body: %d", code)
	}
	if code, _ := post("USA", "/api/v1/sustainment/movements", "application/json", `{"item":"SM-6","bogus":1}`); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d", code)
	}
	code, body := post("KOR", "/api/v1/sustainment/movements", "application/json",
		`{"item":"SM-6","from":"kor-depot","to":"EXPENDED","quantity":1,"reason":"expenditure","label":{"classification":"SECRET","releasableTo":["KOR","USA","JPN"],"originator":"USA"}}`)
	if code != http.StatusCreated || !strings.Contains(body, `"originator":"KOR"`) {
		t.Errorf("forged originator: %d %s", code, body)
	}
	if code, _ := post("KOR", "/api/v1/sustainment/engagements", "application/json", `{"unit":"btry","item":"PAC-3 MSE","quantity":1}`); code != http.StatusForbidden {
		t.Errorf("KOR engaged for a USA unit: %d", code)
	}
	if code, _ := post("KOR", "/api/v1/sustainment/movements", "application/json", `{"item":"SM-6","from":"usa-secret","to":"kor-depot","quantity":1,"reason":"issue","fromOwner":"USA"}`); code != http.StatusForbidden {
		t.Errorf("KOR moved USA stock: %d", code)
	}
	if !strings.HasPrefix(cell("=cmd()"), "'") {
		t.Error("formula cell not neutralised")
	}
}

// TestReadinessAlert: a unit below its threshold raises one alert, seen
// only by those its readiness is released to.
func TestReadinessAlert(t *testing.T) {
	s := newService(t, Config{})
	battery(t, s)
	if _, err := s.Engage(context.Background(), usaP, Engagement{Unit: "btry", Item: "PAC-3 MSE", Quantity: 6, Label: relTo("USA", "JPN")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Alerts(jpnP)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no alert")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a := s.Alerts(jpnP)[0]
	if a.Unit != "btry" || a.Colour != Red || len(a.Reasons) == 0 {
		t.Fatalf("alert: %+v", a)
	}
	if len(s.Alerts(korP)) != 0 {
		t.Fatal("KOR sees the alert")
	}
}
