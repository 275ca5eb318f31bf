package cot

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeStrictAttributes: a duplicated attribute, or both spellings of
// the releasability attribute, makes the event malformed, wherever it is.
func TestDecodeStrictAttributes(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"access twice", ev(`uid="u-1" type="a-f-G" access="UNCLASSIFIED" access="SECRET"`, pt)},
		{"uid twice", ev(`uid="u-1" uid="u-2" type="a-f-G"`, pt)},
		{"releasableTo twice", ev(`uid="u-1" type="a-f-G" access="S" releasableTo="JPN" releasableTo="KOR"`, pt)},
		{"both spellings", ev(`uid="u-1" type="a-f-G" access="S" releasableTo="JPN" releaseableTo="KOR"`, pt)},
		{"both spellings reversed", ev(`uid="u-1" type="a-f-G" access="S" releaseableTo="KOR" releasableTo="JPN"`, pt)},
		{"caveat twice", ev(`uid="u-1" type="a-f-G" access="S" caveat="NOFORN" caveat="FOUO"`, pt)},
		{"point lat twice", ev("", `<point lat="1" lat="2" lon="3"/>`)},
		{"callsign twice", ev("", pt+`<detail><contact callsign="A" callsign="B"/></detail>`)},
		{"link uid twice", ev("", pt+`<detail><link uid="a" uid="b" relation="p-p"/></detail>`)},
		{"dest twice", ev("", pt+`<detail><marti><dest callsign="A" callsign="B"/></marti></detail>`)},
		{"unknown element", ev("", pt+`<detail><x a="1" a="2"/></detail>`)},
		{"nested unknown element", ev("", pt+`<detail><x><y b="1" b="1"></y></x></detail>`)},
		{"many attributes, early one repeated late", ev("", pt+`<detail><x a="1" b="1" c="1" d="1" e="1" f="1" g="1" h="1" i="1" j="1" a="2"/></detail>`)},
		{"many attributes, late one repeated", ev("", pt+`<detail><x a="1" b="1" c="1" d="1" e="1" f="1" g="1" h="1" i="1" j="1" j="2"/></detail>`)},
		{"same signature, repeated", ev("", pt+`<detail><x ab="1" axb="1" acb="1" axb="2"/></detail>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, ErrMalformed) || Reason(err) != "malformed" {
				t.Fatalf("Decode = %v (reason %q), want malformed", err, Reason(err))
			}
		})
	}
	// Many distinct attributes, some with the same length and ends, are fine.
	if _, err := Decode([]byte(ev("", pt+`<detail><x a="1" b="1" c="1" d="1" e="1" f="1" g="1" h="1" i="1" j="1" axb="1" ayb="1" azb="1"/></detail>`))); err != nil {
		t.Fatalf("distinct attributes: %v", err)
	}
	// One of each is fine, in either spelling.
	for _, attrs := range []string{`releasableTo="JPN"`, `releaseableTo="JPN"`} {
		e, err := Decode([]byte(ev(`uid="u-1" type="a-f-G" access="S" `+attrs, pt)))
		if err != nil || e.ReleasableTo != "JPN" {
			t.Fatalf("%s: %v, %+v", attrs, err, e)
		}
	}
}

// TestDecodeStripsNestedOrigin: a client's __origin is cut out at any
// depth of <detail>, and the rest is kept verbatim.
func TestDecodeStripsNestedOrigin(t *testing.T) {
	tests := []struct {
		name, detail, want string
	}{
		{"top level", `<a/><__origin nation="USA" node="x"/><b/>`, `<a/><b/>`},
		{"nested", `<a><__origin nation="USA"/></a><b/>`, `<a></a><b/>`},
		{"deep with content", `<a><b><__origin nation="USA">t<c/></__origin></b></a>`, `<a><b></b></a>`},
		{"in a known element", `<contact callsign="C"><__origin nation="USA"/></contact>`, `<contact callsign="C"></contact>`},
		{"nested in a top-level one", `<__origin nation="USA"><__origin nation="JPN"/></__origin><z/>`, `<z/>`},
		{"several", `<a><__origin/></a><__origin/><b><__origin></__origin></b>`, `<a></a><b></b>`},
		{"none", `<a x="__origin"><![CDATA[<__origin/>]]></a>`, `<a x="__origin"><![CDATA[<__origin/>]]></a>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode([]byte(ev("", pt+`<detail>`+tt.detail+`</detail>`)))
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Detail) != tt.want {
				t.Fatalf("detail %q, want %q", e.Detail, tt.want)
			}
			var e2 Event
			if err := e2.SetDetail([]byte(tt.detail)); err != nil || string(e2.Detail) != tt.want {
				t.Fatalf("SetDetail: %q, %v; want %q", e2.Detail, err, tt.want)
			}
			if strings.Contains(tt.want, "<__origin") != strings.Contains(string(e.Detail), "<__origin") {
				t.Fatal("an __origin element survived")
			}
		})
	}
}

// TestParseLabelCaveat: a known caveat is normalised, an unknown one is
// refused with its own reason.
func TestParseLabelCaveat(t *testing.T) {
	e := Event{Access: "SECRET", ReleasableTo: "JPN", Caveat: "noforn", Origin: Origin{Nation: "USA"}}
	l, _, err := e.ParseLabel()
	if err != nil || l.Caveat != "NOFORN" {
		t.Fatalf("ParseLabel = %+v, %v", l, err)
	}
	e.Caveat = "SPECIAL"
	if _, _, err := e.ParseLabel(); Reason(err) != "caveat" {
		t.Fatalf("unknown caveat: %v (reason %q), want reason caveat", err, Reason(err))
	}
}
