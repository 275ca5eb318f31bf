package cot

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/taktest/testfiles"
)

func TestDecodeRejects(t *testing.T) {
	laughs := `<?xml version="1.0"?>
<!DOCTYPE event [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
` + ev("", pt+`<detail><remarks>&lol9;</remarks></detail>`)

	tests := []struct {
		name   string
		doc    string
		want   error
		reason string
	}{
		// Malformed XML.
		{"empty", ``, ErrMalformed, "malformed"},
		{"text only", `hello`, ErrMalformed, "malformed"},
		{"unterminated root", `<event uid="u" type="t">` + pt, ErrMalformed, "malformed"},
		{"mismatched end tag", ev("", pt+`<detail><a></b></detail>`), ErrMalformed, "malformed"},
		{"unclosed child", ev("", pt+`<detail><a></detail>`), ErrMalformed, "malformed"},
		{"unquoted attribute", `<event uid=u type="t"/>`, ErrMalformed, "malformed"},
		{"attribute without value", `<event uid type="t"/>`, ErrMalformed, "malformed"},
		{"unterminated attribute", `<event uid="u type="t"/>`, ErrMalformed, "malformed"},
		{"lt in attribute", ev(`uid="a<b" type="t"`, pt), ErrMalformed, "malformed"},
		{"stray slash", `<event uid="u" / type="t"></event>`, ErrMalformed, "malformed"},
		{"two roots", ev("", pt) + ev("", pt), ErrMalformed, "malformed"},
		{"text after root", ev("", pt) + `junk`, ErrMalformed, "malformed"},
		{"unterminated comment", `<!-- x ` + ev("", pt), ErrMalformed, "malformed"},
		{"unterminated cdata", ev("", pt+`<detail><![CDATA[x</detail>`), ErrMalformed, "malformed"},
		{"unterminated processing instruction", `<?xml version="1.0"`, ErrMalformed, "malformed"},
		{"nesting too deep", ev("", pt+`<detail>`+strings.Repeat("<a>", 100)+strings.Repeat("</a>", 100)+`</detail>`), ErrMalformed, "malformed"},
		{"root not event", `<foo uid="u"/>`, ErrNotEvent, "not_event"},
		{"root events", `<events/>`, ErrNotEvent, "not_event"},
		// DTDs and entities: refused, never expanded.
		{"doctype", `<!DOCTYPE event>` + ev("", pt), ErrDTD, "dtd"},
		{"billion laughs", laughs, ErrDTD, "dtd"},
		{"external entity", `<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + ev("", pt+`<detail><remarks>&xxe;</remarks></detail>`), ErrDTD, "dtd"},
		{"entity declaration in detail", ev("", pt+`<detail><!ENTITY a "b"></detail>`), ErrDTD, "dtd"},
		{"doctype inside event", ev("", `<!DOCTYPE x>`+pt), ErrDTD, "dtd"},
		{"undefined entity in text", ev("", pt+`<detail><remarks>&xxe;</remarks></detail>`), ErrMalformed, "malformed"},
		{"undefined entity in attribute", ev(`uid="&xxe;" type="t"`, pt), ErrMalformed, "malformed"},
		{"bare ampersand", ev("", pt+`<detail><remarks>a & b</remarks></detail>`), ErrMalformed, "malformed"},
		{"bad character reference", ev("", pt+`<detail><remarks>&#xD800;</remarks></detail>`), ErrMalformed, "malformed"},
		{"null character reference", ev(`uid="&#0;" type="t"`, pt), ErrMalformed, "malformed"},
		{"control character in attribute", ev("uid=\"a\x01b\" type=\"t\"", pt), ErrMalformed, "malformed"},
		{"control character in detail", ev("", pt+"<detail><r>\x1b[2J</r></detail>"), ErrMalformed, "malformed"},
		{"nul byte", ev("", pt) + "\x00", ErrMalformed, "malformed"},
		{"invalid UTF-8", ev("uid=\"caf\xe9\" type=\"t\"", pt), ErrMalformed, "malformed"},
		{"UTF-16 surrogate in UTF-8", ev("uid=\"\xed\xa0\x80\" type=\"t\"", pt), ErrMalformed, "malformed"},
		// Missing essentials.
		{"missing uid", ev(`type="a-f-G"`, pt), ErrMissingUID, "missing_uid"},
		{"empty uid", ev(`uid="" type="a-f-G"`, pt), ErrMissingUID, "missing_uid"},
		{"missing type", ev(`uid="u"`, pt), ErrMissingType, "missing_type"},
		{"missing point", ev("", `<detail/>`), ErrMissingPoint, "missing_point"},
		{"point without lat", ev("", `<point lon="1"/>`), ErrMissingPoint, "missing_point"},
		{"self-closing event", `<event uid="u" type="t" time="2026-11-27T08:00:00Z" stale="2026-11-27T08:00:00Z"/>`, ErrMissingPoint, "missing_point"},
		// Coordinates.
		{"lat over 90", ev("", `<point lat="90.0001" lon="0"/>`), ErrCoordinates, "coordinates"},
		{"lat under -90", ev("", `<point lat="-91" lon="0"/>`), ErrCoordinates, "coordinates"},
		{"lon over 180", ev("", `<point lat="0" lon="180.5"/>`), ErrCoordinates, "coordinates"},
		{"lon under -180", ev("", `<point lat="0" lon="-181"/>`), ErrCoordinates, "coordinates"},
		{"lat not a number", ev("", `<point lat="north" lon="0"/>`), ErrCoordinates, "coordinates"},
		{"lat NaN", ev("", `<point lat="NaN" lon="0"/>`), ErrCoordinates, "coordinates"},
		{"hae infinite", ev("", `<point lat="0" lon="0" hae="Inf"/>`), ErrCoordinates, "coordinates"},
		{"ce overflow", ev("", `<point lat="0" lon="0" ce="1e999"/>`), ErrCoordinates, "coordinates"},
		// Times.
		{"missing time", `<event uid="u" type="t" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"missing stale", `<event uid="u" type="t" time="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"unparseable time", `<event uid="u" type="t" time="yesterday" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"bad month", `<event uid="u" type="t" time="2026-13-27T08:00:00Z" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"unparseable start", `<event uid="u" type="t" time="2026-11-27T08:00:00Z" start="soon" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"year before 1970", `<event uid="u" type="t" time="1969-12-31T23:59:59Z" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		{"unix seconds", `<event uid="u" type="t" time="1795766400" stale="2026-11-27T08:05:00Z">` + pt + `</event>`, ErrTime, "time"},
		// Size.
		{"oversize", ev("", pt+`<detail><remarks>`+strings.Repeat("x", MaxEventSize)+`</remarks></detail>`), ErrTooLarge, "too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", e)
			}
			if e != nil {
				t.Errorf("event returned with error %v", err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if r := Reason(err); r != tc.reason {
				t.Errorf("Reason = %q, want %q", r, tc.reason)
			}
		})
	}
}

// TestDecodeBillionLaughsIsCheap checks that a document with nested entity
// declarations costs nothing: it is refused before any expansion could
// happen, with a handful of allocations.
func TestDecodeBillionLaughsIsCheap(t *testing.T) {
	doc := []byte(`<!DOCTYPE event [<!ENTITY a "` + strings.Repeat("&b;", 1000) + `"><!ENTITY b "` + strings.Repeat("x", 1000) + `">]>` + ev("", pt+`<detail><remarks>&a;</remarks></detail>`))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Decode(doc); !errors.Is(err, ErrDTD) {
			t.Fatalf("error %v", err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations to refuse a DTD", allocs)
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		uid  string
	}{
		{"minimal", ev("", pt), "u-1"},
		{"xml declaration", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + ev("", pt), "u-1"},
		{"byte order mark", "\xef\xbb\xbf<?xml version='1.0'?>\n" + ev("", pt), "u-1"},
		{"whitespace and comments around", " \n\t<!-- before -->\r\n" + ev("", pt) + "\n<!-- after -->\n ", "u-1"},
		{"single quotes", `<event uid='q' type='a-f-G' time='2026-11-27T08:00:00Z' stale='2026-11-27T08:05:00Z'><point lat='1' lon='2'/></event>`, "q"},
		{"references in attribute", ev(`uid="a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;" type="t"`, pt), `a&b<>"'AB`},
		{"cdata with end tags", ev("", pt+`<detail><remarks><![CDATA[</remarks></detail></event> & <x>]]></remarks></detail>`), "u-1"},
		{"comment with markup", ev("", pt+`<detail><!-- <contact callsign="NO"/> </event> --></detail>`), "u-1"},
		{"processing instruction in detail", ev("", pt+`<detail><?app data?></detail>`), "u-1"},
		{"whitespace in end tag", ev("", pt+`<detail><a></a ></detail >`), "u-1"},
		{"time without zone", `<event uid="z" type="t" time="2026-11-27T08:00:00.5" stale="2026-11-27T08:05:00"><point lat="1" lon="2"/></event>`, "z"},
		{"time with offset", `<event uid="o" type="t" time="2026-11-27T17:00:00+09:00" stale="2026-11-27T17:05:00+09:00"><point lat="1" lon="2"/></event>`, "o"},
		{"releaseableTo spelling", ev(`uid="r" type="t" releaseableTo="JPN"`, pt), "r"},
		{"boundary coordinates", ev("", `<point lat="-90" lon="180"/>`), "u-1"},
		{"non-ASCII text", ev(`uid="東京-1" type="t" caveat="ΑΒΓ"`, pt+"<detail><remarks>\tline 1\r\nline 2 — 絆</remarks></detail>"), "東京-1"},
		{"deep but allowed nesting", ev("", pt+`<detail>`+strings.Repeat("<a>", 60)+strings.Repeat("</a>", 60)+`</detail>`), "u-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.doc))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if e.UID != tc.uid {
				t.Errorf("uid %q, want %q", e.UID, tc.uid)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	evs := testfiles.ByName(t, "testdata/events/*.xml")
	sa, err := Decode(evs["sa"])
	if err != nil {
		t.Fatal(err)
	}
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	want := &Event{
		Version: "2.0", UID: "ANDROID-f3c2a1b0d9e84c57", Type: "a-f-G-U-C", How: "m-g",
		Time: ms("2026-11-27T08:00:00.123Z"), Start: ms("2026-11-27T08:00:00.123Z"), Stale: ms("2026-11-27T08:06:00.123Z"),
		Access: "SECRET", ReleasableTo: "JPN KOR USA",
		Point:     Point{Lat: 35.681236, Lon: 139.767125, HAE: 41.2, CE: 4.9, LE: Unknown},
		HasDetail: true,
		Detail:    []byte(`<takv os="34" version="4.10.0.5 (d2a8f3c1).1700000000-CIV" device="SAMSUNG SM-G998U" platform="ATAK-CIV"/><contact endpoint="*:-1:stcp" callsign="VIPER 1"/><uid Droid="VIPER 1"/><precisionlocation altsrc="GPS" geopointsrc="GPS"/><__group role="Team Lead" name="Cyan"/><status battery="87"/><track course="142.7" speed="1.3"/>`),
		Callsign:  "VIPER 1", Course: 142.7, Speed: 1.3,
	}
	if d := cmp.Diff(want, sa); d != "" {
		t.Errorf("SA (-want +got):\n%s", d)
	}
	l, present, err := sa.ParseLabel()
	if err != nil || !present || l.Classification.String() != "SECRET" || strings.Join(l.ReleasableTo, " ") != "JPN KOR USA" {
		t.Errorf("label %+v %v %v", l, present, err)
	}

	chat, err := Decode(evs["chat"])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Dest{{Callsign: "EAGLE"}}, chat.Dests); d != "" {
		t.Errorf("chat dests: %s", d)
	}
	if d := cmp.Diff([]Link{{UID: "ANDROID-f3c2a1b0d9e84c57", Type: "a-f-G-U-C", Relation: "p-p"}}, chat.Links); d != "" {
		t.Errorf("chat links: %s", d)
	}
	if chat.Callsign != "" || !math.IsNaN(chat.Course) || !math.IsNaN(chat.Speed) {
		t.Errorf("chat facts: callsign %q course %v speed %v", chat.Callsign, chat.Course, chat.Speed)
	}

	marker, err := Decode(evs["marker"])
	if err != nil {
		t.Fatal(err)
	}
	if marker.Origin != (Origin{Nation: "XXX", Node: "spoofed"}) || strings.Contains(string(marker.Detail), "__origin") {
		t.Errorf("marker origin %+v, detail %s", marker.Origin, marker.Detail)
	}
	if marker.Caveat != "FOUO" || marker.ReleasableTo != "USA,JPN" || marker.Callsign != "OP TOWER" {
		t.Errorf("marker %+v", marker)
	}

	route, err := Decode(evs["route"])
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, l := range route.Links {
		uids = append(uids, l.UID+"/"+l.Relation)
	}
	if d := cmp.Diff([]string{"wp-1/c", "wp-2/c", "wp-3/c", "wp-4/c"}, uids); d != "" {
		t.Errorf("route links: %s", d)
	}

	alert, err := Decode(evs["alert"])
	if err != nil {
		t.Fatal(err)
	}
	if alert.Callsign != "VIPER 1-Alert" || len(alert.Links) != 1 || !strings.Contains(string(alert.Detail), `<emergency type="911 Alert">VIPER 1</emergency>`) {
		t.Errorf("alert %+v %s", alert, alert.Detail)
	}

	unknown, err := Decode(evs["unknown"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(unknown.Detail), `<x-sensor vendor="acme" model='R&amp;D "7"'><reading kind="temp" unit="C">21.5</reading>`) ||
		!strings.Contains(string(unknown.Detail), `<![CDATA[raw <frame> </event> data]]><!-- calibrated 2026-11-01 -->`) {
		t.Errorf("unknown children not verbatim: %s", unknown.Detail)
	}
	if unknown.QoS != "1-r-c" || unknown.Opex != "e-TRIDENT" || unknown.Point.CE != 25 {
		t.Errorf("unknown %+v", unknown)
	}
}

// TestEncodeRoundTrip checks that every real event re-encodes to XML that
// decodes to the same event.
func TestEncodeRoundTrip(t *testing.T) {
	for name, doc := range testfiles.ByName(t, "testdata/events/*.xml") {
		t.Run(name, func(t *testing.T) {
			e, err := Decode(doc)
			if err != nil {
				t.Fatal(err)
			}
			e.Origin = Origin{Nation: "USA", Node: "indopacom-1"}
			again, err := Decode(e.XML())
			if err != nil {
				t.Fatalf("re-decode: %v\n%s", err, e.XML())
			}
			if d := cmp.Diff(e, again, cmpopts.EquateNaNs()); d != "" {
				t.Errorf("round trip (-first +second):\n%s", d)
			}
		})
	}
}

func TestEncodeEscapes(t *testing.T) {
	e := &Event{
		UID: `a"b'c<d>e&f`, Type: "a-f-G", Time: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
		Stale: time.Date(2026, 11, 27, 8, 5, 0, 0, time.UTC), Caveat: "x\ny\tz",
		Point:  Point{Lat: 1, Lon: 2, HAE: math.NaN(), CE: math.Inf(1), LE: 3},
		Origin: Origin{Nation: "JPN", Node: `n"1`},
	}
	doc := e.XML()
	got, err := Decode(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if got.UID != e.UID || got.Caveat != e.Caveat || got.Origin != e.Origin || got.Point.HAE != Unknown || got.Point.CE != Unknown {
		t.Errorf("decoded %+v from %s", got, doc)
	}
	if !got.Start.Equal(e.Time) {
		t.Errorf("start %v, want the event time", got.Start)
	}
}

func TestSetDetail(t *testing.T) {
	tests := []struct {
		name     string
		inner    string
		detail   string
		callsign string
		origin   Origin
		want     error
	}{
		{"facts and origin cut", `<contact callsign="A"/><__origin nation="USA"/><x>1</x>`, `<contact callsign="A"/><x>1</x>`, "A", Origin{Nation: "USA"}, nil},
		{"empty", ``, ``, "", Origin{}, nil},
		{"unclosed", `<a>`, "", "", Origin{}, ErrMalformed},
		{"stray end tag", `</a>`, "", "", Origin{}, ErrMalformed},
		{"closes detail early", `</detail><detail>`, "", "", Origin{}, ErrMalformed},
		{"doctype", `<!DOCTYPE x>`, "", "", Origin{}, ErrDTD},
		{"entity", `&xxe;`, "", "", Origin{}, ErrMalformed},
		{"control character", "<r>\x07</r>", "", "", Origin{}, ErrMalformed},
		{"invalid UTF-8", "<r>\xc3</r>", "", "", Origin{}, ErrMalformed},
		{"mismatch", `<a></b>`, "", "", Origin{}, ErrMalformed},
		{"oversize", strings.Repeat("x", MaxEventSize+1), "", "", Origin{}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Event{Callsign: "OLD", Dests: []Dest{{UID: "old"}}}
			err := e.SetDetail([]byte(tc.inner))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if string(e.Detail) != tc.detail || e.Callsign != tc.callsign || e.Origin != tc.origin || e.Dests != nil || !e.HasDetail {
				t.Errorf("event %+v detail %q", e, e.Detail)
			}
		})
	}
}

func TestEventKinds(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		typ                                 string
		ping, del, control, position, stale bool
	}{
		{"t-x-c-t", true, false, false, false, false},
		{"t-x-d-d", false, true, false, false, false},
		{"t-x-takp-q", false, false, true, false, false},
		{"a-f-G-U-C", false, false, false, true, false},
		{"b-m-p-s-p-i", false, false, false, false, true},
	}
	for _, tc := range tests {
		e := &Event{Type: tc.typ, Stale: now.Add(time.Second)}
		if tc.stale {
			e.Stale = now
		}
		got := [5]bool{e.IsPing(), e.IsDelete(), e.IsControl(), e.IsPosition(), e.IsStale(now)}
		if want := [5]bool{tc.ping, tc.del, tc.control, tc.position, tc.stale}; got != want {
			t.Errorf("%s: ping/delete/control/position/stale = %v, want %v", tc.typ, got, want)
		}
	}
}
