package cot

import "testing"

func TestQuick(t *testing.T) {
	in := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<event version="2.0" uid="ANDROID-1" type="a-f-G-U-C" how="m-g" time="2026-11-27T08:00:00.000Z" start="2026-11-27T08:00:00.000Z" stale="2026-11-27T08:05:00Z" access="SECRET" releasableTo="JPN,KOR"><point lat="35.1" lon="139.2" hae="10" ce="9999999.0" le="9999999.0"/><detail><contact callsign="VIPER 1" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/><foo a="1"><bar>x &amp; y</bar></foo><__origin nation="XXX"/><marti><dest callsign="EAGLE"/><dest uid="u2"/></marti><track course="90" speed="3.5"/></detail></event>`)
	sp := NewSplitter(0)
	sp.Feed(in[:50])
	d, err := sp.Next()
	if d != nil || err != nil {
		t.Fatal(d, err)
	}
	sp.Feed(in[50:])
	sp.Feed([]byte("\n  "))
	d, err = sp.Next()
	if err != nil || d == nil {
		t.Fatal(err)
	}
	e, err := Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", e)
	t.Logf("%s", e.Detail)
	e.Origin = Origin{Nation: "USA", Node: "n1"}
	t.Logf("%s", e.XML())
	if _, err := Decode(e.XML()); err != nil {
		t.Fatal(err)
	}
}

func TestSetDetail(t *testing.T) {
	var e Event
	if err := e.SetDetail([]byte(`<contact callsign="A"/><__origin nation="USA"/><x>1</x>`)); err != nil {
		t.Fatal(err)
	}
	if e.Callsign != "A" || string(e.Detail) != `<contact callsign="A"/><x>1</x>` || e.Origin.Nation != "USA" {
		t.Fatalf("%+v %s", e, e.Detail)
	}
	for _, bad := range []string{`<a>`, `</a>`, `<!DOCTYPE x>`, `&xxe;`, `<a></b>`} {
		if err := e.SetDetail([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
