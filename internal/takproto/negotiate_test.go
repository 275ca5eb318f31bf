package takproto

import (
	"bytes"
	"testing"
	"time"

	"kizuna/internal/cot"
)

func TestNegotiationEvents(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 500e6, time.UTC)
	tests := []struct {
		name   string
		doc    []byte
		typ    string
		detail string
	}{
		{"offer", Offer(now), "t-x-takp-v", `<TakControl><TakProtocolSupport version="1"/></TakControl>`},
		{"request", Request(now), "t-x-takp-q", `<TakControl><TakRequest version="1"/></TakControl>`},
		{"accept", Response(now, true), "t-x-takp-r", `<TakControl><TakResponse status="true"/></TakControl>`},
		{"refuse", Response(now, false), "t-x-takp-r", `<TakControl><TakResponse status="false"/></TakControl>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Every TAK client decodes it: a valid CoT event.
			e, err := cot.Decode(tc.doc)
			if err != nil {
				t.Fatalf("decode %s: %v", tc.doc, err)
			}
			if e.Type != tc.typ || string(e.Detail) != tc.detail || !e.IsControl() {
				t.Errorf("type %q detail %s", e.Type, e.Detail)
			}
			if e.UID != ProtoUID || e.How != "m-g" || !e.Time.Equal(now) || !e.Stale.After(now) {
				t.Errorf("uid %q how %q time %v stale %v", e.UID, e.How, e.Time, e.Stale)
			}
			if !bytes.Contains(tc.doc, []byte(`<point lat="0" lon="0" hae="0" ce="999999" le="999999"/>`)) {
				t.Errorf("point: %s", tc.doc)
			}
		})
	}
	off, _ := cot.Decode(Offer(now))
	if v := OfferedVersions(off); len(v) != 1 || v[0] != 1 {
		t.Errorf("OfferedVersions = %v", v)
	}
	req, _ := cot.Decode(Request(now))
	if v, ok := RequestedVersion(req); !ok || v != 1 {
		t.Errorf("RequestedVersion = %d, %v", v, ok)
	}
	for _, ok := range []bool{true, false} {
		r, _ := cot.Decode(Response(now, ok))
		if acc, valid := ResponseStatus(r); !valid || acc != ok {
			t.Errorf("ResponseStatus(Response(%v)) = %v, %v", ok, acc, valid)
		}
	}
}

func TestRequestedVersion(t *testing.T) {
	event := func(typ, detail string) *cot.Event {
		t.Helper()
		e, err := cot.DecodeUnchecked([]byte(`<event version="2.0" uid="protouid" type="` + typ + `" time="2026-11-27T08:00:00Z" start="2026-11-27T08:00:00Z" stale="2026-11-27T08:01:00Z" how="m-g"><point lat="0.0" lon="0.0" hae="0.0" ce="999999" le="999999"/><detail>` + detail + `</detail></event>`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name string
		e    *cot.Event
		want int
		ok   bool
	}{
		{"version 1", event("t-x-takp-q", `<TakControl><TakRequest version="1"/></TakControl>`), 1, true},
		{"single quotes and whitespace", event("t-x-takp-q", "\n <TakControl>\n  <TakRequest version='1'/>\n </TakControl>\n"), 1, true},
		{"version 2", event("t-x-takp-q", `<TakControl><TakRequest version="2"/></TakControl>`), 2, true},
		{"other children first", event("t-x-takp-q", `<x/><TakControl><Foo/><TakRequest extra="a" version="1"></TakRequest></TakControl>`), 1, true},
		{"wrong type", event("t-x-takp-v", `<TakControl><TakRequest version="1"/></TakControl>`), 0, false},
		{"no TakControl", event("t-x-takp-q", `<TakRequest version="1"/>`), 0, false},
		{"no version", event("t-x-takp-q", `<TakControl><TakRequest/></TakControl>`), 0, false},
		{"version not a number", event("t-x-takp-q", `<TakControl><TakRequest version="one"/></TakControl>`), 0, false},
		{"version zero", event("t-x-takp-q", `<TakControl><TakRequest version="0"/></TakControl>`), 0, false},
		{"no detail", event("t-x-takp-q", ``), 0, false},
		{"nil", nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := RequestedVersion(tc.e)
			if v != tc.want || ok != tc.ok {
				t.Errorf("RequestedVersion = %d, %v; want %d, %v", v, ok, tc.want, tc.ok)
			}
		})
	}
	if v := OfferedVersions(event("t-x-takp-v", `<TakControl><TakProtocolSupport version="1"/><TakProtocolSupport version="2"/><TakServerVersionInfo serverVersion="5"/></TakControl>`)); len(v) != 2 || v[0] != 1 || v[1] != 2 {
		t.Errorf("OfferedVersions = %v", v)
	}
	if _, ok := ResponseStatus(event("t-x-takp-r", `<TakControl><TakResponse status="maybe"/></TakControl>`)); ok {
		t.Error("ResponseStatus accepted status=maybe")
	}
}
