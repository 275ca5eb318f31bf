package label

import (
	"slices"
	"strings"
	"testing"
)

// ruleAllows is the releasability rule written out independently of
// Releasable: clearance at least the classification, and the principal's
// nation is the originator or listed; anything incomplete is denied.
func ruleAllows(p Principal, l Label) bool {
	if !p.Clearance.Valid() || !l.Classification.Valid() || p.Nation == "" || l.Originator == "" {
		return false
	}
	if p.Clearance < l.Classification {
		return false
	}
	noforn := false
	if l.Caveat != "" {
		for _, c := range strings.Split(l.Caveat, "/") {
			switch c {
			case "NOFORN":
				noforn = true
			case "ORCON", "FOUO":
			default:
				return false // a caveat without a defined meaning
			}
		}
	}
	if noforn {
		return p.Nation == l.Originator
	}
	return p.Nation == l.Originator || slices.Contains(l.ReleasableTo, p.Nation)
}

// FuzzLabel parses arbitrary markings and principals. Parsing never
// panics, Releasable never grants what the rule forbids, and a combination
// is never releasable to someone who may not see each of its sources.
func FuzzLabel(f *testing.F) {
	f.Add("SECRET", "JPN KOR", "USA", "JPN:SECRET", "TS", "USA,JPN", "KOR", "KOR:TS", "FOUO")
	f.Add("U", "", "JPN", "JPN:U", "C", "JPN", "", "USA:C", "")
	f.Add("top secret", "usa,,kor", "KOR", "kor:top_secret", "S", "KOR USA", "USA", "USA:S", "NOFORN")
	f.Add("", "JPN", "", ":", "RESTRICTED", "JAPAN", "JPN", "JPN:SEKRET", "x")
	f.Add("C", "AUS GBR", "GBR", "AUS:CONFIDENTIAL", "U", "GBR", "AUS", "GBR:UNCLASSIFIED", "")
	f.Add("S", "JPN", "USA", "JPN:S", "S", "JPN USA", "JPN", "USA:S", "NOFORN/ORCON")
	f.Add("S", "JPN", "USA", "JPN:S", "S", "JPN USA", "USA", "JPN:S", "orcon")

	f.Fuzz(func(t *testing.T, class1, rel1, orig1, principal, class2, rel2, orig2, principal2, caveat string) {
		c1, err1 := ParseClassification(class1)
		if (err1 == nil) != c1.Valid() {
			t.Fatalf("ParseClassification(%q) = %v, %v", class1, c1, err1)
		}
		r1, err := ParseReleasableTo(rel1)
		if err == nil {
			for _, n := range r1 {
				if !ValidNation(n) {
					t.Fatalf("ParseReleasableTo(%q) returned %q", rel1, n)
				}
			}
			if !slices.IsSorted(r1) || len(slices.Compact(slices.Clone(r1))) != len(r1) {
				t.Fatalf("ParseReleasableTo(%q) = %v, not sorted and unique", rel1, r1)
			}
		} else {
			// Use the raw words: Releasable must hold for any label.
			r1 = []string{rel1}
		}
		c2, _ := ParseClassification(class2)
		r2, err := ParseReleasableTo(rel2)
		if err != nil {
			r2 = []string{rel2}
		}
		l1 := Label{Classification: c1, ReleasableTo: r1, Originator: orig1, Caveat: caveat}
		l2 := Label{Classification: c2, ReleasableTo: r2, Originator: orig2, Caveat: strings.ToUpper(caveat)}
		_ = l1.Marking()

		var principals []Principal
		for _, s := range []string{principal, principal2} {
			p, err := ParsePrincipal(s)
			if err == nil {
				if !p.Valid() {
					t.Fatalf("ParsePrincipal(%q) = %+v, not valid", s, p)
				}
				if _, err := ParsePrincipal(p.Nation + ":" + p.Clearance.String()); err != nil {
					t.Fatalf("principal %+v does not parse back: %v", p, err)
				}
			}
			principals = append(principals, p)
		}
		// Principals of every kind, including ones the parser refuses.
		principals = append(principals,
			Principal{Nation: orig1, Clearance: c2}, Principal{Nation: orig2, Clearance: c1},
			Principal{Nation: rel1, Clearance: TopSecret}, Principal{Nation: "", Clearance: TopSecret},
			Principal{Nation: orig1, Clearance: Classification(len(class1))})

		combined := Combine(orig2, l1, l2)
		for _, p := range principals {
			for _, l := range []Label{l1, l2, Default(p)} {
				if got, want := Releasable(p, l), ruleAllows(p, l); got != want {
					t.Fatalf("Releasable(%+v, %+v) = %v, the rule says %v", p, l, got, want)
				}
			}
			if Releasable(p, combined) && !(Releasable(p, l1) && Releasable(p, l2)) {
				t.Fatalf("%+v may see Combine = %+v but not both sources %+v, %+v", p, combined, l1, l2)
			}
			if CheckSubmit(p, l1) == nil && l1.Classification > p.Clearance {
				t.Fatalf("CheckSubmit lets %+v publish %+v", p, l1)
			}
		}
	})
}
